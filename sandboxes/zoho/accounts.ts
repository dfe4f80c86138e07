// The Zoho sandbox's accounts server, as Zoho Accounts documents it (zoho.com/accounts,
// "OAuth 2.0", "Using Multi DC in server and client-based apps", "Revoke OAuth tokens"):
// - GET /oauth/v2/auth: client_id, response_type=code, redirect_uri (an authorized redirect
//   URI of the client), scope (comma-separated service.scope.operation), access_type
//   (offline: a refresh token comes with the first access token), prompt=consent, state.
//   Consent is automatic here: a valid request answers 302 to the redirect URI with `code`,
//   `state`, and the user's data centre as `location` and `accounts-server` (multi-DC:
//   "the location of the user's DC will be included as the parameter location"). An
//   unknown client, an unregistered redirect URI or an unknown scope is an error page.
// - POST /oauth/v2/token: authorization_code and refresh_token grants. Errors come with
//   HTTP 200 and `{"error": ...}` (invalid_client, invalid_code, ...). Access tokens live
//   one hour (expires_in 3600; configurable here, on the sandbox clock).
// - POST /oauth/v2/token/revoke?token=: "If a refresh token is revoked, all the access
//   tokens that are generated using it also get revoked"; `{"status":"success"}`, 400 for
//   a token that is not valid.
// - API calls: `Authorization: Zoho-oauthtoken <token>`, refused with 401 INVALID_TOKEN.
import { randomBytes } from 'node:crypto';
import { errorBody, type Reply } from './api.ts';
import type { LeadsState } from './state.ts';

export interface AccountsOptions {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  /** `api_domain` the token endpoint answers. */
  apiDomain: () => string;
  /** This accounts server's own URL (the `accounts-server` of a consent redirect). */
  accountsUrl: () => string;
  /** Authorized redirect URIs of the client (exact match). */
  redirectUris?: string[];
  /** The user's data centre as the consent redirect names it (`location`); default us. */
  location?: string;
  accessTokenTtlSeconds?: number;
}

/** The scopes this CRM org knows (what a request may ask for). */
const KNOWN_SCOPES = /^ZohoCRM\.(modules(\.[a-z_]+)?|settings(\.[a-z_]+)?|notifications|org|users)\.(ALL|READ|CREATE|UPDATE|DELETE|WRITE)$/;
const CODE_TTL_MS = 2 * 60_000;

