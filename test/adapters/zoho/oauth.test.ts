// Connecting Zoho CRM through OAuth, over real HTTP against the Zoho sandbox (API and accounts
// server on their own hosts, as for a data centre): consent, the multi-DC callback, code
// exchange learning the api_domain and the org, and the token's life in a client.
import { afterEach, describe, expect, it } from 'vitest';
import { CrmError, emptyFields, type ConnectionOptions, type Credentials, type OAuthApp, type TokenKeeper } from '../../../adapters/contract.ts';
import { zohoAdapter } from '../../../adapters/zoho/index.ts';
import { startZohoSandbox, type ZohoSandbox, type ZohoSandboxOptions } from '../../../sandboxes/zoho/index.ts';

const REDIRECT = 'https://sync.example.com/api/v1/oauth/zoho/callback';
const TOKEN = '/oauth/v2/token';
const network = { allowLocalHosts: true };
const oauth = zohoAdapter.oauth;

let sb: ZohoSandbox;

afterEach(async () => {
  await sb?.close();
});

type Env = ReturnType<typeof zohoAdapter.env.parse>;

async function start(opts: ZohoSandboxOptions = {}) {
  sb = await startZohoSandbox({ separateAccounts: true, redirectUris: [REDIRECT], ...opts });
  const env = zohoAdapter.env.parse({ ZOHO_CLIENT_ID: sb.controls.clientId, ZOHO_CLIENT_SECRET: sb.controls.clientSecret, ZOHO_ACCOUNTS_URL: sb.accountsUrl });
  return { env, app: oauth.app(env, REDIRECT)! };
}

async function consent(url: string): Promise<{ status: number; query: Record<string, string> }> {
  const res = await fetch(url, { redirect: 'manual' });
  await res.text();
  const location = res.headers.get('location');
  return { status: res.status, query: location ? Object.fromEntries(new URL(location).searchParams) : {} };
}

