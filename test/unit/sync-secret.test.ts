import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { renderSidecarConfig } from '../../src/sync/config.ts';
import { SIDECAR_HOME, SIDECAR_SECRET_DIR } from '../../src/sync/constants.ts';
import { deviceIdFromCertPem, isCanonicalDeviceId } from '../../src/sync/device-id.ts';
import { generateSyncIdentity, SYNC_CERT_VALIDITY_MS } from '../../src/sync/identity.ts';
import { buildSyncSecretData, defaultFolderLabel, readSyncSecretData, SYNC_SECRET_KEYS, syncSecretName } from '../../src/sync/secret.ts';
import { SERVE_FLAGS, sidecarCommand, sidecarSyncthingHome, syncthingServeArgs } from '../../src/sync/sidecar-command.ts';

const NOW = new Date('2026-03-04T15:16:17.000Z');
const workload = { workloadKind: 'Deployment', workloadName: 'reviews', namespace: 'bookinfo' };
// Key generation is the slow part; one Secret serves every read-back case.
const data = buildSyncSecretData({ ...workload, now: NOW });
const OTHER_ID = 'P56IOI7-MZJNU2Y-IQGDREY-DM2MGTI-MGL3BXN-PQ6W5BM-TBBZ4TJ-XZWICQ2';

