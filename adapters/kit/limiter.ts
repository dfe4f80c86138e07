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

/** What a caller that gathers work for its next request knows about that work. */
export interface Demand {
  /** Items in hand for the next request. */
  pending: number;
  /** The most items one request carries: a full request is never held. */
  perRequest: number;
  /** Items arriving per second, lately (0: unknown). */
  perSecond: number;
  /** When the oldest item in hand arrived (epoch ms): none is held longer than one even spacing from then. */
  oldestAt: number;
  /** When the next arrival is expected (epoch ms; unknown: soon): a hold ending before it gathers nothing. */
  nextArrivalAt?: number;
}

/** A window's state: `ends` are the times (epoch ms, ascending) at which each request still counting stops counting. */
export interface WindowState {
  rate: Rate;
  marginMs: number;
  now: number;
  ends: readonly number[];
}

/** How long from `now` until one more request may start (0: at once). */
export function windowWaitMs(s: WindowState): number {
  if (s.ends.length < s.rate.requests) return 0;
  return Math.max(0, s.ends[s.ends.length - s.rate.requests]! - s.now);
}

/**
 * The spacing (ms) at which requests starting from now, one after another for as long as
 * work keeps coming, never find the window full: at least one window over its requests,
 * and wider while the window holds a clump of recent requests (an earlier burst) whose
 * places free only later: until the i-th of them stops counting, only the free places
 * plus i - 1 are there to start in.
 */
export function evenSpacingMs(s: WindowState): number {
  const { rate, now, ends } = s;
  let spacing = (rate.perMs + s.marginMs) / rate.requests;
  const free = rate.requests - ends.length;
  for (let i = 1; i <= ends.length; i++) {
    const places = free + i - 1;
    if (places > 0) spacing = Math.max(spacing, (ends[i - 1]! - now) / places);
  }
  return spacing;
}

/**
 * The pacing decision for a caller able to wait and gather (0: start now). A request
 * need only wait when, at the rate items arrive, starting one per arrival would spend
 * the window faster than it frees:
 *   - a full request (pending >= perRequest) waits for the window only;
 *   - the share: the items arriving during one even spacing (evenSpacingMs). Holding
 *     the work in hand until it is a share keeps the requests within the budget for as
 *     long as the arrivals last; work already a share, or arriving slower than the
 *     budget allows (a trickle: its share is below one item), goes at once;
 *   - otherwise it waits until the share is expected in hand, but never beyond one even
 *     spacing after its oldest item arrived, nor less than the window needs; and not at
 *     all when the next arrival is not expected before that wait ends (items arriving
 *     one request's worth at a time, about as often as the budget allows: holding would
 *     only delay them).
 */
export function paceFor(s: WindowState, demand?: Demand): number {
  const wait = windowWaitMs(s);
  if (!demand || demand.pending >= demand.perRequest || !(demand.perSecond > 0)) return wait;
  const spacing = evenSpacingMs(s);
  const share = (demand.perSecond * spacing) / 1000;
  if (demand.pending >= share) return wait;
  const untilShare = ((share - demand.pending) / demand.perSecond) * 1000;
  const hold = Math.min(untilShare, demand.oldestAt + spacing - s.now);
  if (demand.nextArrivalAt !== undefined && demand.nextArrivalAt > s.now + hold) return wait;
  return Math.max(wait, Math.ceil(hold), 0);
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
    return windowWaitMs({ rate, marginMs: this.marginMs, now, ends: this.ends(rate, now) });
  }

  /**
   * How long a caller that can wait, and gather more work for the same request, should
   * hold off (paceFor below, on this window's state). Counts nothing. Without `demand`:
   * only as long as the window is full (waitMs).
   */
  paceMs(demand?: Demand, now = Date.now()): number {
    const rate = this.rate;
    if (!rate) return 0;
    return paceFor({ rate, marginMs: this.marginMs, now, ends: this.ends(rate, now) }, demand);
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

  /** When each request still counting stops counting, ascending (one still open is taken to end now). */
  private ends(rate: Rate, now: number): number[] {
    return this.live(now)
      .map((e) => (e.open ? now : e.at) + rate.perMs + this.marginMs)
      .sort((a, b) => a - b);
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
