// Zoho CRM (REST API v7, module Leads) adapter.
//
// Credentials: accessToken, refreshToken + clientId + clientSecret to renew it, and
// accountsUrl, the accounts server of the account's data centre (derived from the api
// domain when absent). Settings: what provision() returned (originField, originFieldId,
// channelId, channelExpiry, emailUnique) and tuning (writeStrategy, triggers,
// recentWindowMs, recentMaxPages, maxConcurrent): see readSettings.
import { z } from 'zod';
import { baseCredentials, type ConnectionOptions, type CrmAdapter, type CrmClient, type ProvisionOptions, type ProvisionReport } from '../contract.ts';
import { newChannel } from './channel.ts';
import { connectZoho } from './client.ts';
import { ZOHO_ACCOUNTS_HOSTS, ZOHO_API_HOSTS } from './http.ts';
import { ZOHO_FIELD_NAMES } from './mappers.ts';
import { zohoOAuth } from './oauth.ts';
import { zohoWebhookCodec, type ZohoWebhookSecrets } from './webhooks.ts';

const env = z.object({
  /** The OAuth client's id (Zoho API Console, server-based, multi DC): with ZOHO_CLIENT_SECRET, customers connect Zoho through OAuth. */
  ZOHO_CLIENT_ID: z.string().trim().min(1).optional(),
  /** The OAuth client's secret. */
  ZOHO_CLIENT_SECRET: z.string().min(1).optional(),
  /** The accounts server of the consent page when no data centre is chosen (the sandbox's URL in tests and the demo). */
  ZOHO_ACCOUNTS_URL: z.string().url().default('https://accounts.zoho.com'),
});
const positive = z.number().positive().optional();

export const zohoAdapter = {
  provider: 'ZOHO',
  label: 'Zoho',
  slug: 'zoho',
  noun: 'lead',
  fieldNames: ZOHO_FIELD_NAMES,
  accountIdName: 'org id',
  apiBaseUrlName: "the data centre's api domain",
  // The user's profile permissions on Leads, and the OAuth scope the token was granted: Zoho
  // scopes read service.scope.operation (zoho.com/crm/developer/docs/api/v8/scopes.html), ALL
  // allowing every operation, modules.leads the Leads module.
  remedies: {
    PERMISSION: 'give the connected Zoho user a profile allowed to view, create and edit Leads, and the ZohoCRM.modules.leads.ALL scope',
    AUTH_REVOKED: 'connect Zoho again through OAuth (the access was revoked under Connected Apps in Zoho Accounts, or the refresh token was deleted)',
  },
  env,
  // The api domain depends on the account's data centre: never assume the US one.
  defaultApiBaseUrl: () => null,
  credentials: baseCredentials.extend({
    accountsUrl: z.string().trim().url('must be a URL').nullable().optional().describe('the accounts host of the data centre.'),
  }),
  settings: z.looseObject({
    originField: z.string().optional(),
    originFieldId: z.string().optional(),
    channelId: z.string().optional(),
    channelExpiry: z.string().optional(),
    emailUnique: z.boolean().optional(),
    writeStrategy: z.enum(['insert', 'upsert', 'auto']).optional(),
    triggers: z.array(z.string()).optional(),
    recentWindowMs: positive,
    recentMaxPages: positive,
    maxConcurrent: positive,
  }),
  // A notification names no org, only the channel_id given at /actions/watch, and echoes
  // that channel's token: routed by the channel, verified by both.
  routing: { by: 'channel', newChannel },
  webhookSecrets: ({ channel }) => ({ channelId: channel?.id ?? null, channelToken: channel?.token ?? null }),
  codec: zohoWebhookCodec,
  connect: (opts: ConnectionOptions) => connectZoho(opts),
  oauth: zohoOAuth,
  hosts: { api: ZOHO_API_HOSTS, accounts: ZOHO_ACCOUNTS_HOSTS },
} satisfies CrmAdapter<typeof env, ZohoWebhookSecrets>;

/**
 * Renews a client's notification channel before it expires (Zoho channels live at most
 * one week). Any client exposing `renewWebhooks` works; provision() again otherwise.
 */
export async function renewChannel(client: CrmClient, opts: ProvisionOptions): Promise<ProvisionReport> {
  return client.renewWebhooks ? client.renewWebhooks(opts) : client.provision(opts);
}

export { connectZoho, readSettings, WATCH_EVENTS, ZohoClient, type WriteStrategy, type ZohoDeps, type ZohoSettings } from './client.ts';
export { accountsUrlForApiDomain, regionOfApiDomain, ZOHO_ACCOUNTS_HOSTS, ZOHO_API_HOSTS, ZOHO_REGIONS, type ZohoRegion } from './http.ts';
export { zohoWebhookCodec, type ZohoWebhookSecrets } from './webhooks.ts';
export { newChannel, newChannelId, newChannelToken } from './channel.ts';
export { ZOHO_SCOPES, zohoOAuth } from './oauth.ts';
