// Connecting HubSpot through OAuth, over real HTTP against the HubSpot sandbox: consent,
// code exchange, the account learnt from token introspection, and the access token's life
// in a client (renewed ahead of expiry, after a 401, through a TokenKeeper).
import { afterEach, describe, expect, it } from 'vitest';
import { CrmError, emptyFields, type ConnectionOptions, type Credentials, type OAuthApp, type TokenKeeper } from '../../../adapters/contract.ts';
import { hubspotAdapter } from '../../../adapters/hubspot/index.ts';
import { startHubSpotSandbox, type HubSpotSandbox, type HubSpotSandboxOptions } from '../../../sandboxes/hubspot/index.ts';

const REDIRECT = 'https://sync.example.com/api/v1/oauth/hubspot/callback';
const TOKEN = '/oauth/2026-03/token';
const CONTACTS = '/crm/v3/objects/contacts';
const network = { allowLocalHosts: true };
const oauth = hubspotAdapter.oauth;

let sandbox: HubSpotSandbox;

afterEach(async () => {
  await sandbox?.close();
});

async function start(opts: HubSpotSandboxOptions = {}) {
  sandbox = await startHubSpotSandbox({ ...opts, oauth: { redirectUris: [REDIRECT], ...opts.oauth } });
  const env = hubspotAdapter.env.parse({
    HUBSPOT_CLIENT_ID: sandbox.oauthClientId,
    HUBSPOT_CLIENT_SECRET: sandbox.clientSecret,
    HUBSPOT_AUTHORIZE_URL: sandbox.url,
    HUBSPOT_API_BASE_URL: sandbox.url,
  });
  const app = oauth.app(env, REDIRECT)!;
  return { env, app };
}

/** The consent page's answer to the authorize URL: the 302's callback query (followed by hand). */
async function consent(url: string): Promise<{ status: number; query: Record<string, string> }> {
  const res = await fetch(url, { redirect: 'manual' });
  await res.text();
  const location = res.headers.get('location');
  return { status: res.status, query: location ? Object.fromEntries(new URL(location).searchParams) : {} };
}

async function connectViaOAuth(env: ReturnType<typeof hubspotAdapter.env.parse>, app: OAuthApp) {
  const url = oauth.authorizeUrl({ env, app, state: 'st-1', options: {} });
  const { query } = await consent(url);
  return oauth.exchange({ env, app, network, query, options: {} });
}

async function rejection(p: Promise<unknown>): Promise<CrmError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CrmError) return e;
    throw e;
  }
  throw new Error('expected a failure');
}

const tokenCalls = () => sandbox.controls.requests.filter((r) => r.path === TOKEN).length;
const refusals = () => sandbox.controls.requests.filter((r) => r.path.startsWith(CONTACTS) && r.status === 401).length;
const later = (minutes: number) => new Date(Date.now() + minutes * 60_000);

function client(credentials: Credentials, over: Partial<ConnectionOptions> = {}) {
  return hubspotAdapter.connect({ baseUrl: sandbox.url, accountId: String(sandbox.portalId), credentials, settings: {}, network, ...over });
}

