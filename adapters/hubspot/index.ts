// The HubSpot adapter: contacts in HubSpot, origin tag in the contact property
// `lead_source_system`, webhooks verified with the app's client secret (v3).
//
// Credentials: accessToken (private app or OAuth token); optional appId and
// developerApiKey let provision() configure the app's webhooks itself; optional
// clientSecret verifies this integration's webhooks instead of HUBSPOT_CLIENT_SECRET.
// Settings: what provision() returned (createdSubscriptionIds, ...); optional
// requestTimeoutMs (default 30 s), searchRateLimit ({requests, perMs}; default 4 / s,
// HubSpot's search API allows about 4-5 requests per second) and rateLimit ({requests,
// perMs}; default 100 per 10 s, a Free or Starter account's burst limit: 190 for
// Professional and Enterprise, 250 with the API Limit Increase pack).
import { z } from 'zod';
import { baseCredentials, envFlag, optionalSecret, type ConnectionOptions, type CrmAdapter, type CrmClient } from '../contract.ts';
import { isRate } from '../kit/limiter.ts';
import { HUBSPOT_API_HOSTS, HubSpotClient } from './client.ts';
import { DEFAULT_RATE_LIMIT, HIGHEST_RATE_LIMIT } from './connection.ts';
import { FIELD_TO_PROPERTY } from './mappers.ts';
import { hubspotOAuth } from './oauth.ts';
import { hubspotCodec, type HubSpotWebhookSecrets } from './webhooks.ts';

/** The service settings HubSpot reads from the environment. */
export const hubspotEnv = z.object({
  /**
   * The app's client secret: verifies webhook signatures (v3) of every HubSpot integration
   * without its own, and (with HUBSPOT_CLIENT_ID) authenticates the app to HubSpot's OAuth
   * token endpoints.
   */
  HUBSPOT_CLIENT_SECRET: z.string().min(1).optional(),
  /** The app's client id: with HUBSPOT_CLIENT_SECRET, customers connect HubSpot through OAuth. */
  HUBSPOT_CLIENT_ID: z.string().trim().min(1).optional(),
  /** Where HubSpot's consent page lives (the sandbox's URL in tests and the demo). */
  HUBSPOT_AUTHORIZE_URL: z.string().url().default('https://app.hubspot.com'),
  /** Also accept the older v1/v2 signatures (X-HubSpot-Signature). */
  HUBSPOT_ALLOW_LEGACY_SIGNATURES: envFlag().default(false),
  /** The API base of an integration created without apiBaseUrl. */
  HUBSPOT_API_BASE_URL: z.string().url().default('https://api.hubapi.com'),
});

const rate = z.object({ requests: z.number().int().positive(), perMs: z.number().int().positive() });

export const hubspotAdapter = {
  provider: 'HUBSPOT',
  label: 'HubSpot',
  slug: 'hubspot',
  noun: 'contact',
  fieldNames: FIELD_TO_PROPERTY,
  accountIdName: 'portal id',
  apiBaseUrlName: 'public API host',
  // HubSpot's OAuth scopes are granular per CRM object (developers.hubspot.com, "Working with
  // OAuth", scopes): crm.objects.contacts.read to view contacts, .write to create and update them.
  remedies: {
    PERMISSION: 'give the connected HubSpot app or private app the crm.objects.contacts.read and crm.objects.contacts.write scopes',
    AUTH_REVOKED: 'connect HubSpot again through OAuth (the app was uninstalled from the portal or its refresh token was revoked)',
  },
  env: hubspotEnv,
  defaultApiBaseUrl: (env) => env.HUBSPOT_API_BASE_URL,
  credentials: baseCredentials.extend({
    clientSecret: optionalSecret().describe('overrides the service-wide client secret for this integration.'),
    appId: z
      .string()
      .trim()
      .regex(/^\d{1,20}$/, 'must be a HubSpot app id (digits)')
      .nullable()
      .optional()
      .describe('the app id; with developerApiKey, enableWebhooks registers the subscriptions itself.'),
    developerApiKey: optionalSecret().describe('the developer API key of the app (webhooks API).'),
  }),
  settings: z.looseObject({
    originProperty: z.string().optional(),
    appId: z.string().optional(),
    webhookTargetUrl: z.string().optional(),
    subscriptionIds: z.array(z.string()).optional(),
    createdSubscriptionIds: z.array(z.string()).optional(),
    requestTimeoutMs: z.number().positive().optional(),
    searchRateLimit: rate.optional(),
    rateLimit: rate.optional(),
  }),
  requestBudget: {
    default: DEFAULT_RATE_LIMIT,
    highest: HIGHEST_RATE_LIMIT,
    // HubSpot's API usage guidelines give private apps these per-10-s limits; its "APIs by
    // tier" page: "Apps using OAuth are only subject to a limit of 100 requests every 10
    // seconds" (the default here).
    documented:
      'HubSpot (API usage guidelines): private apps 100 requests per 10 s on Free and Starter accounts, 190 on Professional and Enterprise, 250 with the API limit increase; apps using OAuth 100 per 10 s.',
    read: (settings) => (isRate(settings.rateLimit) ? { requests: settings.rateLimit.requests, perMs: settings.rateLimit.perMs } : null),
    write: (budget) => ({ rateLimit: budget ?? undefined }),
  },
  // Webhooks name the portal (portalId) they come from.
  routing: { by: 'account' },
  // Signed with the app's client secret: the integration's own, else the service-wide one.
  webhookSecrets: ({ credentials, env }) => ({
    clientSecret: credentials.clientSecret || env.HUBSPOT_CLIENT_SECRET || null,
    allowLegacySignatures: env.HUBSPOT_ALLOW_LEGACY_SIGNATURES,
  }),
  // A portal nobody here connected: still checked with the service-wide secret, when set.
  unroutedWebhookSecrets: (env) =>
    env.HUBSPOT_CLIENT_SECRET ? { clientSecret: env.HUBSPOT_CLIENT_SECRET, allowLegacySignatures: env.HUBSPOT_ALLOW_LEGACY_SIGNATURES } : null,
  codec: hubspotCodec,
  connect(opts: ConnectionOptions): CrmClient {
    return new HubSpotClient(opts);
  },
  oauth: hubspotOAuth,
  hosts: { api: HUBSPOT_API_HOSTS },
} satisfies CrmAdapter<typeof hubspotEnv, HubSpotWebhookSecrets>;

export { HUBSPOT_API_HOSTS, HubSpotClient } from './client.ts';
export { hubspotCodec, type HubSpotWebhookSecrets } from './webhooks.ts';
export { ORIGIN_PROPERTY } from './mappers.ts';
export { HUBSPOT_SCOPES, hubspotOAuth } from './oauth.ts';
