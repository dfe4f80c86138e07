// Connecting Zoho CRM through OAuth 2.0 (authorization code grant, server-based client),
// with Zoho's multi data centre flow (zoho.com/accounts, "Using Multi DC in server and
// client-based apps"):
// - Consent: <accounts>/oauth/v2/auth?scope=<comma-separated>&client_id&response_type=code
//   &access_type=offline&prompt=consent&redirect_uri&state. access_type=offline asks for a
//   refresh token, which Zoho gives "only the first time" unless prompt=consent is sent too.
//   accounts.zoho.com serves every data centre's users (multi DC enabled for the client).
// - The callback names the user's data centre: `location` (us, eu, in, ...) and
//   `accounts-server` (e.g. https://accounts.zoho.eu); "make the access token request to
//   the server URL corresponding to that location". The accounts server is accepted only
//   when it is a Zoho accounts host (of the location named) or the configured one.
// - Token: POST <accounts-server>/oauth/v2/token (grant_type authorization_code with code,
//   redirect_uri, client_id, client_secret). The answer names `api_domain` (the API host of
//   the user's data centre) and expires_in (3600). Errors come as HTTP 200 `{"error": ...}`.
// - The org: GET <api_domain>/crm/v7/org (scope ZohoCRM.org.READ), its `zgid`.
// - Revoke: POST <accounts>/oauth/v2/token/revoke with the refresh token ("all the access
//   tokens that are generated using it also get revoked"); 400 for a token not valid.
import { z } from 'zod';
import { CrmError, type CrmOAuth, type Credentials, type OAuthCallOptions, type OAuthGrant } from '../contract.ts';
import { HostAllowList } from '../kit/net-guard.ts';
import { expiryFrom, oauthOrigin, oauthRequest, refreshedHost, urlWithQuery, type OAuthHttpAnswer } from '../kit/oauth.ts';
import { connectZoho } from './client.ts';
import { networkError, translateTokenError } from './errors.ts';
import { accountsUrlForApiDomain, ZOHO_ACCOUNTS_HOSTS, ZOHO_API_HOSTS, ZOHO_REGIONS, type ZohoRegion } from './http.ts';

export type ZohoOAuthEnv = {
  ZOHO_CLIENT_ID?: string;
  ZOHO_CLIENT_SECRET?: string;
  ZOHO_ACCOUNTS_URL: string;
};

/**
 * Minimal scopes (Zoho CRM "Scopes": service.scope.operation): the Leads module, field
 * settings (the origin picklist), notifications (the watch channel) and reading the org (its id).
 */
export const ZOHO_SCOPES = ['ZohoCRM.modules.leads.ALL', 'ZohoCRM.settings.fields.ALL', 'ZohoCRM.notifications.ALL', 'ZohoCRM.org.READ'] as const;

const REGIONS = Object.keys(ZOHO_REGIONS) as ZohoRegion[];
const API_HOSTS = new HostAllowList(ZOHO_API_HOSTS);
const ACCOUNTS_HOSTS = new HostAllowList(ZOHO_ACCOUNTS_HOSTS);
const PROVIDER = 'ZOHO' as const;

export const zohoConnectOptions = z.strictObject({
  /** The data centre the customer's Zoho account lives in, when they know it (else Zoho tells us after consent). */
  dataCentre: z.enum(REGIONS as [ZohoRegion, ...ZohoRegion[]]).optional(),
});

type Opts = OAuthCallOptions<ZohoOAuthEnv>;

const tokenAnswer = z.looseObject({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1).optional(),
  api_domain: z.string().min(1).optional(),
  expires_in: z.union([z.number(), z.string()]).optional(),
});

function invalid(message: string): CrmError {
  return new CrmError('VALIDATION', `Zoho: ${message}`, { provider: PROVIDER, retryable: false });
}

/** Where the consent page is: the chosen data centre's accounts server, else the configured one. */
function authorizeHost(env: ZohoOAuthEnv, options: Record<string, unknown>): string {
  const o = zohoConnectOptions.parse(options);
  return o.dataCentre ? ZOHO_REGIONS[o.dataCentre].accountsUrl : env.ZOHO_ACCOUNTS_URL.replace(/\/+$/, '');
}

/** The accounts server the callback names, when it may receive our code and client secret. */
function accountsServer(o: Opts & { query: Record<string, string>; options: Record<string, unknown> }): string {
  const configured = authorizeHost(o.env, o.options);
  const named = o.query['accounts-server'];
  if (!named) return configured;
  let origin: string;
  try {
    origin = new URL(named).origin;
  } catch {
    throw invalid('the callback names an accounts-server that is not a URL');
  }
  if (origin === new URL(configured).origin) return origin;
  const region = REGIONS.find((r) => ZOHO_REGIONS[r].accountsUrl === origin);
  if (!region) throw invalid('the callback names an accounts-server that is not a Zoho accounts host');
  const location = o.query.location?.toUpperCase();
  if (location && location !== region) throw invalid("the callback's location and accounts-server disagree");
  const chosen = zohoConnectOptions.parse(o.options).dataCentre;
  if (chosen && chosen !== region) throw invalid(`the account lives in the ${region} data centre, not ${chosen}`);
  return origin;
}

