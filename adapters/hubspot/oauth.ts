// Connecting HubSpot through OAuth 2.0 (authorization code grant), on HubSpot's date-versioned
// OAuth API. HubSpot's changelog ("v1 OAuth API Deprecation") retires the v1 endpoints
// (/oauth/v1/token, /oauth/v1/access-tokens/{token}, DELETE /oauth/v1/refresh-tokens/{token})
// on 2027-02-16 for POST /oauth/2026-03/token, /token/introspect and /token/revoke, which
// take every parameter in a form body (never a token in a path or a query).
//
// - Consent: `https://app.hubspot.com/oauth/authorize?client_id&scope&redirect_uri&state`
//   (developers.hubspot.com, "Initiating OAuth access": the install URL carries client_id,
//   redirect_uri and scopes, optionally optional_scopes and state). The scopes requested must
//   match the app's configured required scopes. No PKCE is needed for a confidential client.
// - Token: POST /oauth/2026-03/token, grant_type authorization_code (code, redirect_uri) or
//   refresh_token; "Access tokens are short lived; check expires_in" (30 minutes since the
//   changelog "Expiration of OAuth access tokens is changing"). Errors follow RFC 6749
//   (`error`, `error_description`) and keep HubSpot's `status`/`message` (changelog "New
//   OAuth v3 API Endpoints and Standardized Error Responses": invalid_grant /
//   BAD_REFRESH_TOKEN for a refresh token that is "invalid, expired or revoked").
// - The account: token introspection names the Hub ID (`hub_id`) the token belongs to, as
//   the v1 token metadata did ("the Hub ID that the token is associated with").
// - Revocation: POST /oauth/2026-03/token/revoke with the refresh token.
import { z } from 'zod';
import { CrmError, type CrmOAuth, type Credentials, type OAuthApp, type OAuthCallOptions, type OAuthGrant } from '../contract.ts';
import { HostAllowList } from '../kit/net-guard.ts';
import { expiryFrom, oauthOrigin, oauthRequest, urlWithQuery, type OAuthHttpAnswer } from '../kit/oauth.ts';
import { HUBSPOT_API_HOSTS } from './hosts.ts';
import { translateError, translateTokenError } from './errors.ts';

/** The settings of hubspotEnv this file reads (index.ts declares them). */
export type HubSpotOAuthEnv = {
  HUBSPOT_CLIENT_ID?: string;
  HUBSPOT_CLIENT_SECRET?: string;
  HUBSPOT_AUTHORIZE_URL: string;
  HUBSPOT_API_BASE_URL: string;
};

/**
 * Minimal scopes (developers.hubspot.com, scopes): read and write contacts, and
 * crm.schemas.contacts.write to create the `lead_source_system` contact property; `oauth`
 * is the basic scope every OAuth app has.
 */
export const HUBSPOT_SCOPES = ['oauth', 'crm.objects.contacts.read', 'crm.objects.contacts.write', 'crm.schemas.contacts.write'] as const;

/** HubSpot's consent pages live on app.hubspot.com (and app-eu1.hubspot.com for EU accounts). */
export const HUBSPOT_AUTHORIZE_HOSTS: readonly string[] = ['app.hubspot.com', 'app-eu1.hubspot.com'];

export const OAUTH_VERSION = '2026-03';
const API_HOSTS = new HostAllowList(HUBSPOT_API_HOSTS);
const PROVIDER = 'HUBSPOT' as const;

const tokenAnswer = z.looseObject({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1).optional(),
  expires_in: z.union([z.number(), z.string()]).optional(),
});

const introspection = z.looseObject({
  active: z.boolean().optional(),
  hub_id: z.union([z.number().int().positive(), z.string().regex(/^\d{1,20}$/)]),
  hub_domain: z.string().optional(),
});

type Opts = OAuthCallOptions<HubSpotOAuthEnv>;

function apiBase(o: Opts): string {
  try {
    return oauthOrigin(o.env.HUBSPOT_API_BASE_URL, API_HOSTS, o.network);
  } catch (e) {
    throw translateError(e, 'OAuth API host');
  }
}

async function post(o: Opts, path: string, form: Record<string, string | undefined>, what: string): Promise<OAuthHttpAnswer> {
  const url = `${apiBase(o)}/oauth/${OAUTH_VERSION}${path}`;
  try {
    return await oauthRequest(url, { method: 'POST', form }, { hosts: API_HOSTS, network: o.network, timeoutMs: o.callTimeoutMs }, () =>
      new CrmError('NETWORK', `HubSpot ${what}: no answer in time`, { provider: PROVIDER }),
    );
  } catch (e) {
    throw translateError(e, what);
  }
}

function parsed<S extends z.ZodType>(schema: S, a: OAuthHttpAnswer, what: string): z.infer<S> {
  const r = schema.safeParse(a.body);
  if (!r.success) throw new CrmError('UPSTREAM', `HubSpot ${what}: unexpected answer`, { provider: PROVIDER, status: a.status, cause: r.error, retryable: false });
  return r.data;
}

