// A client-side sliding-window request budget: at most `requests` request starts in any
// `perMs` window, FIFO. It keeps one client below HubSpot's own rolling limit so we do not
// provoke 429 storms. It only spaces requests; reacting to a 429 (waiting retryAfterMs)
// is the caller's job.
export class SlidingWindowLimiter {
  private readonly starts: number[] = [];
  private tail: Promise<void> = Promise.resolve();

  constructor(
    readonly requests: number,
    readonly perMs: number,
    /** Extra wait so clock and network jitter never push us over the server's window. */
    private readonly marginMs = 25,
  ) {
    if (!(requests >= 1) || !(perMs > 0)) throw new RangeError(`invalid rate limit ${requests}/${perMs}ms`);
  }

  /** Resolves when one more request may start (and counts it). */
  acquire(): Promise<void> {
    const turn = this.tail.then(() => this.waitForSlot());
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  private async waitForSlot(): Promise<void> {
    for (;;) {
      const now = Date.now();
      while (this.starts.length > 0 && this.starts[0]! + this.perMs + this.marginMs <= now) this.starts.shift();
      if (this.starts.length < this.requests) {
        this.starts.push(now);
        return;
      }
      const wait = this.starts[0]! + this.perMs + this.marginMs - now;
      await new Promise((r) => setTimeout(r, Math.max(1, wait)));
    }
  }
}