async function connectViaOAuth(env: Env, app: OAuthApp) {
  const { query } = await consent(oauth.authorizeUrl({ env, app, state: 'st', options: {} }));
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

const tokenCalls = () => sb.controls.requests.filter((r) => r.path === TOKEN).length;
const refusals = () => sb.controls.requests.filter((r) => r.path.startsWith('/crm/') && r.status === 401).length;
const later = (minutes: number) => new Date(Date.now() + minutes * 60_000);

function client(credentials: Credentials, over: Partial<ConnectionOptions> = {}) {
  return zohoAdapter.connect({ baseUrl: sb.url, accountId: sb.controls.orgId, credentials, settings: {}, network, ...over });
}

describe('Zoho OAuth: consent and code exchange', () => {
  it('authorize URL -> consent -> callback (location, accounts-server) -> exchange yields the org id, the api_domain and one-hour tokens', async () => {
    const { env, app } = await start();
    const url = new URL(oauth.authorizeUrl({ env, app, state: 'st-3', options: {} }));
    expect(url.origin + url.pathname).toBe(`${sb.accountsUrl}/oauth/v2/auth`);
    expect(url.searchParams.get('scope')).toBe('ZohoCRM.modules.leads.ALL,ZohoCRM.settings.fields.ALL,ZohoCRM.notifications.ALL,ZohoCRM.org.READ');
    expect(url.searchParams.get('access_type')).toBe('offline');
    const cb = await consent(url.toString());
    expect(cb.status).toBe(302);
    expect(cb.query).toMatchObject({ state: 'st-3', location: 'us', 'accounts-server': sb.accountsUrl });
    const grant = await oauth.exchange({ env, app, network, query: cb.query, options: {} });
    expect(grant.accountId).toBe(sb.controls.orgId);
    expect(grant.baseUrl).toBe(sb.url);
    expect(grant.credentials).toMatchObject({ accountsUrl: sb.accountsUrl, apiDomain: sb.url });
    expect(grant.credentials.refreshToken).toBeTruthy();
    expect(grant.credentials.clientSecret).toBeUndefined();
    const ttl = Date.parse(grant.credentials.expiresAt!) - Date.now();
    expect(ttl).toBeGreaterThan(59 * 60_000);
    expect(ttl).toBeLessThanOrEqual(60 * 60_000);
    // The code went to the accounts server only.
    expect(sb.controls.requests.filter((r) => r.path === TOKEN).every((r) => sb.accountsUrl.endsWith(r.host))).toBe(true);
  });

  it('refuses a callback naming an accounts-server that is not a Zoho accounts host, or one its location contradicts, before sending the code', async () => {
    const { env, app } = await start();
    const { query } = await consent(oauth.authorizeUrl({ env, app, state: 's', options: {} }));
    const forged = await rejection(oauth.exchange({ env, app, network, query: { ...query, 'accounts-server': 'https://accounts.zoho.evil.example' }, options: {} }));
    expect(forged.code).toBe('VALIDATION');
    const mixed = await rejection(oauth.exchange({ env, app, network, query: { ...query, location: 'us', 'accounts-server': 'https://accounts.zoho.eu' }, options: {} }));
    expect(mixed.code).toBe('VALIDATION');
    expect(tokenCalls()).toBe(0);
  });

  it('the consent page refuses an unregistered redirect URI and an unknown client; a code is single-use', async () => {
    const { env, app } = await start();
    for (const bad of [{ ...app, redirectUri: 'https://evil.example/cb' }, { ...app, clientId: '1000.SOMEONEELSE' }]) {
      const r = await consent(oauth.authorizeUrl({ env, app: bad, state: 's', options: {} }));
      expect(r.status).toBe(400);
      expect(r.query).toEqual({});
    }
    const { query } = await consent(oauth.authorizeUrl({ env, app, state: 's', options: {} }));
    await oauth.exchange({ env, app, network, query, options: {} });
    expect((await rejection(oauth.exchange({ env, app, network, query, options: {} }))).code).toBe('VALIDATION');
  });

  it("a chosen data centre sends the customer to that data centre's accounts server; unknown ones are refused", async () => {
    const { env, app } = await start();
    expect(new URL(oauth.authorizeUrl({ env, app, state: 's', options: { dataCentre: 'EU' } })).origin).toBe('https://accounts.zoho.eu');
    expect(oauth.connectOptions.safeParse({ dataCentre: 'MARS' }).success).toBe(false);
    expect(oauth.connectOptions.safeParse({ region: 'EU' }).success).toBe(false);
  });
});

describe('Zoho OAuth: the access token in a client', () => {
  const withApp = (c: Credentials) => ({ ...c, clientId: sb.controls.clientId, clientSecret: sb.controls.clientSecret });

  it('renews ahead of expiry: a token about to expire is replaced before the call, never refused', async () => {
    const { env, app } = await start({ accessTokenTtlSeconds: 120 }); // shorter than the renewal margin
    const grant = await connectViaOAuth(env, app);
    await client(withApp(grant.credentials)).readRecords(['1']);
    expect(tokenCalls()).toBe(2);
    expect(refusals()).toBe(0);
  });

  it('renews once after a 401 and replays the call', async () => {
    const { env, app } = await start();
    const grant = await connectViaOAuth(env, app);
    const saved: Credentials[] = [];
    const c = client({ ...withApp(grant.credentials), expiresAt: undefined }, { onCredentialsChanged: (cr) => void saved.push(cr) });
    sb.controls.setClock(later(61));
    await c.readRecords(['1']);
    expect(refusals()).toBe(1);
    expect(tokenCalls()).toBe(2);
    expect(saved[0]!.refreshToken).toBe(grant.credentials.refreshToken);
  });

  it('access revoked by the user is AUTH_REVOKED, not retryable', async () => {
    const { env, app } = await start();
    const grant = await connectViaOAuth(env, app);
    sb.controls.revokeAccess();
    expect(await rejection(client(withApp(grant.credentials)).readRecords(['1']))).toMatchObject({ code: 'AUTH_REVOKED', retryable: false });
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
    const c = client(withApp(grant.credentials));
    await c.prepare(['jazzaam']);
    sb.controls.afterRequest({ path: '/crm/v7/' }, () => sb.controls.setClock(later(61)));
    const leads = ['a', 'b', 'c'].map((n) => ({ localId: n, externalId: null, fields: { ...emptyFields(), email: `${n}@example.com`, lastName: n } }));
    const results = await c.pushLeads(leads, 'jazzaam');
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    expect(refusals()).toBe(1);
    expect(sb.controls.listLeads()).toHaveLength(3);
  });

  it('a token expiring between the pages of an import costs one refresh', async () => {
    const { env, app } = await start();
    for (const n of ['a', 'b', 'c']) sb.controls.createLeadAsUser({ Email: `${n}@example.com`, Last_Name: n });
    const grant = await connectViaOAuth(env, app);
    const c = client(withApp(grant.credentials));
    const first = await c.listPage(null, 2);
    sb.controls.setClock(later(61));
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
        const g = await oauth.refresh({ env, app, network, credentials: stored, baseUrl: grant.baseUrl });
        stored = g.credentials;
        return { credentials: stored, baseUrl: g.baseUrl };
      },
    };
    const c = client({ ...withApp(grant.credentials), expiresAt: undefined }, { tokens: keeper });
    const before = tokenCalls();
    sb.controls.setClock(later(61));
    await Promise.all([c.readRecords(['1']), c.listPage(null, 10), c.whoami()]);
    expect(renewals).toBe(1);
    expect(tokenCalls() - before).toBe(1);
  });
});

describe('Zoho OAuth: the network guard', () => {
  it('without allowLocalHosts an accounts server off Zoho is refused before the code is sent', async () => {
    const { env, app } = await start();
    const { query } = await consent(oauth.authorizeUrl({ env, app, state: 's', options: {} }));
    const e = await rejection(oauth.exchange({ env, app, network: {}, query, options: {} }));
    expect(e.code).toBe('DESTINATION_REFUSED');
    expect(tokenCalls()).toBe(0);
  });
});

describe('Zoho OAuth: a refresh naming a foreign host', () => {
  it("keeps the new token and the stored API host when a refresh's api_domain is not a Zoho host (the refresh happened: its token must not be lost)", async () => {
    const { env, app } = await start({ apiDomain: 'http://169.254.169.254' });
    const credentials = { accessToken: 'stale', refreshToken: sb.controls.refreshToken, accountsUrl: sb.accountsUrl };
    const grant = await oauth.refresh({ env, app, network, credentials, baseUrl: sb.url });
    expect(grant.baseUrl).toBe(sb.url);
    expect(grant.credentials.accessToken).not.toBe('stale');
    expect(grant.credentials.apiDomain).toBe(sb.url);
    expect((await client({ accessToken: grant.credentials.accessToken! }).whoami()).accountId).toBe(sb.controls.orgId);
  });
});
