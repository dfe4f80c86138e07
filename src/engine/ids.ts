// Row ids for the rows written in bulk (leads, links and history of an import page):
// UUIDs of version 7 (RFC 9562: 48 bits of Unix time in milliseconds, then random bits),
// still the 36-character UUID text every other id is. Ids made one after the other sort
// together, so a page's rows land at the right edge of the primary-key indexes (and of
// the indexes led by a lead id) instead of on random pages of them: an import touches
// and writes back a few index pages per page of records, not one per row.
import { randomFillSync } from 'node:crypto';

const bytes = Buffer.alloc(16);

export function timeOrderedId(now = Date.now()): string {
  randomFillSync(bytes, 6, 10);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70; // version 7
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // variant 10
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
