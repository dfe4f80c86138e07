// Proof of account: createIntegration asks the CRM whose token it is (HubSpot account
// information API, Salesforce UserInfo, Zoho Organization API). A claimed account must be
// that one; another organization's account answers exactly like a made-up token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import type { SalesforceSandbox } from '../../sandboxes/salesforce/index.ts';
import type { ZohoSandbox } from '../../sandboxes/zoho/index.ts';
import { startHubSpotFor, startSalesforceFor, startStack, startZohoFor, type Stack } from '../helpers/stack.ts';

const CREATE = `mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { id accountId provider } }`;

describe('createIntegration proves the account', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;
  let otherPortal: HubSpotSandbox;
  let sf: SalesforceSandbox;
  let zs: ZohoSandbox;
  let orgB: { orgId: string; apiKey: string };

  beforeAll(async () => {
    stack = await startStack();
    hs = await startHubSpotFor(stack);
    otherPortal = await startHubSpotFor(stack, { portalId: 777001, accessTokens: ['token-of-portal-777001'] });
    sf = await startSalesforceFor(stack, { outbound: { targetUrl: null } });
    zs = await startZohoFor(stack, { orgId: '81000000042' });
    orgB = await stack.newOrg('Globex');
  });
  afterAll(async () => {
    await Promise.all([hs?.close(), otherPortal?.close(), sf?.close(), zs?.close()]);
    await stack?.stop();
  });

  const hubspot = (accessToken: string, accountId?: string) => ({
    provider: 'HUBSPOT',
    name: 'HubSpot',
    apiBaseUrl: hs.url,
    accessToken,
    ...(accountId === undefined ? {} : { accountId }),
  });

  it('refuses a token of another portal, and a made-up token, with the same answer, storing nothing', async () => {
    const wrongPortal = await stack.gql(CREATE, { input: { ...hubspot('token-of-portal-777001', String(hs.portalId)), apiBaseUrl: otherPortal.url } });
    const madeUp = await stack.gql(CREATE, { input: hubspot('made-up-token', String(hs.portalId)) });
    expect(wrongPortal.errors?.[0]?.extensions?.code).toBe('ACCOUNT_NOT_VERIFIED');
    expect(madeUp).toEqual(wrongPortal);
    expect(await stack.db.prisma.integration.count()).toBe(0);
  });

  it("fills accountId with the CRM's answer when it is left out (HubSpot portalId, Salesforce organization_id, Zoho zgid)", async () => {
    const h = await stack.gqlOk(CREATE, { input: hubspot(hs.accessToken) });
    expect(h.createIntegration).toMatchObject({ provider: 'HUBSPOT', accountId: String(hs.portalId) });
    // The account-info call was made with the token being proven.
    expect(hs.controls.requests.some((c) => c.method === 'GET' && c.path === '/account-info/v3/details')).toBe(true);

    const c = sf.controls.credentials();
    const s = await stack.gqlOk(CREATE, {
      input: { provider: 'SALESFORCE', name: 'SF', apiBaseUrl: sf.url, accessToken: c.accessToken, refreshToken: c.refreshToken, clientId: c.clientId, clientSecret: c.clientSecret },
    });
    expect(s.createIntegration).toMatchObject({ provider: 'SALESFORCE', accountId: sf.controls.organizationId });
    expect(s.createIntegration.accountId).toHaveLength(18);

    const z = await stack.gqlOk(CREATE, {
      input: {
        provider: 'ZOHO',
        name: 'Zoho',
        apiBaseUrl: zs.url,
        accessToken: zs.controls.issueAccessToken().accessToken,
        refreshToken: zs.controls.refreshToken,
        clientId: zs.controls.clientId,
        clientSecret: zs.controls.clientSecret,
        accountsUrl: zs.accountsUrl,
      },
    });
    expect(z.createIntegration).toMatchObject({ provider: 'ZOHO', accountId: '81000000042' });
  });

  it("answers another organization's account exactly like a failed verification: same code, same message, nothing learnt", async () => {
    const taken = await stack.gql(CREATE, { input: hubspot(hs.accessToken, String(hs.portalId)) }, orgB.apiKey);
    const takenUnnamed = await stack.gql(CREATE, { input: hubspot(hs.accessToken) }, orgB.apiKey);
    const madeUp = await stack.gql(CREATE, { input: hubspot('made-up-token', String(hs.portalId)) }, orgB.apiKey);
    const madeUpOther = await stack.gql(CREATE, { input: hubspot('made-up-token', '999999') }, orgB.apiKey);
    expect(taken.errors?.[0]?.extensions?.code).toBe('ACCOUNT_NOT_VERIFIED');
    for (const r of [takenUnnamed, madeUp, madeUpOther]) expect(r).toEqual(taken);
    expect(JSON.stringify(taken)).not.toMatch(/already|connected|Acme/i);
    expect(await stack.db.prisma.integration.count({ where: { organizationId: orgB.orgId } })).toBe(0);
  });

  it('tells the same organization that it already connected the account', async () => {
    const again = await stack.gql(CREATE, { input: hubspot(hs.accessToken) });
    expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  });

  it('answers CRM_ERROR, not a verdict, when the CRM cannot be asked', async () => {
    const r = await stack.gql(CREATE, { input: { ...hubspot('any-token', '123'), apiBaseUrl: 'http://127.0.0.1:9' } });
    expect(r.errors?.[0]?.extensions?.code).toBe('CRM_ERROR');
  });
});
