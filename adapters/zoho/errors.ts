// The ONE place that turns what Zoho answers into CrmError codes. Decisions use the
// HTTP status and Zoho's stable `code` (plus structured `details`); message text is
// never inspected — it is only copied into the human-readable message.
import { CrmError, type CrmErrorCode } from '../contract.ts';
import { retryAfterHeaderMs } from '../kit/retry.ts';
import { boundedText, refusedDestination } from '../kit/text.ts';

/** Zoho sends no Retry-After; its concurrency and credit limits reset within about a minute. */
export const DEFAULT_RETRY_AFTER_MS = 10_000;

export interface ZohoErrorItem {
  code?: unknown;
  details?: unknown;
  message?: unknown;
  status?: unknown;
}

const CODE_MAP: Record<string, CrmErrorCode> = {
  INVALID_TOKEN: 'AUTH_EXPIRED',
  AUTHENTICATION_FAILURE: 'AUTH_EXPIRED',
  OAUTH_SCOPE_MISMATCH: 'PERMISSION',
  NO_PERMISSION: 'PERMISSION',
  AUTHORIZATION_FAILED: 'PERMISSION',
  FEATURE_NOT_SUPPORTED: 'PERMISSION',
  INVALID_DATA: 'VALIDATION',
  MANDATORY_NOT_FOUND: 'VALIDATION',
  REQUIRED_PARAM_MISSING: 'VALIDATION',
  INVALID_MODULE: 'VALIDATION',
  INVALID_QUERY: 'VALIDATION',
  LIMIT_EXCEEDED: 'VALIDATION',
  EXPECTED_FIELD_MISSING: 'VALIDATION',
  DEPENDENT_FIELD_MISSING: 'VALIDATION',
  AMBIGUITY_DURING_PROCESSING: 'VALIDATION',
  TOKEN_BOUND_DATA_MISMATCH: 'VALIDATION',
  EXPIRED_VALUE: 'VALIDATION',
  DISCRETE_PAGINATION_LIMIT_EXCEEDED: 'VALIDATION',
  NOT_SUPPORTED: 'VALIDATION',
  INVALID_REQUEST_METHOD: 'VALIDATION',
  DUPLICATE_DATA: 'CONFLICT',
  MULTIPLE_OR_MULTI_ERRORS: 'CONFLICT',
  ALREADY_MODIFIED: 'CONFLICT',
  RECORD_LOCKED: 'CONFLICT',
  INVALID_URL_PATTERN: 'NOT_FOUND',
  RESOURCE_NOT_FOUND: 'NOT_FOUND',
  TOO_MANY_REQUESTS: 'RATE_LIMITED',
  INTERNAL_ERROR: 'UPSTREAM',
};

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