describe('HubSpot OAuth: consent and code exchange', () => {
  it('authorize URL -> consent -> callback -> exchange yields the portal id, the API host and 30-minute tokens', async () => {
    const { env, app } = await start();
    const url = new URL(oauth.authorizeUrl({ env, app, state: 'st-1', options: {} }));
    expect(url.pathname).toBe('/oauth/authorize');
    expect(url.searchParams.get('scope')!.split(' ')).toEqual(['oauth', 'crm.objects.contacts.read', 'crm.objects.contacts.write', 'crm.schemas.contacts.write']);
    const cb = await consent(url.toString());
    expect(cb.status).toBe(302);
    expect(cb.query.state).toBe('st-1');
    const grant = await oauth.exchange({ env, app, network, query: cb.query, options: {} });
    expect(grant.accountId).toBe(String(sandbox.portalId));
    expect(grant.baseUrl).toBe(sandbox.url);
    expect(grant.credentials.accessToken).toBeTruthy();
    expect(grant.credentials.refreshToken).toBeTruthy();
    // The app's secret is the service's, never stored per integration.
    expect(grant.credentials.clientSecret).toBeUndefined();
    const ttl = Date.parse(grant.credentials.expiresAt!) - Date.now();
    expect(ttl).toBeGreaterThan(29 * 60_000);
    expect(ttl).toBeLessThanOrEqual(30 * 60_000);
    await expect(client(grant.credentials).whoami()).resolves.toEqual({ accountId: String(sandbox.portalId) });
  });

  it('the consent page refuses a redirect URI the app did not register, an unknown client and other scopes, without redirecting', async () => {
    const { env, app } = await start();
    for (const bad of [{ ...app, redirectUri: 'https://evil.example/cb' }, { ...app, clientId: 'someone-else' }]) {
      const r = await consent(oauth.authorizeUrl({ env, app: bad, state: 's', options: {} }));
      expect(r.status).toBe(400);
      expect(r.query).toEqual({});
    }
    const url = new URL(oauth.authorizeUrl({ env, app, state: 's', options: {} }));
    url.searchParams.set('scope', 'oauth crm.objects.contacts.read');
    expect((await consent(url.toString())).status).toBe(400);
  });

  it('a code is single-use, and only for the redirect URI it was issued to', async () => {
    const { env, app } = await start();
    const { query } = await consent(oauth.authorizeUrl({ env, app, state: 's', options: {} }));
    const elsewhere = await rejection(oauth.exchange({ env, app: { ...app, redirectUri: 'https://other.example/cb' }, network, query, options: {} }));
    expect(elsewhere.code).toBe('VALIDATION');
    await oauth.exchange({ env, app, network, query, options: {} });
    const again = await rejection(oauth.exchange({ env, app, network, query, options: {} }));
    expect(again.code).toBe('VALIDATION');
    expect(again.retryable).toBe(false);
  });

  it('a wrong client secret is refused at the token endpoint', async () => {
    const { env, app } = await start();
    const { query } = await consent(oauth.authorizeUrl({ env, app, state: 's', options: {} }));
    const e = await rejection(oauth.exchange({ env, app: { ...app, clientSecret: 'wrong' }, network, query, options: {} }));
    expect(e.code).toBe('AUTH_EXPIRED');
    expect(e.retryable).toBe(false);
  });
});

