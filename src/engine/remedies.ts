// What an administrator must do about an error that retrying cannot fix. Keyed by the
// stable error code (and CRM), never by message text.
import type { CrmErrorCode, CrmProvider } from '../../adapters/contract.ts';

const PERMISSION: Record<CrmProvider, string> = {
  HUBSPOT: 'give the connected HubSpot app or private app the crm.objects.contacts.read and crm.objects.contacts.write scopes',
  SALESFORCE: "give the connected Salesforce user Read, Create and Edit on Lead and edit access to the sync's custom fields",
  ZOHO: 'give the connected Zoho user a profile allowed to view, create and edit Leads, and the ZohoCRM.modules.leads.ALL scope',
};

/** The steps that fix a permanent error, ending with how to resume. */
export function remedyFor(code: CrmErrorCode, provider: CrmProvider): string {
  const resume = 'then use Retry (retryFailed) to push again';
  switch (code) {
    case 'PERMISSION':
      return `To fix: ${PERMISSION[provider]}, ${resume}.`;
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
