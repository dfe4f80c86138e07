// Intake first. On one machine the workers share the CPU (and, on PGlite, the database
// thread) with webhook intake. Under a flood of webhooks the CRM must still get its
// acknowledgement in time (HubSpot's webhooks, as our protocol reference records them: a
// response slower than 5 s is a failure, retried up to 10 times over 24 hours, and up to
// 10 requests are sent at once per account; older HubSpot documentation, quoted on its
// community forum, gave 2 s per batch. An app's webhook settings cap the requests in
// flight, so a bulk import in HubSpot arrives as overlapping requests), and
// whatever the workers do meanwhile is taken from intake. So while webhooks are flooding
// in, the workers' next claim waits: until the flood pauses, or `maxWaitMs` at most, so
// processing still advances by at least one claim per maxWaitMs; the stored events are
// processed at full speed once the flood is over.
//
// A flood is webhooks overlapping again and again: `overlaps` times within `windowMs`, a
// webhook received while another is in hand. A steady stream or a burst sent in spaced
// batches (HubSpot sends up to 100 events per request) overlaps now and then at most, and
// its processing is not held. A flood lasts until `windowMs` after its last overlap: the
// gaps between a sender's requests (and the moments the thread is busy elsewhere, when no
// request can be read) do not end it.

export class IntakeFirst {
  private inHand = 0;
  /** When the last `overlaps` overlaps happened, oldest first. */
  private readonly recent: number[] = [];
  private floodUntil = -Infinity;

  constructor(
    /** The longest a claim waits; 0: never. */
    private readonly maxWaitMs: number,
    private readonly overlaps = 3,
    private readonly windowMs = 100,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Runs the receiving of one webhook (verification, storing). */
  async receiving<T>(work: () => Promise<T>): Promise<T> {
    if (++this.inHand > 1) {
      const at = this.now();
      this.recent.push(at);
      if (this.recent.length > this.overlaps) this.recent.shift();
      if (this.recent.length === this.overlaps && at - this.recent[0] <= this.windowMs) this.floodUntil = at + this.windowMs;
    }
    try {
      return await work();
    } finally {
      this.inHand--;
    }
  }

  /** Whether webhooks are flooding in. */
  get flooding(): boolean {
    return this.now() < this.floodUntil;
  }

  /** Undefined when a claim may go at once, else resolves when the flood pauses or after maxWaitMs. */
  gap(): Promise<void> | undefined {
    if (this.maxWaitMs <= 0 || !this.flooding) return undefined;
    const deadline = this.now() + this.maxWaitMs;
    return (async () => {
      while (this.flooding && this.now() < deadline) {
        const until = Math.min(deadline, Math.max(this.floodUntil, this.now() + 1));
        await new Promise((r) => setTimeout(r, Math.max(1, until - this.now())));
      }
    })();
  }
}
