// The OAuth connection once per CRM, against each sandbox over real HTTP: connect (the
// account the CRM names becomes the integration's), a platform lead pushed with the new
// tokens, the grant revoked at the CRM (NEEDS_RECONNECT, the push held), reconnected (the
// push delivered), then disconnected (the CRM refuses the old refresh token afterwards).
// Salesforce revokes with POST /services/oauth2/revoke and refuses a revoked refresh
// token with invalid_grant (help.salesforce.com, "Revoke OAuth Tokens"); Zoho revokes with
// POST /oauth/v2/token/revoke (Zoho CRM API, "Revoke refresh token"); HubSpot with
// POST /oauth/2026-03/token/revoke.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CrmAdapter } from '../../../adapters/contract.ts';
import { hubspotAdapter } from '../../../adapters/hubspot/index.ts';
import { salesforceAdapter } from '../../../adapters/salesforce/index.ts';
import { id18 } from '../../../adapters/salesforce/mappers.ts';
import { zohoAdapter } from '../../../adapters/zoho/index.ts';
import { startHubSpotSandbox, type HubSpotSandbox } from '../../../sandboxes/hubspot/server.ts';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../../sandboxes/salesforce/index.ts';
import { startZohoSandbox, type ZohoSandbox } from '../../../sandboxes/zoho/index.ts';
import { appFor } from '../../../src/engine/token-keeper.ts';
import { eventually } from '../../helpers/net.ts';
import { HUBSPOT_SECRET, startStack, type Stack } from '../../helpers/stack.ts';
import { connectThroughOAuth } from './dance.ts';

interface Row {
  provider: 'HUBSPOT' | 'SALESFORCE' | 'ZOHO';
  adapter: CrmAdapter;
  accountId: () => string;
  hasLead: (email: string) => boolean;
  revokeAtCrm: () => void;
  /** What the service registered at the CRM for webhooks (HubSpot subscriptions, Zoho channels; Salesforce outbound messages are set up by hand). */
  registrations: () => number;
}

let stack: Stack;
let hs: HubSpotSandbox;
let sf: SalesforceSandbox;
let zs: ZohoSandbox;
const callbacks = { hubspot: [] as string[], salesforce: [] as string[], zoho: [] as string[] };

beforeAll(async () => {
  hs = await startHubSpotSandbox({ clientSecret: HUBSPOT_SECRET, oauth: { redirectUris: callbacks.hubspot } });
  sf = await startSalesforceSandbox({ callbackUrls: callbacks.salesforce });
  zs = await startZohoSandbox({ separateAccounts: true, redirectUris: callbacks.zoho });
  const c = sf.controls.credentials();
  stack = await startStack({
    HUBSPOT_CLIENT_ID: hs.oauthClientId,
    HUBSPOT_AUTHORIZE_URL: hs.url,
    HUBSPOT_API_BASE_URL: hs.url,
    SALESFORCE_CLIENT_ID: c.clientId,
    SALESFORCE_CLIENT_SECRET: c.clientSecret,
    SALESFORCE_LOGIN_URL: sf.url,
    ZOHO_CLIENT_ID: zs.controls.clientId,
    ZOHO_CLIENT_SECRET: zs.controls.clientSecret,
    ZOHO_ACCOUNTS_URL: zs.accountsUrl,
    RETRY_BASE_MS: '50',
  });
  for (const [slug, list] of Object.entries(callbacks)) list.push(`${stack.config.PUBLIC_BASE_URL}/api/v1/oauth/${slug}/callback`);
}, 120_000);
afterAll(async () => {
  await Promise.all([hs?.close(), sf?.close(), zs?.close()]);
  await stack?.stop();
});

const rows: Row[] = [
  {
    provider: 'HUBSPOT',
    adapter: hubspotAdapter,
    accountId: () => String(hs.portalId),
    hasLead: (email) => hs.findContactByEmail(email) !== null,
    revokeAtCrm: () => hs.uninstallApp(),
    registrations: () => hs.subscriptions().length,
  },
  {
    provider: 'SALESFORCE',
    adapter: salesforceAdapter,
    accountId: () => id18(sf.controls.organizationId),
    hasLead: (email) => sf.controls.listLeads().some((l) => String(l.values.Email ?? '').toLowerCase() === email),
    revokeAtCrm: () => {
      sf.controls.revokeRefreshToken();
      sf.controls.expireAccessTokens();
    },
    registrations: () => 0,
  },
  {
    provider: 'ZOHO',
    adapter: zohoAdapter,
    accountId: () => zs.controls.orgId,
    hasLead: (email) => zs.controls.listLeads().some((l) => String(l.Email ?? '').toLowerCase() === email),
    revokeAtCrm: () => zs.controls.revokeAccess(),
    registrations: () => zs.controls.channels().filter((c) => c.live).length,
  },
];

describe.each(rows)('OAuth connection lifecycle: $provider', (row) => {
  it('connects, pushes, holds under NEEDS_RECONNECT, reconnects and delivers, then disconnects leaving the grant revoked', async () => {
    const tag = row.provider.toLowerCase();
    const { integrationId, result } = await connectThroughOAuth(stack, row.provider, { name: `${row.provider} via OAuth` });
    expect(result).toBe('created');
    const integration = await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationId } });
    expect(integration).toMatchObject({ provider: row.provider, accountId: row.accountId(), connectedVia: 'oauth', connectionState: 'connected' });

    await stack.engine.createLead(stack.orgId, { email: `first.${tag}@example.com`, firstName: 'First', lastName: 'Push', company: 'Acme' });
    await eventually(() => row.hasLead(`first.${tag}@example.com`), 20_000, 'first push');

    row.revokeAtCrm();
    await stack.engine.createLead(stack.orgId, { email: `held.${tag}@example.com`, firstName: 'Held', lastName: 'Push', company: 'Acme' });
    await eventually(async () => (await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationId } })).connectionState === 'needs_reconnect', 20_000, 'NEEDS_RECONNECT');
    const held = await stack.db.prisma.outboxItem.findMany({ where: { integrationId, status: { not: 'done' } } });
    expect(held.length).toBeGreaterThan(0);
    expect(held.every((o) => o.status === 'pending' && o.attempts === 0)).toBe(true);
    expect(row.hasLead(`held.${tag}@example.com`)).toBe(false);

    expect(await connectThroughOAuth(stack, row.provider)).toMatchObject({ result: 'reconnected', integrationId });
    await eventually(() => row.hasLead(`held.${tag}@example.com`), 20_000, 'held push delivered');
    expect(await stack.db.prisma.outboxItem.count({ where: { integrationId, status: 'failed' } })).toBe(0);

    await stack.gqlOk(`mutation($id: ID!) { enableWebhooks(integrationId: $id) { status { enabled } } }`, { id: integrationId });
    if (row.provider === 'ZOHO') expect(row.registrations()).toBe(1);
    const before = await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationId } });
    const credentials = stack.keyringCredentials(before);
    await stack.gqlOk(`mutation($id: ID!) { disconnectCrm(integrationId: $id) { id } }`, { id: integrationId });
    // The CRM no longer honours the grant: a refresh with the old refresh token is refused.
    const app = appFor(stack, row.adapter, credentials)!;
    await expect(
      row.adapter.oauth!.refresh({ env: stack.config, app, credentials, baseUrl: before.apiBaseUrl, network: { allowLocalHosts: true } }),
    ).rejects.toMatchObject({ code: 'AUTH_REVOKED' });
    expect(stack.keyringCredentials(await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationId } }))).toEqual({});
    // Nothing of ours left registered at the CRM.
    expect(row.registrations()).toBe(0);
  });
});
