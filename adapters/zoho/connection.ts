// The connection to one Zoho CRM org (REST API v7): the settings in force, client
// construction (api_domain, OAuth through auth.ts, the HTTP client of http.ts under the
// network guard and the request limiter), whoami, and the shapes of Zoho's answers.
import { CrmError, type ConnectionOptions } from '../contract.ts';
import { RequestLimiter } from '../kit/limiter.ts';
import { checkOrigin, HostAllowList, NetGuardError } from '../kit/net-guard.ts';
import { guardedFetch } from '../kit/transport.ts';
import { ZohoAuth } from './auth.ts';
import { unexpectedResponse } from './errors.ts';
import { accountsUrlForApiDomain, normaliseOrigin, ZOHO_ACCOUNTS_HOSTS, ZOHO_API_HOSTS, ZohoHttp, type FetchLike, type ZohoResponse } from './http.ts';
import { DEFAULT_ORIGIN_FIELD, type ZohoLead } from './mappers.ts';

const API_HOSTS = new HostAllowList(ZOHO_API_HOSTS);
const ACCOUNTS_HOSTS = new HostAllowList(ZOHO_ACCOUNTS_HOSTS);

export type WriteStrategy = 'auto' | 'insert' | 'upsert';

/** What the adapter reads from ConnectionOptions.settings (provision() fills most of it). */
export interface ZohoSettings {
  /** API name of the origin picklist, as Zoho assigned it. */
  originField: string;
  originFieldId?: string;
  channelId?: string;
  channelExpiry?: string;
  /** Whether the Leads Email field is unique ("Do not allow duplicate values"). */
  emailUnique?: boolean;
  writeStrategy: WriteStrategy;
  /** Zoho automation run on our writes; [] (default) runs none. */
  triggers: string[];
  /** How far back the unindexed look-up by email reaches (ms). */
  recentWindowMs: number;
  /** Pages of recent records read at most per push (200 each). */
  recentMaxPages: number;
  /** Concurrent requests (Zoho allows 5 on Free up to 25 on Ultimate). */
  maxConcurrent: number;
}

export function readSettings(raw: Record<string, unknown>): ZohoSettings {
  const str = (k: string) => (typeof raw[k] === 'string' && raw[k] !== '' ? (raw[k] as string) : undefined);
  const num = (k: string, d: number) => (typeof raw[k] === 'number' && Number.isFinite(raw[k]) && (raw[k] as number) > 0 ? (raw[k] as number) : d);
  const strategy = raw.writeStrategy;
  return {
    originField: str('originField') ?? DEFAULT_ORIGIN_FIELD,
    originFieldId: str('originFieldId'),
    channelId: str('channelId'),
    channelExpiry: str('channelExpiry'),
    emailUnique: typeof raw.emailUnique === 'boolean' ? raw.emailUnique : undefined,
    writeStrategy: strategy === 'insert' || strategy === 'upsert' || strategy === 'auto' ? strategy : 'auto',
    triggers: Array.isArray(raw.triggers) ? raw.triggers.filter((t): t is string => typeof t === 'string') : [],
    recentWindowMs: num('recentWindowMs', 10 * 60_000),
    recentMaxPages: num('recentMaxPages', 10),
    maxConcurrent: num('maxConcurrent', 5),
  };
}

export interface ZohoDeps {
  fetch?: FetchLike;
  now?: () => number;
}

/** The `data` array of an answer ([] for 204/304: nothing matched, nothing changed). */
export function dataOf(res: ZohoResponse, what: string): Record<string, unknown>[] {
  if (res.status === 204 || res.status === 304 || res.body === null) return [];
  const data = (res.body as { data?: unknown }).data;
  if (!Array.isArray(data)) throw unexpectedResponse(`${what}: no data array`, res.status);
  return data as Record<string, unknown>[];
}

