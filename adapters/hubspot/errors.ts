// The ONE place that turns HubSpot/SDK/HTTP failures into CrmError codes. It is the
// only code in the adapter allowed to look at error message text.
//
//   429 TEN_SECONDLY_ROLLING -> RATE_LIMITED, retryAfterMs from Retry-After, else the
//                               window (X-HubSpot-RateLimit-Interval-Milliseconds), else 10 s
//   429 secondly (search)    -> RATE_LIMITED, 1 s
//   429 DAILY                -> RATE_LIMITED, until the next UTC midnight (the account's
//                               own time zone is unknown here; an early retry just gets
//                               another DAILY 429 with a fresh wait)
//   401 -> AUTH_EXPIRED, 403 -> PERMISSION, 404 -> NOT_FOUND,
//   409 -> CONFLICT (existingId parsed from "Existing ID: <id>"), 400/422 -> VALIDATION,
//   5xx -> UPSTREAM, connection failures and timeouts -> NETWORK.
import { CrmError, type CrmErrorCode } from '../contract.ts';
import { retryAfterHeaderMs } from '../kit/retry.ts';
import { boundedText, refusedDestination } from '../kit/text.ts';

const PROVIDER = 'HUBSPOT' as const;

interface HttpLikeError {
  code: number;
  body: unknown;
  headers: Record<string, string>;
}

/** The SDK's ApiException shape ({code: HTTP status, body, headers}), without importing SDK types. */
function asHttpError(e: unknown): HttpLikeError | null {
  if (!e || typeof e !== 'object') return null;
  const o = e as { code?: unknown; body?: unknown; headers?: unknown };
  if (typeof o.code !== 'number' || o.code < 100 || o.code > 599) return null;
  const headers: Record<string, string> = {};
  if (o.headers && typeof o.headers === 'object') {
    for (const [k, v] of Object.entries(o.headers as Record<string, unknown>)) {
      if (typeof v === 'string') headers[k.toLowerCase()] = v;
      else if (Array.isArray(v) && typeof v[0] === 'string') headers[k.toLowerCase()] = v[0];
    }
  }
  let body = o.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      /* keep the text */
    }
  }
  return { code: o.code, body, headers };
}

function field(body: unknown, name: string): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const v = (body as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : undefined;
}

/** Parses "Contact already exists. Existing ID: 123" (wording UNCONFIRMED: tolerant match). */
export function existingIdFromMessage(message: string | undefined): string | undefined {
  if (!message) return undefined;
  const m = /existing\s+id\s*:?\s*(\d+)/i.exec(message);
  return m?.[1];
}

function untilNextUtcMidnight(now: number): number {
  const d = new Date(now);
  const next = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1, 0, 0, 5);
  return Math.max(60_000, next - now);
}

