// OAuth access tokens for Zoho: they live one hour. The client refreshes shortly before
// `expiresAt` and whenever Zoho rejects a token (401), and it does so SINGLE-FLIGHT:
// however many calls need a new token at once, one refresh request goes out and they
// all wait for it (Zoho also rate-limits refreshes per refresh token). With a TokenKeeper
// (ConnectionOptions.tokens) the keeper renews and the client never calls the token
// endpoint itself.
import { CrmError, type AdapterLogger, type Credentials, type TokenKeeper } from '../contract.ts';
import { networkError, translateTokenError } from './errors.ts';
import type { FetchLike } from '../kit/transport.ts';

/** Refresh this long before the stored expiry, so a token never expires mid-request. */
export const REFRESH_MARGIN_MS = 5 * 60_000;

export interface ZohoAuthOptions {
  credentials: Credentials;
  /** The accounts host of the integration's data centre; null when it cannot be told. */
  accountsUrl: string | null;
  fetch: FetchLike;
  onCredentialsChanged?: (credentials: Credentials, connection?: { baseUrl?: string }) => Promise<void> | void;
  /**
   * Called when a refresh names an api_domain (the host API calls must go to). Answers
   * false when the domain is refused (not a Zoho API host): it is then neither used nor
   * stored.
   */
  onApiDomain?: (apiDomain: string) => boolean;
  logger?: AdapterLogger;
  now?: () => number;
  refreshMarginMs?: number;
  keeper?: TokenKeeper;
}

interface TokenResponse {
  access_token?: unknown;
  expires_in?: unknown;
  api_domain?: unknown;
  refresh_token?: unknown;
  error?: unknown;
}

export class ZohoAuth {
  private credentials: Credentials;
  private token: string | undefined;
  private expiresAt: number | null;
  private inflight: Promise<string> | null = null;
  private readonly now: () => number;
  private readonly margin: number;

  constructor(private readonly opts: ZohoAuthOptions) {
    this.credentials = { ...opts.credentials };
    this.token = opts.credentials.accessToken || undefined;
    const exp = opts.credentials.expiresAt ? Date.parse(opts.credentials.expiresAt) : NaN;
    this.expiresAt = Number.isNaN(exp) ? null : exp;
    this.now = opts.now ?? Date.now;
    this.margin = opts.refreshMarginMs ?? REFRESH_MARGIN_MS;
  }

  /** A token to call the API with: the current one, or a fresh one when it is (nearly) expired. */
  async accessToken(): Promise<string> {
    if (this.inflight) return this.inflight;
    if (this.token && (this.expiresAt === null || this.now() < this.expiresAt - this.margin)) return this.token;
    return this.refresh(this.token);
  }

  /** Zoho rejected `rejected`: refresh unless someone already replaced it. */
  async refreshAfterRejection(rejected: string): Promise<string> {
    if (this.inflight) return this.inflight;
    if (this.token && this.token !== rejected) return this.token;
    return this.refresh(rejected);
  }

  private refresh(rejected: string | undefined): Promise<string> {
    if (!this.inflight) {
      const work = this.opts.keeper ? this.viaKeeper(this.opts.keeper, rejected) : this.doRefresh();
      this.inflight = work.finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  /** The keeper's renewal (or what another worker renewed meanwhile); the keeper persists it. */
  private async viaKeeper(keeper: TokenKeeper, rejected: string | undefined): Promise<string> {
    const r = await keeper.renew(rejected);
    const token = r.credentials.accessToken;
    if (!token) throw new CrmError('UPSTREAM', 'Zoho: the token keeper answered no access token', { provider: 'ZOHO', retryable: false });
    const exp = r.credentials.expiresAt ? Date.parse(r.credentials.expiresAt) : NaN;
    this.token = token;
    this.expiresAt = Number.isNaN(exp) ? null : exp;
    this.credentials = { ...this.credentials, ...r.credentials };
    if (r.baseUrl) this.opts.onApiDomain?.(r.baseUrl);
    return token;
  }

  private async doRefresh(): Promise<string> {
    const { refreshToken, clientId, clientSecret } = this.credentials;
    if (!refreshToken || !clientId || !clientSecret) {
      throw new CrmError('AUTH_EXPIRED', 'Zoho access token expired and no refresh token/client credentials are stored', {
        provider: 'ZOHO',
        retryable: false,
      });
    }
    let url: string;
    try {
      url = new URL('/oauth/v2/token', this.opts.accountsUrl ?? undefined).toString();
    } catch (e) {
      // Never guess (least of all the US host): the token would go to the wrong data centre.
      throw new CrmError('AUTH_EXPIRED', 'Zoho: the accounts host of this integration is unknown; store credentials.accountsUrl', {
        provider: 'ZOHO',
        cause: e,
        retryable: false,
      });
    }
    const form = new URLSearchParams({
      refresh_token: refreshToken,
      client_id: clientId,
      client_secret: clientSecret,
      grant_type: 'refresh_token',
    });
    let res: Response;
    let body: TokenResponse | null = null;
    try {
      res = await this.opts.fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      try {
        body = text ? (JSON.parse(text) as TokenResponse) : null;
      } catch {
        body = null;
      }
    } catch (e) {
      throw networkError(e, `POST ${url}`);
    }
    if (res.status !== 200 || !body || body.error !== undefined || typeof body.access_token !== 'string') {
      throw translateTokenError(res.status, body, res.headers);
    }
    const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : 3600;
    this.token = body.access_token;
    this.expiresAt = this.now() + expiresIn * 1000;
    const named = typeof body.api_domain === 'string' && body.api_domain ? body.api_domain : undefined;
    const apiDomain = named && (this.opts.onApiDomain?.(named) ?? true) ? named : undefined;
    this.credentials = {
      ...this.credentials,
      accessToken: this.token,
      expiresAt: new Date(this.expiresAt).toISOString(),
      ...(apiDomain ? { apiDomain } : {}),
      // Zoho keeps the refresh token; one it rotates anyway replaces the stored one.
      ...(typeof body.refresh_token === 'string' && body.refresh_token ? { refreshToken: body.refresh_token } : {}),
    };
    this.opts.logger?.info({ expiresAt: this.credentials.expiresAt }, 'zoho: access token refreshed');
    if (this.opts.onCredentialsChanged) {
      try {
        await this.opts.onCredentialsChanged({ ...this.credentials }, apiDomain ? { baseUrl: apiDomain } : undefined);
      } catch (e) {
        // The new token works; failing the sync because it could not be stored would be
        // worse than refreshing again next time. Report it loudly instead.
        this.opts.logger?.error({ err: e instanceof Error ? e.message : String(e) }, 'zoho: persisting refreshed credentials failed');
      }
    }
    return this.token;
  }
}
