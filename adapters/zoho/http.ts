// A small typed HTTP client for Zoho CRM REST API v7 on the global fetch.
//
// The API host is the integration's stored `api_domain` (ConnectionOptions.baseUrl);
// nothing here falls back to the US data centre. The region table only answers
// "which accounts host belongs to this api domain" when credentials lack accountsUrl.
import { CrmError, type AdapterLogger } from '../contract.ts';
import type { RequestLimiter } from '../kit/limiter.ts';
import type { FetchLike } from '../kit/transport.ts';
import type { ZohoAuth } from './auth.ts';
import { networkError, translateZohoError, unexpectedResponse } from './errors.ts';

export type ZohoRegion = 'US' | 'EU' | 'IN' | 'AU' | 'CN' | 'JP' | 'CA' | 'SA' | 'UK';

/** Zoho data centres: API domain and accounts (OAuth) host of each. */
export const ZOHO_REGIONS: Readonly<Record<ZohoRegion, { apiDomain: string; accountsUrl: string }>> = {
  US: { apiDomain: 'https://www.zohoapis.com', accountsUrl: 'https://accounts.zoho.com' },
  EU: { apiDomain: 'https://www.zohoapis.eu', accountsUrl: 'https://accounts.zoho.eu' },
  IN: { apiDomain: 'https://www.zohoapis.in', accountsUrl: 'https://accounts.zoho.in' },
  AU: { apiDomain: 'https://www.zohoapis.com.au', accountsUrl: 'https://accounts.zoho.com.au' },
  CN: { apiDomain: 'https://www.zohoapis.com.cn', accountsUrl: 'https://accounts.zoho.com.cn' },
  JP: { apiDomain: 'https://www.zohoapis.jp', accountsUrl: 'https://accounts.zoho.jp' },
  CA: { apiDomain: 'https://www.zohoapis.ca', accountsUrl: 'https://accounts.zohocloud.ca' },
  SA: { apiDomain: 'https://www.zohoapis.sa', accountsUrl: 'https://accounts.zoho.sa' },
  UK: { apiDomain: 'https://www.zohoapis.uk', accountsUrl: 'https://accounts.zoho.uk' },
};

/**
 * The network guard's allow-lists. Zoho's multi-DC documentation lists one accounts
 * server per data centre (accounts.zoho.com, .eu, .in, .com.au, .com.cn, .jp,
 * accounts.zohocloud.ca, ...) and the API domain of each (https://www.zohoapis.eu,
 * https://www.zohoapis.com.cn, ...); token answers name the api_domain, with or
 * without `www.`.
 */
export const ZOHO_API_HOSTS: readonly string[] = Object.values(ZOHO_REGIONS).flatMap((r) => {
  const host = new URL(r.apiDomain).hostname;
  return [host, host.replace(/^www\./, '')];
});
export const ZOHO_ACCOUNTS_HOSTS: readonly string[] = Object.values(ZOHO_REGIONS).map((r) => new URL(r.accountsUrl).hostname);

function hostOf(url: string): string | null {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return null;
  }
}

/** The region of an api domain (`https://www.zohoapis.eu`, `zohoapis.eu`, ...), or null. */
export function regionOfApiDomain(apiDomain: string): ZohoRegion | null {
  const host = hostOf(apiDomain.includes('://') ? apiDomain : `https://${apiDomain}`);
  if (!host) return null;
  for (const [region, r] of Object.entries(ZOHO_REGIONS) as [ZohoRegion, { apiDomain: string }][]) {
    const known = hostOf(r.apiDomain)!;
    if (host === known || host === known.replace(/^www\./, '') || host.endsWith(`.${known.replace(/^www\./, '')}`)) return region;
  }
  return null;
}

/** The accounts host of the region an api domain belongs to, or null when it is not a Zoho domain. */
export function accountsUrlForApiDomain(apiDomain: string): string | null {
  const region = regionOfApiDomain(apiDomain);
  return region ? ZOHO_REGIONS[region].accountsUrl : null;
}

