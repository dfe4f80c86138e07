// The URLs a tenant gives for an integration (apiBaseUrl, accountsUrl), checked by the
// network guard before anything is stored: https, a host of that CRM, an origin only.
import type { CrmAdapter, NetworkPolicy } from '../../adapters/contract.ts';
import { checkOrigin, HostAllowList, NetGuardError } from '../../adapters/kit/net-guard.ts';
import { validationError } from '../errors.ts';

export interface IntegrationUrls {
  apiBaseUrl: string;
  accountsUrl?: string;
}

function check(field: string, url: string, hosts: readonly string[], policy: NetworkPolicy): string | { field: string; message: string } {
  try {
    return checkOrigin(url, new HostAllowList(hosts), policy);
  } catch (e) {
    return { field, message: e instanceof NetGuardError ? e.message : 'is not an allowed URL' };
  }
}

/**
 * The normalised URLs, or a VALIDATION error (bad input) naming each refused field. `defaultBase` is the
 * adapter's default API base (CrmAdapter.defaultApiBaseUrl) when the input names none.
 */
export function checkIntegrationUrls(
  adapter: CrmAdapter,
  policy: NetworkPolicy,
  input: { apiBaseUrl?: string | null; accountsUrl?: string | null },
  defaultBase: string | null,
): IntegrationUrls {
  const base = input.apiBaseUrl ?? defaultBase;
  if (!base) throw validationError([{ field: 'apiBaseUrl', message: `is required for ${adapter.provider}` }]);
  const problems: { field: string; message: string }[] = [];
  const apiBaseUrl = check('apiBaseUrl', base, adapter.hosts.api, policy);
  if (typeof apiBaseUrl !== 'string') problems.push(apiBaseUrl);
  let accountsUrl: string | undefined;
  if (input.accountsUrl) {
    const r = check('accountsUrl', input.accountsUrl, adapter.hosts.accounts ?? adapter.hosts.api, policy);
    if (typeof r === 'string') accountsUrl = r;
    else problems.push(r);
  }
  if (problems.length > 0 || typeof apiBaseUrl !== 'string') throw validationError(problems);
  return { apiBaseUrl, accountsUrl };
}
