// The connection to one HubSpot account, on the official SDK (@hubspot/api-client 13.5):
// client construction, authentication, the one call wrapper, and whoami.
//
// - The SDK runs with numberOfApiCallRetries: 0 and no limiter: we own the retry policy
//   (the SDK's retries would replay POST creates). The SDK keeps its decorators in a
//   process-wide singleton applied when an API group is first touched, so the connection
//   builds its SDK objects and touches every API group synchronously in the constructor,
//   while its own (decorator-free) configuration is the current one.
// - Every call goes through a client-side sliding-window limiter (default 100 / 10 s, or
//   the integration's rateLimit setting, or ConnectionOptions.rateLimit) and search
//   additionally through 4 / s.
// - No call is retried here, reads included: a 429 surfaces at once as RATE_LIMITED with
//   retryAfterMs and the engine (which owns retries and backoff) decides. Retrying inside
//   would hide the budget from the engine and double the wait after a 10-s 429.
// - SDK types never leave this folder; everything thrown is a CrmError (errors.ts).
// - OAuth access tokens live 30 minutes (HubSpot changelog, "Expiration of OAuth access
//   tokens is changing": follow expires_in, or refresh on a 401 for an expired token). The
//   connection renews ahead of `expiresAt` and once after a 401 (kit/token-renewal.ts,
//   single-flight), through the service's TokenKeeper when given, else by itself with the
//   stored refresh token and client credentials. A renewed token applies to every request
//   from then on (the Authorization header is set as each request leaves, agent.ts), so a
//   token expiring in the middle of a push or an import costs one refresh, not the batch.
//   A private-app token (no expiresAt, nothing to renew it) is used as it is.
import { Client } from '@hubspot/api-client';
import { CrmError, type BudgetDemand, type ConnectionOptions } from '../contract.ts';
import { withDeadline } from '../kit/deadline.ts';
import { isRate, RequestLimiter } from '../kit/limiter.ts';
import { checkOrigin, HostAllowList } from '../kit/net-guard.ts';
import { refusedDestination } from '../kit/text.ts';
import { TokenRenewal } from '../kit/token-renewal.ts';
import { guardedAgent } from '../kit/transport.ts';
import { pinAgent } from './agent.ts';
import { HUBSPOT_API_HOSTS } from './hosts.ts';
import { translateError } from './errors.ts';
import { selfRefresh } from './oauth.ts';

export { HUBSPOT_API_HOSTS };
const API_HOSTS = new HostAllowList(HUBSPOT_API_HOSTS);

// HubSpot's "API usage guidelines and limits" (developers.hubspot.com, developer tooling >
// platform > usage guidelines, last modified August 2025): per 10 seconds, 100 requests
// per app on Free and Starter accounts, 190 on Professional and Enterprise, 250 with the
// API Limit Increase (200 for a legacy private app); per day, per account, 250,000 /
// 625,000 / 1,000,000 (+1,000,000 per increase). The per-day limit resets at midnight in
// the account's time zone. The default is the burst limit every account has; a connection
// on a bigger plan passes its own (ConnectionOptions.rateLimit). At 100 per 10 s without a
// pause, a day would take 864,000 calls: the daily limit of a Free or Starter account is
// not enforced here, its 429 (policyName DAILY) reaches the engine like any other.
export const DEFAULT_RATE_LIMIT = { requests: 100, perMs: 10_000 };
/** The highest per-10-s limit the guidelines name (an app on an account with the API Limit Increase). */
export const HIGHEST_RATE_LIMIT = { requests: 250, perMs: 10_000 };
export const SEARCH_RATE_LIMIT = { requests: 4, perMs: 1_000 };
/** Extra wait after HubSpot's rolling window so clock and network jitter never push us over it. */
const WINDOW_MARGIN_MS = 25;

export type Contacts = Client['crm']['contacts'];
export type PropertiesCore = Client['crm']['properties']['coreApi'];
export type Webhooks = Client['webhooks'];

