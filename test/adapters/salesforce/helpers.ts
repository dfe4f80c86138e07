// Shared set-up for the Salesforce adapter tests: a sandbox org and a real adapter
// client (real jsforce over real HTTP) connected to it.
import { emptyFields, isCrmError, type ConnectionOptions, type CrmClient, type CrmError, type LeadFields, type OutboundLead } from '../../../adapters/contract.ts';
import { salesforceAdapter } from '../../../adapters/salesforce/index.ts';
import type { SalesforceSandbox } from '../../../sandboxes/salesforce/index.ts';

export const TAG = 'jazzaam';

export function connect(sandbox: SalesforceSandbox, overrides: Partial<ConnectionOptions> = {}): CrmClient {
  const c = sandbox.controls.credentials();
  return salesforceAdapter.connect({
    baseUrl: sandbox.url,
    accountId: sandbox.controls.organizationId,
    credentials: { accessToken: c.accessToken, refreshToken: c.refreshToken, clientId: c.clientId, clientSecret: c.clientSecret },
    settings: {},
    network: { allowLocalHosts: true }, // the sandbox listens on loopback over http
    ...overrides,
  });
}

export function lead(localId: string, fields: Partial<LeadFields>, externalId: string | null = null): OutboundLead {
  return { localId, externalId, fields: { ...emptyFields(), ...fields } };
}

export async function caught(p: Promise<unknown>): Promise<CrmError> {
  try {
    await p;
  } catch (e) {
    if (isCrmError(e)) return e;
    throw e;
  }
  throw new Error('expected the call to fail with a CrmError');
}

export function ok<T extends { ok: boolean }>(r: T | undefined): Extract<T, { ok: true }> {
  if (!r || !r.ok) throw new Error(`expected success, got ${JSON.stringify(r)}`);
  return r as Extract<T, { ok: true }>;
}

export function failed<T extends { ok: boolean }>(r: T | undefined): Extract<T, { ok: false }> {
  if (!r || r.ok) throw new Error(`expected failure, got ${JSON.stringify(r)}`);
  return r as Extract<T, { ok: false }>;
}
