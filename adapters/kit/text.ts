// Error text that may reach a tenant (stored sync errors, API answers): a CRM's error
// code and its parsed message, bounded. Never a raw upstream body.
import { CrmError, type CrmProvider } from '../contract.ts';
import { isNetGuardRefusal, refusalReason } from './net-guard.ts';

/** Longest CRM message kept in an error (characters). */
export const MAX_ERROR_TEXT = 300;

/** One line, control characters removed, at most `max` characters (an ellipsis marks a cut). */
export function boundedText(value: unknown, max = MAX_ERROR_TEXT): string {
  const s = (typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value))
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** The CrmError for a destination the network guard refused, or null when `e` is not one. */
export function refusedDestination(e: unknown, provider: CrmProvider, what: string): CrmError | null {
  if (!isNetGuardRefusal(e)) return null;
  const reason = refusalReason(e) ?? 'ADDRESS_NOT_ALLOWED';
  return new CrmError('DESTINATION_REFUSED', `${provider} ${what}: the destination was refused by the network guard (${reason})`, {
    provider,
    cause: e,
    retryable: false,
  });
}
