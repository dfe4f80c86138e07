// Connecting Salesforce through OAuth (web server flow with PKCE), over real HTTP against the
// Salesforce sandbox: consent, code exchange learning the org from the signed identity URL,
// and the session's life in a client (renewed after a 401, through a TokenKeeper when given).
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Credentials, OAuthApp, TokenKeeper } from '../../../adapters/contract.ts';
import { s256Challenge } from '../../../adapters/kit/oauth.ts';
import { salesforceAdapter } from '../../../adapters/salesforce/index.ts';
import { id18 } from '../../../adapters/salesforce/mappers.ts';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../../sandboxes/salesforce/index.ts';
import { caught, connect, lead } from './helpers.ts';

const REDIRECT = 'https://sync.example.com/api/v1/oauth/salesforce/callback';
const TOKEN = '/services/oauth2/token';
const network = { allowLocalHosts: true };
const oauth = salesforceAdapter.oauth;

let sb: SalesforceSandbox;

afterEach(async () => {
  await sb?.close();
});

async function start(opts: Parameters<typeof startSalesforceSandbox>[0] = {}) {
  sb = await startSalesforceSandbox({ callbackUrls: [REDIRECT], accessTokenTtlSeconds: 1800, ...opts });
  const c = sb.controls.credentials();
  const env = salesforceAdapter.env.parse({ SALESFORCE_CLIENT_ID: c.clientId, SALESFORCE_CLIENT_SECRET: c.clientSecret, SALESFORCE_LOGIN_URL: sb.url });
  return { env, app: oauth.app(env, REDIRECT)! };
}

type Env = ReturnType<typeof salesforceAdapter.env.parse>;

/** The consent page's 302 (followed by hand): the callback's query. */
async function consent(url: string): Promise<{ status: number; query: Record<string, string> }> {
  const res = await fetch(url, { redirect: 'manual' });
  await res.text();
  const location = res.headers.get('location');
  return { status: res.status, query: location ? Object.fromEntries(new URL(location).searchParams) : {} };
}

async function connectViaOAuth(env: Env, app: OAuthApp) {
  const verifier = randomBytes(32).toString('base64url');
  const { query } = await consent(oauth.authorizeUrl({ env, app, state: 'st', codeChallenge: s256Challenge(verifier), options: {} }));
  return oauth.exchange({ env, app, network, query, codeVerifier: verifier, options: {} });
}

const tokenCalls = () => sb.controls.requests.filter((r) => r.path === TOKEN).length;
const refusals = () => sb.controls.requests.filter((r) => r.path.startsWith('/services/data/') && r.status === 401).length;
const later = (minutes: number) => new Date(Date.now() + minutes * 60_000);

function client(credentials: Credentials, over: Parameters<typeof connect>[1] = {}) {
  return connect(sb, { credentials, ...over });
}

