// A local Salesforce org speaking the REST wire formats a sync adapter uses (API v62.0
// paths, any vXX.X accepted): sObject rows, upsert by External ID, sObject Collections,
// SOQL with query locators, describe, limits, the OAuth token endpoint (refresh_token
// grant), and Outbound Messages sent to a configurable endpoint. Loopback only.
// The REST routes live by topic in api-*.ts; this file serves them.
import http from 'node:http';
import { drawFault, FaultQueue, type FaultPlan } from '../kit/faults.ts';
import { RequestHooks } from '../kit/hooks.ts';
import { closeServer, listenLoopback, readBody as readAll } from '../kit/http.ts';
import { pathContaining, type RequestMatch } from '../kit/match.ts';
import { RequestLog } from '../kit/request-log.ts';
import { RouteTable, type RouteMatch } from '../kit/routes.ts';
import { HttpError, notFound, sfErrors, type Handler, type Out } from './api.ts';
import { collectionRoutes } from './api-collections.ts';
import { queryRoutes } from './api-query.ts';
import { sobjectRoutes } from './api-sobjects.ts';
import { IdFactory, KEY_PREFIX, to18 } from './ids.ts';
import { OAuth } from './oauth.ts';
import { OutboundDispatcher } from './outbound.ts';
import { LeadStore, type SfError, type StoredLead } from './store.ts';
import { SandboxWriteError, type LeadSnapshot, type RecordedRequest, type SalesforceSandbox, type SalesforceSandboxControls, type SalesforceSandboxOptions, type SandboxFault } from './types.ts';

export { SandboxWriteError };
export type { LeadSnapshot, RecordedRequest, SalesforceSandbox, SalesforceSandboxControls, SalesforceSandboxOptions, SandboxFault };

const MAX_BODY = 10 * 1024 * 1024;
const SERVER_ERROR_MESSAGE = 'An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)';

/**
 * A miss of a route table in Salesforce's format. The REST API documents 404 "The requested
 * resource couldn't be found" and 405 "The method specified in the Request-Line isn't
 * allowed for the resource specified in the URI" (Status Codes and Error Responses).
 */
function miss(m: Exclude<RouteMatch<unknown>, { kind: 'found' }>, method: string): HttpError {
  if (m.kind === 'not_found') return notFound();
  const e = sfErrors(405, 'METHOD_NOT_ALLOWED', `HTTP Method '${method}' not allowed. Allowed are ${m.allowed.join(',')}`);
  return new HttpError(e.status, e.body, { Allow: m.allowed.join(', ') });
}