function obj(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** The id of the record a DUPLICATE_DATA error points at (v4+ `duplicate_record.id`, v2 `id`). */
export function duplicateRecordId(details: unknown): string | undefined {
  const d = obj(details);
  return str(obj(d.duplicate_record).id) ?? str(d.id);
}

function retryAfterMs(headers: Headers | undefined): number {
  return retryAfterHeaderMs(headers?.get('retry-after') || null, Date.now(), 1) ?? DEFAULT_RETRY_AFTER_MS;
}

/** Zoho's code and its parsed message (details included), bounded: never a whole body. */
function describe(item: ZohoErrorItem, status: number | undefined): string {
  const code = boundedText(str(item.code) ?? 'UNKNOWN', 60);
  const message = str(item.message) ?? '';
  const details = item.details && typeof item.details === 'object' ? ` ${JSON.stringify(item.details)}` : '';
  return `Zoho ${status ?? ''} ${code}: ${boundedText(`${message}${details}`)}`.replace(/\s+/g, ' ').trim();
}

/**
 * Translates one Zoho error: a whole-response error body (`{code, details, message,
 * status}`) or one per-record item of a bulk write, with the HTTP status it came with.
 */
export function translateZohoError(
  item: ZohoErrorItem,
  status?: number,
  headers?: Headers,
): CrmError {
  const code = str(item.code)?.toUpperCase();
  const details = obj(item.details);
  const message = describe(item, status);
  const base = { provider: 'ZOHO' as const, status };

  if (status === 429 || code === 'TOO_MANY_REQUESTS') {
    return new CrmError('RATE_LIMITED', message, { ...base, retryAfterMs: retryAfterMs(headers) });
  }
  if (code === 'DUPLICATE_DATA') {
    return new CrmError('CONFLICT', message, { ...base, existingId: duplicateRecordId(details) });
  }
  // "the id given seems to be invalid": the record addressed by id does not exist (any more).
  if (code === 'INVALID_DATA' && (details.api_name === 'id' || details.param_name === 'id')) {
    return new CrmError('NOT_FOUND', message, base);
  }
  if (code && CODE_MAP[code]) return new CrmError(CODE_MAP[code]!, message, base);
  if (status === 401) return new CrmError('AUTH_EXPIRED', message, base);
  if (status === 403) return new CrmError('PERMISSION', message, base);
  if (status === 404) return new CrmError('NOT_FOUND', message, base);
  if (status === 409 || status === 412) return new CrmError('CONFLICT', message, base);
  if (status !== undefined && status >= 500) return new CrmError('UPSTREAM', message, base);
  if (status !== undefined && status >= 400) return new CrmError('VALIDATION', message, base);
  return new CrmError('UPSTREAM', message, { ...base, retryable: false });
}

/** A response whose body is not what Zoho documents (not JSON, wrong shape). */
export function unexpectedResponse(what: string, status: number, cause?: unknown): CrmError {
  return new CrmError('UPSTREAM', `Zoho answered ${status} with an unexpected body (${what})`, {
    provider: 'ZOHO',
    status,
    cause,
    retryable: status >= 500,
  });
}

/** fetch() failed before any HTTP answer: DNS, refused connection, reset, timeout. */
export function networkError(cause: unknown, url: string): CrmError {
  const refused = refusedDestination(cause, 'ZOHO', url);
  if (refused) return refused;
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new CrmError('NETWORK', `Zoho request to ${url} failed: ${boundedText(reason, 120)}`, { provider: 'ZOHO', cause });
}

/**
 * Errors of the accounts server's token endpoint. It answers most of them with HTTP 200
 * and `{"error": "<code>"}`. `grant`: what was presented. A refresh token it refuses
 * (invalid_code, invalid_grant: revoked by the user, or one of the oldest beyond Zoho's
 * per-user limit) is AUTH_REVOKED: only a new consent helps. A refused authorization code
 * (used, expired, another redirect URI) is VALIDATION: the person connects again. A refused
 * client (id or secret) is the operator's configuration: AUTH_EXPIRED, not retryable.
 */
export function translateTokenError(status: number, body: unknown, headers?: Headers, grant: 'code' | 'refresh' | 'revoke' = 'refresh'): CrmError {
  const raw = str(obj(body).error);
  const error = raw === undefined ? undefined : boundedText(raw, 60);
  const what = grant === 'code' ? 'code exchange' : grant === 'revoke' ? 'token revocation' : 'token refresh';
  const message = `Zoho ${what} failed (${status}${error ? ` ${error}` : ''})`;
  const base = { provider: 'ZOHO' as const, status };
  if (status === 429) return new CrmError('RATE_LIMITED', message, { ...base, retryAfterMs: retryAfterMs(headers) });
  if (status >= 500) return new CrmError('UPSTREAM', message, base);
  // Revocation: "400 Bad Request: the token passed in the request is invalid".
  if (grant === 'revoke' && status === 400) return new CrmError('AUTH_REVOKED', message, base);
  switch (error) {
    case 'invalid_client':
    case 'invalid_client_secret':
    case 'unauthorized_client':
      return new CrmError('AUTH_EXPIRED', message, { ...base, retryable: false });
    case 'invalid_code':
    case 'invalid_grant':
    case 'invalid_token':
      return grant === 'code' ? new CrmError('VALIDATION', message, { ...base, retryable: false }) : new CrmError('AUTH_REVOKED', message, base);
    case 'Access Denied':
      // "You have made too many requests continuously": the refresh rate limit.
      return new CrmError('RATE_LIMITED', message, { ...base, retryAfterMs: 60_000 });
    default:
      if (grant === 'code') return new CrmError('VALIDATION', message, { ...base, retryable: false });
      return new CrmError('AUTH_EXPIRED', message, { ...base, retryable: false });
  }
}
