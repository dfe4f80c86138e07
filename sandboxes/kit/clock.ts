// One clock for every sandbox: real time, or a time a test sets ("every change from now on
// carries this time"), rounded down to the CRM's own resolution. Salesforce stamps audit
// fields (CreatedDate, LastModifiedDate, SystemModstamp) and Zoho its Created_Time and
// Modified_Time at whole seconds; HubSpot keeps milliseconds (createdate, occurredAt).

export class SandboxClock {
  private fixed: number | null = null;

  /** `resolutionMs`: 1000 for whole seconds, 1 for milliseconds. */
  constructor(private readonly resolutionMs: number = 1) {}

  /** From now on every change carries `at` (null: real time again). */
  set(at: Date | null): void {
    this.fixed = at === null ? null : at.getTime();
  }

  /** The CRM's time now, in epoch milliseconds at the CRM's resolution. */
  now(): number {
    const t = this.fixed ?? Date.now();
    return Math.floor(t / this.resolutionMs) * this.resolutionMs;
  }
}