function faultResponse(kind: SandboxFault): HttpError | 'network' | null {
  switch (kind) {
    case 'rate_limit':
      return sfErrors(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.');
    case 'server_error':
      return sfErrors(500, 'UNKNOWN_EXCEPTION', SERVER_ERROR_MESSAGE);
    case 'auth_expired':
      return sfErrors(401, 'INVALID_SESSION_ID', 'Session expired or invalid');
    case 'not_found':
      return notFound();
    case 'network':
      return 'network';
    case 'latency':
      return null;
  }
}

export async function startSalesforceSandbox(opts: SalesforceSandboxOptions = {}): Promise<SalesforceSandbox> {
  const host = opts.host ?? '127.0.0.1';
  const organizationId = to18(opts.organizationId ?? '00D5g000008XyZa');
  const userIds = new IdFactory(KEY_PREFIX.user);
  const integrationUserId = userIds.make();
  const uiUserId = userIds.make();
  const actionId = new IdFactory(KEY_PREFIX.outboundAction).make();
  const clientId = opts.clientId ?? 'sandbox-consumer-key';
  const clientSecret = opts.clientSecret ?? 'sandbox-consumer-secret';
  let url = '';

  const store = new LeadStore(integrationUserId);
  const ruleFor = (r: boolean | { fields: string[] } | undefined) => (r === true ? { fields: ['Email'] } : r ? r : null);
  store.duplicateRule = ruleFor(opts.duplicateRule);
  const originField = opts.originField === undefined ? 'Lead_Source_System__c' : opts.originField;
  const externalIdField = opts.externalIdField === undefined ? 'Platform_Lead_Id__c' : opts.externalIdField;
  if (originField) store.addField({ name: originField, label: 'Lead Source System', type: 'string', length: 255, createable: true, updateable: true, custom: true });
  if (externalIdField) {
    store.addField({ name: externalIdField, label: 'Platform Lead Id', type: 'string', length: 255, createable: true, updateable: true, custom: true, externalId: true, unique: true });
  }

  const oauth = new OAuth({
    organizationId,
    integrationUserId,
    clientId,
    clientSecret,
    accessToken: opts.accessToken,
    refreshToken: opts.refreshToken,
    rotateRefreshTokens: opts.rotateRefreshTokens,
    tokenInstanceUrl: opts.tokenInstanceUrl,
    callbackUrls: opts.callbackUrls,
    allowedScopes: opts.allowedScopes,
    accessTokenTtlSeconds: opts.accessTokenTtlSeconds,
    url: () => url,
    now: () => store.now().getTime(),
  });
  let apiLimit = opts.apiLimit ?? 15_000;
  let apiUsed = 0;
  let latencyMs = 0;
  let faultPlan: FaultPlan | null = null;
  let queryBatchSize = opts.queryBatchSize ?? null;
  const faults = new FaultQueue<{ kind: SandboxFault; latencyMs?: number }>();
  const recordFailures: { errorCode: string; message: string }[] = [];
  const log = new RequestLog<RecordedRequest>();
  const afterHooks = new RequestHooks();
  const matchOf = (o: { method?: string; pathIncludes?: string }): RequestMatch => ({
    method: o.method,
    path: o.pathIncludes === undefined ? undefined : pathContaining(o.pathIncludes),
  });
  const nextRecordFailure = (): SfError | null => {
    const f = recordFailures.shift();
    return f ? { errorCode: f.errorCode, message: f.message, fields: [] } : null;
  };

  const outbound = new OutboundDispatcher(store, () => ({
    organizationId,
    actionId,
    instanceUrl: url,
    apiVersion: '62.0',
    sessionId: oauth.current,
  }));
  if (opts.outbound) outbound.config = { ...outbound.config, ...opts.outbound };

  const apiActor = (callOptions: string | null) => {
    const m = callOptions ? /(?:^|[,;\s])client=([^,;\s]+)/i.exec(callOptions) : null;
    return { userId: integrationUserId, client: m ? m[1]! : null };
  };
  const uiActor = { userId: uiUserId, client: null };

  // ---- routes ---------------------------------------------------------------------------

  /** The REST API, paths relative to /services/data/vXX.X. */
  const restApi = new RouteTable<Handler>([
    {
      method: 'GET',
      pattern: '/',
      handler: ({ version }) => ({ status: 200, body: { sobjects: `/services/data/v${version}/sobjects`, query: `/services/data/v${version}/query`, limits: `/services/data/v${version}/limits`, composite: `/services/data/v${version}/composite` } }),
    },
    { method: 'GET', pattern: '/limits', handler: () => ({ status: 200, body: { DailyApiRequests: { Max: apiLimit, Remaining: Math.max(0, apiLimit - apiUsed) } } }) },
    ...queryRoutes(store, new IdFactory(KEY_PREFIX.queryLocator), () => queryBatchSize),
    ...sobjectRoutes(store),
    ...collectionRoutes(store, nextRecordFailure),
  ]);

  const readBody = (req: http.IncomingMessage) =>
    readAll(req, { maxBytes: MAX_BODY, tooLarge: () => sfErrors(413, 'REQUEST_ENTITY_TOO_LARGE', 'Request body too large') });

  function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const h = { ...headers };
    if (status === 204 || body === undefined) {
      res.writeHead(status, h);
      res.end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', ...h });
    res.end(text);
  }

  type Endpoint = (req: http.IncomingMessage, res: http.ServerResponse, rec: RecordedRequest) => Promise<void>;

  /** What the org serves outside the versioned REST API: OAuth and the version list. */
  const endpoints = new RouteTable<Endpoint>([
    {
      method: 'POST',
      pattern: '/services/oauth2/token',
      handler: async (req, res, rec) => {
        log.record(rec);
        const a = oauth.token(new URLSearchParams(await readBody(req)));
        send(res, a.status, a.body);
      },
    },
    {
      method: 'GET',
      pattern: '/services/oauth2/authorize',
      handler: async (req, res, rec) => {
        log.record(rec);
        const a = oauth.authorize(new URL(req.url ?? '/', 'http://sandbox').searchParams);
        send(res, a.status, a.body, a.headers);
      },
    },
    {
      method: 'POST',
      pattern: '/services/oauth2/revoke',
      handler: async (req, res, rec) => {
        log.record(rec);
        const a = oauth.revoke(new URLSearchParams(await readBody(req)));
        send(res, a.status, a.body);
      },
    },
    {
      method: ['GET', 'POST'],
      pattern: '/services/oauth2/userinfo',
      handler: async (req, res, rec) => {
        log.record(rec);
        const a = oauth.userInfo(req.headers.authorization);
        if (a.text === undefined) return send(res, a.status, a.body, a.headers);
        res.writeHead(a.status, a.headers);
        res.end(a.text);
      },
    },
    { method: '*', pattern: '/services/data', handler: async (_req, res) => send(res, 200, [{ label: "Winter '25", url: '/services/data/v62.0', version: '62.0' }]) },
  ]);

  async function handleApi(req: http.IncomingMessage, res: http.ServerResponse, u: URL, rec: RecordedRequest): Promise<void> {
    const method = req.method ?? 'GET';
    const fault = faults.take(method, u.pathname);
    const drawn = fault ? null : drawFault(faultPlan, method, u.pathname);
    const delay = latencyMs + (fault?.kind === 'latency' ? (fault.latencyMs ?? 0) : 0) + (drawn?.kind === 'latency' ? drawn.ms : 0);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if (fault) {
      const f = faultResponse(fault.kind);
      if (f === 'network') {
        rec.status = 0;
        req.socket.destroy();
        return;
      }
      if (f) throw f;
    }
    if (drawn?.kind === 'rate_limit') throw sfErrors(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.');
    if (drawn?.kind === 'server_error') {
      throw drawn.status === 500 ? sfErrors(500, 'UNKNOWN_EXCEPTION', SERVER_ERROR_MESSAGE) : sfErrors(drawn.status, 'SERVER_UNAVAILABLE', 'Server temporarily unavailable');
    }
    if (!oauth.accepts(req.headers.authorization)) throw sfErrors(401, 'INVALID_SESSION_ID', 'Session expired or invalid');
    apiUsed++;
    if (apiUsed > apiLimit) throw sfErrors(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.');

    const m = /^\/services\/data\/v(\d+\.\d)(\/.*)?$/.exec(u.pathname)!;
    const version = m[1]!;
    const path = (m[2] ?? '/').replace(/\/+$/, '') || '/';
    const rawBody = ['POST', 'PATCH', 'PUT'].includes(method) ? await readBody(req) : '';
    const found = restApi.match(method, path);
    if (found.kind !== 'found') throw miss(found, method);
    const out: Out = found.handler({ method, params: found.params, url: u, rawBody, version, actor: apiActor(rec.callOptions), req });
    if (out.status < 400) await afterHooks.run(method, u.pathname);
    if (drawn?.kind === 'lost_response') {
      rec.status = 0;
      req.socket.destroy();
      return;
    }
    send(res, out.status, out.body, { 'Sforce-Limit-Info': `api-usage=${apiUsed}/${apiLimit}`, ...(out.headers ?? {}) });
  }

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://sandbox');
    const method = req.method ?? 'GET';
    const rec: RecordedRequest = {
      method,
      path: u.pathname,
      query: u.search,
      status: 0,
      callOptions: (req.headers['sforce-call-options'] as string | undefined) ?? null,
      authorization: req.headers.authorization ?? null,
    };
    res.on('finish', () => {
      rec.status = res.statusCode;
    });
    const handle = async () => {
      if (/^\/services\/data\/v\d+\.\d(\/|$)/.test(u.pathname)) {
        log.record(rec);
        return handleApi(req, res, u, rec);
      }
      const found = endpoints.match(method, u.pathname);
      if (found.kind !== 'found') throw miss(found, method);
      return found.handler(req, res, rec);
    };
    handle().catch((e: unknown) => {
      if (res.headersSent || res.destroyed) return;
      if (e instanceof HttpError) {
        const limitInfo: Record<string, string> = u.pathname.startsWith('/services/data/v') ? { 'Sforce-Limit-Info': `api-usage=${apiUsed}/${apiLimit}` } : {};
        send(res, e.status, e.body, { ...limitInfo, ...e.headers });
        return;
      }
      send(res, 500, [{ message: `sandbox failure: ${e instanceof Error ? e.message : String(e)}`, errorCode: 'UNKNOWN_EXCEPTION' }]);
    });
  });

  url = await listenLoopback(server, opts.port ?? 0, host);

  const snapshot = (l: StoredLead, deleted: boolean): LeadSnapshot => ({
    values: { ...l.values },
    deleted,
    createdByClient: l.createdByClient,
    lastModifiedByClient: l.lastModifiedByClient,
  });

  const controls: SalesforceSandboxControls = {
    organizationId,
    integrationUserId,
    uiUserId,
    credentials: () => ({ accessToken: oauth.current, refreshToken: oauth.refreshToken, clientId, clientSecret, loginUrl: url }),
    setClock: (at) => store.setClock(at),
    commitLater: (fn) => store.commitLater(fn),
    afterRequest: (match, fn, count = 1) => afterHooks.add(match, fn, count),
    createLeadAsUser(fields) {
      const r = store.create(fields, uiActor);
      if (!r.ok) throw new SandboxWriteError(r.errors);
      return r.id;
    },
    updateLeadAsUser(id, fields) {
      const r = store.update(id, fields, uiActor);
      if (!r.ok) throw new SandboxWriteError(r.errors);
    },
    deleteLead(id) {
      const r = store.delete(id, uiActor);
      if (!r.ok) throw new SandboxWriteError(r.errors);
    },
    getLead(id) {
      const live = store.get(id);
      if (live) return snapshot(live, false);
      const gone = store.getDeleted(id);
      return gone ? snapshot(gone, true) : null;
    },
    listLeads: () => store.all().map((l) => snapshot(l, false)),
    setDuplicateRule(rule) {
      store.duplicateRule = ruleFor(rule);
    },
    addField(def) {
      store.addField({ createable: true, updateable: true, ...def });
    },
    removeField: (name) => store.removeField(name),
    injectFault(kind, count = 1, o = {}) {
      faults.push({ kind, latencyMs: o.latencyMs }, count, matchOf(o));
    },
    clearFaults: () => faults.clear(),
    setFaultPlan(plan) {
      faultPlan = plan;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    failNextRecordWrites(count, errorCode = 'UNABLE_TO_LOCK_ROW', message = 'unable to obtain exclusive access to this record or 1 records') {
      for (let i = 0; i < count; i++) recordFailures.push({ errorCode, message });
    },
    expireAccessTokens: () => oauth.expireAccessTokens(),
    revokeRefreshToken: () => oauth.revokeRefreshToken(),
    setApiLimit(max) {
      apiLimit = max;
    },
    apiUsage: () => ({ used: apiUsed, max: apiLimit }),
    setQueryBatchSize(size) {
      queryBatchSize = size;
    },
    requests: log.entries,
    tokenRefreshes: () => oauth.refreshes,
    setAccessTokenLifetime: (seconds) => {
      oauth.ttlSeconds = seconds;
    },
    outbound: {
      configure(config) {
        outbound.config = { ...outbound.config, ...config };
      },
      get config() {
        return outbound.config;
      },
      deliveries: outbound.deliveries,
      pending: () => outbound.pending(),
      duplicateNext: (n) => outbound.duplicateNext(n),
      delayNext: (ms, n) => outbound.delayNext(ms, n),
      reorderNext: (n) => outbound.reorderNext(n),
      envelopeFor: (ids, o) => outbound.envelopeFor(ids, o),
    },
    flushNotifications: (o) => outbound.flush(o),
  };

  return {
    url,
    controls,
    close: async () => {
      outbound.close();
      await closeServer(server);
    },
  };
}
