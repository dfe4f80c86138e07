// CRM failures as the engine keeps, logs and answers them: the one place that turns
// whatever an adapter threw into a CrmError, bounds the text tenants read, and maps a
// CRM failure to the error an API client sees.
import { CrmError, isCrmError } from '../../adapters/contract.ts';
import { boundedText } from '../../adapters/kit/text.ts';
import { AppError } from '../errors.ts';

/** Longest error text stored where tenants read it (the CRM's code and parsed message fit). */
export const MAX_STORED_ERROR = 400;

/**
 * The text of a CRM failure as stored and shown to tenants (lastError, syncEvents.error,
 * importJob.error): the adapters' translators already keep only the CRM's code and its
 * parsed, bounded message; this bounds it once more, whatever produced it.
 */
export function storedError(e: CrmError): string {
  return boundedText(e.message, MAX_STORED_ERROR);
}

/** Anything an adapter threw, as a CrmError: a foreign error is an unexpected (retryable) UPSTREAM failure. */
export function asCrmError(err: unknown): CrmError {
  if (isCrmError(err)) return err;
  return new CrmError('UPSTREAM', 'unexpected adapter failure', { cause: err, retryable: true });
}

/** What a log line holds of a CRM failure. */
export function errInfo(e: CrmError) {
  return { code: e.code, status: e.status, message: e.message, retryAfterMs: e.retryAfterMs };
}

/** Codes with which a CRM refuses credentials while it is asked whose they are. */
const CREDENTIALS_REFUSED = new Set(['AUTH_EXPIRED', 'AUTH_REVOKED', 'PERMISSION', 'NOT_FOUND', 'VALIDATION']);

/** True when a CRM answered an account check by refusing the credentials (not by failing). */
export function refusesCredentials(e: unknown): e is CrmError {
  return isCrmError(e) && CREDENTIALS_REFUSED.has(e.code);
}

/**
 * The one mapping of a failed CRM call, made on behalf of an API request, to the API's
 * error: CRM_ERROR (502) with the CRM's stable code in `details.crmCode` and in the
 * message (`<doing>: <code>`), never the CRM's own text. Anything that is not a CrmError
 * is returned as it is (it stays unexpected: masked and logged by the API layers).
 */
export function apiErrorOf(e: unknown, doing: string): unknown {
  if (!isCrmError(e)) return e;
  return new AppError('CRM_ERROR', `${doing}: ${e.code}`, { details: { crmCode: e.code }, cause: e });
}

/**
 * A webhook the CRM's codec refused, as the API answers it: unverifiable -> UNAUTHENTICATED
 * (the CRM's reason is logged, never answered), malformed -> BAD_REQUEST. Null for any
 * other failure (unexpected: masked and logged).
 */
export function webhookApiError(e: unknown, provider: string): AppError | null {
  if (!isCrmError(e)) return null;
  if (e.code === 'SIGNATURE_INVALID') return new AppError('UNAUTHENTICATED', 'Webhook signature could not be verified');
  if (e.code === 'VALIDATION') return new AppError('BAD_REQUEST', `Malformed ${provider} webhook: ${e.message}`);
  return null;
}