export class HubSpotConnection {
  readonly sdk: Client;
  readonly contacts: Contacts;
  readonly propertiesApi: PropertiesCore;
  /** The app's webhook APIs, when credentials carry appId and developerApiKey. */
  readonly webhooksApi: Webhooks | null;
  readonly appId: number | null;
  /** Webhook subscriptions provision() created (and unprovision() removes). */
  createdSubscriptionIds: string[];
  private readonly limiter: RequestLimiter;
  private readonly searchLimiter: RequestLimiter;
  private readonly timeoutMs: number;
  /** Set when the base URL is refused by the network guard: every call fails with it, unsent. */
  private readonly refused: CrmError | null = null;
  /** The access token in force and its renewal. */
  readonly auth: TokenRenewal;

  constructor(readonly opts: ConnectionOptions) {
    const accessToken = opts.credentials.accessToken;
    if (!accessToken) throw new CrmError('AUTH_EXPIRED', 'HubSpot: no access token in credentials', { provider: 'HUBSPOT', retryable: false });
    const policy = opts.network ?? {};
    let basePath = 'https://api.hubapi.com';
    try {
      basePath = checkOrigin(opts.baseUrl, API_HOSTS, policy);
    } catch (e) {
      this.refused = refusedDestination(e, 'HUBSPOT', 'base URL');
    }
    // Every socket goes through the guard too (redirects, DNS answers that change).
    // One connection per request, as the SDK has always sent them (its httpAgent option
    // never took effect, see agent.ts): the limiter counts request starts, and reused
    // connections would let later requests overtake the first ones' arrival at HubSpot.
    const httpAgent = guardedAgent(basePath.startsWith('https:') ? 'https:' : 'http:', { hosts: API_HOSTS, policy, keepAlive: false });
    this.auth = new TokenRenewal({
      provider: 'HUBSPOT',
      credentials: opts.credentials,
      keeper: opts.tokens,
      refreshSelf: selfRefresh(opts.credentials, { network: policy, callTimeoutMs: opts.callTimeoutMs, logger: opts.logger, apiBaseUrl: basePath }),
      onCredentialsChanged: opts.onCredentialsChanged,
      logger: opts.logger,
    });
    const sdk = new Client({ accessToken, basePath, numberOfApiCallRetries: 0, httpAgent });
    this.sdk = sdk;
    this.contacts = sdk.crm.contacts;
    this.propertiesApi = sdk.crm.properties.coreApi;
    pinAgent([this.contacts.basicApi, this.contacts.batchApi, this.contacts.searchApi, this.propertiesApi], httpAgent, () => this.auth.token);
    const devKey = opts.credentials.developerApiKey;
    const appId = Number(opts.credentials.appId);
    if (devKey && Number.isInteger(appId) && appId > 0) {
      const dev = new Client({ developerApiKey: devKey, basePath, numberOfApiCallRetries: 0, httpAgent });
      this.webhooksApi = dev.webhooks;
      pinAgent([this.webhooksApi.settingsApi, this.webhooksApi.subscriptionsApi], httpAgent);
      this.appId = appId;
    } else {
      this.webhooksApi = null;
      this.appId = null;
    }
    // The account's own budget when the integration's settings name one (rateLimit): HubSpot's
    // developer changelog "Increasing our API limits" gives Professional and Enterprise
    // accounts 190 requests per 10 seconds and the API Limit Increase pack 250, against
    // the 100 of Free and Starter this client spends by default.
    const rl = isRate(opts.settings.rateLimit) ? opts.settings.rateLimit : (opts.rateLimit ?? DEFAULT_RATE_LIMIT);
    this.limiter = new RequestLimiter({ rate: rl, marginMs: WINDOW_MARGIN_MS });
    const srl = isRate(opts.settings.searchRateLimit) ? opts.settings.searchRateLimit : SEARCH_RATE_LIMIT;
    this.searchLimiter = new RequestLimiter({ rate: srl, marginMs: WINDOW_MARGIN_MS });
    this.timeoutMs =
      typeof opts.settings.requestTimeoutMs === 'number' ? opts.settings.requestTimeoutMs : (opts.callTimeoutMs ?? 30_000);
    const created = opts.settings.createdSubscriptionIds;
    this.createdSubscriptionIds = Array.isArray(created) ? created.map(String) : [];
  }

