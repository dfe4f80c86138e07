// The HubSpot sandbox's OAuth side, as HubSpot documents it:
// - GET /oauth/authorize (app.hubspot.com): the install URL "includes the client_id,
//   redirect_uri and scopes as query parameters", optionally optional_scopes and state
//   (developers.hubspot.com, "Initiating OAuth access"). Here consent is automatic: a valid
//   request answers 302 to redirect_uri with `code` and `state`; an invalid one (unknown
//   client, redirect URI not registered, scopes not matching the app's) an error page,
//   never a redirect.
// - POST /oauth/2026-03/token: authorization_code and refresh_token grants, form body, client
//   id and secret in it; "Access tokens are short lived; check expires_in" (30 minutes:
//   changelog "Expiration of OAuth access tokens is changing"). Errors in RFC 6749's format
//   plus HubSpot's status/message (changelog "New OAuth v3 API Endpoints and Standardized
//   Error Responses": invalid_grant / BAD_REFRESH_TOKEN).
// - POST /oauth/2026-03/token/introspect: validity and metadata of a token (hub_id, ...).
// - POST /oauth/2026-03/token/revoke: deletes a refresh token. As for the v1 DELETE: "This
//   will only delete the refresh token. Access tokens generated with the refresh token will
//   not be affected."
// Lifetimes run on the sandbox clock, so a test moves time instead of sleeping.
import { randomBytes, randomUUID } from 'node:crypto';
import { errorBody } from './api.ts';

export const OAUTH_BASE = '/oauth/2026-03';
export const DEFAULT_SCOPES = ['oauth', 'crm.objects.contacts.read', 'crm.objects.contacts.write', 'crm.schemas.contacts.write'];

export interface HubSpotOAuthApp {
  clientId: string;
  /** Redirect URLs registered in the app's auth settings (exact match). */
  redirectUris: string[];
  /** The app's required scopes: the request must ask for each of them. */
  requiredScopes?: string[];
  /** Optional scopes the request may add. */
  optionalScopes?: string[];
  /** Access token lifetime in seconds (HubSpot: 1800). */
  accessTokenTtlSeconds?: number;
  /** Answer a new refresh token on each refresh (HubSpot keeps the same one; off by default). */
  rotateRefreshTokens?: boolean;
}

export type OAuthReply = { status: number; body?: unknown; headers?: Record<string, string> };

interface Grant {
  scopes: string[];
  userId: number;
}

const CODE_TTL_MS = 5 * 60_000;

export class HubSpotOAuthServer {
  private readonly codes = new Map<string, Grant & { redirectUri: string; expires: number; used: boolean }>();
  private readonly access = new Map<string, Grant & { expires: number }>();
  private readonly refresh = new Map<string, Grant>();
  ttlSeconds: number;

  constructor(
    private readonly app: HubSpotOAuthApp & { clientSecret: string },
    private readonly portal: { portalId: number; appId: number; hubDomain: string },
    private readonly now: () => number,
  ) {
    this.ttlSeconds = app.accessTokenTtlSeconds ?? 1800;
  }

  /** 'valid', 'expired' (with how long ago, in seconds) or null when the token is not one of these. */
  check(token: string): { state: 'valid' } | { state: 'expired'; agoSeconds: number } | null {
    const t = this.access.get(token);
    if (!t) return null;
    const ago = this.now() - t.expires;
    return ago < 0 ? { state: 'valid' } : { state: 'expired', agoSeconds: Math.floor(ago / 1000) };
  }

  /** GET /oauth/authorize: automatic consent. */
  authorize(q: URLSearchParams): OAuthReply {
    const page = (message: string) => ({ status: 400, body: errorBody(message, 'VALIDATION_ERROR') });
    if (q.get('client_id') !== this.app.clientId) return page('Authorization failed: unknown client_id');
    const redirectUri = q.get('redirect_uri') ?? '';
    if (!this.app.redirectUris.includes(redirectUri)) return page("Authorization failed: redirect_uri does not match the app's redirect URLs");
    const required = this.app.requiredScopes ?? DEFAULT_SCOPES;
    const allowed = new Set([...required, ...(this.app.optionalScopes ?? [])]);
    const scopes = (q.get('scope') ?? '').split(/[\s,]+/).filter(Boolean);
    const optional = (q.get('optional_scope') ?? '').split(/[\s,]+/).filter(Boolean);
    if (required.some((s) => !scopes.includes(s)) || [...scopes, ...optional].some((s) => !allowed.has(s))) {
      return page("Authorization failed: the scopes requested do not match the app's scope settings");
    }
    const code = `na1-${randomUUID()}`;
    this.codes.set(code, { scopes: [...scopes, ...optional], userId: 7_000_001, redirectUri, expires: this.now() + CODE_TTL_MS, used: false });
    const to = new URL(redirectUri);
    to.searchParams.set('code', code);
    const state = q.get('state');
    if (state !== null) to.searchParams.set('state', state);
    return { status: 302, headers: { Location: to.toString() } };
  }