describe('Salesforce OAuth: consent and code exchange', () => {
  it('authorize URL (PKCE S256) -> consent -> callback -> exchange yields the 18-character org id from the signed identity URL and the instance URL', async () => {
    const { env, app } = await start();
    const verifier = randomBytes(32).toString('base64url');
    const url = new URL(oauth.authorizeUrl({ env, app, state: 'st-9', codeChallenge: s256Challenge(verifier), options: {} }));
    expect(url.origin + url.pathname).toBe(`${sb.url}/services/oauth2/authorize`);
    expect(url.searchParams.get('scope')).toBe('api refresh_token');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    const cb = await consent(url.toString());
    expect(cb.status).toBe(302);
    expect(cb.query.state).toBe('st-9');
    const grant = await oauth.exchange({ env, app, network, query: cb.query, codeVerifier: verifier, options: {} });
    expect(grant.accountId).toBe(id18(sb.controls.organizationId));
    expect(grant.baseUrl).toBe(sb.url);
    expect(grant.credentials.refreshToken).toBeTruthy();
    expect(grant.credentials.clientSecret).toBeUndefined();
    await expect(client(grant.credentials).whoami()).resolves.toEqual({ accountId: id18(sb.controls.organizationId) });
  });

  it('a wrong or missing PKCE verifier is refused, and the code is single-use', async () => {
    const { env, app } = await start();
    const verifier = randomBytes(32).toString('base64url');
    const { query } = await consent(oauth.authorizeUrl({ env, app, state: 's', codeChallenge: s256Challenge(verifier), options: {} }));
    const wrong = await caught(oauth.exchange({ env, app, network, query, codeVerifier: randomBytes(32).toString('base64url'), options: {} }));
    expect(wrong).toMatchObject({ code: 'VALIDATION', retryable: false });
    expect((await caught(oauth.exchange({ env, app, network, query, options: {} }))).code).toBe('VALIDATION');
    await oauth.exchange({ env, app, network, query, codeVerifier: verifier, options: {} });
    expect((await caught(oauth.exchange({ env, app, network, query, codeVerifier: verifier, options: {} }))).code).toBe('VALIDATION');
  });

  it('the consent page refuses a callback URL the connected app does not list and an unknown client, without redirecting', async () => {
    const { env, app } = await start();
    for (const bad of [{ ...app, redirectUri: 'https://evil.example/cb' }, { ...app, clientId: 'someone-else' }]) {
      const r = await consent(oauth.authorizeUrl({ env, app: bad, state: 's', codeChallenge: s256Challenge('x'.repeat(43)), options: {} }));
      expect(r.status).toBe(400);
      expect(r.query).toEqual({});
    }
  });

  it('login host: production from the environment, sandbox orgs at test.salesforce.com, My Domain as given; anything else refused', async () => {
    const { env, app } = await start();
    const host = (options: Record<string, unknown>) => new URL(oauth.authorizeUrl({ env, app, state: 's', options })).origin;
    expect(host({})).toBe(sb.url);
    expect(host({ loginUrl: 'sandbox' })).toBe('https://test.salesforce.com');
    expect(host({ loginUrl: 'https://acme.my.salesforce.com' })).toBe('https://acme.my.salesforce.com');
    expect(host({ loginUrl: 'https://acme--uat.sandbox.my.salesforce.com' })).toBe('https://acme--uat.sandbox.my.salesforce.com');
    for (const bad of [{ loginUrl: 'https://evil.example' }, { loginUrl: 'http://acme.my.salesforce.com' }, { loginUrl: 'https://my.salesforce.com.evil.example' }, { other: 1 }]) {
      expect(oauth.connectOptions.safeParse(bad).success).toBe(false);
    }
  });
});

