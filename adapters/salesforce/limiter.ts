// A client-side request budget: at most `requests` calls started per sliding `perMs` window.
// Salesforce has no short-window API limit (its limits are a rolling 24 h count and 25
// concurrent long-running requests); the budget keeps one integration from monopolising
// the org's daily allowance in a burst.
export class SlidingWindowLimiter {
  private readonly starts: number[] = [];
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly requests: number,
    private readonly perMs: number,
  ) {
    if (!(requests >= 1) || !(perMs >= 1)) throw new RangeError('rate limit needs requests >= 1 and perMs >= 1');
  }

  /** Resolves when one more call may start; calls are admitted in arrival order. */
  acquire(): Promise<void> {
    const next = this.queue.then(() => this.waitForSlot());
    this.queue = next;
    return next;
  }

  private async waitForSlot(): Promise<void> {
    for (;;) {
      const now = Date.now();
      while (this.starts.length > 0 && this.starts[0] <= now - this.perMs) this.starts.shift();
      if (this.starts.length < this.requests) {
        this.starts.push(now);
        return;
      }
      const wait = this.starts[0] + this.perMs - now;
      await new Promise((r) => setTimeout(r, Math.max(1, wait)));
    }
  }
}
