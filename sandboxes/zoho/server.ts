// The Zoho CRM sandbox: a local HTTP server (node:http, loopback only) that speaks
// Zoho CRM REST API v7 for the Leads module, plus the accounts server's token
// endpoint. See README-style notes on `startZohoSandbox` below for the controls.
import { drawFault, FaultQueue, type FaultKind, type FaultPlan } from '../kit/faults.ts';
import type { LoggedRequest, SandboxControls } from '../kit/controls.ts';
import { RequestHooks } from '../kit/hooks.ts';
import { closeServer, listenLoopback, readBody } from '../kit/http.ts';
import { exactPath } from '../kit/match.ts';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { CriteriaError, matchesCriteria, parseCriteria } from './criteria.ts';
import { Notifier, type Channel, type Delivery } from './notifications.ts';
import { API_USER, err, HUMAN_USER, LEADS_MODULE_ID, LeadsState, ok, type Change, type RecordResult, type StoredLead } from './state.ts';

export interface ZohoSandboxOptions {
  /** Port of the API server; 0 (default) picks a free one. */
  port?: number;
  /** Serve the accounts host (token endpoint) on its own port; default false (same port). */
  separateAccounts?: boolean;
  accountsPort?: number;
  clientId?: string;
  clientSecret?: string;
  refreshToken?: string;
  /** Index lag after each write, real ms: searches miss the record until it passes. Default 0. */
  searchLagMs?: number;
  /** Lead Email is a unique field (inserts of a taken email fail with DUPLICATE_DATA). Default true. */
  emailUnique?: boolean;
  /** Reject picklist values that are not in the field's list. Default false (Zoho accepts new values). */
  strictPicklists?: boolean;
  /** Time zone offset (minutes) in which every time is rendered. Default +330. */
  timezoneOffsetMinutes?: number;
  /** API name the sandbox assigns to a new custom field (default: label with underscores). */
  customFieldApiName?: (label: string) => string;
  /** `api_domain` the token endpoint answers; default the sandbox's own URL. */
  apiDomain?: string;
  /** channel_expiry beyond one week: 'default_1h' (documented behaviour, default) or 'error'. */
  overlongChannelExpiry?: 'default_1h' | 'error';
  /** The org's id as Zoho shows it ("Org ID", the `zgid` of GET /crm/v7/org). Default 60000000001. */
  orgId?: string;
  /** A workflow rule on create: fields it writes right after a lead is created with workflows on. */
  workflowOnCreate?: Record<string, unknown> | null;
}

/** The kit's fault kinds the Zoho sandbox renders (not_found: every record id of the call is unknown). */
export type SandboxFault = Extract<FaultKind, 'rate_limit' | 'server_error' | 'auth_expired' | 'not_found' | 'network'>;

