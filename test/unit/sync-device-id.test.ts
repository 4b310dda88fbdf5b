import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import {
  BASE32_ALPHABET,
  base32Encode,
  canonicalDeviceId,
  deviceIdFromCertPem,
  deviceIdFromDer,
  isCanonicalDeviceId,
  luhnCheckCharacter,
  luhnValidate,
  luhnify,
  unluhnify,
} from '../../src/sync/device-id.ts';

/** Whether syncthing would accept `input` as a device ID (see canonicalDeviceId for the accepted forms). */
const isValidDeviceId = (input: string): boolean => canonicalDeviceId(input) !== undefined;

// From syncthing's lib/protocol/deviceid_test.go: one device ID in every spelling syncthing accepts.
const FORMATTED = 'P56IOI7-MZJNU2Y-IQGDREY-DM2MGTI-MGL3BXN-PQ6W5BM-TBBZ4TJ-XZWICQ2';
const FORMAT_CASES = [
  'P56IOI-7MZJNU-2IQGDR-EYDM2M-GTMGL3-BXNPQ6-W5BTBB-Z4TJXZ-WICQ',
  'P56IOI-7MZJNU2Y-IQGDR-EYDM2M-GTI-MGL3-BXNPQ6-W5BM-TBB-Z4TJXZ-WICQ2',
  'P56IOI7 MZJNU2I QGDREYD M2MGTMGL 3BXNPQ6W 5BTB BZ4T JXZWICQ',
  'P56IOI7 MZJNU2Y IQGDREY DM2MGTI MGL3BXN PQ6W5BM TBBZ4TJ XZWICQ2',
  'P56IOI7MZJNU2IQGDREYDM2MGTMGL3BXNPQ6W5BTBBZ4TJXZWICQ',
  'p56ioi7mzjnu2iqgdreydm2mgtmgl3bxnpq6w5btbbz4tjxzwicq',
  'P56IOI7MZJNU2YIQGDREYDM2MGTIMGL3BXNPQ6W5BMTBBZ4TJXZWICQ2',
  'P561017MZJNU2YIQGDREYDM2MGTIMGL3BXNPQ6W5BMT88Z4TJXZWICQ2',
  'p56ioi7mzjnu2yiqgdreydm2mgtimgl3bxnpq6w5bmtbbz4tjxzwicq2',
  'p561017mzjnu2yiqgdreydm2mgtimgl3bxnpq6w5bmt88z4tjxzwicq2',
];

// A certificate made by syncthing 1.19.2 itself (`syncthing generate`), and the ID `syncthing --device-id` printed.
const SYNCTHING_CERT = `-----BEGIN CERTIFICATE-----
MIICHTCCAaOgAwIBAgIJAOiWhjmItXDyMAoGCCqGSM49BAMCMEoxEjAQBgNVBAoT
CVN5bmN0aGluZzEgMB4GA1UECxMXQXV0b21hdGljYWxseSBHZW5lcmF0ZWQxEjAQ
BgNVBAMTCXN5bmN0aGluZzAeFw0yNjExMjMwMDAwMDBaFw00NjExMTgwMDAwMDBa
MEoxEjAQBgNVBAoTCVN5bmN0aGluZzEgMB4GA1UECxMXQXV0b21hdGljYWxseSBH
ZW5lcmF0ZWQxEjAQBgNVBAMTCXN5bmN0aGluZzB2MBAGByqGSM49AgEGBSuBBAAi
A2IABCGyxEKXFewQt2NBniH34T3ZKcJ5dbBVgrqdkFx2mSy0YGrUVETHZeQGLxMr
tPpk9Ff8FUqTVNIo2vqSoFHEUu9rKhTf/IDjbhUT+laxRjByjTZ0uRTU/H6ViTWO
Ps4ZH6NVMFMwDgYDVR0PAQH/BAQDAgWgMB0GA1UdJQQWMBQGCCsGAQUFBwMBBggr
BgEFBQcDAjAMBgNVHRMBAf8EAjAAMBQGA1UdEQQNMAuCCXN5bmN0aGluZzAKBggq
hkjOPQQDAgNoADBlAjEA4gH+aQ7NPlqCCptaTlQUunHiMNZLy3vihlOVt6Xji7+i
V5mtJWE+9rX7CatBnROtAjBrvxrGLolmYbjCJ2KQn3eOc03R/zI2aimZYib5uqn1
x56GQ4uThILFU3T+lkis11o=
-----END CERTIFICATE-----
`;
const SYNCTHING_CERT_ID = 'BLIHA67-NFNJVQ2-BY6YLKJ-QNGBOAA-LTV7SKM-QGOJ6NS-HD46F2P-45HLYQB';

test('device ID of a certificate made by syncthing equals what syncthing printed for it', () => {
  assert.equal(deviceIdFromCertPem(SYNCTHING_CERT), SYNCTHING_CERT_ID);
  assert.equal(deviceIdFromDer(new X509Certificate(SYNCTHING_CERT).raw), SYNCTHING_CERT_ID);
});

test("every spelling from syncthing's deviceid_test.go canonicalises to the formatted ID", () => {
  for (const spelling of FORMAT_CASES) assert.equal(canonicalDeviceId(spelling), FORMATTED, spelling);
  assert.equal(canonicalDeviceId(FORMATTED), FORMATTED);
  assert.ok(isCanonicalDeviceId(FORMATTED));
});