function retryAfterMs(http: HttpLikeError, now: number): number {
  const policy = field(http.body, 'policyName');
  const message = field(http.body, 'message') ?? '';
  if (policy === 'DAILY' || /daily limit/i.test(message)) return untilNextUtcMidnight(now);
  const ra = retryAfterHeaderMs(http.headers['retry-after'], now, 1000);
  if (ra !== null) return ra;
  if (policy === 'SECONDLY' || /secondly limit/i.test(message)) return 1000;
  const interval = Number(http.headers['x-hubspot-ratelimit-interval-milliseconds']);
  if (Number.isFinite(interval) && interval > 0) return interval;
  return 10_000;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function isNetworkError(e: unknown): boolean {
  if (!e || typeof e !== 'object') return false;
  const o = e as { name?: unknown; type?: unknown; code?: unknown; errno?: unknown; cause?: unknown };
  if (o.name === 'FetchError' || o.type === 'system' || o.name === 'AbortError' || o.name === 'TimeoutError') return true;
  if (typeof o.code === 'string' && NETWORK_CODES.has(o.code)) return true;
  return o.cause !== undefined && o.cause !== e && isNetworkError(o.cause);
}

/** Translates anything thrown by the SDK or the HTTP stack into a CrmError. */
export function translateError(e: unknown, what: string, now: number = Date.now()): CrmError {
  if (e instanceof CrmError) return e;
  const refused = refusedDestination(e, PROVIDER, what);
  if (refused) return refused;
  const http = asHttpError(e);
  if (http) {
    // Only HubSpot's parsed error (`category` and `message` of its JSON body), bounded:
    // a body that is not HubSpot's JSON (a proxy's HTML page, anything else) is never
    // copied into an error a tenant can read.
    const message = field(http.body, 'message');
    const category = field(http.body, 'category');
    const parsed = boundedText([category, message].filter(Boolean).join(' '));
    const text = `HubSpot ${what}: HTTP ${http.code}${parsed ? ` ${parsed}` : ''}`;
    const base = { provider: PROVIDER, status: http.code, cause: e };
    if (http.code === 429) return new CrmError('RATE_LIMITED', text, { ...base, retryAfterMs: retryAfterMs(http, now) });
    if (http.code === 401) return new CrmError('AUTH_EXPIRED', text, base);
    if (http.code === 403) return new CrmError('PERMISSION', text, base);
    if (http.code === 404) return new CrmError('NOT_FOUND', text, base);
    if (http.code === 409) return new CrmError('CONFLICT', text, { ...base, existingId: existingIdFromMessage(message) });
    if (http.code >= 500) return new CrmError('UPSTREAM', text, base);
    if (http.code === 408) return new CrmError('NETWORK', text, base);
    return new CrmError('VALIDATION', text, base);
  }
  if (isNetworkError(e)) {
    const code = (e as { code?: unknown }).code;
    return new CrmError('NETWORK', `HubSpot ${what}: the request failed${typeof code === 'string' ? ` (${boundedText(code, 40)})` : ''}`, { provider: PROVIDER, cause: e });
  }
  if (e instanceof Error && e.name === 'RequiredError') {
    return new CrmError('VALIDATION', `HubSpot ${what}: ${boundedText(e.message)}`, { provider: PROVIDER, cause: e });
  }
  // Anything else (an unexpected answer shape, a bug): not retryable blindly. The text
  // may quote what came back, so it stays in the logs (cause), not in the message.
  return new CrmError('UPSTREAM', `HubSpot ${what}: unexpected answer`, {
    provider: PROVIDER,
    cause: e,
    retryable: false,
  });
}

const CATEGORY_CODE: Record<string, CrmErrorCode> = {
  OBJECT_NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  OBJECT_ALREADY_EXISTS: 'CONFLICT',
  VALIDATION_ERROR: 'VALIDATION',
  INVALID_EMAIL: 'VALIDATION',
  MISSING_SCOPES: 'PERMISSION',
  RATE_LIMITS: 'RATE_LIMITED',
};

/** One entry of a 207 multi-status `errors` array ({status, category, message, context}). */
export function translateBatchError(err: { category?: string; message?: string }, what: string): CrmError {
  const code = CATEGORY_CODE[err.category ?? ''] ?? 'UPSTREAM';
  return new CrmError(code, `HubSpot ${what}: ${boundedText(`${err.category ?? 'error'} ${err.message ?? ''}`)}`, {
    provider: PROVIDER,
    existingId: code === 'CONFLICT' ? existingIdFromMessage(err.message) : undefined,
  });
}

/** True for a 409 saying the thing already exists (properties, subscriptions). */
export function isAlreadyExists(e: CrmError): boolean {
  return e.code === 'CONFLICT';
}

/**
 * An error answer of HubSpot's OAuth token endpoints (RFC 6749 `error` plus HubSpot's own
 * `status`, changelog "New OAuth v3 API Endpoints and Standardized Error Responses").
 * `grant`: what was presented. A refused refresh token (invalid_grant, BAD_REFRESH_TOKEN:
 * "invalid, expired or revoked") is AUTH_REVOKED: only a new consent helps. A refused
 * authorization code (used, expired, for another redirect URI) is VALIDATION: the person
 * connects again. A refused client (id or secret) is the operator's configuration.
 */
export function translateTokenError(status: number, body: unknown, headers: Headers | undefined, what: string, grant: 'code' | 'refresh' | 'other'): CrmError {
  const error = field(body, 'error');
  const hsStatus = field(body, 'status');
  const parsed = boundedText([error, hsStatus !== 'error' ? hsStatus : undefined, field(body, 'error_description') ?? field(body, 'message')].filter(Boolean).join(' '));
  const text = `HubSpot ${what}: HTTP ${status}${parsed ? ` ${parsed}` : ''}`;
  const base = { provider: PROVIDER, status };
  if (status === 429) {
    const ra = retryAfterHeaderMs(headers?.get('retry-after'), Date.now(), 1000);
    return new CrmError('RATE_LIMITED', text, { ...base, retryAfterMs: ra ?? 10_000 });
  }
  if (status >= 500) return new CrmError('UPSTREAM', text, base);
  if (error === 'invalid_client' || error === 'unauthorized_client' || hsStatus === 'BAD_CLIENT_ID' || hsStatus === 'BAD_CLIENT_SECRET') {
    return new CrmError('AUTH_EXPIRED', `${text} (the OAuth app's client id or secret was refused)`, { ...base, retryable: false });
  }
  if (error === 'invalid_grant' || hsStatus === 'BAD_REFRESH_TOKEN' || hsStatus === 'BAD_AUTH_CODE') {
    if (grant === 'code') return new CrmError('VALIDATION', `${text} (the authorization code was refused: used, expired or issued for another redirect URI)`, { ...base, retryable: false });
    return new CrmError('AUTH_REVOKED', text, base);
  }
  if (status === 401 || status === 403) return new CrmError('AUTH_EXPIRED', text, { ...base, retryable: false });
  return new CrmError('VALIDATION', text, { ...base, retryable: false });
}
