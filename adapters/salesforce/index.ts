// The Salesforce adapter: jsforce-based client, Outbound Message codec.
//
// Credentials: accessToken, and refreshToken + clientId (+ clientSecret) to renew it.
// Settings: the field API names (originField, externalIdField), the Sforce-Call-Options
// client id, and the fields the Outbound Message must send (outboundFields).
import { z } from 'zod';
import { baseCredentials, type CrmAdapter } from '../contract.ts';
import { SALESFORCE_HOSTS, SalesforceClient } from './client.ts';
import { id18, LEAD_FIELD_MAP } from './mappers.ts';
import { salesforceOAuth } from './oauth.ts';
import { salesforceCodec, type SalesforceWebhookSecrets } from './webhooks.ts';

const env = z.object({
  /** The connected app's consumer key: with SALESFORCE_CLIENT_SECRET, customers connect Salesforce through OAuth. */
  SALESFORCE_CLIENT_ID: z.string().trim().min(1).optional(),
  /** The connected app's consumer secret. */
  SALESFORCE_CLIENT_SECRET: z.string().min(1).optional(),
  /** The production login host (the sandbox's URL in tests and the demo); sandbox orgs use test.salesforce.com, or My Domain. */
  SALESFORCE_LOGIN_URL: z.string().url().default('https://login.salesforce.com'),
});

export const salesforceAdapter = {
  provider: 'SALESFORCE',
  label: 'Salesforce',
  slug: 'salesforce',
  noun: 'lead',
  fieldNames: LEAD_FIELD_MAP,
  accountIdName: 'organization id',
  apiBaseUrlName: 'instance URL',
  // Object permissions (Salesforce ObjectPermissions: PermissionsRead, PermissionsCreate,
  // PermissionsEdit) on Lead, and field-level security (edit access) on our custom fields.
  remedies: {
    PERMISSION: "give the connected Salesforce user Read, Create and Edit on Lead and edit access to the sync's custom fields",
    AUTH_REVOKED: 'connect Salesforce again through OAuth (the connected app access was revoked, the user deactivated, or the refresh token expired by the connected app policy)',
  },
  env,
  // The instance URL is per org: every integration names its own.
  defaultApiBaseUrl: () => null,
  credentials: baseCredentials,
  settings: z.looseObject({
    originField: z.string().optional(),
    externalIdField: z.string().optional(),
    callOptionsClient: z.string().optional(),
    outboundFields: z.array(z.string()).optional(),
  }),
  // Every outbound message names its organization (OrganizationId).
  routing: { by: 'account' },
  // Outbound Messages carry no signature: the endpoint URL holds a secret.
  endpointSecret: true,
  // The message must also name the organization the integration is connected to.
  webhookSecrets: ({ accountId, endpointSecrets }) => ({ accountId, endpointSecrets }),
  codec: salesforceCodec,
  connect: (opts) => new SalesforceClient(opts),
  // Outbound messages carry the 18-character organization id; Setup shows 15.
  normaliseAccountId: (id) => id18(id),
  oauth: salesforceOAuth,
  hosts: { api: SALESFORCE_HOSTS },
} satisfies CrmAdapter<typeof env, SalesforceWebhookSecrets>;

export { SALESFORCE_SCOPES, salesforceOAuth } from './oauth.ts';
export { DEFAULT_EXTERNAL_ID_FIELD, DEFAULT_ORIGIN_FIELD, NOT_PROVIDED } from './mappers.ts';
