// Row ids for the rows written in bulk (leads, links and history of an import page):
// UUIDs of version 7 (RFC 9562: 48 bits of Unix time in milliseconds, then random bits),
// still the 36-character UUID text every other id is. Ids made one after the other sort
// together, so a page's rows land at the right edge of the primary-key indexes (and of
// the indexes led by a lead id) instead of on random pages of them: an import touches
// and writes back a few index pages per page of records, not one per row.
import { randomFillSync } from 'node:crypto';

const bytes = Buffer.alloc(16);
// Random bits drawn 10 at a time from a pool refilled every 512 ids: one call to the
// random source per id cost more than the rest of the id (profiled on an import).
const pool = Buffer.alloc(10 * 512);
let used = pool.length;

export function timeOrderedId(now = Date.now()): string {
  if (used === pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  pool.copy(bytes, 6, used, used + 10);
  used += 10;
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70; // version 7
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // variant 10
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
