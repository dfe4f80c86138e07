// What an administrator must do about an error that retrying cannot fix. Keyed by the
// stable error code, never by message text; the CRM-side steps (scopes, profile rights)
// are the adapter's (CrmAdapter.remedies).
import type { CrmAdapter, CrmErrorCode } from '../../adapters/contract.ts';

/** The steps that fix a permanent error, ending with how to resume. */
export function remedyFor(code: CrmErrorCode, adapter: Pick<CrmAdapter, 'remedies'> | undefined): string {
  const resume = 'then use Retry (retryFailed) to push again';
  const own = adapter?.remedies[code];
  if (own) return `To fix: ${own}, ${resume}.`;
  switch (code) {
    case 'PERMISSION':
      return `To fix: give the connected CRM user the rights to read, create and edit its records, ${resume}.`;
    case 'AUTH_EXPIRED':
      return `To fix: reconnect the integration with fresh credentials (createIntegration with a new token), ${resume}.`;
    case 'VALIDATION':
      return `To fix: correct the value or the CRM field rule named above (required fields, picklist values, formats), ${resume}.`;
    case 'CONFLICT':
      return `To fix: merge or unlink the duplicate CRM record named above, ${resume}.`;
    case 'NOT_FOUND':
      return `To fix: check that the CRM record and the integration's account still exist, ${resume}.`;
    default:
      return `To fix: check the CRM's status and the error above, ${resume}.`;
  }
}
