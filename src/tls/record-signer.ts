// The HMAC behind devx's record signatures (src/core/records.ts). The key is 32 random bytes kept in a Secret in
// devx's own namespace (every replica signs and verifies alike); with --objects, or for an offline preview, a key
// made for the process alone.
import { createHmac, createSecretKey, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RecordSigner } from '../core/records.ts';

export const RECORD_KEY_BYTES = 32;

export function randomRecordKey(): Buffer {
  return randomBytes(RECORD_KEY_BYTES);
}

export function hmacSigner(key: Buffer): RecordSigner {
  // One KeyObject for the process: createHmac with raw key bytes prepares a key object on every call, which costs
  // six times the HMAC itself (12 µs against 2 µs), on every review.
  const secret = createSecretKey(key);
  const sign = (message: string): string => createHmac('sha256', secret).update(message).digest('base64url');
  return {
    sign,
    verify: (message, signature) => {
      const want = Buffer.from(sign(message));
      const got = Buffer.from(signature);
      return want.length === got.length && timingSafeEqual(want, got);
    },
  };
}