/** The token endpoint's answer as stored credentials (a refresh that names no refresh token keeps the old one). */
function grantCredentials(a: z.infer<typeof tokenAnswer>, previous: Credentials = {}): Credentials {
  return {
    accessToken: a.access_token,
    refreshToken: a.refresh_token ?? previous.refreshToken ?? undefined,
    expiresAt: expiryFrom(a.expires_in),
  };
}

async function token(o: Opts, form: Record<string, string | undefined>, what: string): Promise<z.infer<typeof tokenAnswer>> {
  const a = await post(o, '/token', { ...form, client_id: o.app.clientId, client_secret: o.app.clientSecret }, what);
  if (a.status !== 200) throw translateTokenError(a.status, a.body, a.headers, what, form.grant_type === 'refresh_token' ? 'refresh' : 'code');
  return parsed(tokenAnswer, a, what);
}

export const hubspotOAuth: CrmOAuth<HubSpotOAuthEnv> = {
  scopes: HUBSPOT_SCOPES,
  pkce: false,
  connectOptions: z.strictObject({}),
  app(env, redirectUri): OAuthApp | null {
    if (!env.HUBSPOT_CLIENT_ID || !env.HUBSPOT_CLIENT_SECRET) return null;
    return { clientId: env.HUBSPOT_CLIENT_ID, clientSecret: env.HUBSPOT_CLIENT_SECRET, redirectUri };
  },
  authorizeUrl({ env, app, state }) {
    return urlWithQuery(env.HUBSPOT_AUTHORIZE_URL, '/oauth/authorize', {
      client_id: app.clientId,
      scope: HUBSPOT_SCOPES.join(' '),
      redirect_uri: app.redirectUri,
      state,
    });
  },
  async exchange(o) {
    const code = o.query.code;
    if (!code) {
      throw new CrmError('VALIDATION', `HubSpot consent was not given${o.query.error ? ` (${o.query.error.slice(0, 60)})` : ''}`, { provider: PROVIDER, retryable: false });
    }
    const t = await token(o, { grant_type: 'authorization_code', code, redirect_uri: o.app.redirectUri }, 'code exchange');
    const credentials = grantCredentials(t);
    if (!credentials.refreshToken) throw new CrmError('UPSTREAM', 'HubSpot code exchange answered no refresh token', { provider: PROVIDER, retryable: false });
    const info = await post(o, '/token/introspect', {
      client_id: o.app.clientId,
      client_secret: o.app.clientSecret,
      token: t.access_token,
      token_type_hint: 'access_token',
    }, 'token introspection');
    if (info.status !== 200) throw translateTokenError(info.status, info.body, info.headers, 'token introspection', 'other');
    const meta = parsed(introspection, info, 'token introspection');
    if (meta.active === false) throw new CrmError('AUTH_REVOKED', 'HubSpot says the new access token is not active', { provider: PROVIDER });
    return {
      credentials,
      baseUrl: apiBase(o),
      accountId: String(meta.hub_id),
      ...(meta.hub_domain ? { accountName: meta.hub_domain } : {}),
    };
  },
  async refresh(o): Promise<OAuthGrant> {
    const refreshToken = o.credentials.refreshToken;
    if (!refreshToken) throw new CrmError('AUTH_REVOKED', 'HubSpot: no refresh token stored; connect again', { provider: PROVIDER });
    const t = await token(o, { grant_type: 'refresh_token', refresh_token: refreshToken, redirect_uri: o.app.redirectUri || undefined }, 'token refresh');
    return { credentials: { ...o.credentials, ...grantCredentials(t, o.credentials) }, baseUrl: o.baseUrl };
  },
  async revoke(o) {
    const refreshToken = o.credentials.refreshToken;
    if (!refreshToken) return;
    const a = await post(o, '/token/revoke', {
      client_id: o.app.clientId,
      client_secret: o.app.clientSecret,
      token: refreshToken,
      token_type_hint: 'refresh_token',
    }, 'token revocation');
    if (a.status >= 200 && a.status < 300) return;
    const err = translateTokenError(a.status, a.body, a.headers, 'token revocation', 'refresh');
    // Already revoked (or never known): what revoke wanted is true.
    if (err.code === 'AUTH_REVOKED') return;
    throw err;
  },
};

/** A self-refresh for clients given no TokenKeeper: needs the stored refresh token and client credentials. */
export function selfRefresh(credentials: Credentials, o: Omit<Opts, 'app' | 'env'> & { apiBaseUrl: string }): ((c: Credentials) => Promise<{ credentials: Credentials }>) | null {
  const { refreshToken, clientId, clientSecret } = credentials;
  if (!refreshToken || !clientId || !clientSecret) return null;
  return async (c) => {
    const g = await hubspotOAuth.refresh({
      env: { HUBSPOT_API_BASE_URL: o.apiBaseUrl, HUBSPOT_AUTHORIZE_URL: 'https://app.hubspot.com' },
      app: { clientId, clientSecret, redirectUri: '' },
      network: o.network,
      callTimeoutMs: o.callTimeoutMs,
      logger: o.logger,
      credentials: c,
      baseUrl: o.apiBaseUrl,
    });
    return { credentials: g.credentials };
  };
}
