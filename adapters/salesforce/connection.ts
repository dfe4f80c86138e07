// The connection to one Salesforce org, on jsforce 3: client construction, session
// refresh, the one call wrapper (budget, deadline, translation), SOQL queries and whoami.
// No jsforce type leaves this folder: everything thrown is a CrmError (errors.ts).
//
// Choices worth knowing:
// - Every request carries `Sforce-Call-Options: client=<callOptionsClient>` (jsforce's
//   `callOptions`), so Salesforce's change origin names us.
// - jsforce's own transport retries (GETs on 5xx/429, up to 5 times with growing sleeps)
//   are switched off for the requests issued here: failures surface as CrmError at once
//   and the engine's retry policy is the only one.
// - Session refresh uses jsforce's refresh delegate with our own refresh function, so the
//   new credentials are persisted (onCredentialsChanged, awaited) BEFORE the failed call is
//   replayed, rotated refresh tokens and a changed instance URL are kept, and a refresh
//   loop (the API rejecting every fresh token) ends in AUTH_EXPIRED instead of spinning.
// - With a TokenKeeper (ConnectionOptions.tokens) the refresh delegate asks the keeper and
//   never calls the token endpoint itself. jsforce runs one refresh at a time and replays
//   the refused request once it is done (its SessionRefreshDelegate), so a session expiring
//   in the middle of a push or an import costs one refresh. Salesforce names no expiry for
//   a session (the org's session timeout decides): renewal happens on 401 only.
// - A refresh token Salesforce refuses (invalid_grant) is AUTH_REVOKED.
import { createRequire } from 'node:module';
import type { Connection } from 'jsforce';
import { z } from 'zod';
import { CrmError, type AdapterLogger, type ConnectionOptions, type CrmRecord, type Credentials } from '../contract.ts';
import { withDeadline } from '../kit/deadline.ts';
import { RequestLimiter } from '../kit/limiter.ts';
import { checkOrigin, HostAllowList, NetGuardError, type NetworkPolicy } from '../kit/net-guard.ts';
import { boundedText } from '../kit/text.ts';
import { guardedFetch } from '../kit/transport.ts';
import { toCrmError } from './errors.ts';
import { crmRecordFromSalesforce, DEFAULT_EXTERNAL_ID_FIELD, DEFAULT_ORIGIN_FIELD, id18, isSalesforceId, selectFields } from './mappers.ts';
import { useGuardedTransport } from './transport.ts';

/**
 * Salesforce's hosts: instance and My Domain URLs (`https://MyDomain.my.salesforce.com`,
 * sandboxes below it), the generic login hosts `login.salesforce.com` and
 * `test.salesforce.com`, and the older `*.force.com` names.
 */
export const SALESFORCE_HOSTS: readonly string[] = ['*.salesforce.com', '*.force.com'];
const HOSTS = new HostAllowList(SALESFORCE_HOSTS);

// jsforce is loaded when the first Salesforce connection is made, not when the adapter is:
// it costs a process some 15 MB resident, which one without Salesforce integrations
// never needs. (Its package is CommonJS: `require` loads it synchronously.)
const require = createRequire(import.meta.url);
let jsforce: typeof import('jsforce') | undefined;
const jsforceConnection = (): typeof Connection => (jsforce ??= require('jsforce') as typeof import('jsforce')).Connection;

export const API_VERSION = '62.0';
const DEFAULT_CALL_CLIENT = 'crm-sync';
/**
 * The client-side budget. Salesforce has no short-window API limit (its limits are a
 * rolling 24 h count and 25 concurrent long-running requests); the budget keeps one
 * integration from monopolising the org's daily allowance in a burst.
 */
const DEFAULT_RATE_LIMIT = { requests: 25, perMs: 1_000 };
/** More refreshes than this within REFRESH_WINDOW_MS means the API rejects fresh tokens. */
const MAX_REFRESHES = 3;
const REFRESH_WINDOW_MS = 60_000;
const NO_RETRY = { retry: { maxRetries: 0 } };

