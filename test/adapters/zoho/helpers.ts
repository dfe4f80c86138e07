// Shared set-up for the Zoho adapter tests: a sandbox and a client connected to it.
import type { Credentials, LeadFields, OutboundLead, ProvisionOptions } from '../../../adapters/contract.ts';
import { connectZoho, type ZohoClient, type ZohoDeps } from '../../../adapters/zoho/client.ts';
import { startZohoSandbox, type ZohoSandbox, type ZohoSandboxOptions } from '../../../sandboxes/zoho/index.ts';

export const TAG = 'jazzaam';

export interface Setup {
  sandbox: ZohoSandbox;
  client: ZohoClient;
  /** Every credentials object the client reported through onCredentialsChanged. */
  stored: Credentials[];
  /** Every URL the client fetched (method + URL), in order. */
  calls: string[];
  close(): Promise<void>;
}

export interface SetupOptions {
  sandbox?: ZohoSandboxOptions;
  settings?: Record<string, unknown>;
  /** Override the stored credentials (after the sandbox issued a valid token). */
  credentials?: (valid: Credentials) => Credentials;
  baseUrl?: (sandbox: ZohoSandbox) => string;
  deps?: ZohoDeps;
  /** ConnectionOptions.extraFields: Leads fields beyond the six every read returns. */
  extraFields?: string[];
}

/**
 * A fetch that records every call and refuses any host but loopback: tests never reach
 * the internet, and a call to a real Zoho host shows up as a NETWORK error plus a record.
 */
export function recordingFetch(calls: string[]) {
  return async (input: string, init: RequestInit): Promise<Response> => {
    calls.push(`${init.method ?? 'GET'} ${input}`);
    const host = new URL(input).hostname;
    if (host !== '127.0.0.1' && host !== 'localhost') throw new TypeError(`blocked non-loopback host ${host}`);
    return fetch(input, init);
  };
}

export async function setup(opts: SetupOptions = {}): Promise<Setup> {
  const sandbox = await startZohoSandbox({ separateAccounts: true, ...opts.sandbox });
  const { accessToken, expiresAt } = sandbox.controls.issueAccessToken();
  const valid: Credentials = {
    accessToken,
    expiresAt,
    refreshToken: sandbox.controls.refreshToken,
    clientId: sandbox.controls.clientId,
    clientSecret: sandbox.controls.clientSecret,
    accountsUrl: sandbox.accountsUrl,
  };
  const stored: Credentials[] = [];
  const calls: string[] = [];
  const client = connectZoho(
    {
      baseUrl: opts.baseUrl?.(sandbox) ?? sandbox.url,
      accountId: '60000000001',
      credentials: opts.credentials?.(valid) ?? valid,
      settings: opts.settings ?? {},
      ...(opts.extraFields ? { extraFields: opts.extraFields } : {}),
      network: { allowLocalHosts: true }, // the sandbox listens on loopback over http
      onCredentialsChanged: (c) => {
        stored.push(c);
      },
    },
    { fetch: recordingFetch(calls), ...opts.deps },
  );
  return { sandbox, client, stored, calls, close: () => sandbox.close() };
}

export function provisionOptions(partial: Partial<ProvisionOptions> = {}): ProvisionOptions {
  return {
    webhookUrl: 'http://127.0.0.1:9/api/v1/webhooks/zoho',
    tagValues: [TAG, 'manual'],
    channel: { id: '1000000068001', token: 'channel-token-0123456789' },
    ...partial,
  };
}

export function lead(localId: string, fields: Partial<LeadFields>, externalId: string | null = null): OutboundLead {
  return {
    localId,
    externalId,
    fields: { email: null, firstName: null, lastName: null, phone: null, company: null, status: null, ...fields },
  };
}