  private fail(error: string, status: string, message: string, http = 400): OAuthReply {
    return { status: http, body: { error, error_description: message, status, message, correlationId: randomUUID() } };
  }

  private clientOk(form: URLSearchParams): boolean {
    return form.get('client_id') === this.app.clientId && form.get('client_secret') === this.app.clientSecret;
  }

  private issue(g: Grant, refreshToken: string | null): OAuthReply {
    const accessToken = `CN${randomBytes(24).toString('base64url')}`;
    this.access.set(accessToken, { ...g, expires: this.now() + this.ttlSeconds * 1000 });
    let refresh = refreshToken;
    if (refresh === null || this.app.rotateRefreshTokens) {
      if (refresh) this.refresh.delete(refresh);
      refresh = `na1-${randomUUID()}`;
      this.refresh.set(refresh, g);
    }
    return { status: 200, body: { token_type: 'bearer', access_token: accessToken, refresh_token: refresh, expires_in: this.ttlSeconds } };
  }

  /** POST /oauth/2026-03/token */
  token(form: URLSearchParams): OAuthReply {
    if (!this.clientOk(form)) return this.fail('invalid_client', 'BAD_CLIENT_ID', 'missing or unknown client id or secret');
    const grant = form.get('grant_type');
    if (grant === 'authorization_code') {
      const c = this.codes.get(form.get('code') ?? '');
      if (!c || c.used || c.expires <= this.now()) return this.fail('invalid_grant', 'BAD_AUTH_CODE', 'missing or unknown auth code');
      if (form.get('redirect_uri') !== c.redirectUri) return this.fail('invalid_grant', 'BAD_REDIRECT_URI', 'redirect_uri does not match the one of the authorization request');
      c.used = true;
      return this.issue(c, null);
    }
    if (grant === 'refresh_token') {
      const token = form.get('refresh_token') ?? '';
      const g = this.refresh.get(token);
      if (!g) return this.fail('invalid_grant', 'BAD_REFRESH_TOKEN', 'refresh token is invalid, expired or revoked');
      return this.issue(g, token);
    }
    return this.fail('unsupported_grant_type', 'BAD_GRANT_TYPE', 'grant_type must be authorization_code or refresh_token');
  }

  /** POST /oauth/2026-03/token/introspect (RFC 7662: an unknown token is `active: false`). */
  introspect(form: URLSearchParams): OAuthReply {
    if (!this.clientOk(form)) return this.fail('invalid_client', 'BAD_CLIENT_ID', 'missing or unknown client id or secret', 401);
    const token = form.get('token') ?? '';
    const a = this.access.get(token);
    const r = this.refresh.get(token);
    const g = a && a.expires > this.now() ? a : r;
    if (!g) return { status: 200, body: { active: false } };
    return {
      status: 200,
      body: {
        active: true,
        token_type: a ? 'access_token' : 'refresh_token',
        client_id: this.app.clientId,
        hub_id: this.portal.portalId,
        hub_domain: this.portal.hubDomain,
        app_id: this.portal.appId,
        user_id: g.userId,
        scope: g.scopes.join(' '),
        ...(a ? { exp: Math.floor(a.expires / 1000) } : {}),
      },
    };
  }

  /** POST /oauth/2026-03/token/revoke: the refresh token goes; its access tokens live on until they expire. */
  revoke(form: URLSearchParams): OAuthReply {
    if (!this.clientOk(form)) return this.fail('invalid_client', 'BAD_CLIENT_ID', 'missing or unknown client id or secret', 401);
    this.refresh.delete(form.get('token') ?? '');
    return { status: 200 };
  }

  /** The customer uninstalls the app: every refresh and access token stops working. */
  uninstall(): void {
    this.refresh.clear();
    this.access.clear();
  }
}
