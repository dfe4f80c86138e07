// The ONE translator from Salesforce/jsforce failures to CrmError. This is the only file
// of the adapter allowed to look at error message text.
import { CrmError, type CrmErrorCode } from '../contract.ts';
import { boundedText, refusedDestination } from '../kit/text.ts';

/** A per-record error of an sObject Collections (composite) response. */
export interface SalesforceRecordError {
  statusCode?: string;
  errorCode?: string;
  message?: string;
  fields?: string[];
  duplicateResult?: unknown;
}

const PROVIDER = 'SALESFORCE' as const;

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ENOTFOUND',
  'ENETDOWN',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Salesforce errorCode / statusCode -> stable CrmError code (null when unknown). */
export function classifyCode(code: string): CrmErrorCode | null {
  switch (code) {
    case 'INVALID_SESSION_ID':
    case 'INVALID_AUTH_HEADER':
    case 'invalid_grant':
      return 'AUTH_EXPIRED';
    case 'REQUEST_LIMIT_EXCEEDED':
    case 'TOO_MANY_REQUESTS':
      return 'RATE_LIMITED';
    case 'NOT_FOUND':
    case 'ENTITY_IS_DELETED':
    case 'INVALID_CROSS_REFERENCE_KEY':
      return 'NOT_FOUND';
    case 'DUPLICATES_DETECTED':
    case 'DUPLICATE_VALUE':
    case 'DUPLICATE_EXTERNAL_ID':
    case 'MULTIPLE_CHOICES':
      return 'CONFLICT';
    case 'INSUFFICIENT_ACCESS':
    case 'INSUFFICIENT_ACCESS_OR_READONLY':
    case 'INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY':
    case 'API_DISABLED_FOR_ORG':
    case 'API_CURRENTLY_DISABLED':
    case 'FUNCTIONALITY_NOT_ENABLED':
    case 'CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY':
      return 'PERMISSION';
    case 'SERVER_UNAVAILABLE':
    case 'UNKNOWN_EXCEPTION':
    case 'UNABLE_TO_LOCK_ROW':
    case 'ALL_OR_NONE_OPERATION_ROLLED_BACK':
    case 'QUERY_TIMEOUT':
      return 'UPSTREAM';
    case 'REQUIRED_FIELD_MISSING':
    case 'STRING_TOO_LONG':
    case 'FIELD_CUSTOM_VALIDATION_EXCEPTION':
    case 'FIELD_INTEGRITY_EXCEPTION':
    case 'MALFORMED_QUERY':
    case 'MALFORMED_ID':
    case 'JSON_PARSER_ERROR':
    case 'EXCEEDED_ID_LIMIT':
    case 'INVALID_QUERY_LOCATOR':
      return 'VALIDATION';
  }
  if (code.startsWith('INVALID_')) return 'VALIDATION';
  const http = /^ERROR_HTTP_(\d{3})$/.exec(code);
  if (http) return classifyStatus(Number(http[1]));
  return null;
}