export const sfRecord = z.looseObject({ Id: z.string() });
const queryResult = z.object({
  totalSize: z.number(),
  done: z.boolean(),
  records: z.array(sfRecord),
  nextRecordsUrl: z.string().optional(),
});
export type SfRecord = z.infer<typeof sfRecord>;

const tokenResponse = z.looseObject({
  access_token: z.string().min(1),
  instance_url: z.string().optional(),
  refresh_token: z.string().optional(),
  issued_at: z.string().optional(),
});

export interface SalesforceSettings {
  originField: string;
  externalIdField: string;
  callOptionsClient: string;
}

const fieldName = /^[A-Za-z][A-Za-z0-9_]*$/;

export function resolveSettings(settings: Record<string, unknown>, credentials: Credentials): SalesforceSettings {
  const str = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
  const originField = str(settings.originField) ?? DEFAULT_ORIGIN_FIELD;
  const externalIdField = str(settings.externalIdField) ?? DEFAULT_EXTERNAL_ID_FIELD;
  for (const f of [originField, externalIdField]) {
    if (!fieldName.test(f)) throw new CrmError('VALIDATION', `invalid Salesforce field name in settings: ${f}`, { provider: 'SALESFORCE' });
  }
  const callOptionsClient = str(settings.callOptionsClient) ?? str(credentials.callOptionsClient) ?? DEFAULT_CALL_CLIENT;
  if (!/^[A-Za-z0-9_.-]+$/.test(callOptionsClient)) {
    throw new CrmError('VALIDATION', `invalid Sforce-Call-Options client id: ${callOptionsClient}`, { provider: 'SALESFORCE' });
  }
  return { originField, externalIdField, callOptionsClient };
}

export class SalesforceConnection {
  readonly originField: string;
  readonly externalIdField: string;
  readonly callOptionsClient: string;

  /** The jsforce connection (its transport replaced by the guarded one). */
  readonly api: Connection;
  private readonly limiter: RequestLimiter;
  private readonly timeoutMs: number;
  readonly logger?: AdapterLogger;
  /** Lead fields beyond the six every read asks for (ConnectionOptions.extraFields). */
  readonly extraFields: readonly string[];
  private credentials: Credentials;
  private readonly onCredentialsChanged?: ConnectionOptions['onCredentialsChanged'];
  private refreshTimes: number[] = [];
  private usageWarned = false;
  private readonly network: NetworkPolicy;
  /** The CrmError of the last failed renewal, for the translator (jsforce re-words it). */
  private refreshFailure: CrmError | undefined;

  constructor(opts: ConnectionOptions) {
    const s = resolveSettings(opts.settings, opts.credentials);
    this.originField = s.originField;
    this.externalIdField = s.externalIdField;
    this.callOptionsClient = s.callOptionsClient;
    this.logger = opts.logger;
    this.extraFields = opts.extraFields ?? [];
    this.credentials = { ...opts.credentials };
    this.onCredentialsChanged = opts.onCredentialsChanged;
    const rl = opts.rateLimit ?? DEFAULT_RATE_LIMIT;
    this.limiter = new RequestLimiter({ rate: rl });
    this.network = opts.network ?? {};
    this.timeoutMs = opts.callTimeoutMs ?? 30_000;

    const baseUrl = opts.baseUrl.replace(/\/+$/, '');
    const { accessToken, refreshToken, clientId, clientSecret } = opts.credentials;
    if (!accessToken && !refreshToken) {
      throw new CrmError('AUTH_EXPIRED', 'Salesforce credentials need an accessToken or a refreshToken', {
        provider: 'SALESFORCE',
        retryable: false,
      });
    }
    const keeper = opts.tokens;
    const canRefresh = Boolean(refreshToken && clientId);
    this.api = new (jsforceConnection())({
      instanceUrl: baseUrl,
      accessToken: accessToken ?? undefined,
      refreshToken: canRefresh ? refreshToken : undefined,
      version: API_VERSION,
      callOptions: { client: this.callOptionsClient },
      oauth2: canRefresh
        ? { clientId, clientSecret: clientSecret ?? undefined, loginUrl: (opts.credentials.loginUrl ?? baseUrl).replace(/\/+$/, '') }
        : undefined,
      refreshFn: keeper
        ? (conn, callback) => void this.renewViaKeeper(keeper, conn, callback)
        : canRefresh
          ? (conn, callback) => void this.refreshSession(conn, callback)
          : undefined,
    });
    // Every request (REST and the token endpoint) goes through the network guard.
    useGuardedTransport(this.api, guardedFetch({ hosts: HOSTS, policy: this.network }));
  }

