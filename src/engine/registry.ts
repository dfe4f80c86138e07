// Every CRM adapter this build ships. The engine never names a provider elsewhere.
import type { CrmAdapter } from '../../adapters/contract.ts';
import { hubspotAdapter } from '../../adapters/hubspot/index.ts';
import { salesforceAdapter } from '../../adapters/salesforce/index.ts';
import { zohoAdapter } from '../../adapters/zoho/index.ts';

export function defaultAdapters(): CrmAdapter[] {
  return [hubspotAdapter, salesforceAdapter, zohoAdapter];
}
