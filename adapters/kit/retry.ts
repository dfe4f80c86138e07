// Retry classification shared by the adapters: which CrmErrors are worth another try later
// (transient) and which are not (permanent), which ones end a push early, and how long a
// Retry-After header asks to wait. Retrying itself is the engine's job: no adapter
// retries a call.
import type { CrmError, CrmErrorCode } from '../contract.ts';

export type RetryClass = 'transient' | 'permanent';

/** transient: the same call may succeed later (CrmError.retryable); permanent: it will not. */
export function retryClass(e: CrmError): RetryClass {
  return e.retryable ? 'transient' : 'permanent';
}

/**
 * Call-level failures after which the remaining calls of the same push are pointless:
 * they would fail alike (a rate limit, a refused token or scope, an unreachable or
 * failing CRM). A per-record failure (VALIDATION, CONFLICT, NOT_FOUND) concerns its
 * record only.
 */
const STOPS_THE_PUSH: ReadonlySet<CrmErrorCode> = new Set(['RATE_LIMITED', 'AUTH_EXPIRED', 'AUTH_REVOKED', 'PERMISSION', 'NETWORK', 'UPSTREAM']);

export function stopsThePush(e: CrmError): boolean {
  return STOPS_THE_PUSH.has(e.code);
}

/**
 * The wait a Retry-After header asks for (RFC 9110 section 10.2.3: delay-seconds or an
 * HTTP-date), in ms, at least `minMs`; null when absent or unreadable.
 */
export function retryAfterHeaderMs(raw: string | null | undefined, now: number, minMs: number): number | null {
  if (raw === undefined || raw === null) return null;
  const secs = Number(raw);
  if (Number.isFinite(secs) && secs >= 0) return Math.max(minMs, secs * 1000);
  const at = Date.parse(raw);
  if (!Number.isNaN(at)) return Math.max(minMs, at - now);
  return null;
}
