// The Zoho CRM sandbox: a local HTTP server (node:http, loopback only) that speaks
// Zoho CRM REST API v7 for the Leads module, plus the accounts server's token
// endpoint. The API routes live by topic in api-*.ts (Leads reads, Leads writes, settings);
// this file serves them, with the faults, latency and hooks its controls set.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { drawFault, FaultQueue, type DrawnFault, type FaultPlan } from '../kit/faults.ts';
import { RequestHooks } from '../kit/hooks.ts';
import { closeServer, listenLoopback, readBody } from '../kit/http.ts';
import { RequestLog } from '../kit/request-log.ts';
import { RouteTable } from '../kit/routes.ts';
import { Accounts } from './accounts.ts';
import { errorBody, fail, type Handler, type Reply } from './api.ts';
import { leadReadRoutes } from './api-leads-read.ts';
import { leadWriteRoutes } from './api-leads-write.ts';
import { settingsRoutes } from './api-settings.ts';
import { Notifier } from './notifications.ts';
import { HUMAN_USER, LeadsState, type RecordResult } from './state.ts';
import type { RequestLogEntry, SandboxFault, ZohoSandbox, ZohoSandboxControls, ZohoSandboxOptions } from './types.ts';

export type { RequestLogEntry, SandboxFault, ZohoSandbox, ZohoSandboxControls, ZohoSandboxOptions };

const JSON_TYPE = 'application/json;charset=UTF-8';

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
  let accountsUrl = '';
  const notifier = new Notifier(state, () => apiUrl);
  state.onChange = (c) => notifier.onChange(c);

  const accounts = new Accounts(state, {
    clientId,
    clientSecret,
    refreshToken,
    apiDomain: () => options.apiDomain ?? apiUrl,
    accountsUrl: () => accountsUrl,
    redirectUris: options.redirectUris,
    location: options.location,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds,
  });
  const log = new RequestLog<RequestLogEntry>();
  const faults = new FaultQueue<SandboxFault>();
  let latencyMs = 0;
  let faultPlan: FaultPlan | null = null;
  const afterHooks = new RequestHooks();

  const crmApi = new RouteTable<Handler>([
    ...settingsRoutes({ state, notifier, apiUrl: () => apiUrl, orgId, overlongChannelExpiry: options.overlongChannelExpiry }),
    ...leadReadRoutes(state),
    ...leadWriteRoutes(state),
  ]);

  /**
   * The route's reply, as Zoho CRM's API "Status codes" page lists them: a method the
   * path's routes lack is 400 INVALID_REQUEST_METHOD; a module name the org does not have
   * is 400 INVALID_MODULE; any other path 404 INVALID_URL_PATTERN ("Please check if the URL
   * trying to access is a correct one").
   */
  function api(method: string, path: string, query: URLSearchParams, headers: http.IncomingHttpHeaders, body: unknown): Reply {
    const m = crmApi.match(method, path);
    if (m.kind === 'found') return m.handler({ method, params: m.params, query, headers, body });
    if (m.kind === 'method_not_allowed') return fail(400, 'INVALID_REQUEST_METHOD', 'The http request method type is not a valid one');
    const module = /^\/crm\/v7\/([^/]+)/.exec(path)?.[1];
    if (module && module !== 'Leads' && /^[A-Z][A-Za-z_]*$/.test(module)) {
      return fail(400, 'INVALID_MODULE', 'the module name given seems to be invalid', { resource_path_index: 0 });
    }
    return fail(404, 'INVALID_URL_PATTERN', 'Please check if the URL trying to access is a correct one');
  }

  // ---- plumbing -------------------------------------------------------------------------

  /**
   * The reply a fault forces on an API call, in Zoho's format (status 0: the connection is
   * dropped), or null when the call is served (a `not_found` fault is served with every
   * record id unknown).
   */
  function faultReply(fault: SandboxFault | null, drawn: DrawnFault | null): Reply | null {
    const rateLimited = { status: 429, body: errorBody('TOO_MANY_REQUESTS', 'The concurrency limit of the user for the given App is exceeded', { duration: '60' }) };
    if (drawn?.kind === 'rate_limit') return rateLimited;
    if (drawn?.kind === 'server_error') return { status: drawn.status, body: errorBody('INTERNAL_ERROR', 'Internal Server Error') };
    switch (fault) {
      case 'network':
        return { status: 0 };
      case 'rate_limit':
        return rateLimited;
      case 'server_error':
        return { status: 500, body: errorBody('INTERNAL_ERROR', 'Internal Server Error') };
      case 'auth_expired':
        return { status: 401, body: errorBody('INVALID_TOKEN', 'invalid oauth token') };
      default:
        return null;
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, serves: { api: boolean; accounts: boolean }) {
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    const text = await readBody(req);
    const entry = log.record({
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      host: req.headers.host ?? '',
      headers: req.headers,
      body: undefined,
      status: 0,
    });
    let reply: Reply;
    let drop = false;
    try {
      if (serves.accounts && url.pathname === '/oauth/v2/auth' && method === 'GET') {
        reply = accounts.authorize(url.searchParams);
      } else if (serves.accounts && (url.pathname === '/oauth/v2/token' || url.pathname === '/oauth/v2/token/revoke') && method === 'POST') {
        // Zoho documents the parameters in the query string; a form body works too.
        const params = new URLSearchParams(url.search);
        if (text && (req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')) {
          for (const [k, v] of new URLSearchParams(text)) params.set(k, v);
        }
        entry.body = Object.fromEntries([...params].map(([k, v]) => [k, k.includes('secret') || k.includes('token') || k === 'code' ? '***' : v]));
        reply = url.pathname === '/oauth/v2/token' ? accounts.token(params) : accounts.revoke(params);
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
        const forced = faultReply(fault, drawn);
        if (forced) {
          if (forced.status === 0) drop = true;
          reply = forced;
        } else {
          reply = accounts.checkAuth(req.headers.authorization) ?? (typeof body === 'symbol'
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
  accountsUrl = apiUrl;
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
    issueAccessToken: (ttl) => accounts.issue(ttl),
    expireAccessTokens: () => accounts.expireAll(),
    revokeAccess: () => accounts.revokeAll(),
    setAccessTokenLifetime: (seconds) => {
      accounts.ttlSeconds = seconds;
    },
    get tokenCalls() {
      return accounts.tokenCalls;
    },
    requests: log.entries,
    resetLog: () => {
      log.clear();
      accounts.tokenCalls = 0;
    },
    injectFault: (kind, count = 1) => faults.push(kind, count),
    clearFaults: () => faults.clear(),
    failTokenEndpoint: (kind, count = 1) => {
      for (let i = 0; i < count; i++) accounts.faults.push(kind);
    },
    setFaultPlan: (plan) => {
      faultPlan = plan;
    },
    setLatency: (ms) => {
      latencyMs = ms;
    },
    afterRequest: (match, fn, count = 1) => afterHooks.add(match, fn, count),
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
    removeField: (apiName) => {
      const i = state.fields.findIndex((f) => f.api_name === apiName && f.custom_field);
      if (i < 0) throw new Error(`no custom field ${apiName}`);
      state.fields.splice(i, 1);
      for (const l of state.leads.values()) delete l.values[apiName];
    },
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
