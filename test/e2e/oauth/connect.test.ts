// Connecting HubSpot through OAuth, end to end over real HTTP: connectCrm, the sandbox's
// consent screen, the service's callback. The state that travels through the CRM is the
// only proof the callback has (RFC 6749 §10.12: "The client MUST implement CSRF
// protection for its redirection URI ... a value that binds the request to the
// user-agent's authenticated state"): forged, replayed, expired and other-organization
// states are refused with a page saying so, and nothing is stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../../sandboxes/hubspot/server.ts';
import { revokeApiKey } from '../../../src/auth.ts';
import type { Stack } from '../../helpers/stack.ts';
import { callback, consent, CONNECT, connectThroughOAuth, startOAuthHubSpot } from './dance.ts';

let stack: Stack;
let hs: HubSpotSandbox;

beforeAll(async () => {
  ({ stack, hs } = await startOAuthHubSpot());
}, 120_000);
afterAll(async () => {
  await hs?.close();
  await stack?.stop();
});

/** The state a callback URL carries, with one of its dot-separated parts replaced. */
function withPart(url: URL, index: number, value: string, resign = false): URL {
  const parts = url.searchParams.get('state')!.split('.');
  parts[index] = value;
  if (resign) parts[4] = stack.keyring.mac('oauth-state', parts.slice(0, 4).join('.'));
  const u = new URL(url);
  u.searchParams.set('state', parts.join('.'));
  return u;
}

const integrations = () => stack.db.prisma.integration.count();

