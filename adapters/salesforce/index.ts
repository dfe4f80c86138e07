// The Salesforce adapter: jsforce-based client, Outbound Message codec.
import type { CrmAdapter } from '../contract.ts';
import { SalesforceClient } from './client.ts';
import { salesforceCodec } from './webhooks.ts';

export const salesforceAdapter: CrmAdapter = {
  provider: 'SALESFORCE',
  webhookPath: '/api/v1/webhooks/salesforce',
  codec: salesforceCodec,
  connect: (opts) => new SalesforceClient(opts),
};

export { DEFAULT_EXTERNAL_ID_FIELD, DEFAULT_ORIGIN_FIELD, NOT_PROVIDED } from './mappers.ts';
