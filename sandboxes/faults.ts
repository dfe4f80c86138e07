// Random API faults for the sandboxes, in one vocabulary: the chaos harness sets a plan
// ("this fraction of calls fails, in one of these ways") and each sandbox draws a fault
// per API request and applies it in its CRM's own wire format.
//
// What the kinds stand for, per the CRMs' documentation:
// - rate_limit: 429 with a Retry-After header (HubSpot: TEN_SECONDLY_ROLLING / SECONDLY policies).
// - server_error: a 500, 502 or 503 answer (transient; clients retry with backoff).
// - hang: the request is held `hangMs` before being processed, longer than the client's
//   timeout: the client gives up, and a write is applied afterwards all the same.
// - lost_response: the request is processed (a write is applied) and the connection is
//   dropped without an answer.

export type ChaosFaultKind = 'rate_limit' | 'server_error' | 'hang' | 'lost_response';

export const CHAOS_FAULT_KINDS: readonly ChaosFaultKind[] = ['rate_limit', 'server_error', 'hang', 'lost_response'];

export interface FaultPlan {
  /** Fraction (0..1) of matching API requests that fail. */
  rate: number;
  /** Kinds drawn from, equally likely (default: all). */
  kinds?: readonly ChaosFaultKind[];
  /** How long a `hang` holds the request (longer than the client timeout). */
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
  | { kind: 'hang'; ms: number }
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
    case 'hang':
      return { kind, ms: plan.hangMs };
    case 'lost_response':
      return { kind };
  }
}