describe('connectCrm and the OAuth callback (HubSpot)', () => {
  it('refuses a forged state: made up, or another organization put in a real one (400 page, nothing stored)', async () => {
    const url = await consent(stack, 'HUBSPOT');
    const orgB = await stack.newOrg('Globex');
    const moved = await callback(withPart(url, 2, orgB.orgId));
    expect(moved.status).toBe(400);
    expect(moved.contentType).toMatch(/text\/html/);
    expect(moved.csp).toContain("default-src 'none'");
    expect(moved.text).toContain('was not made by this service');
    const madeUp = new URL(url);
    madeUp.searchParams.set('state', 'v1.abc.def.9999999999.xyz');
    expect((await callback(madeUp)).status).toBe(400);
    const none = new URL(url);
    none.searchParams.delete('state');
    expect((await callback(none)).text).toContain('carries no state');
    expect(await integrations()).toBe(0);
  });

  it('refuses a state brought to another CRM\'s callback, and it is used up', async () => {
    const url = await consent(stack, 'HUBSPOT');
    const elsewhere = new URL(url);
    elsewhere.pathname = elsewhere.pathname.replace('/oauth/hubspot/', '/oauth/salesforce/');
    const page = await callback(elsewhere);
    expect(page.status).toBe(400);
    expect(page.text).toContain('made for another CRM');
    expect((await callback(url)).text).toContain('already used');
    expect(await integrations()).toBe(0);
  });

  it('refuses an expired state (signed by the service, its time passed)', async () => {
    const url = await consent(stack, 'HUBSPOT');
    const expired = withPart(url, 3, String(Math.floor(Date.now() / 1000) - 1), true);
    const page = await callback(expired);
    expect(page.status).toBe(400);
    expect(page.text).toContain('The link expired');
    expect(await integrations()).toBe(0);
  });

  it('refuses a state whose API key was revoked meanwhile (bound to the key and its organization)', async () => {
    const orgC = await stack.newOrg('Initech');
    const url = await consent(stack, 'HUBSPOT', { key: orgC.apiKey });
    const key = await stack.db.prisma.apiKey.findFirstOrThrow({ where: { organizationId: orgC.orgId } });
    await revokeApiKey(stack.db.prisma, orgC.orgId, key.id);
    const page = await callback(url);
    expect(page.status).toBe(400);
    expect(page.text).toContain('belongs to another organization');
    expect(await integrations()).toBe(0);
  });

  it('answers the CRM error redirect (access_denied) with a page, and the state cannot be used afterwards', async () => {
    const url = await consent(stack, 'HUBSPOT');
    const denied = new URL(url);
    denied.searchParams.delete('code');
    denied.searchParams.set('error', 'access_denied');
    const page = await callback(denied);
    expect(page.status).toBe(400);
    expect(page.text).toContain('Access was not granted in HubSpot');
    expect((await callback(url)).text).toContain('already used');
    expect(await integrations()).toBe(0);
  });

  it("never echoes the CRM's error text into the page: a code that is not a plain token is shown as unknown_error", async () => {
    const url = await consent(stack, 'HUBSPOT');
    const hostile = new URL(url);
    hostile.searchParams.delete('code');
    hostile.searchParams.set('error', '<script>alert(1)</script>');
    const page = await callback(hostile);
    expect(page.status).toBe(400);
    expect(page.text).toContain('answered &#34;unknown_error&#34;');
    expect(page.text).not.toContain('<script');
  });

  it('connects: the integration is created for the portal HubSpot names, tokens stored encrypted, 303 to the return page; the link works once', async () => {
    const url = await consent(stack, 'HUBSPOT', { name: 'Sales portal' });
    const back = await callback(url);
    expect(back.status).toBe(303);
    expect(`${back.location?.origin}${back.location?.pathname}`).toBe(`${stack.config.PUBLIC_BASE_URL}/dashboard`);
    expect(back.location?.searchParams.get('result')).toBe('created');
    const id = back.location!.searchParams.get('integrationId')!;
    const row = await stack.db.prisma.integration.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ organizationId: stack.orgId, accountId: String(hs.portalId), name: 'Sales portal', connectedVia: 'oauth', connectionState: 'connected' });
    expect(row.credentials.startsWith('enc:v1:')).toBe(true);
    // The account was proven as for pasted tokens: HubSpot's account information, with the new token.
    expect(hs.controls.requests.some((r) => r.method === 'GET' && r.path === '/account-info/v3/details')).toBe(true);
    const creds = stack.keyringCredentials(row);
    expect(creds.refreshToken).toMatch(/^na1-/);
    // The stored token works: the portal answers with it.
    const status = await stack.gqlOk(`query($id: ID!) { integration(id: $id) { connectionState connectedVia } webhookStatus(integrationId: $id) { connection { state via errorCode } } }`, { id });
    expect(status).toMatchObject({ integration: { connectionState: 'CONNECTED', connectedVia: 'OAUTH' }, webhookStatus: { connection: { state: 'CONNECTED', via: 'OAUTH', errorCode: null } } });

    const replay = await callback(url);
    expect(replay.status).toBe(400);
    expect(replay.text).toContain('already used');
    // Neither the code nor the state nor a token is in the logs.
    const logs = JSON.stringify(stack.logs());
    expect(logs).not.toContain(url.searchParams.get('code')!);
    expect(logs).not.toContain(url.searchParams.get('state')!.split('.')[1]);
    expect(logs).not.toContain(creds.refreshToken);
    expect(logs).not.toContain(creds.accessToken);
  });

  it('connecting the same portal again reconnects the same integration (no second one)', async () => {
    const before = await stack.db.prisma.integration.findMany();
    const again = await connectThroughOAuth(stack, 'HUBSPOT');
    expect(again.result).toBe('reconnected');
    expect(await stack.db.prisma.integration.findMany()).toHaveLength(before.length);
    expect(again.integrationId).toBe(before[0].id);
  });

  it('refuses a portal another organization has connected (409 page, nothing changed)', async () => {
    const orgD = await stack.newOrg('Umbrella');
    const url = await consent(stack, 'HUBSPOT', { key: orgD.apiKey });
    const page = await callback(url);
    expect(page.status).toBe(409);
    expect(page.text).toContain('already connected to another organization');
    expect(await stack.db.prisma.integration.count({ where: { organizationId: orgD.orgId } })).toBe(0);
  });

  it('refuses bad connectCrm input with a clear error, storing no state', async () => {
    const before = await stack.db.prisma.oAuthState.count();
    const r = await stack.gql(CONNECT, { provider: 'HUBSPOT', name: ' ', options: [{ name: 'region', value: 'eu' }] });
    expect(r.errors?.[0]?.extensions?.code).toBe('VALIDATION');
    expect(JSON.stringify(r.errors)).toContain('options.region');
    expect(JSON.stringify(r.errors)).toContain('"name"');
    expect(await stack.db.prisma.oAuthState.count()).toBe(before);
  });
});