function classifyStatus(status: number): CrmErrorCode {
  if (status === 401) return 'AUTH_EXPIRED';
  if (status === 403) return 'PERMISSION';
  if (status === 404) return 'NOT_FOUND';
  if (status === 409 || status === 300) return 'CONFLICT';
  if (status === 420 || status === 429) return 'RATE_LIMITED';
  if (status >= 500) return 'UPSTREAM';
  return 'VALIDATION';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** Lead ids first, then any other matched id (a Lead rule may match Contacts too). */
export function duplicateMatchIds(duplicateResult: unknown): string[] {
  const ids: string[] = [];
  if (!isRecord(duplicateResult)) return ids;
  const matchResults = duplicateResult.matchResults;
  if (!Array.isArray(matchResults)) return ids;
  for (const mr of matchResults) {
    if (!isRecord(mr) || !Array.isArray(mr.matchRecords)) continue;
    for (const m of mr.matchRecords) {
      const rec = isRecord(m) && isRecord(m.record) ? m.record : null;
      const id = rec && typeof rec.Id === 'string' ? rec.Id : null;
      if (id && !ids.includes(id)) ids.push(id);
    }
  }
  return [...ids.filter((i) => i.startsWith('00Q')), ...ids.filter((i) => !i.startsWith('00Q'))];
}

function existingIdFrom(code: string, message: string, duplicateResult: unknown): string | undefined {
  if (code === 'DUPLICATES_DETECTED') return duplicateMatchIds(duplicateResult)[0];
  if (code === 'DUPLICATE_VALUE') {
    // "duplicate value found: Field__c duplicates value on record with id: 00Q..."
    const m = /record with id:\s*([a-zA-Z0-9]{15,18})/.exec(message);
    return m ? m[1] : undefined;
  }
  return undefined;
}

function retryAfterFor(code: CrmErrorCode, message: string): number | undefined {
  if (code !== 'RATE_LIMITED') return undefined;
  // Concurrent long-running request limit: clears within seconds. The rolling 24 h
  // TotalRequests limit: back off for a long while.
  if (/concurrent/i.test(message)) return 5_000;
  if (/TotalRequests/i.test(message)) return 15 * 60_000;
  return 60_000;
}

/** One Salesforce error object ({errorCode|statusCode, message, fields, duplicateResult}) -> CrmError. */
export function fromSalesforceError(e: SalesforceRecordError, status?: number, cause?: unknown): CrmError {
  const sfCode = boundedText(e.errorCode ?? e.statusCode ?? (status !== undefined ? `ERROR_HTTP_${status}` : 'UNKNOWN'), 80);
  // ERROR_HTTP_<status> is jsforce's name for an answer that was not Salesforce's JSON
  // error: its "message" is the raw body (an HTML page, anything), never shown.
  const raw = sfCode.startsWith('ERROR_HTTP_');
  const message = typeof e.message === 'string' && !raw ? e.message : '';
  const code = classifyCode(sfCode) ?? (status !== undefined ? classifyStatus(status) : 'UPSTREAM');
  const fields = Array.isArray(e.fields) && e.fields.length > 0 ? ` [${e.fields.join(', ')}]` : '';
  const text = boundedText(`${message}${fields}`);
  return new CrmError(code, `Salesforce ${sfCode}${text ? `: ${text}` : raw ? ': the answer was not a Salesforce error body' : ''}`, {
    provider: PROVIDER,
    status,
    existingId: existingIdFrom(sfCode, message, e.duplicateResult),
    retryAfterMs: retryAfterFor(code, message),
    cause: cause ?? e,
    // A permanent refusal of the refresh token cannot be fixed by retrying.
    retryable: sfCode === 'invalid_grant' ? false : undefined,
  });
}

/** The errors of one failed record of a composite response. */
export function fromRecordErrors(errors: unknown): CrmError {
  const list = Array.isArray(errors) ? errors.filter(isRecord) : [];
  if (list.length === 0) {
    return new CrmError('UPSTREAM', 'Salesforce reported success:false without errors', { provider: PROVIDER });
  }
  // The most specific first: a duplicate beats a generic rollback notice.
  const first =
    list.find((e) => e.statusCode === 'DUPLICATES_DETECTED' || e.errorCode === 'DUPLICATES_DETECTED') ??
    list.find((e) => e.statusCode !== 'ALL_OR_NONE_OPERATION_ROLLED_BACK') ??
    list[0];
  return fromSalesforceError(first as SalesforceRecordError, undefined, list);
}

/** The system error code (ECONNREFUSED, ...) somewhere in a cause chain, or ''. */
function systemCodeOf(e: unknown, depth = 0): string {
  if (!isRecord(e) || depth > 4) return '';
  if (typeof e.code === 'string') return e.code;
  return systemCodeOf(e.cause, depth + 1);
}

/**
 * Any failure thrown by jsforce (or the network under it) -> CrmError. Never throws.
 * `refreshFailure`: the CrmError our refresh function gave jsforce, which jsforce hands
 * back re-worded as "Unable to refresh session due to: ..." (its code would be lost).
 */
export function toCrmError(err: unknown, refreshFailure?: CrmError, what = 'request'): CrmError {
  if (err instanceof CrmError) return err;
  const refused = refusedDestination(err, PROVIDER, what);
  if (refused) return refused;
  if (!isRecord(err)) {
    return new CrmError('UPSTREAM', 'Salesforce call failed', { provider: PROVIDER, cause: err, retryable: false });
  }
  const message = typeof err.message === 'string' ? err.message : '';
  const name = typeof err.name === 'string' ? err.name : '';
  const sysCode = typeof err.code === 'string' ? err.code : systemCodeOf(err.cause);

  // Network: a fetch failure (its cause carries the socket error's code), a node-fetch
  // FetchError (type "system"), a raw socket error, a timeout.
  if (name === 'FetchError' || NETWORK_CODES.has(sysCode) || name === 'AbortError' || name === 'TimeoutError') {
    return new CrmError('NETWORK', `Salesforce unreachable${sysCode ? ` (${boundedText(sysCode, 40)})` : ''}`, { provider: PROVIDER, cause: err });
  }

  // jsforce's session refresh failed (the refresh token was refused, or refresh looped).
  if (message.startsWith('Unable to refresh session')) {
    if (refreshFailure) return refreshFailure;
    // invalid_grant "expired access/refresh token": revoked, user deactivated: connect again.
    if (/invalid_grant|expired access\/refresh token|inactive|revoked/i.test(message)) {
      return new CrmError('AUTH_REVOKED', `Salesforce refused the refresh token: ${boundedText(message)}`, { provider: PROVIDER, cause: err });
    }
    const permanent = /refresh loop/i.test(message);
    return new CrmError('AUTH_EXPIRED', `Salesforce session could not be refreshed: ${boundedText(message)}`, {
      provider: PROVIDER,
      cause: err,
      retryable: !permanent,
    });
  }
  if (message.startsWith('Refresh token is specified without') || message === 'No refresh token found in the connection') {
    return new CrmError('AUTH_EXPIRED', `Salesforce session cannot be refreshed: ${boundedText(message)}`, {
      provider: PROVIDER,
      cause: err,
      retryable: false,
    });
  }

  // jsforce HttpApiError: errorCode from the body, details in `data`.
  const errorCode = typeof err.errorCode === 'string' ? err.errorCode : '';
  if (errorCode === 'MULTIPLE_API_ERRORS' && Array.isArray(err.data) && err.data.length > 0) {
    const errors = (err.data as unknown[]).filter(isRecord) as SalesforceRecordError[];
    return fromSalesforceError(errors[0], undefined, err);
  }
  if (errorCode) {
    const data = isRecord(err.data) ? (err.data as SalesforceRecordError) : {};
    return fromSalesforceError({ ...data, errorCode, message }, undefined, err);
  }

  // Not a Salesforce error: its text may quote anything, so it stays in the cause (logs).
  return new CrmError('UPSTREAM', `Salesforce call failed${name && name !== 'Error' ? ` (${boundedText(name, 60)})` : ''}`, {
    provider: PROVIDER,
    cause: err,
    retryable: false,
  });
}

/**
 * An error answer of the OAuth endpoints (`{error, error_description}`). A refused refresh
 * token (invalid_grant: "expired access/refresh token", revoked, user deactivated) is
 * AUTH_REVOKED; so is a token the revocation endpoint calls invalid_token. A refused
 * authorization code or PKCE verifier (invalid_grant, invalid_request) is VALIDATION: the
 * person connects again. A refused client is the operator's configuration.
 */
export function translateTokenError(status: number, body: unknown, grant: 'code' | 'refresh' | 'revoke'): CrmError {
  const o = isRecord(body) ? body : {};
  const error = typeof o.error === 'string' ? boundedText(o.error, 60) : '';
  const description = typeof o.error_description === 'string' ? boundedText(o.error_description) : '';
  const text = `Salesforce OAuth ${grant}: HTTP ${status}${error ? ` ${error}` : ''}${description ? `: ${description}` : ''}`;
  const base = { provider: PROVIDER, status };
  if (status === 429 || status === 420) return new CrmError('RATE_LIMITED', text, { ...base, retryAfterMs: 60_000 });
  if (status >= 500) return new CrmError('UPSTREAM', text, base);
  if (error === 'invalid_client_id' || error === 'invalid_client' || error === 'unauthorized_client') {
    return new CrmError('AUTH_EXPIRED', `${text} (the connected app's consumer key or secret was refused)`, { ...base, retryable: false });
  }
  if ((error === 'invalid_grant' && grant !== 'code') || (error === 'invalid_token' && grant === 'revoke')) return new CrmError('AUTH_REVOKED', text, base);
  return new CrmError('VALIDATION', text, { ...base, retryable: false });
}
