// Every CRM adapter this build ships. The engine never names a provider elsewhere.
import type { CrmAdapter } from '../../adapters/contract.ts';

export function defaultAdapters(): CrmAdapter[] {
  return [];
}
