// The Zoho sandbox's accounts server: the access tokens it issued (with their expiry on
// the sandbox clock), the token endpoint (refresh_token grant) and the check of an API
// call's `Authorization: Zoho-oauthtoken <token>`.
import { randomBytes } from 'node:crypto';
import { errorBody, type Reply } from './api.ts';
import type { LeadsState } from './state.ts';

export interface AccountsOptions {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  /** `api_domain` the token endpoint answers. */
  apiDomain: () => string;
}

const newToken = () => `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;

export class Accounts {
  /** access token -> expiry (sandbox clock, ms) */
  private readonly tokens = new Map<string, number>();
  tokenCalls = 0;
  /** Faults the next token calls answer with, in order. */
  readonly faults: Array<'invalid_code' | 'server_error'> = [];

  constructor(
    private readonly state: LeadsState,
    private readonly o: AccountsOptions,
  ) {}

  issue(ttlSeconds = 3600): { accessToken: string; expiresAt: string } {
    const accessToken = newToken();
    const expiresAt = this.state.now() + ttlSeconds * 1000;
    this.tokens.set(accessToken, expiresAt);
    return { accessToken, expiresAt: new Date(expiresAt).toISOString() };
  }

  expireAll(): void {
    this.tokens.clear();
  }

  /** POST /oauth/v2/token. Zoho's accounts server answers its errors with HTTP 200 and an `error` key. */
  token(params: URLSearchParams): Reply {
    this.tokenCalls++;
    const fault = this.faults.shift();
    if (fault === 'server_error') return { status: 500, body: { error: 'internal_error' } };
    if (fault === 'invalid_code') return { status: 200, body: { error: 'invalid_code' } };
    if (params.get('grant_type') !== 'refresh_token') return { status: 200, body: { error: 'unsupported_grant_type' } };
    if (params.get('client_id') !== this.o.clientId || params.get('client_secret') !== this.o.clientSecret) {
      return { status: 200, body: { error: 'invalid_client' } };
    }
    if (params.get('refresh_token') !== this.o.refreshToken) return { status: 200, body: { error: 'invalid_code' } };
    const { accessToken } = this.issue(3600);
    return {
      status: 200,
      body: {
        access_token: accessToken,
        scope: 'ZohoCRM.modules.ALL ZohoCRM.settings.ALL ZohoCRM.notifications.ALL',
        api_domain: this.o.apiDomain(),
        token_type: 'Bearer',
        expires_in: 3600,
      },
    };
  }

  /** null when the header carries a live token, else the 401 Zoho answers. */
  checkAuth(header: string | undefined): Reply | null {
    if (!header) return { status: 401, body: errorBody('AUTHENTICATION_FAILURE', 'Authentication failed') };
    const m = /^Zoho-oauthtoken\s+(\S+)$/.exec(header);
    if (!m) return { status: 401, body: errorBody('AUTHENTICATION_FAILURE', 'Authentication failed') };
    const exp = this.tokens.get(m[1]!);
    if (exp === undefined || exp <= this.state.now()) return { status: 401, body: errorBody('INVALID_TOKEN', 'invalid oauth token') };
    return null;
  }
}
