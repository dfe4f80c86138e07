// Zoho CRM (REST API v7, module Leads) adapter.
import type { ConnectionOptions, CrmAdapter, CrmClient, ProvisionOptions, ProvisionReport } from '../contract.ts';
import { connectZoho } from './client.ts';
import { ZOHO_ACCOUNTS_HOSTS, ZOHO_API_HOSTS } from './http.ts';
import { zohoWebhookCodec } from './webhooks.ts';

export const ZOHO_WEBHOOK_PATH = '/api/v1/webhooks/zoho';

export const zohoAdapter: CrmAdapter = {
  provider: 'ZOHO',
  webhookPath: ZOHO_WEBHOOK_PATH,
  // Notification channels echo the token and channel id given at /actions/watch.
  webhookAuth: { channelToken: true },
  codec: zohoWebhookCodec,
  connect: (opts: ConnectionOptions) => connectZoho(opts),
  hosts: { api: ZOHO_API_HOSTS, accounts: ZOHO_ACCOUNTS_HOSTS },
};

/**
 * Renews a client's notification channel before it expires (Zoho channels live at most
 * one week). Any client exposing `renewWebhooks` works; provision() again otherwise.
 */
export async function renewChannel(client: CrmClient, opts: ProvisionOptions): Promise<ProvisionReport> {
  return client.renewWebhooks ? client.renewWebhooks(opts) : client.provision(opts);
}

export { connectZoho, readSettings, WATCH_EVENTS, ZohoClient, type WriteStrategy, type ZohoDeps, type ZohoSettings } from './client.ts';
export { accountsUrlForApiDomain, regionOfApiDomain, ZOHO_ACCOUNTS_HOSTS, ZOHO_API_HOSTS, ZOHO_REGIONS, type ZohoRegion } from './http.ts';
export { zohoWebhookCodec } from './webhooks.ts';
