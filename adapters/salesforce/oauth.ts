// Connecting Salesforce through OAuth 2.0: the web server flow with PKCE (help.salesforce.com,
// "OAuth 2.0 Web Server Flow for Web App Integration": "We recommend that you use the web
// server flow with Proof Key for Code Exchange (PKCE)"; code_challenge is the base64url
// SHA-256 of the code_verifier sent with the token request).
//
// - Consent: <login host>/services/oauth2/authorize?response_type=code&client_id&redirect_uri
//   &scope&state&code_challenge&code_challenge_method=S256. The login host is
//   login.salesforce.com for production, test.salesforce.com for sandboxes, or the org's
//   My Domain (https://<name>.my.salesforce.com).
// - Token: POST <login host>/services/oauth2/token (grant_type authorization_code with code,
//   redirect_uri, code_verifier, client_id, client_secret). The answer names `instance_url`
//   (the API host of the org) and `id`, the identity URL https://<login host>/id/<orgId>/<userId>:
//   the organization the token belongs to. `signature` is Base64(HMAC-SHA256(client secret,
//   id + issued_at)), checked here so the identity URL is the one Salesforce signed.
//   Salesforce names no expiry (the session lives as the org's session timeout says): the
//   client renews on 401.
// - Refresh: POST <instance>/services/oauth2/token, grant_type refresh_token; invalid_grant
//   ("expired access/refresh token": revoked, user deactivated) is AUTH_REVOKED.
// - Revoke: POST <instance>/services/oauth2/revoke token=<refresh token>; "If a refresh token
//   is included, Salesforce revokes it and any associated access tokens"; 200 on success, 400
//   invalid_token for a token that is not valid (already revoked: success here).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { CrmError, type CrmOAuth, type Credentials, type OAuthCallOptions, type OAuthGrant } from '../contract.ts';
import { HostAllowList } from '../kit/net-guard.ts';
import { oauthOrigin, oauthRequest, refreshedHost, urlWithQuery, type OAuthHttpAnswer } from '../kit/oauth.ts';
import { SALESFORCE_HOSTS } from './connection.ts';
import { toCrmError, translateTokenError } from './errors.ts';
import { id18, isSalesforceId } from './mappers.ts';

export type SalesforceOAuthEnv = {
  SALESFORCE_CLIENT_ID?: string;
  SALESFORCE_CLIENT_SECRET?: string;
  SALESFORCE_LOGIN_URL: string;
};

/** `api` for the REST API, `refresh_token` (alias offline_access) for a refresh token. */
export const SALESFORCE_SCOPES = ['api', 'refresh_token'] as const;
export const SANDBOX_LOGIN_URL = 'https://test.salesforce.com';

const HOSTS = new HostAllowList(SALESFORCE_HOSTS);
const MY_DOMAIN = /^https:\/\/[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?(?:--[a-z0-9]+)?(?:\.sandbox)?\.my\.salesforce\.com\/?$/i;
const PROVIDER = 'SALESFORCE' as const;

/** Where the customer logs in: production, a sandbox org, or the org's My Domain. */
export const salesforceConnectOptions = z.strictObject({
  loginUrl: z
    .string()
    .trim()
    .refine((v) => v === 'production' || v === 'sandbox' || MY_DOMAIN.test(v), 'must be production, sandbox or a My Domain URL (https://<name>.my.salesforce.com)')
    .optional(),
});

type Opts = OAuthCallOptions<SalesforceOAuthEnv>;

/** The login host of a connection: the environment's for production (the sandbox in tests), test.salesforce.com, or My Domain. */
export function loginHost(env: SalesforceOAuthEnv, options: Record<string, unknown>): string {
  const o = salesforceConnectOptions.parse(options);
  const v = o.loginUrl ?? 'production';
  if (v === 'production') return env.SALESFORCE_LOGIN_URL.replace(/\/+$/, '');
  if (v === 'sandbox') return SANDBOX_LOGIN_URL;
  return v.replace(/\/+$/, '').toLowerCase();
}

const tokenAnswer = z.looseObject({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1).optional(),
  instance_url: z.string().min(1),
  id: z.string().optional(),
  issued_at: z.string().optional(),
  signature: z.string().optional(),
});

function origin(raw: string, o: Pick<Opts, 'network'>, what: string): string {
  try {
    return oauthOrigin(raw, HOSTS, o.network);
  } catch (e) {
    throw toCrmError(e, undefined, what);
  }
}

async function post(o: Opts, url: string, form: Record<string, string | undefined>, what: string): Promise<OAuthHttpAnswer> {
  try {
    return await oauthRequest(url, { method: 'POST', form }, { hosts: HOSTS, network: o.network, timeoutMs: o.callTimeoutMs }, () =>
      new CrmError('NETWORK', `Salesforce ${what}: no answer in time`, { provider: PROVIDER }),
    );
  } catch (e) {
    throw toCrmError(e, undefined, what);
  }
}

