// The client-side request budget every adapter uses: at most `requests` request starts in
// any sliding `perMs` window, admitted in arrival order (FIFO), and optionally at most
// `maxConcurrent` requests in flight at once.
//
// It only spaces requests so one client stays below the CRM's own limits (HubSpot's
// rolling 10-second window, Salesforce's daily allowance, Zoho's per-org concurrency);
// reacting to a 429 (waiting retryAfterMs) is the engine's job, never the limiter's.
//
// A request admitted with start() counts in the window until `perMs` after it ENDS, not
// after it starts: the CRM counts arrivals, and an arrival falls between a request's start
// and its end, so however late a request reaches the CRM (a busy event loop, a slow
// network), no window of the CRM's ever sees more than `requests` of ours. acquire()
// counts from the start only (a margin covers the jitter), for callers that do not report
// an end.

export interface Rate {
  requests: number;
  perMs: number;
}

export interface LimiterOptions {
  /** The sliding window; none: no rate limit (concurrency only). */
  rate?: Rate;
  /** Extra wait after a window so clock and network jitter never push us over the server's window. */
  marginMs?: number;
  /** Requests in flight at once; none: unbounded. */
  maxConcurrent?: number;
}

/** True for a usable rate ({requests >= 1, perMs > 0}), e.g. one read from settings. */
export function isRate(v: unknown): v is Rate {
  const o = v as { requests?: unknown; perMs?: unknown } | null;
  return !!o && typeof o.requests === 'number' && o.requests >= 1 && typeof o.perMs === 'number' && o.perMs > 0;
}

export class RequestLimiter {
  /** Admitted requests still counting: `at` is the start, or the end once one was reported; `open` until then. */
  private readonly entries: { at: number; open: boolean }[] = [];
  private tail: Promise<void> = Promise.resolve();
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly ended: Array<() => void> = [];
  private readonly rate: Rate | null;
  private readonly marginMs: number;
  private readonly maxConcurrent: number;

  constructor(opts: LimiterOptions) {
    if (opts.rate && !isRate(opts.rate)) throw new RangeError(`invalid rate limit ${JSON.stringify(opts.rate)}`);
    if (opts.maxConcurrent !== undefined && !(opts.maxConcurrent >= 1)) throw new RangeError(`invalid concurrency ${opts.maxConcurrent}`);
    this.rate = opts.rate ?? null;
    this.marginMs = opts.marginMs ?? 0;
    this.maxConcurrent = opts.maxConcurrent ?? Infinity;
  }

  /** Resolves when one more request may start (and counts it from its start). */
  async acquire(): Promise<void> {
    const entry = await this.admit();
    if (entry) entry.open = false;
  }

  /**
   * Resolves when one more request may start; the request counts until `perMs` after the
   * returned function is called (when it ended, answered or not).
   */
  async start(): Promise<() => void> {
    const entry = await this.admit();
    return () => {
      if (!entry || !entry.open) return;
      entry.open = false;
      entry.at = Date.now();
      for (const wake of this.ended.splice(0)) wake();
    };
  }

  /**
   * How long a request starting now would wait for the window (0: it may start at once);
   * counts nothing. Requests already queued for a slot are not counted, and one still open
   * is taken to end now: a lower bound.
   */
  waitMs(now = Date.now()): number {
    const rate = this.rate;
    if (!rate) return 0;
    const ends = this.live(now)
      .map((e) => (e.open ? now : e.at) + rate.perMs + this.marginMs)
      .sort((a, b) => a - b);
    if (ends.length < rate.requests) return 0;
    return Math.max(0, ends[ends.length - rate.requests]! - now);
  }

  /**
   * How long a caller that can wait (and gather more work for the same request) should
   * hold off to spend the window evenly: nothing while less than half of it is used;
   * beyond that, until one even share of the window (perMs / requests) has passed since
   * the last start, or until the window frees, whichever is later. Counts nothing.
   */
  paceMs(now = Date.now()): number {
    const rate = this.rate;
    if (!rate) return 0;
    const live = this.live(now);
    if (live.length < rate.requests / 2) return 0;
    const last = Math.max(...live.map((e) => e.at));
    const even = last + rate.perMs / rate.requests - now;
    return Math.max(0, Math.ceil(even), this.waitMs(now));
  }

  /** Runs `fn` inside a concurrency slot, once the window admits it. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.maxConcurrent) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      await this.acquire();
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  /** The requests still counting in the window at `now`. */
  private live(now: number): { at: number; open: boolean }[] {
    const rate = this.rate;
    if (!rate) return [];
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (!e.open && e.at + rate.perMs + this.marginMs <= now) this.entries.splice(i, 1);
    }
    return this.entries;
  }

  /** Waits for its turn (FIFO) and a free place in the window; the new entry is open. Null without a rate. */
  private admit(): Promise<{ at: number; open: boolean } | null> {
    const turn = this.tail.then(() => this.waitForSlot());
    this.tail = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  private async waitForSlot(): Promise<{ at: number; open: boolean } | null> {
    const rate = this.rate;
    if (!rate) return null;
    for (;;) {
      const now = Date.now();
      const live = this.live(now);
      if (live.length < rate.requests) {
        const entry = { at: now, open: true };
        this.entries.push(entry);
        return entry;
      }
      // The earliest a closed entry leaves the window; or, with every one still open,
      // the moment one of them ends (whichever comes first).
      const closed = live.filter((e) => !e.open).map((e) => e.at + rate.perMs + this.marginMs);
      const wait = closed.length ? Math.max(1, Math.min(...closed) - now) : rate.perMs;
      const anyOpen = live.some((e) => e.open);
      await new Promise<void>((resolve) => {
        const woken = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          const i = this.ended.indexOf(woken);
          if (i >= 0) this.ended.splice(i, 1);
          resolve();
        }, wait);
        if (anyOpen) this.ended.push(woken);
      });
    }
  }
}
