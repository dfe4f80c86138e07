// The Salesforce adapter: jsforce-based client, Outbound Message codec.
import type { CrmAdapter } from '../contract.ts';
import { SALESFORCE_HOSTS, SalesforceClient } from './client.ts';
import { id18 } from './mappers.ts';
import { salesforceCodec } from './webhooks.ts';

export const salesforceAdapter: CrmAdapter = {
  provider: 'SALESFORCE',
  webhookPath: '/api/v1/webhooks/salesforce',
  // Outbound Messages carry no signature: the endpoint URL holds a secret.
  webhookAuth: { endpointSecret: true },
  codec: salesforceCodec,
  connect: (opts) => new SalesforceClient(opts),
  // Outbound messages carry the 18-character organization id; Setup shows 15.
  normaliseAccountId: (id) => id18(id),
  hosts: { api: SALESFORCE_HOSTS },
};

export { DEFAULT_EXTERNAL_ID_FIELD, DEFAULT_ORIGIN_FIELD, NOT_PROVIDED } from './mappers.ts';
