// The Salesforce sandbox's OAuth side, as Salesforce documents it ("OAuth 2.0 Web Server
// Flow for Web App Integration", "Revoke OAuth Tokens", OpenID Connect UserInfo):
// - GET /services/oauth2/authorize: response_type=code, client_id (the consumer key),
//   redirect_uri (a callback URL of the connected app), scope, state, and PKCE's
//   code_challenge (S256). Consent is automatic here: a valid request answers 302 to the
//   redirect URI with `code` and `state`. An unknown client or a callback URL the app does
//   not list is an error page, never a redirect; scopes the app does not allow come back to
//   the callback as error=invalid_scope.
// - POST /services/oauth2/token: authorization_code (code, redirect_uri, code_verifier) and
//   refresh_token grants. PKCE: "If a code_challenge value was provided in the authorization
//   request and a code_verifier value isn't provided in the token request, the login fails
//   with the invalid_grant error code"; a verifier that does not match the challenge fails
//   with invalid_request. The answer carries access_token, refresh_token (scope
//   refresh_token), instance_url, `id` (the identity URL .../id/<orgId>/<userId>),
//   issued_at and `signature`: Base64(HMAC-SHA256(client secret, id + issued_at)). No
//   expires_in: the session lives as long as the org's session timeout (configurable here,
//   on the sandbox clock; unlimited by default).
// - POST /services/oauth2/revoke (token=...): a refresh token is revoked with every access
//   token it issued; 200 on success, 400 `invalid_token` for a token that is not valid.
// - /services/oauth2/userinfo: `organization_id` among "information about the user".
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { to15 } from './ids.ts';

export interface OAuthOptions {
  organizationId: string;
  integrationUserId: string;
  clientId: string;
  clientSecret: string;
  accessToken?: string;
  refreshToken?: string;
  rotateRefreshTokens?: boolean;
  tokenInstanceUrl?: string;
  /** Callback URLs of the connected app (exact match). */
  callbackUrls?: string[];
  /** Scopes the connected app allows (default api, refresh_token, offline_access, id, openid). */
  allowedScopes?: string[];
  /** Access token lifetime in seconds (the org's session timeout); null: no expiry. */
  accessTokenTtlSeconds?: number | null;
  /** The sandbox's own URL (known once it listens). */
  url: () => string;
  /** The sandbox clock (epoch ms). */
  now: () => number;
}

export type OAuthAnswer = { status: number; body: unknown; headers?: Record<string, string>; text?: string };

const newRefreshToken = () => `5Aep861${randomBytes(30).toString('base64url')}`;
const CODE_TTL_MS = 15 * 60_000;
const DEFAULT_SCOPES = ['api', 'refresh_token', 'offline_access', 'id', 'openid'];

interface Code {
  redirectUri: string;
  challenge: string | null;
  scopes: string[];
  expires: number;
  used: boolean;
}

export class OAuth {
  /** access token -> expiry (ms on the sandbox clock; Infinity: none) and the refresh token that issued it. */
  private accessTokens = new Map<string, { expires: number; refresh: string | null }>();
  private readonly refreshTokens = new Set<string>();
  private readonly codes = new Map<string, Code>();
  current: string;
  refreshToken: string;
  refreshes = 0;
  ttlSeconds: number | null;

  constructor(private readonly o: OAuthOptions) {
    this.refreshToken = o.refreshToken ?? newRefreshToken();
    this.refreshTokens.add(this.refreshToken);
    this.current = o.accessToken ?? this.newAccessToken(this.refreshToken);
    if (o.accessToken) this.accessTokens.set(o.accessToken, { expires: Infinity, refresh: this.refreshToken });
    this.ttlSeconds = o.accessTokenTtlSeconds ?? null;
  }

  private newAccessToken(refresh: string | null): string {
    const token = `${to15(this.o.organizationId)}!AQ${randomBytes(24).toString('base64url')}`;
    const expires = this.ttlSeconds === null || this.ttlSeconds === undefined ? Infinity : this.o.now() + this.ttlSeconds * 1000;
    this.accessTokens.set(token, { expires, refresh });
    return token;
  }

  /** The token of an `Authorization: Bearer|OAuth <token>` header when it is valid now, else null. */
  accepts(authorization: string | undefined): string | null {
    const bearer = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(authorization ?? '')?.[1];
    const t = bearer ? this.accessTokens.get(bearer) : undefined;
    return bearer && t && t.expires > this.o.now() ? bearer : null;
  }

  /** Every access token issued so far stops working. */
  expireAccessTokens(): void {
    this.accessTokens = new Map();
  }

  /** Every refresh token stops working (token endpoint: invalid_grant); access tokens live on. */
  revokeRefreshToken(): void {
    this.refreshTokens.clear();
  }