async function token(o: Opts, host: string, form: Record<string, string | undefined>, grant: 'code' | 'refresh') {
  const what = grant === 'code' ? 'code exchange' : 'token refresh';
  const a = await post(o, `${host}/services/oauth2/token`, { ...form, client_id: o.app.clientId, client_secret: o.app.clientSecret }, what);
  if (a.status !== 200) throw translateTokenError(a.status, a.body, grant);
  const r = tokenAnswer.safeParse(a.body);
  if (!r.success) throw new CrmError('UPSTREAM', `Salesforce ${what}: unexpected answer`, { provider: PROVIDER, status: a.status, cause: r.error, retryable: false });
  return r.data;
}

/** The organization of the identity URL `.../id/<orgId>/<userId>`, after checking Salesforce's signature of it. */
function organizationOf(t: z.infer<typeof tokenAnswer>, clientSecret: string): string {
  const bad = (why: string) => new CrmError('UPSTREAM', `Salesforce code exchange: ${why}`, { provider: PROVIDER, retryable: false });
  if (!t.id || !t.issued_at || !t.signature) throw bad('the answer names no signed identity URL');
  const expected = createHmac('sha256', clientSecret).update(t.id + t.issued_at).digest();
  const given = Buffer.from(t.signature, 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw bad('the identity URL signature does not match');
  let parts: string[];
  try {
    parts = new URL(t.id).pathname.split('/').filter(Boolean);
  } catch {
    throw bad('the identity URL is not a URL');
  }
  const org = parts.length === 3 && parts[0] === 'id' ? parts[1]! : '';
  if (!isSalesforceId(org) || !org.startsWith('00D')) throw bad('the identity URL names no organization');
  return id18(org);
}

export const salesforceOAuth: CrmOAuth<SalesforceOAuthEnv> = {
  scopes: SALESFORCE_SCOPES,
  pkce: true,
  connectOptions: salesforceConnectOptions,
  app(env, redirectUri) {
    if (!env.SALESFORCE_CLIENT_ID || !env.SALESFORCE_CLIENT_SECRET) return null;
    return { clientId: env.SALESFORCE_CLIENT_ID, clientSecret: env.SALESFORCE_CLIENT_SECRET, redirectUri };
  },
  authorizeUrl({ env, app, state, codeChallenge, options }) {
    return urlWithQuery(loginHost(env, options), '/services/oauth2/authorize', {
      response_type: 'code',
      client_id: app.clientId,
      redirect_uri: app.redirectUri,
      scope: SALESFORCE_SCOPES.join(' '),
      state,
      code_challenge: codeChallenge,
      code_challenge_method: codeChallenge ? 'S256' : undefined,
    });
  },
  async exchange(o) {
    const code = o.query.code;
    if (!code) {
      const why = o.query.error ? ` (${o.query.error.slice(0, 60)})` : '';
      throw new CrmError('VALIDATION', `Salesforce consent was not given${why}`, { provider: PROVIDER, retryable: false });
    }
    const host = origin(loginHost(o.env, o.options), o, 'login host');
    const t = await token(o, host, { grant_type: 'authorization_code', code, redirect_uri: o.app.redirectUri, code_verifier: o.codeVerifier }, 'code');
    if (!t.refresh_token) throw new CrmError('UPSTREAM', 'Salesforce code exchange answered no refresh token (is refresh_token among the connected app scopes?)', { provider: PROVIDER, retryable: false });
    const accountId = organizationOf(t, o.app.clientSecret);
    const baseUrl = origin(t.instance_url, o, 'instance URL');
    const credentials: Credentials = { accessToken: t.access_token, refreshToken: t.refresh_token, issuedAt: issued(t.issued_at) };
    return { credentials, baseUrl, accountId };
  },
  async refresh(o): Promise<OAuthGrant> {
    const refreshToken = o.credentials.refreshToken;
    if (!refreshToken) throw new CrmError('AUTH_REVOKED', 'Salesforce: no refresh token stored; connect again', { provider: PROVIDER });
    const host = origin(o.baseUrl, o, 'instance URL');
    const t = await token(o, host, { grant_type: 'refresh_token', refresh_token: refreshToken }, 'refresh');
    const baseUrl = refreshedHost(() => origin(t.instance_url, o, 'instance URL'), host, o.logger, 'instance_url');
    return {
      credentials: { ...o.credentials, accessToken: t.access_token, refreshToken: t.refresh_token ?? refreshToken, issuedAt: issued(t.issued_at), expiresAt: undefined },
      baseUrl,
    };
  },
  async revoke(o) {
    const refreshToken = o.credentials.refreshToken;
    if (!refreshToken) return;
    const host = origin(o.baseUrl, o, 'instance URL');
    const a = await post(o, `${host}/services/oauth2/revoke`, { token: refreshToken }, 'token revocation');
    if (a.status === 200) return;
    const err = translateTokenError(a.status, a.body, 'revoke');
    if (err.code === 'AUTH_REVOKED') return; // not valid any more: already revoked
    throw err;
  },
};

function issued(raw: string | undefined): string {
  const n = Number(raw);
  return new Date(Number.isFinite(n) && n > 0 ? n : Date.now()).toISOString();
}