  /**
   * How long a caller able to wait and gather should hold off (CrmClient.budgetWaitMs;
   * the kit limiter's paceFor on this connection's window, DEFAULT_RATE_LIMIT above).
   */
  budgetWaitMs(demand?: BudgetDemand): number {
    return this.limiter.paceMs(demand);
  }

  /**
   * One SDK call: budgeted, time-limited, and translated to CrmError on failure. It counts
   * in the rate windows until a window's length after it ends (the kit limiter's start()),
   * so however late it reaches HubSpot it never makes a burst there. CRM calls carry the
   * access token in force: renewed first when it is about to expire, and once more after a
   * 401 (HubSpot refused the request without processing it, so sending it again is safe).
   * `developer` calls (the webhooks API) authenticate with the developer API key instead.
   */
  async call<T>(what: string, fn: () => Promise<T>, kind: 'normal' | 'search' | 'developer' = 'normal'): Promise<T> {
    if (this.refused) throw this.refused;
    if (kind === 'developer') return this.once(what, fn, kind);
    const token = await this.auth.current();
    try {
      return await this.once(what, fn, kind);
    } catch (e) {
      if (!(e instanceof CrmError) || e.code !== 'AUTH_EXPIRED' || e.status !== 401 || !this.auth.renewable) throw e;
      this.opts.logger?.debug({ provider: 'HUBSPOT', what }, 'hubspot: 401, renewing the access token');
      await this.auth.afterRejection(token);
      return this.once(what, fn, kind);
    }
  }

  private async once<T>(what: string, fn: () => Promise<T>, kind: 'normal' | 'search' | 'developer'): Promise<T> {
    const searchDone = kind === 'search' ? await this.searchLimiter.start() : null;
    const done = await this.limiter.start();
    try {
      return await withDeadline(
        fn(),
        this.timeoutMs,
        () => new CrmError('NETWORK', `HubSpot ${what}: no answer within ${this.timeoutMs} ms`, { provider: 'HUBSPOT' }),
      );
    } catch (e) {
      const err = translateError(e, what);
      this.opts.logger?.debug({ code: err.code, status: err.status, what }, 'hubspot call failed');
      throw err;
    } finally {
      done();
      searchDone?.();
    }
  }

  /**
   * The HubSpot account this token belongs to. HubSpot's account information API
   * documents `GET /account-info/v3/details` answering `{ portalId, accountType,
   * timeZone, ... }` where portalId is "the unique identifier for the HubSpot account"
   * (the Hub ID webhooks carry as `portalId`).
   */
  async whoami(): Promise<{ accountId: string }> {
    const body = await this.call('account details', async () => {
      // The token in force, not the one the SDK was built with (renewed in place).
      const res = await this.sdk.apiRequest({
        method: 'GET',
        path: '/account-info/v3/details',
        authType: 'none',
        headers: { Authorization: `Bearer ${this.auth.token ?? ''}` },
      });
      const text = await res.text();
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => {
        headers[k] = v;
      });
      // Shaped like the SDK's ApiException so the one translator maps its status.
      if (!res.ok) throw { code: res.status, body: text, headers };
      try {
        return JSON.parse(text) as { portalId?: unknown };
      } catch {
        throw new CrmError('UPSTREAM', 'HubSpot account details: not JSON', { provider: 'HUBSPOT', status: res.status });
      }
    });
    const portalId = body?.portalId;
    if ((typeof portalId !== 'number' || !Number.isSafeInteger(portalId)) && !(typeof portalId === 'string' && /^\d+$/.test(portalId))) {
      throw new CrmError('UPSTREAM', 'HubSpot account details without a portalId', { provider: 'HUBSPOT' });
    }
    return { accountId: String(portalId) };
  }
}
