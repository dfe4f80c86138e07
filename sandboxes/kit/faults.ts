// Faults for the sandboxes, in one vocabulary. Two ways in:
// - injected: a test says "the next n matching API calls fail this way" (FaultQueue);
// - planned: the chaos harness sets a plan ("this fraction of calls fails, in one of these
//   ways") and each sandbox draws a fault per API request (drawFault).
// Each sandbox renders a fault in its CRM's own wire format; the kind names what an
// adapter must make of it, as a contract error code (adapters/contract.ts, CrmErrorCode).
import { type RequestMatch, matches } from './match.ts';

/**
 * The injectable faults, each with the contract error code the adapter must raise:
 * - rate_limit: the CRM's rate-limit answer (RATE_LIMITED, retried after its Retry-After).
 * - server_error: a 5xx answer (UPSTREAM, retried with backoff).
 * - auth_expired: the access token is refused (AUTH_EXPIRED: refresh, then retry).
 * - forbidden: the token lacks a scope or permission (PERMISSION).
 * - not_found: the record or resource does not exist (NOT_FOUND).
 * - latency: the call is held before it is processed (a client timeout: NETWORK).
 * - network: the connection is dropped before the call is processed (NETWORK; nothing applied).
 * - lost_response: the call is processed (a write is applied), then the connection is
 *   dropped without an answer (NETWORK; the write happened all the same).
 * A sandbox declares the subset it renders (e.g. `Extract<FaultKind, 'rate_limit' | ...>`).
 */
export type FaultKind = 'rate_limit' | 'server_error' | 'auth_expired' | 'forbidden' | 'not_found' | 'latency' | 'network' | 'lost_response';

/** Injected faults waiting for the API calls they match, each for a number of calls. */
export class FaultQueue<F> {
  private readonly entries: { fault: F; remaining: number; match?: RequestMatch }[] = [];

  /** The next `count` API calls matching `match` (every call when absent) fail with `fault`. */
  push(fault: F, count = 1, match?: RequestMatch): void {
    this.entries.push({ fault, remaining: count, match });
  }

  /** The fault this call suffers (the oldest matching entry), or null. */
  take(method: string, path: string): F | null {
    for (const e of this.entries) {
      if (e.remaining <= 0 || !matches(e.match, method, path)) continue;
      e.remaining--;
      return e.fault;
    }
    return null;
  }

  clear(): void {
    this.entries.splice(0);
  }
}

// ---- planned faults (the chaos harness) ------------------------------------------------
//
// The chaos kinds are kit kinds; what they stand for, per the CRMs' documentation:
// - rate_limit: the CRM's rate-limit answer (HubSpot: 429 with a Retry-After header,
//   TEN_SECONDLY_ROLLING / SECONDLY policies).
// - server_error: a 500, 502 or 503 answer (transient; clients retry with backoff).
// - latency: the request is held `hangMs` before being processed, longer than the client's
//   timeout: the client gives up, and a write is applied afterwards all the same.
// - lost_response: the request is processed (a write is applied) and the connection is
//   dropped without an answer.

export type ChaosFaultKind = Extract<FaultKind, 'rate_limit' | 'server_error' | 'latency' | 'lost_response'>;

export const CHAOS_FAULT_KINDS: readonly ChaosFaultKind[] = ['rate_limit', 'server_error', 'latency', 'lost_response'];

export interface FaultPlan {
  /** Fraction (0..1) of matching API requests that fail. */
  rate: number;
  /** Kinds drawn from, equally likely (default: all). */
  kinds?: readonly ChaosFaultKind[];
  /** How long a `latency` fault holds the request (longer than the client timeout). */
  hangMs: number;
  /** Seconds in the Retry-After of a `rate_limit` (default 1). */
  retryAfterSeconds?: number;
  /** The random source (seeded by the harness so a run can be reproduced). */
  random: () => number;
  /** Only requests this accepts can fail (default: every API request). */
  applies?: (method: string, path: string) => boolean;
}

export type DrawnFault =
  | { kind: 'rate_limit'; retryAfterSeconds: number }
  | { kind: 'server_error'; status: 500 | 502 | 503 }
  | { kind: 'latency'; ms: number }
  | { kind: 'lost_response' };

const STATUSES = [500, 502, 503] as const;

/** The fault this request suffers under `plan`, or null. */
export function drawFault(plan: FaultPlan | null, method: string, path: string): DrawnFault | null {
  if (!plan || plan.rate <= 0) return null;
  if (plan.applies && !plan.applies(method, path)) return null;
  if (plan.random() >= plan.rate) return null;
  const kinds = plan.kinds && plan.kinds.length > 0 ? plan.kinds : CHAOS_FAULT_KINDS;
  const kind = kinds[Math.floor(plan.random() * kinds.length)]!;
  switch (kind) {
    case 'rate_limit':
      return { kind, retryAfterSeconds: plan.retryAfterSeconds ?? 1 };
    case 'server_error':
      return { kind, status: STATUSES[Math.floor(plan.random() * STATUSES.length)]! };
    case 'latency':
      return { kind, ms: plan.hangMs };
    case 'lost_response':
      return { kind };
  }
}
