// The controls every sandbox offers, in one shape (each sandbox's `controls`, the one way
// in): its clock, its faults (injected and planned, in the kit's vocabulary), a hook run
// after matching calls, and its request log (a RequestLog's entries). A sandbox's controls may refine these (e.g. a
// fault with CRM-specific details, or only for matching calls); what only its CRM has
// (HubSpot's merges, Salesforce's outbound messages, Zoho's channels) sits next to them.
import type { FaultKind, FaultPlan } from './faults.ts';
import type { RequestMatch } from './match.ts';

/** What every sandbox records of each API request it answered, oldest first. */
export interface LoggedRequest {
  method: string;
  path: string;
  /** The HTTP status of the answer (Salesforce's and Zoho's record 0 for a connection dropped instead). */
  status: number;
}

export interface SandboxControls<K extends FaultKind = FaultKind, R extends LoggedRequest = LoggedRequest> {
  /** Every change from now on carries this time, at the CRM's resolution (null: real time). */
  setClock(at: Date | null): void;
  /** The next `count` API calls fail this way (rendered in the CRM's wire format). */
  injectFault(kind: K, count?: number): void;
  /** From now on each API call fails with probability `plan.rate` (null: off). */
  setFaultPlan(plan: FaultPlan | null): void;
  /** Forgets the injected faults not yet used. */
  clearFaults(): void;
  /**
   * Runs `fn` right after the next `count` API calls matching `match` were applied, before
   * they are answered (e.g. a person editing a record the client just wrote).
   */
  afterRequest(match: RequestMatch, fn: () => void | Promise<void>, count?: number): void;
  /** The API requests received, oldest first. */
  readonly requests: readonly R[];
}
