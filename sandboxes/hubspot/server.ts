// A local HubSpot: CRM v3 contacts (basic, batch, search), the contact properties API
// and the app webhooks API, on 127.0.0.1, speaking HubSpot's wire format. Tests drive
// it over real HTTP with the real SDK, act as "a person in the CRM UI" through the
// sandbox's functions, inject faults through its controls, and receive signed webhooks.
// The routes live by topic in api-*.ts; this file serves them.
import http from 'node:http';
import { drawFault, FaultQueue, type DrawnFault, type FaultPlan } from '../kit/faults.ts';
import { RequestHooks } from '../kit/hooks.ts';
import { closeServer, listenLoopback, readBody } from '../kit/http.ts';
import { RequestLog } from '../kit/request-log.ts';
import { RouteTable } from '../kit/routes.ts';
import { CONTACTS, HttpError, errorBody, type Handler, type Result } from './api.ts';
import { contactRoutes } from './api-contacts.ts';
import { accountRoutes, propertyRoutes } from './api-properties.ts';
import { webhookRoutes } from './api-webhooks.ts';
import { RateLimits } from './limits.ts';
import { HubSpotOAuthServer, OAUTH_BASE, type OAuthReply } from './oauth.ts';
import { webhookHeaders } from './signing.ts';
import { ContactStore, StoreError, type StoredContact } from './store.ts';
import type { ApiCall, HubSpotSandbox, HubSpotSandboxControls, HubSpotSandboxOptions, SandboxFault, SandboxFaultKind } from './types.ts';
import { WebhookDispatcher } from './webhooks.ts';

export type { HubSpotEvent, WebhookBehavior, WebhookDelivery, Subscription } from './webhooks.ts';
export type { ApiCall, FaultMatch, HubSpotSandbox, HubSpotSandboxControls, HubSpotSandboxOptions, SandboxFault, SandboxFaultKind } from './types.ts';
export type { StoredContact };

export const SYNCED_PROPERTIES = ['email', 'firstname', 'lastname', 'phone', 'company', 'lifecyclestage'];

/** A fault of the shared chaos vocabulary as this sandbox's own fault. */
function planned(d: DrawnFault | null): SandboxFault | null {
  if (!d) return null;
  if (d.kind === 'rate_limit') return { kind: 'rate_limit', retryAfterSeconds: d.retryAfterSeconds };
  if (d.kind === 'server_error') return { kind: 'server_error', status: d.status };
  if (d.kind === 'latency') return { kind: 'latency', ms: d.ms };
  return { kind: 'lost_response' };
}

function peekJson(raw: string): unknown {
  try {
    return raw ? JSON.parse(raw) : undefined;
  } catch {
    return undefined;
  }
}