/** Strips a trailing slash and any path: Zoho's api_domain is an origin. */
export function normaliseOrigin(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}`;
}

export type { FetchLike } from '../kit/transport.ts';

export interface ZohoRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path below /crm/v7, e.g. `/Leads/upsert`. */
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  /**
   * Bulk writes answer per-record results even with a 4xx status (all records failed):
   * hand such bodies back instead of throwing.
   */
  perRecord?: boolean;
}

export interface ZohoResponse<T = unknown> {
  status: number;
  /** Parsed JSON; null for 204/304 and empty bodies. */
  body: T | null;
  headers: Headers;
}

export interface ZohoHttpOptions {
  /** The api_domain; may change when a refresh answers another api_domain. */
  apiDomain: () => string;
  auth: ZohoAuth;
  fetch: FetchLike;
  /** Caps concurrent requests (Zoho's per-org concurrency is 5-25 by edition) and, optionally, a rate. */
  limiter: RequestLimiter;
  logger?: AdapterLogger;
  /** Per-request timeout (ms). */
  timeoutMs?: number;
}

export class ZohoHttp {
  constructor(private readonly opts: ZohoHttpOptions) {}

  url(path: string, query?: ZohoRequest['query']): string {
    const u = new URL(`/crm/v7${path}`, this.opts.apiDomain());
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  /**
   * Sends one request with a valid access token; on 401 refreshes (single-flight) and
   * retries once. Non-2xx answers become CrmError (except per-record bodies, see above).
   */
  async request<T = unknown>(req: ZohoRequest): Promise<ZohoResponse<T>> {
    let token = await this.opts.auth.accessToken();
    let res = await this.send<T>(req, token);
    if (res.status === 401) {
      this.opts.logger?.debug({ path: req.path }, 'zoho: 401, refreshing the access token');
      token = await this.opts.auth.refreshAfterRejection(token);
      res = await this.send<T>(req, token);
    }
    if (res.status >= 200 && res.status < 300) return res;
    if (res.status === 304) return { ...res, body: null };
    const items = resultItems(res.body);
    if (req.perRecord && res.status >= 400 && res.status < 500 && res.status !== 401 && res.status !== 429 && items) {
      return res;
    }
    const body = (res.body ?? {}) as Record<string, unknown>;
    // Bulk endpoints wrap errors in an array (`data`, `fields`, `watch`): report the first.
    const first = body.code === undefined && items ? items.find((i) => i && typeof i === 'object' && (i as { status?: unknown }).status !== 'success') : undefined;
    throw translateZohoError((first as Record<string, unknown> | undefined) ?? body, res.status, res.headers);
  }

  private async send<T>(req: ZohoRequest, token: string): Promise<ZohoResponse<T>> {
    const url = this.url(req.path, req.query);
    const headers: Record<string, string> = {
      authorization: `Zoho-oauthtoken ${token}`,
      accept: 'application/json',
      ...(req.headers ?? {}),
    };
    let payload: string | undefined;
    if (req.body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(req.body);
    }
    return this.opts.limiter.run(async () => {
      let res: Response;
      try {
        res = await this.opts.fetch(url, {
          method: req.method,
          headers,
          body: payload,
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
        });
      } catch (e) {
        throw networkError(e, `${req.method} ${url.split('?')[0]}`);
      }
      let text: string;
      try {
        text = await res.text();
      } catch (e) {
        throw networkError(e, `${req.method} ${url.split('?')[0]}`);
      }
      let body: T | null = null;
      if (text.trim() !== '') {
        try {
          body = JSON.parse(text) as T;
        } catch (e) {
          if (res.status >= 200 && res.status < 300) throw unexpectedResponse('not JSON', res.status, e);
          // Error pages from proxies: classify by status alone.
          body = null;
        }
      }
      return { status: res.status, body, headers: res.headers };
    });
  }
}

/** The per-record result array of a bulk answer (`data`, `fields` or `watch`), if any. */
export function resultItems(body: unknown): unknown[] | null {
  if (!body || typeof body !== 'object') return null;
  for (const key of ['data', 'fields', 'watch']) {
    const v = (body as Record<string, unknown>)[key];
    if (Array.isArray(v)) return v;
  }
  return null;
}

export function assertObject(v: unknown, what: string, status: number): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw unexpectedResponse(what, status);
  return v as Record<string, unknown>;
}

export function isCrmErrorCode(e: unknown, ...codes: string[]): e is CrmError {
  return e instanceof CrmError && codes.includes(e.code);
}
