// The results of one pushLeads call: one WriteResult per input, in input order, whatever
// happened to the calls that carried them. Shared bookkeeping of the three adapters:
// - the first failure reported for a lead is kept (a later one never hides it);
// - a success is final;
// - once a call fails in a way that would fail the next calls alike (retry.ts,
//   stopsThePush) the push is halted: the leads whose calls are not sent come back
//   `attempted: false` with that error, so their own attempt counts stay clean.
import type { CrmError, OutboundLead, WriteResult } from '../contract.ts';
import { stopsThePush } from './retry.ts';

type Success = Extract<WriteResult, { ok: true }>;

export class PushResults {
  private readonly results: (WriteResult | undefined)[];
  private stoppedBy: CrmError | null = null;

  constructor(private readonly leads: readonly OutboundLead[]) {
    this.results = new Array(leads.length);
  }

  /** Whether lead `index` has its result already. */
  has(index: number): boolean {
    return this.results[index] !== undefined;
  }

  /** The lead's own call failed (or was refused for it). */
  fail(indices: number | readonly number[], error: CrmError): void {
    for (const i of typeof indices === 'number' ? [indices] : indices) {
      if (!this.results[i]) this.results[i] = { localId: this.leads[i]!.localId, ok: false, error };
    }
  }

  /** The lead's write was never sent because an earlier call of the push failed with `error`. */
  skip(indices: number | readonly number[], error: CrmError): void {
    for (const i of typeof indices === 'number' ? [indices] : indices) {
      if (!this.results[i]) this.results[i] = { localId: this.leads[i]!.localId, ok: false, error, attempted: false };
    }
  }

  succeed(index: number, result: Omit<Success, 'localId' | 'ok'>): void {
    this.results[index] = { localId: this.leads[index]!.localId, ok: true, ...result };
  }

  /** The error that halted the push, or null while calls may still be sent. */
  halted(): CrmError | null {
    return this.stoppedBy;
  }

  /** Halts the push when `error` would fail the next calls alike; returns `error`. */
  haltOn(error: CrmError): CrmError {
    if (stopsThePush(error)) this.halt(error);
    return error;
  }

  /** Halts the push (the first halting error is kept). */
  halt(error: CrmError): void {
    this.stoppedBy = this.stoppedBy ?? error;
  }

  /** Every lead's result; `missing` answers for a lead no step gave one. */
  finish(missing: (lead: OutboundLead, index: number) => WriteResult): WriteResult[] {
    return this.leads.map((lead, i) => this.results[i] ?? missing(lead, i));
  }
}