async function post(o: Pick<Opts, 'network' | 'callTimeoutMs'>, url: string, form: Record<string, string | undefined>, what: string): Promise<OAuthHttpAnswer> {
  try {
    return await oauthRequest(url, { method: 'POST', form }, { hosts: ACCOUNTS_HOSTS, network: o.network, timeoutMs: o.callTimeoutMs }, () =>
      new CrmError('NETWORK', `Zoho ${what}: no answer in time`, { provider: PROVIDER }),
    );
  } catch (e) {
    throw e instanceof CrmError ? e : networkError(e, `POST ${url}`);
  }
}

function checked(raw: string, hosts: HostAllowList, o: Pick<Opts, 'network'>, what: string): string {
  try {
    return oauthOrigin(raw, hosts, o.network);
  } catch (e) {
    throw networkError(e, what);
  }
}

async function token(o: Opts, accounts: string, form: Record<string, string | undefined>, grant: 'code' | 'refresh') {
  const url = `${checked(accounts, ACCOUNTS_HOSTS, o, 'accounts server')}/oauth/v2/token`;
  const a = await post(o, url, { ...form, client_id: o.app.clientId, client_secret: o.app.clientSecret }, grant === 'code' ? 'code exchange' : 'token refresh');
  const r = tokenAnswer.safeParse(a.body);
  if (a.status !== 200 || !r.success || a.body?.error !== undefined) throw translateTokenError(a.status, a.body, a.headers, grant);
  return r.data;
}

export const zohoOAuth: CrmOAuth<ZohoOAuthEnv> = {
  scopes: ZOHO_SCOPES,
  pkce: false,
  connectOptions: zohoConnectOptions,
  app(env, redirectUri) {
    if (!env.ZOHO_CLIENT_ID || !env.ZOHO_CLIENT_SECRET) return null;
    return { clientId: env.ZOHO_CLIENT_ID, clientSecret: env.ZOHO_CLIENT_SECRET, redirectUri };
  },
  authorizeUrl({ env, app, state, options }) {
    return urlWithQuery(authorizeHost(env, options), '/oauth/v2/auth', {
      scope: ZOHO_SCOPES.join(','),
      client_id: app.clientId,
      response_type: 'code',
      access_type: 'offline',
      prompt: 'consent',
      redirect_uri: app.redirectUri,
      state,
    });
  },
  async exchange(o) {
    const code = o.query.code;
    if (!code) throw invalid(`consent was not given${o.query.error ? ` (${o.query.error.slice(0, 60)})` : ''}`);
    const accounts = accountsServer(o);
    const t = await token(o, accounts, { grant_type: 'authorization_code', code, redirect_uri: o.app.redirectUri }, 'code');
    if (!t.refresh_token) throw new CrmError('UPSTREAM', 'Zoho code exchange answered no refresh token', { provider: PROVIDER, retryable: false });
    if (!t.api_domain) throw new CrmError('UPSTREAM', 'Zoho code exchange answered no api_domain', { provider: PROVIDER, retryable: false });
    const baseUrl = checked(t.api_domain, API_HOSTS, o, 'api_domain');
    const credentials: Credentials = { accessToken: t.access_token, refreshToken: t.refresh_token, expiresAt: expiryFrom(t.expires_in ?? 3600), accountsUrl: accounts, apiDomain: baseUrl };
    // The token is seconds old: the org is asked with it as it is (no expiry, nothing to renew it).
    const fresh = { accessToken: t.access_token };
    const { accountId } = await connectZoho({ baseUrl, accountId: '', credentials: fresh, settings: {}, network: o.network, callTimeoutMs: o.callTimeoutMs, logger: o.logger }).whoami();
    return { credentials, baseUrl, accountId };
  },
  async refresh(o): Promise<OAuthGrant> {
    const refreshToken = o.credentials.refreshToken;
    if (!refreshToken) throw new CrmError('AUTH_REVOKED', 'Zoho: no refresh token stored; connect again', { provider: PROVIDER });
    const accounts = o.credentials.accountsUrl || accountsUrlForApiDomain(o.baseUrl);
    if (!accounts) throw new CrmError('AUTH_EXPIRED', 'Zoho: the accounts host of this integration is unknown; store credentials.accountsUrl', { provider: PROVIDER, retryable: false });
    const t = await token(o, accounts, { grant_type: 'refresh_token', refresh_token: refreshToken }, 'refresh');
    const apiDomain = t.api_domain;
    const baseUrl = apiDomain ? refreshedHost(() => checked(apiDomain, API_HOSTS, o, 'api_domain'), o.baseUrl, o.logger, 'api_domain') : o.baseUrl;
    return {
      credentials: { ...o.credentials, accessToken: t.access_token, refreshToken: t.refresh_token ?? refreshToken, expiresAt: expiryFrom(t.expires_in ?? 3600), apiDomain: baseUrl },
      baseUrl,
    };
  },
  async revoke(o) {
    const refreshToken = o.credentials.refreshToken;
    if (!refreshToken) return;
    const accounts = o.credentials.accountsUrl || accountsUrlForApiDomain(o.baseUrl);
    if (!accounts) throw new CrmError('AUTH_EXPIRED', 'Zoho: the accounts host of this integration is unknown', { provider: PROVIDER, retryable: false });
    const a = await post(o, `${checked(accounts, ACCOUNTS_HOSTS, o, 'accounts server')}/oauth/v2/token/revoke`, { token: refreshToken }, 'token revocation');
    if (a.status === 200 && a.body?.error === undefined) return;
    const err = translateTokenError(a.status, a.body, a.headers, 'revoke');
    if (err.code === 'AUTH_REVOKED') return; // not valid any more: already revoked
    throw err;
  },
};