export async function startHubSpotSandbox(opts: HubSpotSandboxOptions = {}): Promise<HubSpotSandbox> {
  const portalId = opts.portalId ?? 62515;
  const appId = opts.appId ?? 54321;
  const clientSecret = opts.clientSecret ?? 'sandbox-client-secret-0000';
  const developerApiKey = opts.developerApiKey ?? 'sandbox-developer-key';
  const tokens = new Map<string, 'valid' | 'expired'>((opts.accessTokens ?? ['sandbox-access-token']).map((t) => [t, 'valid']));
  const firstToken = [...tokens.keys()][0]!;
  const limits = new RateLimits(
    opts.rateLimit === undefined ? { requests: 100, perMs: 10_000 } : opts.rateLimit,
    opts.searchRateLimit === undefined ? { requests: 5, perMs: 1_000 } : opts.searchRateLimit,
    opts.dailyLimit ?? 250_000,
  );

  const store = new ContactStore();
  const oauth = new HubSpotOAuthServer(
    { clientId: 'sandbox-client-id', redirectUris: [], ...opts.oauth, clientSecret },
    { portalId, appId, hubDomain: `sandbox-${portalId}.hubspot.com` },
    () => store.now(),
  );
  const hooks = new WebhookDispatcher({
    portalId,
    appId,
    clientSecret,
    targetUrl: opts.webhookTargetUrl ?? null,
    retryDelaysMs: opts.webhookRetryDelaysMs ?? [50, 100, 200, 400, 800],
    maxAttempts: opts.webhookMaxAttempts ?? 10,
    timeoutMs: opts.webhookTimeoutMs ?? 5_000,
    maxConcurrent: opts.webhookMaxConcurrent ?? 10,
    batchWindowMs: opts.webhookBatchWindowMs ?? 10,
    legacySignatureVersion: opts.legacySignatureVersion ?? 'v1',
    propertyChangeOnCreate: opts.propertyChangeOnCreate ?? true,
  });
  if (opts.subscriptions === 'default') hooks.subscribeDefaults(SYNCED_PROPERTIES);
  store.onChange((c) => hooks.onChange(c));

  const faults = new FaultQueue<SandboxFault>();
  const hooksBefore = new RequestHooks<[body: unknown]>();
  const hooksAfter = new RequestHooks();
  let faultPlan: FaultPlan | null = null;
  const log = new RequestLog<ApiCall>();
  const pending = new Set<{ method: string; path: string; body: unknown; since: number }>();

  const crmApi = new RouteTable<Handler>([...accountRoutes(portalId), ...propertyRoutes(store), ...contactRoutes(store)]);
  const webhooksApi = new RouteTable<Handler>(webhookRoutes(hooks, store));

  function bearer(req: http.IncomingMessage): string {
    const h = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(h);
    if (!m) {
      throw new HttpError(
        401,
        errorBody('Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview', 'INVALID_AUTHENTICATION'),
      );
    }
    const issued = oauth.check(m[1]!);
    if (issued?.state === 'valid') return m[1]!;
    const state = issued?.state ?? tokens.get(m[1]!);
    if (state === 'expired') {
      const ago = issued?.state === 'expired' ? issued.agoSeconds : 60;
      throw new HttpError(401, errorBody(`The OAuth token used to make this call expired ${ago} second(s) ago.`, 'EXPIRED_AUTHENTICATION'));
    }
    if (state !== 'valid') throw new HttpError(401, errorBody('Authentication credentials not found.', 'INVALID_AUTHENTICATION'));
    return m[1]!;
  }

  /**
   * The route's answer; a path no route has is a 404, a method its routes lack a 405 (with
   * Allow). HubSpot documents its error body (developers.hubspot.com, "Error handling":
   * status, message, category, correlationId) but not its answer to an unsupported method;
   * no adapter sends one, so the 405 here is the HTTP default, in HubSpot's body.
   */
  async function dispatch(table: RouteTable<Handler>, method: string, path: string, query: URLSearchParams, body: unknown): Promise<Result> {
    const m = table.match(method, path);
    if (m.kind === 'not_found') throw new HttpError(404, errorBody(`No route for ${method} ${path}`, 'OBJECT_NOT_FOUND'));
    if (m.kind === 'method_not_allowed') throw new HttpError(405, errorBody(`${method} not allowed on ${path}`, 'VALIDATION_ERROR'), { Allow: m.allowed.join(', ') });
    return m.handler({ method, path, params: m.params, query, body });
  }

  async function route(method: string, path: string, q: URLSearchParams, body: unknown, req: http.IncomingMessage): Promise<Result> {
    // The webhooks API authenticates with the app's developer API key (hapikey).
    const wh = /^\/webhooks\/v3\/([^/]+)\//.exec(path);
    if (wh) {
      if (q.get('hapikey') !== developerApiKey) {
        throw new HttpError(401, errorBody('The API key provided is invalid. View or manage your API key here: https://app.hubspot.com/l/api-key/', 'INVALID_AUTHENTICATION'));
      }
      if (wh[1] !== String(appId)) throw new HttpError(404, errorBody(`App ${wh[1]} not found`, 'OBJECT_NOT_FOUND'));
      return dispatch(webhooksApi, method, path, q, body);
    }
    // The CRM APIs: a Bearer token, rate limited.
    limits.check(bearer(req), path === `${CONTACTS}/search`);
    return dispatch(crmApi, method, path, q, body);
  }

  const server = http.createServer((req, res) => {
    void handle(req, res);
  });

  /** The OAuth endpoints (form bodies; no faults, hooks or rate limits). */
  function oauthRoute(method: string, path: string, q: URLSearchParams, raw: string): OAuthReply | null {
    const form = new URLSearchParams(raw);
    if (path === '/oauth/authorize') return method === 'GET' ? oauth.authorize(q) : null;
    if (method !== 'POST') return null;
    if (path === `${OAUTH_BASE}/token`) return oauth.token(form);
    if (path === `${OAUTH_BASE}/token/introspect`) return oauth.introspect(form);
    if (path === `${OAUTH_BASE}/token/revoke`) return oauth.revoke(form);
    return null;
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const raw = await readBody(req);
    if (u.pathname.startsWith('/oauth/')) {
      const r = oauthRoute(method, u.pathname, u.searchParams, raw) ?? { status: 404, body: errorBody(`No route for ${method} ${u.pathname}`, 'OBJECT_NOT_FOUND') };
      log.record({ method, path: u.pathname, query: '', status: r.status, at: Date.now(), body: undefined });
      const text = r.body === undefined ? '' : JSON.stringify(r.body);
      res.writeHead(r.status, { ...(r.headers ?? {}), ...(text ? { 'Content-Type': 'application/json;charset=utf-8' } : {}), 'Content-Length': String(Buffer.byteLength(text)) });
      res.end(text);
      return;
    }
    const key = (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '') || 'anonymous';
    let status = 500;
    let payload: unknown;
    let headers: Record<string, string> = {};
    let lost = false;
    let body: unknown;
    let injected: SandboxFaultKind | undefined;
    const flight = { method, path: u.pathname, body: peekJson(raw), since: Date.now() };
    pending.add(flight);
    try {
      await hooksBefore.run(method, u.pathname, peekJson(raw));
      const fault = faults.take(method, u.pathname) ?? planned(drawFault(faultPlan, method, u.pathname));
      if (fault) injected = fault.kind;
      if (fault?.kind === 'latency') await new Promise((r) => setTimeout(r, fault.ms));
      if (fault?.kind === 'lost_response') lost = true;
      else if (fault) limits.applyFault(fault, key);
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw);
        } catch {
          throw new HttpError(400, errorBody('Invalid input JSON on line 1', 'VALIDATION_ERROR'));
        }
      }
      const r = await route(method, u.pathname, u.searchParams, body, req);
      status = r.status;
      payload = r.body;
      if (status < 400) await hooksAfter.run(method, u.pathname);
      if (!u.pathname.startsWith('/webhooks/')) headers = limits.headers(key);
    } catch (e) {
      if (e instanceof HttpError) {
        status = e.status;
        payload = e.body;
        headers = { ...e.headers };
      } else {
        status = 500;
        payload = errorBody(`sandbox bug: ${e instanceof Error ? e.message : String(e)}`, 'INTERNAL_ERROR');
      }
    }
    pending.delete(flight);
    log.record({ method, path: u.pathname, query: u.search, status, at: Date.now(), body, ...(injected ? { fault: injected } : {}) });
    if (lost) {
      req.socket.destroy();
      return;
    }
    const text = payload === undefined ? '' : JSON.stringify(payload);
    res.writeHead(status, {
      ...headers,
      ...(text ? { 'Content-Type': 'application/json;charset=utf-8' } : {}),
      'Content-Length': String(Buffer.byteLength(text)),
    });
    res.end(text);
  }

  const url = await listenLoopback(server, opts.port ?? 0);

  const view = (c: StoredContact) => {
    const properties: Record<string, string | null> = {};
    for (const k of new Set([...store.properties.keys(), ...Object.keys(c.props)])) properties[k] = store.value(c, k);
    return { id: c.id, properties, createdAt: new Date(c.createdAt), updatedAt: new Date(c.updatedAt), archived: c.archived };
  };

  function control<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof StoreError) throw new Error(`HubSpot sandbox: ${e.message}`);
      throw e;
    }
  }

  const controls: HubSpotSandboxControls = {
    setClock: (at) => store.setClock(at),
    injectFault(fault, count = 1, match) {
      const f: SandboxFault = typeof fault === 'string' ? ({ kind: fault, ...(fault === 'latency' ? { ms: 1000 } : {}) } as SandboxFault) : fault;
      faults.push(f, count, match);
    },
    setFaultPlan: (plan) => {
      faultPlan = plan;
    },
    clearFaults: () => faults.clear(),
    beforeRequest: (match, fn, count = 1) => hooksBefore.add(match, fn, count),
    afterRequest: (match, fn, count = 1) => hooksAfter.add(match, fn, count),
    requests: log.entries,
    setAccessTokenLifetime: (seconds) => {
      oauth.ttlSeconds = seconds;
    },
  };

  return {
    url,
    portalId,
    appId,
    clientSecret,
    developerApiKey,
    accessToken: firstToken,
    controls,
    inFlight: () => [...pending],
    deliveries: hooks.deliveries,
    undeliverable: hooks.undeliverable,
    async close() {
      hooks.close();
      await closeServer(server);
    },
    createContactAsUser: (props) => control(() => store.create(props, 'CRM_UI').id),
    updateContactAsUser: (id, props) => control(() => void store.update(id, props, 'CRM_UI')),
    deleteContact: (id, o) =>
      control(() => {
        if (!store.archive(id, 'CRM_UI', o?.privacy ?? false)) throw new StoreError(404, 'OBJECT_NOT_FOUND', `no contact ${id}`);
      }),
    restoreContact: (id) => control(() => void store.restore(id, 'CRM_UI')),
    mergeContacts: (primaryId, mergedId) => control(() => store.merge(primaryId, mergedId, 'CRM_UI').id),
    getContact(id) {
      const c = store.get(id, { includeArchived: true });
      return c ? view(c) : null;
    },
    findContactByEmail(email) {
      const c = store.getByEmail(email);
      return c ? view(c) : null;
    },
    listContacts: (o) => store.all(o).map(view),
    getProperty: (name) => store.properties.get(name) ?? null,
    addAccessToken: (t) => void tokens.set(t, 'valid'),
    oauthClientId: opts.oauth?.clientId ?? 'sandbox-client-id',
    uninstallApp: () => oauth.uninstall(),
    expireAccessToken: (t) => void tokens.set(t, 'expired'),
    noopWrites: store.noopWrites,
    lagSearchIndex: (fn) => control(() => store.lagIndex(fn)),
    indexSearch: () => store.indexNow(),
    setRateLimit: (l) => {
      limits.rateLimit = l;
    },
    setWebhookTarget: (u) => hooks.setTarget(u),
    webhookTarget: () => hooks.targetUrl(),
    subscriptions: () => [...hooks.subscriptions.values()],
    subscribeDefaults: () => hooks.subscribeDefaults(SYNCED_PROPERTIES),
    setWebhookBehavior: (b) => {
      hooks.behavior = { ...b };
    },
    flushWebhooks: () => hooks.flush(),
    holdWebhooks: () => hooks.hold(),
    releaseWebhooks: () => hooks.release(),
    emitEvents: (events) => hooks.emit(events),
    signedWebhook(events, o = {}) {
      const target = o.url ?? hooks.targetUrl() ?? `${url}/webhook-target`;
      const body = JSON.stringify(events);
      return {
        method: 'POST',
        url: target,
        headers: webhookHeaders({
          clientSecret: o.clientSecret ?? clientSecret,
          uri: target,
          body,
          timestampMs: o.timestampMs ?? Date.now(),
          legacyVersion: opts.legacySignatureVersion ?? 'v1',
        }),
        body,
      };
    },
    makeEvent(subscriptionType, objectId, extra = {}) {
      return {
        eventId: Math.floor(Math.random() * 1e9),
        subscriptionId: 3_000_000,
        portalId,
        appId,
        occurredAt: store.now(),
        subscriptionType,
        attemptNumber: 0,
        objectId: Number(objectId),
        changeSource: 'CRM_UI',
        changeFlag: subscriptionType === 'contact.creation' ? 'NEW' : 'UPDATED',
        ...extra,
      };
    },
  };
}