export interface RequestLogEntry extends LoggedRequest {
  query: Record<string, string>;
  host: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface ZohoSandboxControls extends SandboxControls<SandboxFault, RequestLogEntry> {
  /** The org's zgid (what GET /crm/v7/org names). */
  readonly orgId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly refreshToken: string;
  /** Issues a valid access token as the accounts server would (not counted as a token call). */
  issueAccessToken(ttlSeconds?: number): { accessToken: string; expiresAt: string };
  /** Makes every access token issued so far invalid (401 INVALID_TOKEN). */
  expireAccessTokens(): void;
  /** Calls to POST /oauth/v2/token so far. */
  readonly tokenCalls: number;
  /** Every API request (token endpoint included), in arrival order. */
  readonly requests: RequestLogEntry[];
  resetLog(): void;
  /** The next `count` API calls (not token calls) fail this way. */
  injectFault(kind: SandboxFault, count?: number): void;
  /** The next `count` token calls answer `{"error":"invalid_code"}` (or a 500). */
  failTokenEndpoint(kind: 'invalid_code' | 'server_error', count?: number): void;
  /** Every API call waits this long before answering (0 = none). */
  setLatency(ms: number): void;
  /**
   * From now on each API call fails with probability `plan.rate` (null: off), in the shared
   * chaos vocabulary: rate_limit is a 429 TOO_MANY_REQUESTS, server_error a 500/502/503,
   * latency holds the call before applying it, lost_response applies it and drops the connection.
   */
  setFaultPlan(plan: FaultPlan | null): void;
  /**
   * Runs `fn` right after the next `count` API calls to `method path` were applied, before
   * they are answered (e.g. a person editing a record the client just wrote).
   */
  afterRequest(match: { method: string; path: string }, fn: () => void, count?: number): void;
  /** Zoho's clock: every change from now on carries this time (null: real time). */
  setClock(at: Date | null): void;
  now(): Date;
  /**
   * Records `fn` creates get their id and Modified_Time now but stay out of `GET /Leads`
   * until the returned function is called: a save that commits after it was stamped.
   */
  commitLater(fn: () => void): () => void;
  /** Search index lag for later writes; indexNow() makes everything searchable at once. */
  setSearchLag(ms: number): void;
  indexNow(): void;
  /** Writes "as a person" in the Zoho UI (field API names). Throws on validation errors. */
  createLeadAsUser(values: Record<string, unknown>): string;
  updateLeadAsUser(id: string, values: Record<string, unknown>): void;
  deleteLead(id: string): void;
  /** The record as GET /Leads/{id} renders it, or null. */
  getLead(id: string): Record<string, unknown> | null;
  listLeads(): Record<string, unknown>[];
  /** Field metadata (the Leads module). */
  fields(): Array<{ api_name: string; field_label: string; data_type: string; custom_field: boolean; pick_list_values: string[] }>;
  /** Channels registered through /actions/watch, live or expired. */
  channels(): Array<Omit<Channel, 'expiresAt'> & { expiresAt: Date; live: boolean }>;
  /** The exact request Zoho would send for a change on a channel. */
  renderNotification(
    channelId: string,
    operation: 'insert' | 'update' | 'delete',
    ids: string[],
  ): { url: string; headers: Record<string, string>; rawBody: string };
  readonly deliveries: Delivery[];
  holdNotifications(): void;
  releaseNotifications(opts?: { reverse?: boolean }): void;
  duplicateNextNotifications(count: number): void;
  delayNotifications(ms: number): void;
  flushNotifications(): Promise<void>;
  /** Every Leads change in order (operation, ids, who). */
  readonly changes: Change[];
}

export interface ZohoSandbox {
  /** The api_domain, e.g. http://127.0.0.1:PORT */
  url: string;
  /** The accounts host, e.g. http://127.0.0.1:PORT (same as url unless separateAccounts). */
  accountsUrl: string;
  controls: ZohoSandboxControls;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const JSON_TYPE = 'application/json;charset=UTF-8';
const WEEK_MS = 7 * 24 * 3600_000;

function errorBody(code: string, message: string, details: Record<string, unknown> = {}) {
  return { code, details, message, status: 'error' };
}

function statusFor(results: RecordResult[], allOk: number): number {
  const okCount = results.filter((r) => r.status === 'success').length;
  if (okCount === results.length) return allOk;
  if (okCount === 0) return 400;
  return 207;
}

export async function startZohoSandbox(options: ZohoSandboxOptions = {}): Promise<ZohoSandbox> {
  const clientId = options.clientId ?? '1000.SANDBOXCLIENTID';
  const orgId = options.orgId ?? '60000000001';
  const clientSecret = options.clientSecret ?? 'sandbox-client-secret';
  const refreshToken = options.refreshToken ?? `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;
  const state = new LeadsState({
    emailUnique: options.emailUnique ?? true,
    strictPicklists: options.strictPicklists ?? false,
    searchLagMs: options.searchLagMs ?? 0,
    timezoneOffsetMinutes: options.timezoneOffsetMinutes ?? 330,
    customFieldApiName: options.customFieldApiName,
    workflowOnCreate: options.workflowOnCreate ?? null,
  });
  let apiUrl = '';
  const notifier = new Notifier(state, () => apiUrl);
  state.onChange = (c) => notifier.onChange(c);

  const tokens = new Map<string, number>(); // access token -> expiry (sandbox clock, ms)
  let tokenCalls = 0;
  const requests: RequestLogEntry[] = [];
  const faults = new FaultQueue<SandboxFault>();
  const tokenFaults: Array<'invalid_code' | 'server_error'> = [];
  let latencyMs = 0;
  let faultPlan: FaultPlan | null = null;
  const afterHooks = new RequestHooks();

  function issue(ttlSeconds = 3600) {
    const accessToken = `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;
    const expiresAt = state.now() + ttlSeconds * 1000;
    tokens.set(accessToken, expiresAt);
    return { accessToken, expiresAt: new Date(expiresAt).toISOString() };
  }

  // ---- token endpoint -------------------------------------------------------------------

  function tokenEndpoint(params: URLSearchParams): Reply {
    tokenCalls++;
    const fault = tokenFaults.shift();
    if (fault === 'server_error') return { status: 500, body: { error: 'internal_error' } };
    // Zoho's accounts server answers these errors with HTTP 200 and an `error` key.
    if (fault === 'invalid_code') return { status: 200, body: { error: 'invalid_code' } };
    if (params.get('grant_type') !== 'refresh_token') return { status: 200, body: { error: 'unsupported_grant_type' } };
    if (params.get('client_id') !== clientId || params.get('client_secret') !== clientSecret) {
      return { status: 200, body: { error: 'invalid_client' } };
    }
    if (params.get('refresh_token') !== refreshToken) return { status: 200, body: { error: 'invalid_code' } };
    const { accessToken } = issue(3600);
    return {
      status: 200,
      body: {
        access_token: accessToken,
        scope: 'ZohoCRM.modules.ALL ZohoCRM.settings.ALL ZohoCRM.notifications.ALL',
        api_domain: options.apiDomain ?? apiUrl,
        token_type: 'Bearer',
        expires_in: 3600,
      },
    };
  }

  // ---- API --------------------------------------------------------------------------------

