// Fills a push up to a full batch while leads keep arriving for its CRM. Without it a
// stream of new leads (a form, an import on the platform) is pushed as fast as the pushes
// go: a few leads per CRM call. Like Nagle's algorithm: a push that finds fewer than a
// batch, when the previous push of the same integration started less than `maxWaitMs`
// ago, waits (in steps of a quarter of that) and takes what arrived meanwhile, until the
// batch is full, nothing came during a step, or that window is over. A lead after a quiet spell
// is pushed at once: its latency is unchanged; a lead in a stream waits at most
// `maxWaitMs` (OUTBOX_BATCH_WAIT_MS).

export class BatchFill {
  /** When the last push of each integration started (this instance's). */
  private readonly lastStart = new Map<string, number>();

  constructor(
    private readonly batch: number,
    private readonly maxWaitMs: number,
    /** Claims up to `limit` more due items of the integration; their ids. */
    private readonly claimMore: (integrationId: string, limit: number) => Promise<string[]>,
  ) {}

  /** The ids to push now: `ids`, and what arrived while waiting for a fuller batch. */
  async fill(integrationId: string, ids: string[]): Promise<string[]> {
    let out = ids;
    const started = this.lastStart.get(integrationId);
    if (this.maxWaitMs > 0 && started !== undefined && out.length < this.batch) {
      const deadline = started + this.maxWaitMs;
      for (let left = deadline - Date.now(); left > 0; left = deadline - Date.now()) {
        // A step with nothing new ends the wait: the stream stopped (or is too thin to fill a batch).
        await new Promise((r) => setTimeout(r, Math.min(this.maxWaitMs / 4, left)));
        const more = await this.claimMore(integrationId, this.batch - out.length);
        out = [...out, ...more];
        if (out.length >= this.batch || more.length === 0) break;
      }
    }
    const now = Date.now();
    this.lastStart.set(integrationId, now);
    if (this.lastStart.size > 10_000) {
      for (const [id, at] of this.lastStart) if (now - at >= this.maxWaitMs) this.lastStart.delete(id);
    }
    return out;
  }
}
