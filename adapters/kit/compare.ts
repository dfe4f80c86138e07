// Constant-time comparison of secrets (webhook signatures, channel tokens, endpoint
// secrets, organization ids).
import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether `a` equals `b`, in time that depends on neither their contents nor their
 * lengths: both are hashed (SHA-256) and the digests compared with timingSafeEqual
 * (which itself needs equal lengths).
 */
export function safeEqual(a: string | Buffer, b: string | Buffer): boolean {
  const ba = typeof a === 'string' ? Buffer.from(a, 'utf8') : a;
  const bb = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
  const da = createHash('sha256').update(ba).digest();
  const db = createHash('sha256').update(bb).digest();
  return timingSafeEqual(da, db) && ba.length === bb.length;
}