  /** The token answer's instance_url when it is a Salesforce host; null (and a warning) otherwise. */
  private checkedInstanceUrl(url: string | undefined): string | null {
    if (!url) return null;
    try {
      return checkOrigin(url, HOSTS, this.network);
    } catch (e) {
      this.logger?.warn(
        { provider: 'SALESFORCE', reason: e instanceof NetGuardError ? e.reason : 'URL_INVALID' },
        'Salesforce token refresh named an instance_url that is not a Salesforce host; ignored',
      );
      return null;
    }
  }

  /** Throws when the API keeps refusing fresh tokens (a refresh loop). */
  private countRefresh(): void {
    const now = Date.now();
    this.refreshTimes = this.refreshTimes.filter((t) => t > now - REFRESH_WINDOW_MS);
    if (this.refreshTimes.length >= MAX_REFRESHES) {
      throw new Error(`refresh loop: ${this.refreshTimes.length} refreshes within ${REFRESH_WINDOW_MS / 1000}s were all rejected`);
    }
    this.refreshTimes.push(now);
  }

  /** jsforce's refresh delegate with a TokenKeeper: the keeper renews (or hands over what another worker renewed). */
  private async renewViaKeeper(
    keeper: NonNullable<ConnectionOptions['tokens']>,
    conn: Connection,
    callback: (err?: Error | null, accessToken?: string, res?: never) => void,
  ): Promise<void> {
    try {
      this.countRefresh();
      const r = await keeper.renew(conn.accessToken ?? undefined);
      const token = r.credentials.accessToken;
      if (!token) throw new CrmError('UPSTREAM', 'Salesforce: the token keeper answered no access token', { provider: 'SALESFORCE', retryable: false });
      const instanceUrl = this.checkedInstanceUrl(r.baseUrl);
      if (instanceUrl) conn.instanceUrl = instanceUrl;
      this.credentials = { ...this.credentials, ...r.credentials };
      this.refreshFailure = undefined;
      callback(null, token);
    } catch (e) {
      this.refreshFailure = e instanceof CrmError ? e : undefined;
      callback(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private async refreshSession(
    conn: Connection,
    callback: (err?: Error | null, accessToken?: string, res?: never) => void,
  ): Promise<void> {
    try {
      this.refreshFailure = undefined;
      this.countRefresh();
      const refreshToken = conn.refreshToken;
      if (!refreshToken) throw new Error('No refresh token found in the connection');
      let answer: unknown;
      try {
        answer = await conn.oauth2.refreshToken(refreshToken);
      } catch (e) {
        // jsforce puts a non-JSON error body in the message: keep only the error name.
        const name = e instanceof Error ? e.name : '';
        throw new Error(
          name.startsWith('ERROR_HTTP_')
            ? `token endpoint answered ${name}`
            : `${boundedText(name, 60)}: ${boundedText(e instanceof Error ? e.message : String(e))}`,
          { cause: e },
        );
      }
      const res = tokenResponse.parse(answer);
      const instanceUrl = this.checkedInstanceUrl(res.instance_url);
      if (instanceUrl) conn.instanceUrl = instanceUrl;
      if (res.refresh_token) conn.refreshToken = res.refresh_token;
      const next: Credentials = {
        ...this.credentials,
        accessToken: res.access_token,
        refreshToken: res.refresh_token ?? this.credentials.refreshToken,
        instanceUrl: instanceUrl ?? this.credentials.instanceUrl,
        issuedAt: res.issued_at ? new Date(Number(res.issued_at)).toISOString() : new Date().toISOString(),
        // Salesforce does not say when a token expires: a stale expiry must not linger.
        expiresAt: undefined,
      };
      this.credentials = next;
      if (this.onCredentialsChanged) {
        try {
          await this.onCredentialsChanged({ ...next }, instanceUrl ? { baseUrl: instanceUrl } : undefined);
        } catch (e) {
          // The fresh token works; failing to store it costs one more refresh later.
          this.logger?.error({ err: e, provider: 'SALESFORCE' }, 'persisting refreshed Salesforce credentials failed');
        }
      }
      this.logger?.info({ provider: 'SALESFORCE' }, 'Salesforce session refreshed');
      callback(null, res.access_token);
    } catch (e) {
      callback(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /**
   * Runs one API call under the budget and its deadline (callTimeoutMs: a call without an
   * answer by then fails as NETWORK, retryable), and translates any failure.
   */
  async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    await this.limiter.acquire();
    try {
      const out = await withDeadline(
        fn(),
        this.timeoutMs,
        () => new CrmError('NETWORK', `Salesforce ${what}: no answer within ${this.timeoutMs} ms`, { provider: 'SALESFORCE' }),
      );
      this.watchUsage();
      return out;
    } catch (e) {
      // Every call the failed renewal held back gets its error (reset by the next renewal).
      const err = toCrmError(e, this.refreshFailure);
      this.logger?.warn({ provider: 'SALESFORCE', code: err.code, what }, err.message);
      throw err;
    }
  }

  private watchUsage(): void {
    const usage = this.api.limitInfo?.apiUsage;
    if (!usage || usage.limit <= 0) return;
    const high = usage.used / usage.limit >= 0.9;
    if (high && !this.usageWarned) {
      this.logger?.warn({ provider: 'SALESFORCE', used: usage.used, limit: usage.limit }, 'Salesforce daily API usage above 90%');
    }
    this.usageWarned = high;
  }

  get<T>(what: string, url: string): Promise<T> {
    return this.call(what, () => this.api.request<T>({ method: 'GET', url }, NO_RETRY));
  }

  /** Runs a SOQL query, following nextRecordsUrl until `max` records or the end. */
  async query(what: string, soql: string, max: number): Promise<SfRecord[]> {
    const records: SfRecord[] = [];
    let res = this.parse(queryResult, await this.get<unknown>(what, `/query?q=${encodeURIComponent(soql)}`), what);
    records.push(...res.records);
    while (!res.done && res.nextRecordsUrl && records.length < max) {
      res = this.parse(queryResult, await this.get<unknown>(`${what} (queryMore)`, res.nextRecordsUrl), what);
      records.push(...res.records);
    }
    return records.slice(0, max);
  }

  parse<S extends z.ZodType>(schema: S, data: unknown, what: string): z.infer<S> {
    const r = schema.safeParse(data);
    if (!r.success) {
      throw new CrmError('UPSTREAM', `unexpected Salesforce response to ${what}`, {
        provider: 'SALESFORCE',
        cause: r.error,
      });
    }
    return r.data;
  }

  toRecord(r: SfRecord): CrmRecord {
    return crmRecordFromSalesforce(r, this.originField);
  }

  get fieldList(): string {
    return selectFields(this.originField, this.externalIdField).join(', ');
  }

  /**
   * The org this session belongs to. Salesforce's UserInfo endpoint (OpenID Connect,
   * `GET /services/oauth2/userinfo` with the access token) "returns basic personal
   * information about the user" of the token, including `organization_id`; it is served
   * on the org's own My Domain host too, so it is asked of the instance (an expired
   * session is refreshed and the call replayed like any other).
   */
  async whoami(): Promise<{ accountId: string }> {
    const info = await this.get<unknown>('userinfo', '/services/oauth2/userinfo');
    const org = info && typeof info === 'object' ? (info as { organization_id?: unknown }).organization_id : undefined;
    if (typeof org !== 'string' || !isSalesforceId(org)) {
      throw new CrmError('UPSTREAM', 'Salesforce userinfo without an organization_id', { provider: 'SALESFORCE', retryable: false });
    }
    // The 18-character form, the one outbound messages carry.
    return { accountId: id18(org) };
  }
}