  /** GET /services/oauth2/authorize: automatic consent. */
  authorize(q: URLSearchParams): OAuthAnswer {
    const page = (error: string, description: string) => ({ status: 400, body: { error, error_description: description } });
    if (q.get('client_id') !== this.o.clientId) return page('invalid_client_id', 'client identifier invalid');
    const redirectUri = q.get('redirect_uri') ?? '';
    if (!(this.o.callbackUrls ?? []).includes(redirectUri)) return page('redirect_uri_mismatch', 'redirect_uri must match configuration');
    const back = (params: Record<string, string>) => {
      const to = new URL(redirectUri);
      for (const [k, v] of Object.entries(params)) to.searchParams.set(k, v);
      const state = q.get('state');
      if (state !== null) to.searchParams.set('state', state);
      return { status: 302, body: undefined, headers: { location: to.toString() } };
    };
    if (q.get('response_type') !== 'code') return back({ error: 'unsupported_response_type', error_description: 'response type not supported' });
    const scopes = (q.get('scope') ?? 'api').split(/\s+/).filter(Boolean);
    const allowed = this.o.allowedScopes ?? DEFAULT_SCOPES;
    if (scopes.some((s) => !allowed.includes(s))) return back({ error: 'invalid_scope', error_description: 'the requested scope is not allowed' });
    const challenge = q.get('code_challenge');
    if (challenge !== null && (q.get('code_challenge_method') ?? 'S256') !== 'S256') {
      return back({ error: 'invalid_request', error_description: 'code_challenge_method must be S256' });
    }
    const code = `aPrx${randomBytes(24).toString('base64url')}`;
    this.codes.set(code, { redirectUri, challenge, scopes, expires: this.o.now() + CODE_TTL_MS, used: false });
    return back({ code });
  }

  private identity(): string {
    return `${this.o.url()}/id/${this.o.organizationId}/${this.o.integrationUserId}`;
  }

  private issue(refresh: string | null, scopes: string[], withRefresh: boolean): OAuthAnswer {
    const access = this.newAccessToken(refresh);
    this.current = access;
    const id = this.identity();
    const issuedAt = String(this.o.now());
    const body: Record<string, unknown> = {
      access_token: access,
      signature: createHmac('sha256', this.o.clientSecret).update(id + issuedAt).digest('base64'),
      scope: scopes.join(' '),
      instance_url: this.o.tokenInstanceUrl ?? this.o.url(),
      id,
      token_type: 'Bearer',
      issued_at: issuedAt,
    };
    if (withRefresh && refresh) body.refresh_token = refresh;
    return { status: 200, body };
  }

  /** POST /services/oauth2/token with a form body. */
  token(form: URLSearchParams): OAuthAnswer {
    const fail = (error: string, description: string) => ({ status: 400, body: { error, error_description: description } });
    if (form.get('client_id') !== this.o.clientId) return fail('invalid_client_id', 'client identifier invalid');
    const secret = form.get('client_secret');
    if (secret !== null && secret !== this.o.clientSecret) return fail('invalid_client', 'invalid client credentials');
    const grant = form.get('grant_type');
    if (grant === 'authorization_code') {
      const c = this.codes.get(form.get('code') ?? '');
      if (!c || c.used || c.expires <= this.o.now()) return fail('invalid_grant', 'invalid authorization code');
      if (form.get('redirect_uri') !== c.redirectUri) return fail('invalid_grant', 'redirect_uri must match configuration');
      const verifier = form.get('code_verifier');
      if (c.challenge !== null && verifier === null) return fail('invalid_grant', 'invalid code verifier');
      if (c.challenge !== null && createHash('sha256').update(verifier ?? '', 'ascii').digest('base64url') !== c.challenge) {
        return fail('invalid_request', 'invalid code verifier');
      }
      if (secret === null) return fail('invalid_client', 'invalid client credentials');
      c.used = true;
      const withRefresh = c.scopes.includes('refresh_token') || c.scopes.includes('offline_access');
      const refresh = withRefresh ? newRefreshToken() : null;
      if (refresh) this.refreshTokens.add(refresh);
      return this.issue(refresh, c.scopes, true);
    }
    if (grant !== 'refresh_token') return fail('unsupported_grant_type', 'grant type not supported');
    const presented = form.get('refresh_token') ?? '';
    if (!this.refreshTokens.has(presented)) return fail('invalid_grant', 'expired access/refresh token');
    let refresh = presented;
    if (this.o.rotateRefreshTokens) {
      this.refreshTokens.delete(presented);
      refresh = newRefreshToken();
      this.refreshTokens.add(refresh);
      if (this.refreshToken === presented) this.refreshToken = refresh;
    }
    this.refreshes++;
    return this.issue(refresh, ['refresh_token', 'api'], Boolean(this.o.rotateRefreshTokens));
  }

  /** POST /services/oauth2/revoke: a refresh token with its access tokens, or one access token. */
  revoke(form: URLSearchParams): OAuthAnswer {
    const token = form.get('token') ?? '';
    if (this.refreshTokens.delete(token)) {
      for (const [a, t] of this.accessTokens) if (t.refresh === token) this.accessTokens.delete(a);
      return { status: 200, body: undefined };
    }
    if (this.accessTokens.delete(token)) return { status: 200, body: undefined };
    return { status: 400, body: { error: 'invalid_token', error_description: 'Token was invalid' } };
  }

  /**
   * The OpenID Connect UserInfo endpoint: "information about the user associated with the
   * connected app's access token", among it `organization_id` (18 characters) and
   * `user_id`. A token it does not know is refused with 401 (OIDC: invalid_token).
   */
  userInfo(authorization: string | undefined): OAuthAnswer {
    if (!this.accepts(authorization)) {
      return { status: 401, body: undefined, text: 'Bad_OAuth_Token', headers: { 'content-type': 'text/plain', 'www-authenticate': 'Bearer error="invalid_token"' } };
    }
    const url = this.o.url();
    return {
      status: 200,
      body: {
        sub: this.identity(),
        user_id: this.o.integrationUserId,
        organization_id: this.o.organizationId,
        preferred_username: 'integration@sandbox.example',
        name: 'Integration User',
        email: 'integration@sandbox.example',
        email_verified: true,
        zoneinfo: 'GMT',
        urls: { rest: `${url}/services/data/v{version}/` },
      },
    };
  }
}
