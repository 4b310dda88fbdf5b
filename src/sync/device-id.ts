// Syncthing device IDs, computed exactly as syncthing does (lib/protocol/deviceid.go): SHA-256 of the certificate's
// DER, base32 (RFC 4648, no padding) = 52 characters, one Luhn mod-32 check character after each 13-character chunk
// = 56 characters, shown as 8 groups of 7 joined by dashes. Pure: no I/O, no clock.
import { createHash, X509Certificate } from 'node:crypto';

/** The base32 alphabet of RFC 4648, which is also the alphabet of syncthing's check characters. */
export const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

const RAW_LENGTH = 52; // base32 characters of a 32-byte hash, padding removed
const CHUNK = 13; // characters covered by one check character
const GROUP = 7; // characters per dash-separated group in the canonical form

/**
 * Syncthing's "Luhn mod N" check character for `s` over `alphabet` (undefined if `s` has a character outside it).
 * Note: syncthing doubles every second character counting from the LEFT, starting with factor 1, which is not the
 * textbook Luhn (that counts from the right); device IDs depend on this exact variant.
 */
export function luhnCheckCharacter(s: string, alphabet: string = BASE32_ALPHABET): string | undefined {
  const n = alphabet.length;
  let factor = 1;
  let sum = 0;
  for (const ch of s) {
    const codepoint = alphabet.indexOf(ch);
    if (codepoint < 0) return undefined;
    const addend = factor * codepoint;
    factor = factor === 2 ? 1 : 2;
    sum += Math.floor(addend / n) + (addend % n);
  }
  return alphabet[(n - (sum % n)) % n];
}

/** Whether the last character of `s` is the correct check character for the characters before it. */
export function luhnValidate(s: string, alphabet: string = BASE32_ALPHABET): boolean {
  return s.length > 1 && luhnCheckCharacter(s.slice(0, -1), alphabet) === s.slice(-1);
}

/** 52 base32 characters → 56, with a check character after each 13. Undefined for other lengths or alphabets. */
export function luhnify(raw: string): string | undefined {
  if (raw.length !== RAW_LENGTH) return undefined;
  let out = '';
  for (let i = 0; i < RAW_LENGTH; i += CHUNK) {
    const chunk = raw.slice(i, i + CHUNK);
    const check = luhnCheckCharacter(chunk);
    if (check === undefined) return undefined;
    out += chunk + check;
  }
  return out;
}

/** 56 characters → the 52 without check characters, or undefined if any check character is wrong. */
export function unluhnify(withChecks: string): string | undefined {
  if (withChecks.length !== RAW_LENGTH + RAW_LENGTH / CHUNK) return undefined;
  let out = '';
  for (let i = 0; i < withChecks.length; i += CHUNK + 1) {
    const chunkWithCheck = withChecks.slice(i, i + CHUNK + 1);
    if (!luhnValidate(chunkWithCheck)) return undefined;
    out += chunkWithCheck.slice(0, CHUNK);
  }
  return out;
}

/** RFC 4648 base32 without padding. */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** RFC 4648 base32 without padding → bytes (trailing bits that do not fill a byte are dropped, as Go does). */
function base32Decode(s: string): Uint8Array | undefined {
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const ch of s) {
    const value = BASE32_ALPHABET.indexOf(ch);
    if (value < 0) return undefined;
    buffer = ((buffer << 5) | value) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

function groupsOf7(s: string): string {
  const groups: string[] = [];
  for (let i = 0; i < s.length; i += GROUP) groups.push(s.slice(i, i + GROUP));
  return groups.join('-');
}

/** The canonical device ID of a 32-byte SHA-256 digest. */
function formatDeviceId(digest: Uint8Array): string {
  const withChecks = luhnify(base32Encode(digest));
  if (withChecks === undefined) throw new Error('unreachable: a 32-byte digest always encodes to 52 base32 characters');
  return groupsOf7(withChecks);
}

/** The device ID of a certificate given as DER bytes. */
export function deviceIdFromDer(der: Uint8Array): string {
  return formatDeviceId(createHash('sha256').update(der).digest());
}

/** The device ID of a PEM certificate (the first one in `pem`). Throws if `pem` holds no parseable certificate. */
export function deviceIdFromCertPem(pem: string): string {
  return deviceIdFromDer(new X509Certificate(pem).raw);
}

/**
 * The canonical form (`XXXXXXX-…`, 8 groups of 7, upper case) of a device ID written in any form syncthing accepts:
 * any case, dashes or spaces anywhere, the look-alikes 0/1/8 for O/I/B, with check characters (56) or the old form
 * without them (52). Undefined if syncthing would reject it. Unlike syncthing, the empty string is not accepted
 * (syncthing reads it as "no device").
 */
export function canonicalDeviceId(input: string): string | undefined {
  const compact = input
    .replace(/=+$/, '')
    .toUpperCase()
    .replaceAll('0', 'O')
    .replaceAll('1', 'I')
    .replaceAll('8', 'B')
    .replace(/[- ]/g, '');
  const raw = compact.length === RAW_LENGTH ? compact : unluhnify(compact);
  if (raw === undefined) return undefined;
  const digest = base32Decode(raw);
  return digest === undefined ? undefined : formatDeviceId(digest);
}

/** Whether `input` is a device ID in exactly the canonical form devx writes into configs. */
export function isCanonicalDeviceId(input: string): boolean {
  return canonicalDeviceId(input) === input;
}
