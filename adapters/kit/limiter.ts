// The client-side request budget every adapter uses: at most `requests` request starts in
// any sliding `perMs` window, admitted in arrival order (FIFO), and optionally at most
// `maxConcurrent` requests in flight at once.
//
// It only spaces requests so one client stays below the CRM's own limits (HubSpot's
// rolling 10-second window, Salesforce's daily allowance, Zoho's per-org concurrency);
// reacting to a 429 (waiting retryAfterMs) is the engine's job, never the limiter's.

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
  private readonly starts: number[] = [];
  private tail: Promise<void> = Promise.resolve();
  private active = 0;
  private readonly waiting: Array<() => void> = [];
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

  /** Resolves when one more request may start (and counts it). */
  acquire(): Promise<void> {
    const turn = this.tail.then(() => this.waitForSlot());
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  /**
   * How long a request starting now would wait for the window (0: it may start at once);
   * counts nothing. Requests already queued for a slot are not counted: a lower bound.
   */
  waitMs(now = Date.now()): number {
    const rate = this.rate;
    if (!rate) return 0;
    const live = this.starts.filter((t) => t + rate.perMs + this.marginMs > now);
    if (live.length < rate.requests) return 0;
    return live[live.length - rate.requests]! + rate.perMs + this.marginMs - now;
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
    const live = this.starts.filter((t) => t + rate.perMs + this.marginMs > now);
    if (live.length < rate.requests / 2) return 0;
    const even = live[live.length - 1]! + rate.perMs / rate.requests - now;
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

  private async waitForSlot(): Promise<void> {
    const rate = this.rate;
    if (!rate) return;
    for (;;) {
      const now = Date.now();
      while (this.starts.length > 0 && this.starts[0]! + rate.perMs + this.marginMs <= now) this.starts.shift();
      if (this.starts.length < rate.requests) {
        this.starts.push(now);
        return;
      }
      const wait = this.starts[0]! + rate.perMs + this.marginMs - now;
      await new Promise((r) => setTimeout(r, Math.max(1, wait)));
    }
  }
}