  function checkAuth(header: string | undefined): Reply | null {
    if (!header) return { status: 401, body: errorBody('AUTHENTICATION_FAILURE', 'Authentication failed') };
    const m = /^Zoho-oauthtoken\s+(\S+)$/.exec(header);
    if (!m) return { status: 401, body: errorBody('AUTHENTICATION_FAILURE', 'Authentication failed') };
    const exp = tokens.get(m[1]!);
    if (exp === undefined || exp <= state.now()) return { status: 401, body: errorBody('INVALID_TOKEN', 'invalid oauth token') };
    return null;
  }

  function requireLeads(query: URLSearchParams): Reply | null {
    const module = query.get('module');
    if (module !== 'Leads') {
      return module
        ? { status: 400, body: errorBody('INVALID_MODULE', 'the module name given seems to be invalid', { resource_path_index: 0 }) }
        : { status: 400, body: errorBody('REQUIRED_PARAM_MISSING', 'One of the expected parameter is missing', { param: 'module' }) };
    }
    return null;
  }

  function dataArray(body: unknown): Record<string, unknown>[] | Reply {
    if (!body || typeof body !== 'object' || !Array.isArray((body as { data?: unknown }).data)) {
      return { status: 400, body: errorBody('MANDATORY_NOT_FOUND', 'required field not found', { api_name: 'data', json_path: '$.data' }) };
    }
    const data = (body as { data: unknown[] }).data;
    if (data.length === 0) return { status: 400, body: errorBody('INVALID_DATA', 'invalid data', { api_name: 'data', json_path: '$.data' }) };
    if (data.length > 100) return { status: 400, body: errorBody('LIMIT_EXCEEDED', 'the number of records exceeds the limit', { limit: 100 }) };
    if (!data.every((d) => d && typeof d === 'object' && !Array.isArray(d))) {
      return { status: 400, body: errorBody('INVALID_DATA', 'invalid data', { json_path: '$.data' }) };
    }
    return data as Record<string, unknown>[];
  }

  /** Workflows run unless the request says `"trigger": []` (or a list without "workflow"). */
  function workflowsOn(body: unknown): boolean {
    const trigger = (body as { trigger?: unknown }).trigger;
    if (trigger === undefined) return true;
    return Array.isArray(trigger) && trigger.includes('workflow');
  }

  interface SortSpec {
    by: 'id' | 'Created_Time' | 'Modified_Time';
    order: 'asc' | 'desc';
  }

  function keyOf(l: StoredLead, by: SortSpec['by']): number | string {
    return by === 'id' ? l.id : by === 'Created_Time' ? l.createdTime : l.modifiedTime;
  }

  function compare(a: StoredLead, b: StoredLead, spec: SortSpec): number {
    const ka = keyOf(a, spec.by);
    const kb = keyOf(b, spec.by);
    const dir = spec.order === 'asc' ? 1 : -1;
    if (ka !== kb) return (ka < kb ? -1 : 1) * dir;
    // Zoho does not document the order within equal times: the sandbox puts the
    // newest id first whichever way the list is sorted, so nothing can rely on it.
    return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
  }

  function encodeToken(payload: Record<string, unknown>): string {
    return Buffer.from(JSON.stringify(payload)).toString('base64url');
  }