export function infoOf(res: ZohoResponse): { more: boolean; nextToken: string | null } {
  const info = (res.body as { info?: Record<string, unknown> } | null)?.info ?? {};
  return {
    more: info.more_records === true,
    nextToken: typeof info.next_page_token === 'string' && info.next_page_token !== '' ? info.next_page_token : null,
  };
}

export function asLead(item: Record<string, unknown>): ZohoLead {
  const id = item.id;
  if (typeof id !== 'string' && typeof id !== 'number') throw unexpectedResponse('record without id', 200);
  return { ...item, id: String(id) };
}

export class ZohoConnection {
  /** The settings in force; provisioning updates them (origin field, channel, Email uniqueness). */
  settings: ZohoSettings;
  /** Whether the integration named its origin field itself (settings.originField). */
  readonly explicitOriginField: boolean;
  private apiDomain: string;
  readonly http: ZohoHttp;
  readonly now: () => number;

  constructor(readonly opts: ConnectionOptions, deps: ZohoDeps = {}) {
    this.settings = readSettings(opts.settings ?? {});
    this.explicitOriginField = typeof opts.settings?.originField === 'string';
    this.now = deps.now ?? Date.now;
    try {
      this.apiDomain = normaliseOrigin(opts.baseUrl);
    } catch (e) {
      throw new CrmError('VALIDATION', `Zoho: baseUrl (api_domain) is not a URL: ${String(opts.baseUrl)}`, {
        provider: 'ZOHO',
        cause: e,
        retryable: false,
      });
    }
    const policy = opts.network ?? {};
    // Every request (API and token refresh) goes through the network guard; deps.fetch
    // (tests) replaces only the network under it.
    const fetchImpl: FetchLike = guardedFetch({ hosts: API_HOSTS.union(ACCOUNTS_HOSTS), policy, inner: deps.fetch });
    const accountsUrl = opts.credentials.accountsUrl || accountsUrlForApiDomain(this.apiDomain);
    const auth = new ZohoAuth({
      credentials: opts.credentials,
      accountsUrl: accountsUrl || null,
      fetch: fetchImpl,
      onCredentialsChanged: opts.onCredentialsChanged,
      onApiDomain: (d) => {
        try {
          this.apiDomain = checkOrigin(d, API_HOSTS, policy);
          return true;
        } catch (e) {
          opts.logger?.warn(
            { reason: e instanceof NetGuardError ? e.reason : 'URL_INVALID' },
            'zoho: token refresh named an api_domain that is not a Zoho API host; ignored',
          );
          return false;
        }
      },
      logger: opts.logger,
      now: this.now,
      keeper: opts.tokens,
    });
    const rate = opts.rateLimit;
    this.http = new ZohoHttp({
      apiDomain: () => this.apiDomain,
      auth,
      fetch: fetchImpl,
      limiter: new RequestLimiter({ maxConcurrent: this.settings.maxConcurrent, rate }),
      logger: opts.logger,
      timeoutMs: opts.callTimeoutMs,
    });
  }

  get originField(): string {
    return this.settings.originField;
  }

  /** The settings in force (what provision() would persist). */
  currentSettings(): ZohoSettings {
    return { ...this.settings };
  }

  /**
   * The Zoho org this token belongs to. Zoho's Organization API (`GET /crm/v7/org`, scope
   * ZohoCRM.org.READ) answers `{"org": [{ id, zgid, domain_name, company_name, ... }]}`;
   * `zgid` is the org id Zoho shows as the "Org ID" (domain_name is `org<zgid>`).
   */
  async whoami(): Promise<{ accountId: string }> {
    const res = await this.http.request({ method: 'GET', path: '/org' });
    const org = ((res.body as { org?: unknown } | null)?.org as Record<string, unknown>[] | undefined)?.[0];
    const zgid = org?.zgid;
    const id = typeof zgid === 'number' && Number.isSafeInteger(zgid) ? String(zgid) : typeof zgid === 'string' ? zgid.trim() : '';
    if (!/^\d{1,20}$/.test(id)) throw unexpectedResponse('org without a zgid', res.status);
    return { accountId: id };
  }
}
