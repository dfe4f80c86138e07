// The pages of an import, read ahead of the one being applied: while page n is applied,
// pages n+1 .. n+depth are being read (one after the other: each page's cursor comes
// with the page before it). The CRM's answer time and ours overlap instead of adding up,
// and a slow answer now and then is absorbed by the pages already there. Bounded: never
// more than `depth` pages wait unapplied (memory stays a few pages whatever the import's
// size). Pages read ahead and never applied (the instance stops, the import fails) are
// dropped; the job's cursor only moves past pages applied.
import type { Page } from '../../adapters/contract.ts';

export interface PagesAhead {
  /** The next page in order; null after the last one. Rejects with its read's error (the pages after it are dropped). */
  next(): Promise<Page | null>;
  /** Drops the pages read ahead (their errors included). */
  drop(): void;
}

export function pagesAhead(read: (cursor: string | null) => Promise<Page>, start: string | null, depth: number): PagesAhead {
  let buffer: Promise<Page | null>[] = [];
  let tail: Promise<Page | null> | null = null;
  const push = () => {
    const before = tail;
    const p = before === null ? read(start) : before.then((page) => (page === null || page.nextCursor === null ? null : read(page.nextCursor)));
    p.catch(() => {}); // observed when its turn comes; never an unhandled rejection meanwhile
    tail = p;
    buffer.push(p);
  };
  return {
    next() {
      while (buffer.length < depth + 1) push();
      return buffer.shift()!;
    },
    drop() {
      buffer = [];
    },
  };
}
