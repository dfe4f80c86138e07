// The Salesforce sandbox's OAuth side: the access tokens it accepts, the token endpoint
// (refresh_token grant, optional refresh token rotation) and the OpenID Connect UserInfo
// endpoint. Answers are `{ status, body }` in the OAuth endpoints' formats.
import { randomBytes } from 'node:crypto';
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
  /** The sandbox's own URL (known once it listens). */
  url: () => string;
}

export type OAuthAnswer = { status: number; body: unknown; headers?: Record<string, string>; text?: string };

const newRefreshToken = () => `5Aep861${randomBytes(30).toString('base64url')}`;

export class OAuth {
  private accessTokens: Set<string>;
  current: string;
  refreshToken: string;
  private refreshValid = true;
  refreshes = 0;

  constructor(private readonly o: OAuthOptions) {
    this.current = o.accessToken ?? this.newAccessToken();
    this.accessTokens = new Set([this.current]);
    this.refreshToken = o.refreshToken ?? newRefreshToken();
  }

  private newAccessToken(): string {
    return `${to15(this.o.organizationId)}!AQ${randomBytes(24).toString('base64url')}`;
  }

  /** The token of an `Authorization: Bearer|OAuth <token>` header when it is valid, else null. */
  accepts(authorization: string | undefined): string | null {
    const bearer = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(authorization ?? '')?.[1];
    return bearer && this.accessTokens.has(bearer) ? bearer : null;
  }

  /** Every access token issued so far stops working. */
  expireAccessTokens(): void {
    this.accessTokens = new Set();
  }

  revokeRefreshToken(): void {
    this.refreshValid = false;
  }

  /** POST /services/oauth2/token with a form body. */
  token(form: URLSearchParams): OAuthAnswer {
    const fail = (error: string, description: string) => ({ status: 400, body: { error, error_description: description } });
    if (form.get('grant_type') !== 'refresh_token') return fail('unsupported_grant_type', 'grant type not supported');
    if (form.get('client_id') !== this.o.clientId) return fail('invalid_client_id', 'client identifier invalid');
    const secret = form.get('client_secret');
    if (secret !== null && secret !== this.o.clientSecret) return fail('invalid_client', 'invalid client credentials');
    if (!this.refreshValid || form.get('refresh_token') !== this.refreshToken) return fail('invalid_grant', 'expired access/refresh token');
    const access = this.newAccessToken();
    this.accessTokens.add(access);
    this.current = access;
    this.refreshes++;
    const url = this.o.url();
    const body: Record<string, unknown> = {
      access_token: access,
      signature: randomBytes(32).toString('base64'),
      scope: 'refresh_token api',
      instance_url: this.o.tokenInstanceUrl ?? url,
      id: `${url}/id/${this.o.organizationId}/${this.o.integrationUserId}`,
      token_type: 'Bearer',
      issued_at: String(Date.now()),
    };
    if (this.o.rotateRefreshTokens) {
      this.refreshToken = newRefreshToken();
      body.refresh_token = this.refreshToken;
    }
    return { status: 200, body };
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
        sub: `${url}/id/${this.o.organizationId}/${this.o.integrationUserId}`,
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