describe('Salesforce OAuth: the session in a client', () => {
  it('renews once after a 401 (session timeout) and replays the call', async () => {
    const { env, app } = await start();
    const grant = await connectViaOAuth(env, app);
    const c = client({ ...grant.credentials, clientId: app.clientId, clientSecret: app.clientSecret });
    sb.controls.setClock(later(31));
    await expect(c.listPage(null, 10)).resolves.toMatchObject({ records: [] });
    expect(refusals()).toBe(1);
    expect(tokenCalls()).toBe(2);
  });

  it('keeps a rotated refresh token and refreshes with it next time', async () => {
    const { env, app } = await start({ rotateRefreshTokens: true });
    const grant = await connectViaOAuth(env, app);
    const saved: Credentials[] = [];
    const c = client({ ...grant.credentials, clientId: app.clientId, clientSecret: app.clientSecret }, { onCredentialsChanged: (cr) => void saved.push(cr) });
    sb.controls.setClock(later(31));
    await c.listPage(null, 10);
    sb.controls.setClock(later(62));
    await c.listPage(null, 10);
    expect(saved).toHaveLength(2);
    expect(saved[0]!.refreshToken).not.toBe(grant.credentials.refreshToken);
    expect(saved[1]!.refreshToken).not.toBe(saved[0]!.refreshToken);
  });

  it('revoke (idempotent) then refresh is AUTH_REVOKED; so is a client holding the revoked token', async () => {
    const { env, app } = await start();
    const grant = await connectViaOAuth(env, app);
    const call = { env, app, network, credentials: grant.credentials, baseUrl: grant.baseUrl };
    await oauth.revoke(call);
    await oauth.revoke(call);
    expect(await caught(oauth.refresh(call))).toMatchObject({ code: 'AUTH_REVOKED', retryable: false });
    const c = client({ ...grant.credentials, clientId: app.clientId, clientSecret: app.clientSecret });
    expect(await caught(c.listPage(null, 10))).toMatchObject({ code: 'AUTH_REVOKED', retryable: false });
  });

  it('a session expiring in the middle of a push batch costs one refresh, not the batch', async () => {
    const { env, app } = await start();
    const grant = await connectViaOAuth(env, app);
    const c = client({ ...grant.credentials, clientId: app.clientId, clientSecret: app.clientSecret });
    await c.prepare(['jazzaam']);
    sb.controls.afterRequest({ path: '/services/data/' }, () => sb.controls.setClock(later(31)));
    const results = await c.pushLeads(['a', 'b', 'c'].map((n) => lead(n, { email: `${n}@example.com`, lastName: n, company: 'Acme' })), 'jazzaam');
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    expect(refusals()).toBe(1);
    expect(sb.controls.listLeads()).toHaveLength(3);
  });

  it('a session expiring between the pages of an import costs one refresh', async () => {
    const { env, app } = await start();
    for (const n of ['a', 'b', 'c']) sb.controls.createLeadAsUser({ LastName: n, Company: 'Acme', Email: `${n}@example.com` });
    const grant = await connectViaOAuth(env, app);
    const c = client({ ...grant.credentials, clientId: app.clientId, clientSecret: app.clientSecret });
    const first = await c.listPage(null, 2);
    sb.controls.setClock(later(31));
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
    const c = client({ ...grant.credentials, clientId: app.clientId, clientSecret: app.clientSecret }, { tokens: keeper });
    const before = tokenCalls();
    sb.controls.setClock(later(31));
    await Promise.all([c.listPage(null, 10), c.listPage(null, 10), c.whoami()]);
    expect(renewals).toBe(1);
    expect(tokenCalls() - before).toBe(1);
  });

  it('a grant the keeper reports revoked reaches the caller as AUTH_REVOKED', async () => {
    const { env, app } = await start();
    const grant = await connectViaOAuth(env, app);
    await oauth.revoke({ env, app, network, credentials: grant.credentials, baseUrl: grant.baseUrl });
    const keeper: TokenKeeper = { renew: async () => (await oauth.refresh({ env, app, network, credentials: grant.credentials, baseUrl: grant.baseUrl })) };
    const c = client({ ...grant.credentials }, { tokens: keeper });
    expect(await caught(c.listPage(null, 10))).toMatchObject({ code: 'AUTH_REVOKED', retryable: false });
  });
});

describe('Salesforce OAuth: the network guard', () => {
  it('without allowLocalHosts a login host off Salesforce is refused before the code is sent', async () => {
    const { env, app } = await start();
    const verifier = randomBytes(32).toString('base64url');
    const { query } = await consent(oauth.authorizeUrl({ env, app, state: 's', codeChallenge: s256Challenge(verifier), options: {} }));
    const e = await caught(oauth.exchange({ env, app, network: {}, query, codeVerifier: verifier, options: {} }));
    expect(e.code).toBe('DESTINATION_REFUSED');
    expect(tokenCalls()).toBe(0);
  });
});

describe('Salesforce OAuth: a refresh naming a foreign host', () => {
  it("keeps the new tokens and the stored host when a refresh's instance_url is not a Salesforce host (the refresh happened: its tokens must not be lost)", async () => {
    const { env, app } = await start({ tokenInstanceUrl: 'https://10.0.0.1' });
    const c = sb.controls.credentials();
    const grant = await oauth.refresh({ env, app, network, credentials: { accessToken: 'stale', refreshToken: c.refreshToken }, baseUrl: sb.url });
    expect(grant.baseUrl).toBe(sb.url);
    expect(grant.credentials.accessToken).not.toBe('stale');
    expect(grant.credentials.refreshToken).toBe(c.refreshToken);
    // The token it answered works against the stored host.
    const client = salesforceAdapter.connect({ baseUrl: grant.baseUrl, accountId: '', credentials: { accessToken: grant.credentials.accessToken }, settings: {}, network });
    expect((await client.whoami()).accountId).toBeTruthy();
  });
});