describe('HubSpot OAuth: the access token in a client', () => {
  it('renews ahead of expiry: a token about to expire is replaced before the call, never refused', async () => {
    const { env, app } = await start();
    sandbox.controls.setAccessTokenLifetime(60); // shorter than the client's renewal margin
    const grant = await connectViaOAuth(env, app);
    const saved: Credentials[] = [];
    const c = client({ ...grant.credentials, clientId: app.clientId, clientSecret: app.clientSecret }, { onCredentialsChanged: (cr) => void saved.push(cr) });
    await c.listPage(null, 10);
    expect(tokenCalls()).toBe(2); // the exchange, then one refresh
    expect(refusals()).toBe(0);
    expect(saved).toHaveLength(1);
    expect(saved[0]!.accessToken).not.toBe(grant.credentials.accessToken);
    expect(saved[0]!.refreshToken).toBe(grant.credentials.refreshToken);
  });

  it('renews once after a 401 (HubSpot 30-minute tokens) and replays the call', async () => {
    const { env, app } = await start();
    const grant = await connectViaOAuth(env, app);
    const c = client({ ...grant.credentials, clientId: app.clientId, clientSecret: app.clientSecret });
    sandbox.controls.setClock(later(31));
    await expect(c.listPage(null, 10)).resolves.toMatchObject({ records: [] });
    expect(refusals()).toBe(1);
    expect(tokenCalls()).toBe(2);
  });

  it('keeps a rotated refresh token and refreshes with it next time', async () => {
    const { env, app } = await start({ oauth: { rotateRefreshTokens: true } });
    const grant = await connectViaOAuth(env, app);
    const saved: Credentials[] = [];
    const c = client({ ...grant.credentials, clientId: app.clientId, clientSecret: app.clientSecret }, { onCredentialsChanged: (cr) => void saved.push(cr) });
    sandbox.controls.setClock(later(31));
    await c.listPage(null, 10);
    sandbox.controls.setClock(later(62));
    await c.listPage(null, 10);
    expect(saved).toHaveLength(2);
    expect(saved[0]!.refreshToken).not.toBe(grant.credentials.refreshToken);
    expect(saved[1]!.refreshToken).not.toBe(saved[0]!.refreshToken);
  });

  it('a refused refresh token (the app was uninstalled) is AUTH_REVOKED, not retryable', async () => {
    const { env, app } = await start();
    const grant = await connectViaOAuth(env, app);
    const c = client({ ...grant.credentials, clientId: app.clientId, clientSecret: app.clientSecret });
    sandbox.uninstallApp();
    const e = await rejection(c.listPage(null, 10));
    expect(e.code).toBe('AUTH_REVOKED');
    expect(e.retryable).toBe(false);
  });

  it('revoke (idempotent) then refresh is AUTH_REVOKED', async () => {
    const { env, app } = await start();
    const grant = await connectViaOAuth(env, app);
    const call = { env, app, network, credentials: grant.credentials, baseUrl: grant.baseUrl };
    await oauth.revoke(call);
    await oauth.revoke(call);
    expect((await rejection(oauth.refresh(call))).code).toBe('AUTH_REVOKED');
  });

  it('a token expiring in the middle of a push batch costs one refresh, not the batch', async () => {
    const { env, app } = await start();
    const grant = await connectViaOAuth(env, app);
    const c = client({ ...grant.credentials, clientId: app.clientId, clientSecret: app.clientSecret });
    await c.prepare(['jazzaam']);
    // A push of 150 new leads is two batch creates (100 inputs at most per call). The first
    // call is answered, then 31 minutes pass: the second meets an expired token.
    sandbox.controls.afterRequest({ path: CONTACTS }, () => sandbox.controls.setClock(later(31)));
    const leads = Array.from({ length: 150 }, (_, i) => `n${i}`).map((n) => ({ localId: n, externalId: null, fields: { ...emptyFields(), email: `${n}@example.com`, lastName: n } }));
    const results = await c.pushLeads(leads, 'jazzaam');
    expect(results.filter((r) => r.ok)).toHaveLength(150);
    expect(refusals()).toBe(1);
    expect(sandbox.listContacts()).toHaveLength(150);
  });

  it('a token expiring between the pages of an import costs one refresh', async () => {
    const { env, app } = await start();
    for (const n of ['a', 'b', 'c']) sandbox.createContactAsUser({ email: `${n}@example.com` });
    const grant = await connectViaOAuth(env, app);
    const c = client({ ...grant.credentials, clientId: app.clientId, clientSecret: app.clientSecret });
    const first = await c.listPage(null, 2);
    sandbox.controls.setClock(later(31));
    const second = await c.listPage(first.nextCursor, 2);
    expect([...first.records, ...second.records].map((r) => r.fields.email).sort()).toEqual(['a@example.com', 'b@example.com', 'c@example.com']);
    expect(refusals()).toBe(1);
  });

  it('with a TokenKeeper the client never calls the token endpoint itself: one renewal for concurrent calls', async () => {
    const { env, app } = await start();
    const grant = await connectViaOAuth(env, app);
    let renewals = 0;
    let stored = grant.credentials;
    const keeper: TokenKeeper = {
      async renew(rejected) {
        renewals++;
        if (stored.accessToken !== rejected) return { credentials: stored };
        stored = (await oauth.refresh({ env, app, network, credentials: stored, baseUrl: grant.baseUrl })).credentials;
        return { credentials: stored };
      },
    };
    // Client credentials present: with a keeper they are never used to refresh.
    const c = client({ ...grant.credentials, clientId: app.clientId, clientSecret: app.clientSecret }, { tokens: keeper });
    const before = tokenCalls();
    sandbox.controls.setClock(later(31));
    await Promise.all([c.listPage(null, 10), c.listPage(null, 10), c.readRecords(['1'])]);
    expect(renewals).toBe(1);
    expect(tokenCalls() - before).toBe(1); // the keeper's refresh only
  });
});

describe('HubSpot OAuth: the network guard', () => {
  it('without allowLocalHosts a token endpoint off HubSpot is refused before any request', async () => {
    const { env, app } = await start();
    const { query } = await consent(oauth.authorizeUrl({ env, app, state: 's', options: {} }));
    const before = sandbox.controls.requests.length;
    const e = await rejection(oauth.exchange({ env, app, network: {}, query, options: {} }));
    expect(e.code).toBe('DESTINATION_REFUSED');
    expect(sandbox.controls.requests.length).toBe(before);
  });
});