const newToken = () => `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;

export class Accounts {
  /** access token -> expiry (sandbox clock, ms) and the refresh token that issued it */
  private readonly tokens = new Map<string, { expires: number; refresh: string | null }>();
  private readonly refreshTokens = new Set<string>();
  private readonly codes = new Map<string, { redirectUri: string; scopes: string[]; offline: boolean; expires: number; used: boolean }>();
  tokenCalls = 0;
  ttlSeconds: number;
  /** Faults the next token calls answer with, in order. */
  readonly faults: Array<'invalid_code' | 'server_error'> = [];

  constructor(
    private readonly state: LeadsState,
    private readonly o: AccountsOptions,
  ) {
    this.refreshTokens.add(o.refreshToken);
    this.ttlSeconds = o.accessTokenTtlSeconds ?? 3600;
  }

  issue(ttlSeconds = this.ttlSeconds, refresh: string | null = null): { accessToken: string; expiresAt: string } {
    const accessToken = newToken();
    const expiresAt = this.state.now() + ttlSeconds * 1000;
    this.tokens.set(accessToken, { expires: expiresAt, refresh });
    return { accessToken, expiresAt: new Date(expiresAt).toISOString() };
  }

  expireAll(): void {
    this.tokens.clear();
  }

  /** The user revokes the client's access in their Zoho account: every token stops working. */
  revokeAll(): void {
    this.refreshTokens.clear();
    this.tokens.clear();
  }

  /** GET /oauth/v2/auth: automatic consent. */
  authorize(q: URLSearchParams): Reply {
    const page = (error: string) => ({ status: 400, body: { error } });
    if (q.get('client_id') !== this.o.clientId) return page('invalid_client');
    const redirectUri = q.get('redirect_uri') ?? '';
    if (!(this.o.redirectUris ?? []).includes(redirectUri)) return page('invalid_redirect_uri');
    if (q.get('response_type') !== 'code') return page('unsupported_response_type');
    const scopes = (q.get('scope') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    if (scopes.length === 0 || scopes.some((s) => !KNOWN_SCOPES.test(s))) return page('invalid_scope');
    const code = newToken();
    this.codes.set(code, { redirectUri, scopes, offline: q.get('access_type') === 'offline', expires: this.state.now() + CODE_TTL_MS, used: false });
    const to = new URL(redirectUri);
    to.searchParams.set('code', code);
    const st = q.get('state');
    if (st !== null) to.searchParams.set('state', st);
    to.searchParams.set('location', this.o.location ?? 'us');
    to.searchParams.set('accounts-server', this.o.accountsUrl());
    return { status: 302, body: undefined, headers: { location: to.toString() } };
  }

  private answer(refresh: string | null, scopes: string[], withRefresh: boolean): Reply {
    const { accessToken } = this.issue(this.ttlSeconds, refresh);
    const body: Record<string, unknown> = {
      access_token: accessToken,
      scope: scopes.join(' '),
      api_domain: this.o.apiDomain(),
      token_type: 'Bearer',
      expires_in: this.ttlSeconds,
    };
    if (withRefresh && refresh) body.refresh_token = refresh;
    return { status: 200, body };
  }

  /** POST /oauth/v2/token. Zoho's accounts server answers its errors with HTTP 200 and an `error` key. */
  token(params: URLSearchParams): Reply {
    this.tokenCalls++;
    const fault = this.faults.shift();
    if (fault === 'server_error') return { status: 500, body: { error: 'internal_error' } };
    if (fault === 'invalid_code') return { status: 200, body: { error: 'invalid_code' } };
    const grant = params.get('grant_type');
    if (grant !== 'refresh_token' && grant !== 'authorization_code') return { status: 200, body: { error: 'unsupported_grant_type' } };
    if (params.get('client_id') !== this.o.clientId || params.get('client_secret') !== this.o.clientSecret) {
      return { status: 200, body: { error: 'invalid_client' } };
    }
    if (grant === 'authorization_code') {
      const c = this.codes.get(params.get('code') ?? '');
      if (!c || c.used || c.expires <= this.state.now()) return { status: 200, body: { error: 'invalid_code' } };
      if (params.get('redirect_uri') !== c.redirectUri) return { status: 200, body: { error: 'invalid_redirect_uri' } };
      c.used = true;
      const refresh = c.offline ? newToken() : null;
      if (refresh) this.refreshTokens.add(refresh);
      return this.answer(refresh, c.scopes, true);
    }
    const refresh = params.get('refresh_token') ?? '';
    if (!this.refreshTokens.has(refresh)) return { status: 200, body: { error: 'invalid_code' } };
    return this.answer(refresh, ['ZohoCRM.modules.ALL', 'ZohoCRM.settings.ALL', 'ZohoCRM.notifications.ALL'], false);
  }

  /** POST /oauth/v2/token/revoke: a refresh token with its access tokens, or one access token. */
  revoke(params: URLSearchParams): Reply {
    const token = params.get('token') ?? '';
    if (this.refreshTokens.delete(token)) {
      for (const [a, t] of this.tokens) if (t.refresh === token) this.tokens.delete(a);
      return { status: 200, body: { status: 'success' } };
    }
    if (this.tokens.delete(token)) return { status: 200, body: { status: 'success' } };
    return { status: 400, body: { error: 'invalid_token' } };
  }

  /** null when the header carries a live token, else the 401 Zoho answers. */
  checkAuth(header: string | undefined): Reply | null {
    if (!header) return { status: 401, body: errorBody('AUTHENTICATION_FAILURE', 'Authentication failed') };
    const m = /^Zoho-oauthtoken\s+(\S+)$/.exec(header);
    if (!m) return { status: 401, body: errorBody('AUTHENTICATION_FAILURE', 'Authentication failed') };
    const t = this.tokens.get(m[1]!);
    if (t === undefined || t.expires <= this.state.now()) return { status: 401, body: errorBody('INVALID_TOKEN', 'invalid oauth token') };
    return null;
  }
}
