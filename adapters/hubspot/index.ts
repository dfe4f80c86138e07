// The HubSpot adapter: contacts in HubSpot, origin tag in the contact property
// `lead_source_system`, webhooks verified with the app's client secret (v3).
//
// Credentials: accessToken (private app or OAuth token); optional appId and
// developerApiKey let provision() configure the app's webhooks itself.
// Settings: what provision() returned (createdSubscriptionIds, ...); optional
// requestTimeoutMs (default 30 s) and searchRateLimit ({requests, perMs}; default 4 / s,
// HubSpot's search API allows about 4-5 requests per second).
import type { ConnectionOptions, CrmAdapter, CrmClient } from '../contract.ts';
import { HUBSPOT_API_HOSTS, HubSpotClient } from './client.ts';
import { hubspotCodec } from './webhooks.ts';

export const HUBSPOT_WEBHOOK_PATH = '/api/v1/webhooks/hubspot';

export const hubspotAdapter: CrmAdapter = {
  provider: 'HUBSPOT',
  webhookPath: HUBSPOT_WEBHOOK_PATH,
  codec: hubspotCodec,
  connect(opts: ConnectionOptions): CrmClient {
    return new HubSpotClient(opts);
  },
  hosts: { api: HUBSPOT_API_HOSTS },
};

export { HUBSPOT_API_HOSTS, HubSpotClient } from './client.ts';
export { hubspotCodec } from './webhooks.ts';
export { ORIGIN_PROPERTY } from './mappers.ts';