test("syncthing's validate cases: accepted and rejected alike (except the empty string, which devx rejects)", () => {
  const cases: Array<[string, boolean]> = [
    ['', false], // syncthing: the empty device ID; devx: not a device
    ['a', false],
    ['P56IOI7-MZJNU2Y-IQGDREY-DM2MGTI-MGL3BXN-PQ6W5BM-TBBZ4TJ-XZWICQ2', true],
    ['P56IOI7-MZJNU2-IQGDREY-DM2MGT-MGL3BXN-PQ6W5B-TBBZ4TJ-XZWICQ', true],
    ['P56IOI7 MZJNU2I QGDREYD M2MGTMGL 3BXNPQ6W 5BTB BZ4T JXZWICQ', true],
    ['P56IOI7MZJNU2IQGDREYDM2MGTMGL3BXNPQ6W5BTBBZ4TJXZWICQ', true],
    ['P56IOI7MZJNU2IQGDREYDM2MGTMGL3BXNPQ6W5BTBBZ4TJXZWICQCCCC', false],
    ['p56ioi7mzjnu2iqgdreydm2mgtmgl3bxnpq6w5btbbz4tjxzwicq', true],
    ['p56ioi7mzjnu2iqgdreydm2mgtmgl3bxnpq6w5btbbz4tjxzwicqCCCC', false],
  ];
  for (const [input, ok] of cases) assert.equal(isValidDeviceId(input), ok, JSON.stringify(input));
});

test("Luhn check characters: syncthing's luhn_test.go vectors", () => {
  assert.equal(luhnCheckCharacter('abcdef', 'abcdef'), 'e');
  assert.equal(luhnCheckCharacter('7992739871', '0123456789'), '3');
  assert.equal(luhnCheckCharacter('7992739871', 'ABC'), undefined); // digits outside the alphabet
  assert.ok(luhnValidate('abcdefe', 'abcdef'));
  assert.ok(!luhnValidate('abcdefd', 'abcdef'));
  assert.ok(!luhnValidate('', 'abcdef'));
});

test('luhnify/unluhnify: one check character per 13, round trip, wrong lengths and bad checks rejected', () => {
  const raw = 'P56IOI7MZJNU2IQGDREYDM2MGTMGL3BXNPQ6W5BTBBZ4TJXZWICQ';
  const withChecks = luhnify(raw);
  assert.equal(withChecks, FORMATTED.replaceAll('-', ''));
  assert.equal(unluhnify(withChecks ?? ''), raw);
  assert.equal(luhnify(raw.slice(1)), undefined);
  assert.equal(luhnify(`${raw.slice(1)}9`), undefined); // 9 is not base32
  const c = withChecks ?? '';
  const wrongCheck = `${c.slice(0, 13)}${c[13] === 'A' ? 'B' : 'A'}${c.slice(14)}`;
  assert.equal(unluhnify(wrongCheck), undefined);
  assert.equal(unluhnify(c.slice(1)), undefined);
});

test('base32: RFC 4648 test vectors, padding removed', () => {
  const vectors: Array<[string, string]> = [
    ['', ''],
    ['f', 'MY'],
    ['fo', 'MZXQ'],
    ['foo', 'MZXW6'],
    ['foob', 'MZXW6YQ'],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI'],
  ];
  for (const [input, output] of vectors) assert.equal(base32Encode(Buffer.from(input)), output);
});

test('malformed input: no certificate, wrong characters, wrong length, wrong check character, lower case', () => {
  assert.throws(() => deviceIdFromCertPem('not a certificate'));
  assert.throws(() => deviceIdFromCertPem(''));
  assert.equal(canonicalDeviceId('P56IOI7-MZJNU2Y-IQGDREY-DM2MGTI-MGL3BXN-PQ6W5BM-TBBZ4TJ-XZWICQ3'), undefined); // check char
  assert.equal(canonicalDeviceId('P56IOI7-MZJNU2Y-IQGDREY-DM2MGTI-MGL3BXN-PQ6W5BM-TBBZ4TJ-XZWIC'), undefined); // length
  assert.equal(canonicalDeviceId('P56IOI7-MZJNU2Y-IQGDREY-DM2MGTI-MGL3BXN-PQ6W5BM-TBBZ4TJ-XZW9CQ2'), undefined); // 9
  assert.equal(canonicalDeviceId('P56IOI7_MZJNU2Y_IQGDREY_DM2MGTI_MGL3BXN_PQ6W5BM_TBBZ4TJ_XZWICQ2'), undefined); // _
  assert.ok(isValidDeviceId(FORMATTED.toLowerCase()));
  assert.ok(!isCanonicalDeviceId(FORMATTED.toLowerCase()));
  assert.ok(!isCanonicalDeviceId(FORMATTED.replaceAll('-', '')));
});

test('property: a canonical ID is 8 dashed groups of 7, and any single substituted character is detected', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 200 }),
      fc.nat(55),
      fc.nat(BASE32_ALPHABET.length - 2),
      (der, position, shift) => {
        const id = deviceIdFromDer(der);
        assert.match(id, /^[A-Z2-7]{7}(-[A-Z2-7]{7}){7}$/);
        assert.equal(canonicalDeviceId(id), id);
        const compact = id.replaceAll('-', '');
        const old = compact[position] as string;
        const replacement = BASE32_ALPHABET[(BASE32_ALPHABET.indexOf(old) + 1 + shift) % BASE32_ALPHABET.length] as string;
        const broken = compact.slice(0, position) + replacement + compact.slice(position + 1);
        assert.equal(canonicalDeviceId(broken), undefined, `${compact} → ${broken}`);
      },
    ),
    { numRuns: 500 },
  );
});