test('identity: CN and SAN syncthing, client+server, not a CA, 20 years from midnight UTC, key matches, fresh per call', () => {
  const a = generateSyncIdentity({ now: NOW });
  const b = generateSyncIdentity({ now: NOW });
  assert.notEqual(a.deviceId, b.deviceId);
  assert.notEqual(a.keyPem, b.keyPem);
  const cert = new X509Certificate(a.certPem);
  assert.match(cert.subject, /CN=syncthing/);
  assert.equal(cert.subject, cert.issuer);
  assert.equal(cert.subjectAltName, 'DNS:syncthing');
  assert.equal(cert.ca, false);
  assert.deepEqual([...(cert.keyUsage ?? [])].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  assert.equal(new Date(cert.validFrom).toISOString(), '2026-03-04T00:00:00.000Z');
  assert.equal(new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime(), SYNC_CERT_VALIDITY_MS);
  assert.ok(cert.verify(cert.publicKey), 'self-signed');
  assert.equal(a.deviceId, deviceIdFromCertPem(a.certPem));
  assert.ok(isCanonicalDeviceId(a.deviceId));
});

test('buildSyncSecretData: exactly the six keys, two identities, a URL-safe API key, the sidecar config of the three', () => {
  assert.deepEqual(Object.keys(data).sort(), [...SYNC_SECRET_KEYS].sort());
  assert.match(data['api-key'], /^[A-Za-z0-9_-]{32}$/);
  const sidecarId = deviceIdFromCertPem(data['sidecar-cert.pem']);
  const agentId = deviceIdFromCertPem(data['agent-cert.pem']);
  assert.notEqual(sidecarId, agentId);
  assert.equal(
    data['config.xml'],
    renderSidecarConfig({ sidecarDeviceId: sidecarId, agentDeviceId: agentId, apiKey: data['api-key'], folderLabel: 'bookinfo/deployment/reviews' }),
  );
  assert.equal(defaultFolderLabel(workload), 'bookinfo/deployment/reviews');
  const other = buildSyncSecretData({ ...workload, now: NOW, folderLabel: 'reviews (dev)' });
  assert.notEqual(other['api-key'], data['api-key']);
  assert.notEqual(other['sidecar-cert.pem'], data['sidecar-cert.pem']);
  assert.match(other['config.xml'], /label="reviews \(dev\)"/);
});

test('readSyncSecretData: reads back what was built, device IDs recomputed from the certificates', () => {
  const read = readSyncSecretData({ ...data, 'unrelated-key': 'ignored' });
  assert.ok(read.ok, read.ok ? '' : read.error);
  assert.equal(read.value.sidecar.deviceId, deviceIdFromCertPem(data['sidecar-cert.pem']));
  assert.equal(read.value.agent.deviceId, deviceIdFromCertPem(data['agent-cert.pem']));
  assert.equal(read.value.sidecar.keyPem, data['sidecar-key.pem']);
  assert.equal(read.value.apiKey, data['api-key']);
  assert.equal(read.value.configXml, data['config.xml']);
});

test('readSyncSecretData: every kind of broken Secret is refused with a reason, never a throw', () => {
  const cases: Array<[unknown, RegExp]> = [
    [undefined, /data invalid/],
    ['a string', /data invalid/],
    [{ ...data, 'agent-key.pem': undefined }, /agent-key\.pem/],
    [{ ...data, 'config.xml': '' }, /config\.xml: is empty/],
    [{ ...data, 'api-key': 'a b' }, /api-key/],
    [{ ...data, 'sidecar-cert.pem': 'garbage' }, /sidecar-cert\.pem is not a PEM certificate/],
    [{ ...data, 'agent-key.pem': 'garbage' }, /agent-key\.pem is not a PEM private key/],
    [{ ...data, 'agent-key.pem': data['sidecar-key.pem'] }, /agent-key\.pem does not belong to agent-cert\.pem/],
    [{ ...data, 'agent-cert.pem': data['sidecar-cert.pem'], 'agent-key.pem': data['sidecar-key.pem'] }, /share one certificate/],
    [{ ...data, 'config.xml': data['config.xml'].replaceAll(deviceIdFromCertPem(data['agent-cert.pem']), OTHER_ID) }, /does not trust the agent/],
    [{ ...data, 'config.xml': data['config.xml'].replace(deviceIdFromCertPem(data['sidecar-cert.pem']), OTHER_ID) }, /does not trust the sidecar/],
    [{ ...data, 'api-key': 'another-key-0123456789' }, /does not carry the api-key/],
  ];
  for (const [input, reason] of cases) {
    const read = readSyncSecretData(input);
    assert.ok(!read.ok, `accepted: ${String(reason)}`);
    assert.match(read.error, reason);
  }
});

test('syncSecretName: plain when it fits a DNS-1123 label, else cut with a stable hash of kind and name', () => {
  const label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  assert.equal(syncSecretName('Deployment', 'reviews'), 'devx-sync-deployment-reviews');
  assert.equal(syncSecretName('CronJob', 'nightly'), 'devx-sync-cronjob-nightly');
  const fits = 'n'.repeat(63 - 'devx-sync-deployment-'.length);
  assert.equal(syncSecretName('Deployment', fits), `devx-sync-deployment-${fits}`);
  const cases = [
    ['Deployment', `${fits}x`],
    ['StatefulSet', 'a'.repeat(253)],
    ['Deployment', 'reviews.v2'],
    ['Pod', 'ends-with-dash-after-cut'.padStart(60, 'x')],
  ] as const;
  for (const [kind, name] of cases) {
    const out = syncSecretName(kind, name);
    assert.ok(out.length <= 63, out);
    assert.match(out, label);
    assert.match(out, /^devx-sync-[a-z]+-.*-[0-9a-f]{10}$/);
    assert.equal(syncSecretName(kind, name), out, 'stable');
  }
  // Names that differ only after the cut, or only by . vs -, still get different Secrets.
  assert.notEqual(syncSecretName('Deployment', `${'a'.repeat(60)}1`), syncSecretName('Deployment', `${'a'.repeat(60)}2`));
  assert.notEqual(syncSecretName('Deployment', 'reviews.v2'), syncSecretName('Deployment', 'reviews-v2'));
  // Pinned: a Secret named by an earlier devx keeps its name (the digest is SHA-256, whichever library computes it).
  assert.equal(syncSecretName('Deployment', 'reviews.v2'), 'devx-sync-deployment-reviews-v2-4baccfad0a');
  assert.notEqual(syncSecretName('Deployment', 'x'.repeat(70)), syncSecretName('StatefulSet', 'x'.repeat(70)));
});

test('sidecarCommand: sh -c with paths as positional parameters, syncthing home under the volume, GUI override off', () => {
  const cmd = sidecarCommand();
  assert.deepEqual(cmd.command, ['sh', '-c']);
  const [script, argv0, secretDir, home] = cmd.args;
  assert.equal(argv0, 'devx-sync');
  assert.equal(secretDir, SIDECAR_SECRET_DIR);
  assert.equal(home, `${SIDECAR_HOME}/syncthing`);
  assert.equal(sidecarSyncthingHome(), `${SIDECAR_HOME}/syncthing`);
  assert.ok(!script?.includes(SIDECAR_HOME), 'no paths inside the script');
  assert.match(script ?? '', /^exec syncthing serve --home="\$2" --no-browser --no-restart --no-default-folder --no-upgrade$/m);
  assert.match(script ?? '', /chmod 600 .*"\$2\/key\.pem"/);
  assert.deepEqual(cmd.env, [
    { name: 'STGUIADDRESS', value: '' },
    { name: 'HOME', value: SIDECAR_HOME },
  ]);
  const custom = sidecarCommand({ home: '/tmp/h', secretDir: '/tmp/s' });
  assert.deepEqual(custom.args.slice(1), ['devx-sync', '/tmp/s', '/tmp/h/syncthing']);
  assert.equal(custom.args[0], script, 'the script does not depend on the paths');
  assert.deepEqual(syncthingServeArgs('/x'), ['serve', '--home=/x', ...SERVE_FLAGS]);
});