  function decodeToken(token: string): Record<string, unknown> | null {
    try {
      const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
      return v && typeof v === 'object' ? (v as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }

  function listLeadsApi(query: URLSearchParams, headers: http.IncomingHttpHeaders): Reply {
    const idsParam = query.get('ids');
    const fieldsParam = query.get('fields');
    if (!fieldsParam) {
      return { status: 400, body: errorBody('REQUIRED_PARAM_MISSING', 'One of the expected parameter is missing', { param: 'fields' }) };
    }
    const fields = fieldsParam.split(',').map((f) => f.trim()).filter(Boolean);
    if (fields.length > 50) return { status: 400, body: errorBody('LIMIT_EXCEEDED', 'fields limit exceeded', { limit: 50 }) };
    if (idsParam !== null) {
      const ids = idsParam.split(',').map((s) => s.trim()).filter(Boolean);
      if (ids.length > 100) return { status: 400, body: errorBody('LIMIT_EXCEEDED', 'ids limit exceeded', { limit: 100 }) };
      const found = ids.map((id) => state.get(id)).filter((l): l is StoredLead => !!l);
      if (found.length === 0) return { status: 204 };
      return {
        status: 200,
        body: {
          data: found.map((l) => state.render(l, fields)),
          info: { per_page: found.length, count: found.length, page: 1, more_records: false },
        },
      };
    }
    const sortBy = (query.get('sort_by') ?? 'id') as SortSpec['by'];
    if (!['id', 'Created_Time', 'Modified_Time'].includes(sortBy)) {
      return { status: 400, body: errorBody('INVALID_DATA', 'invalid data', { param_name: 'sort_by' }) };
    }
    const sortOrder = (query.get('sort_order') ?? 'desc') as SortSpec['order'];
    if (sortOrder !== 'asc' && sortOrder !== 'desc') {
      return { status: 400, body: errorBody('INVALID_DATA', 'invalid data', { param_name: 'sort_order' }) };
    }
    const perPage = Number(query.get('per_page') ?? '200');
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > 200) {
      return { status: 400, body: errorBody('INVALID_DATA', 'invalid data', { param_name: 'per_page' }) };
    }
    const spec: SortSpec = { by: sortBy, order: sortOrder };
    let all = [...state.leads.values()].filter((l) => !state.uncommitted.has(l.id));
    if (state.missingAll) all = [];
    const ims = headers['if-modified-since'];
    if (typeof ims === 'string') {
      const since = Date.parse(ims);
      if (Number.isNaN(since)) return { status: 400, body: errorBody('INVALID_DATA', 'invalid data', { header_name: 'If-Modified-Since' }) };
      all = all.filter((l) => l.modifiedTime > since);
      if (all.length === 0) return { status: 304 };
    }
    all.sort((a, b) => compare(a, b, spec));

    // The page token is bound to every other parameter of the first call.
    const binding = JSON.stringify([fieldsParam, sortBy, sortOrder, perPage, ims ?? null]);
    const pageToken = query.get('page_token');
    const pageParam = query.get('page');
    if (pageToken && pageParam) {
      return { status: 400, body: errorBody('AMBIGUITY_DURING_PROCESSING', 'page and page_token cannot be used together') };
    }
    let start = 0;
    let page = 1;
    if (pageToken) {
      const t = decodeToken(pageToken);
      if (!t || typeof t.after !== 'string') return { status: 400, body: errorBody('INVALID_DATA', 'The token given seems to be invalid', { param_name: 'page_token' }) };
      if (typeof t.exp === 'number' && t.exp < state.now()) return { status: 400, body: errorBody('EXPIRED_VALUE', 'The token given has expired', { param_name: 'page_token' }) };
      if (t.binding !== binding) {
        return { status: 400, body: errorBody('TOKEN_BOUND_DATA_MISMATCH', 'The page_token given seems to be invalid or input param is added, altered, or deleted', { param_name: 'page_token' }) };
      }
      // Keyset: resume after the last record handed out (by its sort key and id).
      const after = JSON.parse(t.after) as { key: number | string; id: string };
      const probe = { id: after.id, createdTime: after.key, modifiedTime: after.key } as unknown as StoredLead;
      start = all.findIndex((l) => compare(l, probe, spec) > 0);
      if (start < 0) start = all.length;
      page = typeof t.page === 'number' ? t.page : 2;
    } else if (pageParam) {
      page = Number(pageParam);
      if (!Number.isInteger(page) || page < 1) return { status: 400, body: errorBody('INVALID_DATA', 'invalid data', { param_name: 'page' }) };
      if (page * perPage > 2000) {
        return { status: 400, body: errorBody('DISCRETE_PAGINATION_LIMIT_EXCEEDED', 'You can only get the first 2000 records without using page_token param', {}) };
      }
      start = (page - 1) * perPage;
    }
    const slice = all.slice(start, start + perPage);
    if (slice.length === 0) return { status: 204 };
    const more = start + perPage < all.length;
    const last = slice[slice.length - 1]!;
    const nextToken = more
      ? encodeToken({
          after: JSON.stringify({ key: keyOf(last, sortBy), id: last.id }),
          binding,
          page: page + 1,
          exp: state.now() + 24 * 3600_000,
        })
      : null;
    return {
      status: 200,
      body: {
        data: slice.map((l) => state.render(l, fields)),
        info: {
          call: false,
          per_page: perPage,
          next_page_token: nextToken,
          count: slice.length,
          sort_by: sortBy,
          page,
          previous_page_token: null,
          page_token_expiry: nextToken ? state.fmt(state.now() + 24 * 3600_000) : null,
          sort_order: sortOrder,
          email: false,
          more_records: more,
        },
      },
    };
  }

  function searchApi(query: URLSearchParams): Reply {
    state.refreshIndex();
    let predicate: (values: Record<string, unknown>) => boolean;
    const email = query.get('email');
    const criteria = query.get('criteria');
    if (email !== null) {
      const wanted = email.trim().toLowerCase();
      predicate = (v) => ['Email'].some((f) => typeof v[f] === 'string' && (v[f] as string).toLowerCase() === wanted);
    } else if (criteria !== null) {
      try {
        const c = parseCriteria(criteria);
        predicate = (v) => matchesCriteria(c, v);
      } catch (e) {
        if (e instanceof CriteriaError) return { status: 400, body: errorBody('INVALID_QUERY', 'invalid query formed', { reason: e.message }) };
        throw e;
      }
    } else {
      return { status: 400, body: errorBody('REQUIRED_PARAM_MISSING', 'One of the expected parameter is missing', { param: 'criteria' }) };
    }
    const perPage = Math.min(Number(query.get('per_page') ?? '200') || 200, 200);
    const page = Math.max(Number(query.get('page') ?? '1') || 1, 1);
    const matched = state.missingAll
      ? []
      : [...state.leads.values()]
          .filter((l) => l.indexed !== null && predicate(l.indexed))
          .sort((a, b) => (a.id < b.id ? 1 : -1));
    const slice = matched.slice((page - 1) * perPage, page * perPage);
    if (slice.length === 0) return { status: 204 };
    return {
      status: 200,
      body: {
        data: slice.map((l) => state.render(l)),
        info: { per_page: perPage, count: slice.length, sort_by: 'id', page, sort_order: 'desc', more_records: matched.length > page * perPage },
      },
    };
  }

  function parseExpiry(raw: unknown, index: number): { at: number } | { error: RecordResult } {
    const now = state.now();
    if (raw === undefined || raw === null) return { at: now + 3600_000 };
    const t = typeof raw === 'string' ? Date.parse(raw) : NaN;
    if (Number.isNaN(t)) return { error: err('INVALID_DATA', { api_name: 'channel_expiry', json_path: `$.watch[${index}].channel_expiry` }, 'invalid data') };
    if (t - now > WEEK_MS) {
      if (options.overlongChannelExpiry === 'error') {
        return { error: err('INVALID_DATA', { api_name: 'channel_expiry', json_path: `$.watch[${index}].channel_expiry` }, 'channel expiry time exceeds limit') };
      }
      // Documented: set for more than a week, the expiry defaults to one hour.
      return { at: now + 3600_000 };
    }
    if (t <= now) return { error: err('INVALID_DATA', { api_name: 'channel_expiry', json_path: `$.watch[${index}].channel_expiry` }, 'invalid data') };
    return { at: t };
  }

  function channelDetails(ch: Channel) {
    return {
      events: [
        {
          channel_expiry: state.fmt(ch.expiresAt),
          resource_uri: `${apiUrl}/crm/v2/Leads`,
          resource_id: ch.resource_id,
          resource_name: 'Leads',
          channel_id: ch.channel_id,
        },
      ],
    };
  }

  function watchApi(method: string, query: URLSearchParams, body: unknown): Reply {
    if (method === 'GET') {
      const live = notifier.liveChannels();
      if (live.length === 0) return { status: 204 };
      return {
        status: 200,
        body: {
          watch: live.map((ch) => ({
            notify_on_related_action: ch.notify_on_related_action,
            channel_expiry: state.fmt(ch.expiresAt),
            resource_uri: `${apiUrl}/crm/v2/Leads`,
            resource_id: ch.resource_id,
            notify_url: ch.notify_url,
            resource_name: 'Leads',
            channel_id: ch.channel_id,
            events: ch.events,
            token: ch.token,
          })),
        },
      };
    }
    if (method === 'DELETE') {
      const ids = (query.get('channel_ids') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      if (ids.length === 0) return { status: 400, body: errorBody('REQUIRED_PARAM_MISSING', 'One of the expected parameter is missing', { param: 'channel_ids' }) };
      const results = ids.map((id) => {
        const ch = notifier.channels.get(id);
        if (!ch) return err('INVALID_DATA', { api_name: 'channel_ids', channel_id: id }, 'invalid channel id');
        notifier.channels.delete(id);
        return ok(channelDetails(ch), 'Successfully unsubscribed from actions-watch of the given module');
      });
      return { status: statusFor(results, 200), body: { watch: results } };
    }
    const items = (body as { watch?: unknown })?.watch;
    if (!Array.isArray(items) || items.length === 0) {
      return { status: 400, body: errorBody('MANDATORY_NOT_FOUND', 'required field not found', { api_name: 'watch' }) };
    }
    const results: RecordResult[] = items.map((raw, i) => {
      const w = (raw ?? {}) as Record<string, unknown>;
      const channelId = typeof w.channel_id === 'string' || typeof w.channel_id === 'number' ? String(w.channel_id) : null;
      if (!channelId) return err('MANDATORY_NOT_FOUND', { api_name: 'channel_id', json_path: `$.watch[${i}].channel_id` }, 'required field not found');
      // channel_id is documented as a long.
      if (!/^\d{1,19}$/.test(channelId) || BigInt(channelId) > 9223372036854775807n || BigInt(channelId) === 0n) {
        return err('INVALID_DATA', { api_name: 'channel_id', json_path: `$.watch[${i}].channel_id`, expected_data_type: 'long' }, 'invalid data');
      }
      const existing = notifier.channels.get(channelId);
      if (method === 'PATCH' && (!existing || existing.expiresAt <= state.now())) {
        return err('INVALID_DATA', { api_name: 'channel_id', json_path: `$.watch[${i}].channel_id` }, 'invalid channel id');
      }
      const events = w.events ?? existing?.events;
      if (!Array.isArray(events) || events.length === 0) {
        return err('MANDATORY_NOT_FOUND', { api_name: 'events', json_path: `$.watch[${i}].events` }, 'required field not found');
      }
      if (!events.every((e) => typeof e === 'string' && /^Leads\.(create|edit|delete|all)$/.test(e))) {
        return err('INVALID_DATA', { api_name: 'events', json_path: `$.watch[${i}].events` }, 'invalid data');
      }
      const notifyUrl = w.notify_url ?? existing?.notify_url;
      if (typeof notifyUrl !== 'string' || !/^https?:\/\//.test(notifyUrl)) {
        return err('MANDATORY_NOT_FOUND', { api_name: 'notify_url', json_path: `$.watch[${i}].notify_url` }, 'required field not found');
      }
      const token = w.token === undefined ? (existing?.token ?? null) : w.token;
      if (token !== null && (typeof token !== 'string' || token.length > 50)) {
        return err('INVALID_DATA', { api_name: 'token', json_path: `$.watch[${i}].token`, maximum_length: 50 }, 'invalid data');
      }
      const expiry = w.channel_expiry === undefined && existing && method === 'PATCH' ? { at: existing.expiresAt } : parseExpiry(w.channel_expiry, i);
      if ('error' in expiry) return expiry.error;
      const ch: Channel = {
        channel_id: channelId,
        events: events as string[],
        notify_url: notifyUrl,
        token: token as string | null,
        expiresAt: expiry.at,
        return_affected_field_values: w.return_affected_field_values === true,
        notify_on_related_action: w.notify_on_related_action !== false,
        resource_id: LEADS_MODULE_ID,
      };
      notifier.channels.set(channelId, ch);
      return ok(
        channelDetails(ch),
        method === 'PATCH' ? 'Successfully updated the subscribe details' : 'Successfully subscribed for actions-watch of the given module',
      );
    });
    return { status: statusFor(results, method === 'POST' ? 200 : 200), body: { watch: results } };
  }

  function fieldsApi(method: string, fieldId: string | null, query: URLSearchParams, body: unknown): Reply {
    const bad = requireLeads(query);
    if (bad) return bad;
    if (method === 'GET') {
      if (fieldId) {
        const f = state.fields.find((x) => x.id === fieldId);
        return f ? { status: 200, body: { fields: [f] } } : { status: 204 };
      }
      return { status: 200, body: { fields: state.fields } };
    }
    const items = (body as { fields?: unknown })?.fields;
    if (!Array.isArray(items) || items.length === 0) {
      return { status: 400, body: errorBody('MANDATORY_NOT_FOUND', 'required field not found', { api_name: 'fields' }) };
    }
    if (items.length > 5) return { status: 400, body: errorBody('LIMIT_EXCEEDED', 'maximum of five fields per call', { limit: 5 }) };
    if (method === 'POST' && !fieldId) {
      const results = items.map((f, i) => state.createCustomField((f ?? {}) as Record<string, unknown>, i));
      return { status: statusFor(results, 201), body: { fields: results } };
    }
    if (method === 'PATCH') {
      const results = items.map((f) => {
        const o = (f ?? {}) as Record<string, unknown>;
        const id = fieldId ?? (typeof o.id === 'string' ? o.id : '');
        return state.updateCustomField(id, o);
      });
      return { status: statusFor(results, 200), body: { fields: results } };
    }
    return { status: 400, body: errorBody('INVALID_REQUEST_METHOD', 'The http request method type is not a valid one') };
  }

  /**
   * The Organization API: `GET /crm/v7/org` answers `{"org":[{...}]}` with the org of the
   * token: `id` (the org record id), `zgid` (the "Org ID") and `domain_name` "org<zgid>".
   */
  function orgApi(method: string): Reply {
    if (method !== 'GET') return { status: 400, body: errorBody('INVALID_REQUEST_METHOD', 'The http request method type is not a valid one') };
    return {
      status: 200,
      body: {
        org: [
          {
            id: `${orgId}000000000`.slice(0, 19),
            zgid: orgId,
            domain_name: `org${orgId}`,
            company_name: 'Sandbox Co',
            primary_email: 'admin@sandbox.example',
            time_zone: 'Asia/Kolkata',
            currency: 'US Dollar',
            iso_code: 'USD',
            country_code: 'US',
            license_details: { paid: true, paid_type: 'enterprise', users_license_purchased: 10 },
          },
        ],
      },
    };
  }

  function api(method: string, path: string, query: URLSearchParams, headers: http.IncomingHttpHeaders, body: unknown): Reply {
    const parts = path.split('/').filter(Boolean); // crm, v7, ...
    if (parts[0] !== 'crm' || parts[1] !== 'v7') {
      return { status: 404, body: errorBody('INVALID_URL_PATTERN', 'Please check if the URL trying to access is a correct one') };
    }
    const rest = parts.slice(2);
    if (rest[0] === 'org' && rest.length === 1) return orgApi(method);
    if (rest[0] === 'actions' && rest[1] === 'watch' && rest.length === 2) return watchApi(method, query, body);
    if (rest[0] === 'settings' && rest[1] === 'fields' && rest.length <= 3) return fieldsApi(method, rest[2] ?? null, query, body);
    if (rest[0] !== 'Leads') {
      if (rest.length >= 1 && /^[A-Z][A-Za-z_]*$/.test(rest[0]!)) {
        return { status: 400, body: errorBody('INVALID_MODULE', 'the module name given seems to be invalid', { resource_path_index: 0 }) };
      }
      return { status: 404, body: errorBody('INVALID_URL_PATTERN', 'Please check if the URL trying to access is a correct one') };
    }
    const sub = rest[1];
    if (rest.length === 1) {
      if (method === 'GET') return listLeadsApi(query, headers);
      if (method === 'POST' || method === 'PUT') {
        const data = dataArray(body);
        if (!Array.isArray(data)) return data;
        const workflows = workflowsOn(body);
        const results = method === 'POST' ? state.insert(data, API_USER, workflows) : state.update(data, API_USER, workflows);
        return { status: statusFor(results, method === 'POST' ? 201 : 200), body: { data: results } };
      }
      if (method === 'DELETE') {
        const ids = (query.get('ids') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
        if (ids.length === 0) return { status: 400, body: errorBody('REQUIRED_PARAM_MISSING', 'One of the expected parameter is missing', { param: 'ids' }) };
        if (ids.length > 100) return { status: 400, body: errorBody('LIMIT_EXCEEDED', 'ids limit exceeded', { limit: 100 }) };
        const results = state.delete(ids, API_USER);
        return { status: statusFor(results, 200), body: { data: results } };
      }
    }
    if (rest.length === 2 && sub === 'upsert' && method === 'POST') {
      const data = dataArray(body);
      if (!Array.isArray(data)) return data;
      const dcf = (body as { duplicate_check_fields?: unknown }).duplicate_check_fields;
      if (dcf !== undefined && (!Array.isArray(dcf) || !dcf.every((f) => typeof f === 'string'))) {
        return { status: 400, body: errorBody('INVALID_DATA', 'invalid data', { api_name: 'duplicate_check_fields' }) };
      }
      const results = state.upsert(data, (dcf as string[] | undefined) ?? [], API_USER, workflowsOn(body));
      const allInserts = results.every((r) => r.action === 'insert');
      return { status: statusFor(results, allInserts ? 201 : 200), body: { data: results } };
    }
    if (rest.length === 2 && sub === 'search' && method === 'GET') return searchApi(query);
    if (rest.length === 2 && sub && /^\d+$/.test(sub)) {
      if (method === 'GET') {
        const lead = state.get(sub);
        return lead ? { status: 200, body: { data: [state.render(lead)] } } : { status: 204 };
      }
      if (method === 'PUT') {
        const data = dataArray(body);
        if (!Array.isArray(data)) return data;
        const results = state.update(data.slice(0, 1), API_USER, workflowsOn(body), sub);
        return { status: statusFor(results, 200), body: { data: results } };
      }
      if (method === 'DELETE') {
        const results = state.delete([sub], API_USER);
        return { status: statusFor(results, 200), body: { data: results } };
      }
    }
    return { status: 400, body: errorBody('INVALID_REQUEST_METHOD', 'The http request method type is not a valid one') };
  }

  // ---- plumbing -------------------------------------------------------------------------

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, serves: { api: boolean; accounts: boolean }) {
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    const text = await readBody(req);
    const entry: RequestLogEntry = {
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      host: req.headers.host ?? '',
      headers: req.headers,
      body: undefined,
      status: 0,
    };
    requests.push(entry);
    let reply: Reply;
    let drop = false;
    try {
      if (serves.accounts && url.pathname === '/oauth/v2/token' && method === 'POST') {
        // Zoho documents the parameters in the query string; a form body works too.
        const params = new URLSearchParams(url.search);
        if (text && (req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')) {
          for (const [k, v] of new URLSearchParams(text)) params.set(k, v);
        }
        entry.body = Object.fromEntries([...params].map(([k, v]) => [k, k.includes('secret') || k.includes('token') ? '***' : v]));
        reply = tokenEndpoint(params);
      } else if (serves.api && url.pathname.startsWith('/crm/')) {
        if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
        let body: unknown = undefined;
        if (text) {
          try {
            body = JSON.parse(text);
          } catch {
            body = Symbol.for('invalid');
          }
        }
        entry.body = typeof body === 'symbol' ? text : body;
        const fault = faults.take(method, url.pathname);
        const drawn = fault ? null : drawFault(faultPlan, method, url.pathname);
        if (drawn?.kind === 'latency') await new Promise((r) => setTimeout(r, drawn.ms));
        if (drawn?.kind === 'lost_response') drop = true;
        if (drawn?.kind === 'rate_limit') {
          reply = { status: 429, body: errorBody('TOO_MANY_REQUESTS', 'The concurrency limit of the user for the given App is exceeded', { duration: '60' }) };
        } else if (drawn?.kind === 'server_error') {
          reply = { status: drawn.status, body: errorBody('INTERNAL_ERROR', 'Internal Server Error') };
        } else if (fault === 'network') {
          drop = true;
          reply = { status: 0 };
        } else if (fault === 'rate_limit') {
          reply = { status: 429, body: errorBody('TOO_MANY_REQUESTS', 'The concurrency limit of the user for the given App is exceeded', { duration: '60' }) };
        } else if (fault === 'server_error') {
          reply = { status: 500, body: errorBody('INTERNAL_ERROR', 'Internal Server Error') };
        } else if (fault === 'auth_expired') {
          reply = { status: 401, body: errorBody('INVALID_TOKEN', 'invalid oauth token') };
        } else {
          reply = checkAuth(req.headers.authorization) ?? (typeof body === 'symbol'
            ? { status: 400, body: errorBody('INVALID_DATA', 'body', { reason: 'JSON is not well formed' }) }
            : (() => {
                state.missingAll = fault === 'not_found';
                try {
                  return api(method, url.pathname, url.searchParams, req.headers, body);
                } finally {
                  state.missingAll = false;
                }
              })());
        }
      } else {
        reply = { status: 404, body: errorBody('INVALID_URL_PATTERN', 'Please check if the URL trying to access is a correct one') };
      }
    } catch (e) {
      reply = { status: 500, body: errorBody('INTERNAL_ERROR', e instanceof Error ? e.message : 'Internal Server Error') };
    }
    entry.status = reply.status;
    if (reply.status > 0 && reply.status < 400) await afterHooks.run(method, url.pathname);
    if (drop) {
      req.socket.destroy();
      return;
    }
    const headers: Record<string, string> = { ...(reply.headers ?? {}) };
    if (reply.body !== undefined && reply.status !== 204 && reply.status !== 304) {
      headers['content-type'] = JSON_TYPE;
      res.writeHead(reply.status, headers);
      res.end(JSON.stringify(reply.body));
    } else {
      res.writeHead(reply.status, headers);
      res.end();
    }
  }

  function makeServer(serves: { api: boolean; accounts: boolean }) {
    const server = http.createServer((req, res) => {
      handle(req, res, serves).catch((e: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': JSON_TYPE });
        res.end(JSON.stringify(errorBody('INTERNAL_ERROR', e instanceof Error ? e.message : 'error')));
      });
    });
    server.keepAliveTimeout = 1000;
    return server;
  }

  const separate = options.separateAccounts ?? false;
  const apiServer = makeServer({ api: true, accounts: !separate });
  apiUrl = await listenLoopback(apiServer, options.port ?? 0);
  let accountsServer: http.Server | null = null;
  let accountsUrl = apiUrl;
  if (separate) {
    accountsServer = makeServer({ api: false, accounts: true });
    accountsUrl = await listenLoopback(accountsServer, options.accountsPort ?? 0);
  }

  function asUser(fn: () => RecordResult[]): RecordResult {
    const [r] = fn();
    if (!r || r.status !== 'success') throw new Error(`Zoho sandbox rejected the change: ${JSON.stringify(r)}`);
    return r;
  }

  const controls: ZohoSandboxControls = {
    orgId,
    clientId,
    clientSecret,
    refreshToken,
    issueAccessToken: (ttl) => issue(ttl),
    expireAccessTokens: () => tokens.clear(),
    get tokenCalls() {
      return tokenCalls;
    },
    requests,
    resetLog: () => {
      requests.length = 0;
      tokenCalls = 0;
    },
    injectFault: (kind, count = 1) => faults.push(kind, count),
    failTokenEndpoint: (kind, count = 1) => {
      for (let i = 0; i < count; i++) tokenFaults.push(kind);
    },
    setFaultPlan: (plan) => {
      faultPlan = plan;
    },
    setLatency: (ms) => {
      latencyMs = ms;
    },
    afterRequest: (match, fn, count = 1) => afterHooks.add({ method: match.method, path: exactPath(match.path) }, fn, count),
    setClock: (at) => state.setClock(at),
    now: () => new Date(state.now()),
    setSearchLag: (ms) => {
      state.opts.searchLagMs = ms;
    },
    indexNow: () => state.indexNow(),
    commitLater: (fn) => state.commitLater(fn),
    createLeadAsUser: (values) => {
      const r = asUser(() => state.insert([values], HUMAN_USER, true));
      return String(r.details.id);
    },
    updateLeadAsUser: (id, values) => {
      asUser(() => state.update([{ ...values, id }], HUMAN_USER, true));
    },
    deleteLead: (id) => {
      asUser(() => state.delete([id], HUMAN_USER));
    },
    getLead: (id) => {
      const l = state.leads.get(id);
      return l ? state.render(l) : null;
    },
    listLeads: () => [...state.leads.values()].map((l) => state.render(l)),
    fields: () =>
      state.fields.map((f) => ({
        api_name: f.api_name,
        field_label: f.field_label,
        data_type: f.data_type,
        custom_field: f.custom_field,
        pick_list_values: f.pick_list_values.map((p) => p.actual_value),
      })),
    channels: () => {
      const now = state.now();
      return [...notifier.channels.values()].map((c) => ({ ...c, expiresAt: new Date(c.expiresAt), live: c.expiresAt > now }));
    },
    renderNotification: (channelId, operation, ids) => {
      const ch = notifier.channels.get(channelId);
      if (!ch) throw new Error(`no channel ${channelId}`);
      const { url, rawBody } = notifier.render(ch, operation, ids);
      return { url, headers: { 'content-type': 'application/json', 'user-agent': 'ZohoCRM-Notifications' }, rawBody };
    },
    deliveries: notifier.deliveries,
    holdNotifications: () => notifier.hold(),
    releaseNotifications: (o) => notifier.release(o),
    duplicateNextNotifications: (n) => notifier.duplicate(n),
    delayNotifications: (ms) => notifier.delay(ms),
    flushNotifications: () => notifier.flush(),
    changes: state.changes,
  };

  return {
    url: apiUrl,
    accountsUrl,
    controls,
    close: async () => {
      await notifier.flush().catch(() => undefined);
      await closeServer(apiServer);
      if (accountsServer) await closeServer(accountsServer);
    },
  };
}
