// Keeping one client's OAuth access token usable, the same way in every adapter:
// - ahead of expiry: a call starting within `marginMs` of the stored `expiresAt` renews first;
// - after a 401: the call renews once (unless another call already replaced the token it
//   was refused) and is sent again once;
// - SINGLE-FLIGHT: however many calls need a new token at once, one renewal runs and they
//   all wait for it.
// Who renews: the TokenKeeper the service gave (ConnectionOptions.tokens; the client then
// never calls the token endpoint itself), else the adapter's own refresh (refresh_token
// grant with the stored refresh token and client credentials), whose result is reported
// through onCredentialsChanged (awaited) before any call uses it.
import { CrmError, type AdapterLogger, type ConnectionOptions, type CrmProvider, type Credentials, type TokenKeeper } from '../contract.ts';

/** Renew this long before the stored expiry, so a token never expires mid-request. */
export const DEFAULT_RENEW_MARGIN_MS = 2 * 60_000;

export interface Renewal {
  credentials: Credentials;
  /** The API base the CRM named for the account in this refresh, when it names one. */
  baseUrl?: string;
}

export interface TokenRenewalOptions {
  provider: CrmProvider;
  credentials: Credentials;
  keeper?: TokenKeeper;
  /** One refresh by the adapter itself; null when the stored credentials cannot refresh. */
  refreshSelf: ((credentials: Credentials) => Promise<Renewal>) | null;
  onCredentialsChanged?: ConnectionOptions['onCredentialsChanged'];
  /** Told about a new API base before any call uses the new token. */
  onBaseUrl?: (baseUrl: string) => void;
  logger?: AdapterLogger;
  marginMs?: number;
  now?: () => number;
}

export class TokenRenewal {
  private credentials: Credentials;
  private inflight: Promise<string> | null = null;
  private readonly now: () => number;
  private readonly margin: number;

  constructor(private readonly o: TokenRenewalOptions) {
    this.credentials = { ...o.credentials };
    this.now = o.now ?? Date.now;
    this.margin = o.marginMs ?? DEFAULT_RENEW_MARGIN_MS;
  }

  /** The access token held now (possibly expired). */
  get token(): string | undefined {
    return this.credentials.accessToken || undefined;
  }

  /** Whether anything can renew the token (a keeper, or stored refresh credentials). */
  get renewable(): boolean {
    return Boolean(this.o.keeper || this.o.refreshSelf);
  }

  private expiresAt(): number | null {
    const raw = this.credentials.expiresAt;
    const t = raw ? Date.parse(raw) : NaN;
    return Number.isNaN(t) ? null : t;
  }

  /** A token to call with: the one held, or a renewed one when it is (nearly) expired. */
  async current(): Promise<string> {
    if (this.inflight) return this.inflight;
    const exp = this.expiresAt();
    const token = this.token;
    if (token && (exp === null || this.now() < exp - this.margin || !this.renewable)) return token;
    return this.renew(token);
  }

  /** The CRM refused `rejected` (401): a token another call already renewed, else a renewal. */
  async afterRejection(rejected: string | undefined): Promise<string> {
    if (this.inflight) return this.inflight;
    if (this.token && this.token !== rejected) return this.token;
    return this.renew(rejected);
  }

  private renew(rejected: string | undefined): Promise<string> {
    this.inflight ??= this.doRenew(rejected).finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async doRenew(rejected: string | undefined): Promise<string> {
    const { keeper, refreshSelf, provider } = this.o;
    let next: Renewal;
    if (keeper) {
      next = await keeper.renew(rejected);
    } else if (refreshSelf) {
      next = await refreshSelf({ ...this.credentials });
    } else {
      throw new CrmError('AUTH_EXPIRED', `${provider}: the access token was refused or expired and nothing can renew it (no refresh token or client credentials stored)`, {
        provider,
        retryable: false,
      });
    }
    const token = next.credentials.accessToken;
    if (!token) throw new CrmError('UPSTREAM', `${provider}: token renewal answered no access token`, { provider, retryable: false });
    // A rotated refresh token replaces the stored one; a refresh that names none keeps it.
    this.credentials = { ...this.credentials, ...next.credentials, refreshToken: next.credentials.refreshToken || this.credentials.refreshToken };
    if (next.baseUrl) this.o.onBaseUrl?.(next.baseUrl);
    if (!keeper && this.o.onCredentialsChanged) {
      try {
        await this.o.onCredentialsChanged({ ...this.credentials }, next.baseUrl ? { baseUrl: next.baseUrl } : undefined);
      } catch (e) {
        // The new token works; failing the sync because it could not be stored would be
        // worse than refreshing again next time. Reported loudly instead.
        this.o.logger?.error({ provider, err: e instanceof Error ? e.message : String(e) }, 'persisting refreshed credentials failed');
      }
    }
    this.o.logger?.info({ provider, expiresAt: this.credentials.expiresAt ?? null, by: keeper ? 'keeper' : 'client' }, 'access token renewed');
    return token;
  }
}
