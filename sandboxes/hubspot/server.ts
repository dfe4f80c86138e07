// A local HubSpot: CRM v3 contacts (basic, batch, search), the contact properties API
// and the app webhooks API, on 127.0.0.1, speaking HubSpot's wire format. Tests drive
// it over real HTTP with the real SDK, act as "a person in the CRM UI" through the
// control functions, inject faults, and receive signed webhooks.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { ContactStore, StoreError, type PropertyDef, type SearchRequest, type StoredContact } from './store.ts';
import { webhookHeaders } from './signing.ts';
import { drawFault, FaultQueue, type DrawnFault, type FaultKind, type FaultPlan } from '../kit/faults.ts';
import type { LoggedRequest, SandboxControls } from '../kit/controls.ts';
import { RequestHooks } from '../kit/hooks.ts';
import { closeServer, listenLoopback, readBody } from '../kit/http.ts';
import type { RequestMatch } from '../kit/match.ts';
import { WebhookDispatcher, type HubSpotEvent, type Subscription, type WebhookBehavior, type WebhookDelivery } from './webhooks.ts';

export type { HubSpotEvent, WebhookBehavior, WebhookDelivery, Subscription, StoredContact };

export type SandboxFault =
  | { kind: 'rate_limit'; policy?: 'TEN_SECONDLY_ROLLING' | 'DAILY' | 'SECONDLY'; retryAfterSeconds?: number }
  | { kind: 'server_error'; status?: number }
  | { kind: 'auth_expired' }
  | { kind: 'forbidden' }
  | { kind: 'not_found' }
  | { kind: 'latency'; ms: number }
  /** The request is processed, then the connection is dropped without an answer. */
  | { kind: 'lost_response' };

/** The kit's fault kinds HubSpot's sandbox renders. */
export type SandboxFaultKind = Extract<FaultKind, SandboxFault['kind']>;

/** Method and path prefix (string) or pattern the request path must match. */
export type FaultMatch = RequestMatch;

export interface ApiCall extends LoggedRequest {
  query: string;
  at: number;
  body: unknown;
  /** The fault injected into this call (explicit or drawn from the fault plan), if any. */
  fault?: SandboxFaultKind;
}

export interface HubSpotSandboxOptions {
  port?: number;
  portalId?: number;
  appId?: number;
  /** The app's client secret: the webhook signing key. */
  clientSecret?: string;
  /** Developer API key accepted as `hapikey` by the webhooks API. */
  developerApiKey?: string;
  /** Bearer tokens accepted by the CRM APIs. */
  accessTokens?: string[];
  /** Requests allowed per token per window (HubSpot Free/Starter: 100 / 10 s); null disables. */
  rateLimit?: { requests: number; perMs: number } | null;
  /** Search requests per second (HubSpot: about 5); null disables. */
  searchRateLimit?: { requests: number; perMs: number } | null;
  dailyLimit?: number;
  /** Initial webhook target URL (the app's settings can also be set through the API). */
  webhookTargetUrl?: string | null;
  /** 'default': start with the subscriptions crm-sync needs, as if an operator had created them. */
  subscriptions?: 'none' | 'default';
  webhookRetryDelaysMs?: number[];
  webhookMaxAttempts?: number;
  webhookTimeoutMs?: number;
  webhookBatchWindowMs?: number;
  webhookMaxConcurrent?: number;
  legacySignatureVersion?: 'v1' | 'v2';
  /** Send propertyChange events for the properties set on creation too (default true). */
  propertyChangeOnCreate?: boolean;
}

export interface HubSpotSandbox {
  /** Base URL, e.g. http://127.0.0.1:PORT (the SDK's basePath). */
  url: string;
  portalId: number;
  appId: number;
  clientSecret: string;
  developerApiKey: string;
  /** The first accepted access token. */
  accessToken: string;
  close(): Promise<void>;
  /** The kit's controls (clock, faults, request log), as every sandbox has them. */
  controls: SandboxControls<SandboxFaultKind, ApiCall>;

  // A person in the CRM UI (changes fire webhooks with changeSource CRM_UI).
  createContactAsUser(props: Record<string, string | null>): string;
  updateContactAsUser(id: string, props: Record<string, string | null>): void;
  deleteContact(id: string, opts?: { privacy?: boolean }): void;
  restoreContact(id: string): void;
  /** Merges `mergedId` into `primaryId` (the primary survives); fires contact.merge. */
  mergeContacts(primaryId: string, mergedId: string): string;

  // Inspection.
  getContact(id: string): { id: string; properties: Record<string, string | null>; createdAt: Date; updatedAt: Date; archived: boolean } | null;
  /** The live contact with this email (compared case-insensitively), or null. */
  findContactByEmail(email: string): { id: string; properties: Record<string, string | null>; archived: boolean } | null;
  listContacts(opts?: { includeArchived?: boolean }): { id: string; properties: Record<string, string | null>; archived: boolean }[];
  getProperty(name: string): PropertyDef | null;
  /** Every API request answered (method, path, status), in order. */
  apiCalls: ApiCall[];
  /** API requests received and not yet answered (a held one is applied at the end of its hold). */
  inFlight(): { method: string; path: string; body: unknown; since: number }[];

  // Time, auth, faults, limits.
  /** Every change from now on carries this time as createdate/lastmodifieddate/occurredAt (null: real time). */
  setClock(at: Date | null): void;
  addAccessToken(token: string): void;
  /** The token now answers 401 EXPIRED_AUTHENTICATION. */
  expireAccessToken(token: string): void;
  /** The next `count` API calls (matching `match`) fail this way. */
  injectFault(fault: SandboxFault | SandboxFaultKind, count?: number, match?: FaultMatch): void;
  clearFaults(): void;
  /** From now on each matching API request fails with probability `plan.rate` (null: off). */
  setFaultPlan(plan: FaultPlan | null): void;
  /** Writes by the API that changed nothing on a contact (every property already held the value). */
  noopWrites: { id: string; at: number }[];
  /** Runs `fn` (given the request's parsed JSON body) just before the next `count` matching API requests are processed (e.g. to race a write). */
  beforeRequest(match: FaultMatch, fn: (body: unknown) => void | Promise<void>, count?: number): void;
  /**
   * Runs `fn` right after the next `count` matching API requests were applied, before
   * their answer is sent (e.g. a person editing a record the client just wrote).
   */
  afterRequest(match: FaultMatch, fn: () => void | Promise<void>, count?: number): void;
  setRateLimit(limit: { requests: number; perMs: number } | null): void;
  /**
   * Changes `fn` makes are applied at once (reads and webhooks see them) but search keeps
   * answering with the contacts as they were, until indexSearch(): HubSpot's search index
   * lags writes by a few seconds.
   */
  lagSearchIndex(fn: () => void): void;
  indexSearch(): void;

  // Webhooks.
  setWebhookTarget(url: string | null): void;
  /** The app's webhook target URL (null: none set). */
  webhookTarget(): string | null;
  subscriptions(): Subscription[];
  /** Creates the standard subscriptions directly (as an operator in the developer portal would). */
  subscribeDefaults(): void;
  setWebhookBehavior(b: WebhookBehavior): void;
  deliveries: WebhookDelivery[];
  /** Events dropped because no target URL was set. */
  undeliverable: HubSpotEvent[];
  /** Resolves when no webhook is pending, in flight or waiting for a retry. */
  flushWebhooks(): Promise<void>;
  /** Queues hand-made events (sent batched and signed like the others). */
  emitEvents(events: HubSpotEvent[]): void;
  /** A webhook request signed as the sandbox would sign it, without sending it. */
  signedWebhook(
    events: HubSpotEvent[],
    opts?: { url?: string; timestampMs?: number; clientSecret?: string },
  ): { method: string; url: string; headers: Record<string, string>; body: string };
  /** One event as the sandbox would emit it for a change (for hand-made payloads). */
  makeEvent(subscriptionType: string, objectId: string, extra?: Partial<HubSpotEvent>): HubSpotEvent;
}

export const SYNCED_PROPERTIES = ['email', 'firstname', 'lastname', 'phone', 'company', 'lifecyclestage'];

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(String(body.message ?? status));
  }
}

function errorBody(message: string, category: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { status: 'error', message, correlationId: randomUUID(), category, ...extra };
}

export async function startHubSpotSandbox(opts: HubSpotSandboxOptions = {}): Promise<HubSpotSandbox> {
  const portalId = opts.portalId ?? 62515;
  const appId = opts.appId ?? 54321;
  const clientSecret = opts.clientSecret ?? 'sandbox-client-secret-0000';
  const developerApiKey = opts.developerApiKey ?? 'sandbox-developer-key';
  const tokens = new Map<string, 'valid' | 'expired'>((opts.accessTokens ?? ['sandbox-access-token']).map((t) => [t, 'valid']));
  const firstToken = [...tokens.keys()][0]!;
  let rateLimit = opts.rateLimit === undefined ? { requests: 100, perMs: 10_000 } : opts.rateLimit;
  const searchLimit = opts.searchRateLimit === undefined ? { requests: 5, perMs: 1_000 } : opts.searchRateLimit;
  const dailyLimit = opts.dailyLimit ?? 250_000;

  const store = new ContactStore();
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
  const windowHits = new Map<string, number[]>();
  const searchHits: number[] = [];
  let dailyUsed = 0;
  const apiCalls: ApiCall[] = [];
  const pending = new Set<{ method: string; path: string; body: unknown; since: number }>();

  function rateHeaders(key: string): Record<string, string> {
    const hits = windowHits.get(key) ?? [];
    const h: Record<string, string> = {
      'X-HubSpot-RateLimit-Daily': String(dailyLimit),
      'X-HubSpot-RateLimit-Daily-Remaining': String(Math.max(0, dailyLimit - dailyUsed)),
    };
    if (rateLimit) {
      h['X-HubSpot-RateLimit-Max'] = String(rateLimit.requests);
      h['X-HubSpot-RateLimit-Remaining'] = String(Math.max(0, rateLimit.requests - hits.length));
      h['X-HubSpot-RateLimit-Interval-Milliseconds'] = String(rateLimit.perMs);
    }
    return h;
  }

  function rateLimited(policy: 'TEN_SECONDLY_ROLLING' | 'DAILY' | 'SECONDLY', retryAfterSeconds: number | null, key: string): HttpError {
    const message =
      policy === 'DAILY'
        ? 'You have reached your daily limit.'
        : policy === 'SECONDLY'
          ? 'You have reached your secondly limit.'
          : 'You have reached your ten_secondly_rolling limit.';
    const headers = rateHeaders(key);
    if (policy !== 'DAILY' && retryAfterSeconds !== null) headers['Retry-After'] = String(retryAfterSeconds);
    return new HttpError(429, errorBody(message, 'RATE_LIMITS', { errorType: 'RATE_LIMIT', policyName: policy, groupName: 'publicapi:private-apps' }), headers);
  }

  function applyFault(f: SandboxFault, key: string): void {
    switch (f.kind) {
      case 'rate_limit': {
        const policy = f.policy ?? 'TEN_SECONDLY_ROLLING';
        throw rateLimited(policy, f.retryAfterSeconds ?? (policy === 'SECONDLY' ? 1 : 2), key);
      }
      case 'server_error':
        throw new HttpError(f.status ?? 502, errorBody('internal error', 'INTERNAL_ERROR'));
      case 'auth_expired':
        throw new HttpError(401, errorBody('The OAuth token used to make this call expired 5 second(s) ago.', 'EXPIRED_AUTHENTICATION'));
      case 'forbidden':
        throw new HttpError(
          403,
          errorBody('This app hasn\'t been granted all required scopes to make this call.', 'MISSING_SCOPES', {
            errors: [{ message: 'One or more of the following scopes are required.', context: { requiredScopes: ['crm.objects.contacts.write'] } }],
          }),
        );
      case 'not_found':
        throw new HttpError(404, errorBody('resource not found', 'OBJECT_NOT_FOUND'));
      default:
        return;
    }
  }

  function checkRate(key: string, isSearch: boolean): void {
    const now = Date.now();
    if (dailyUsed >= dailyLimit) throw rateLimited('DAILY', null, key);
    if (rateLimit) {
      const hits = (windowHits.get(key) ?? []).filter((t) => t > now - rateLimit!.perMs);
      windowHits.set(key, hits);
      if (hits.length >= rateLimit.requests) {
        throw rateLimited('TEN_SECONDLY_ROLLING', Math.max(1, Math.ceil((hits[0]! + rateLimit.perMs - now) / 1000)), key);
      }
      hits.push(now);
    }
    if (isSearch && searchLimit) {
      while (searchHits.length > 0 && searchHits[0]! <= now - searchLimit.perMs) searchHits.shift();
      if (searchHits.length >= searchLimit.requests) throw rateLimited('SECONDLY', 1, key);
      searchHits.push(now);
    }
    dailyUsed++;
  }

  function bearer(req: http.IncomingMessage): string {
    const h = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(h);
    if (!m) {
      throw new HttpError(
        401,
        errorBody('Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview', 'INVALID_AUTHENTICATION'),
      );
    }
    const state = tokens.get(m[1]!);
    if (state === 'expired') {
      throw new HttpError(401, errorBody('The OAuth token used to make this call expired 60 second(s) ago.', 'EXPIRED_AUTHENTICATION'));
    }
    if (state !== 'valid') throw new HttpError(401, errorBody('Authentication credentials not found.', 'INVALID_AUTHENTICATION'));
    return m[1]!;
  }

  // ---------------------------------------------------------------- routes

  const CONTACTS = '/crm/v3/objects/contacts';

  function propsParam(q: URLSearchParams, name = 'properties'): string[] | null {
    const all = q.getAll(name).flatMap((p) => p.split(',')).map((s) => s.trim()).filter(Boolean);
    return all.length > 0 ? all : null;
  }

  function asObject(body: unknown, what: string): Record<string, unknown> {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, errorBody(`Invalid input JSON: expected ${what}`, 'VALIDATION_ERROR'));
    return body as Record<string, unknown>;
  }

  function inputs(body: unknown): Record<string, unknown>[] {
    const b = asObject(body, 'an object with inputs');
    if (!Array.isArray(b.inputs)) throw new HttpError(400, errorBody('Invalid input JSON: "inputs" is required', 'VALIDATION_ERROR'));
    if (b.inputs.length > 100) {
      throw new HttpError(400, errorBody(`Too many inputs: ${b.inputs.length}; the limit is 100.`, 'VALIDATION_ERROR'));
    }
    return b.inputs.map((i) => asObject(i, 'input objects'));
  }

  function propsOf(input: Record<string, unknown>): Record<string, unknown> {
    const p = input.properties;
    if (p === undefined) return {};
    return asObject(p, 'properties');
  }

  function storeError(e: unknown): never {
    if (e instanceof StoreError) {
      const extra: Record<string, unknown> = {};
      if (e.extra.errors) extra.errors = e.extra.errors;
      throw new HttpError(e.status, errorBody(e.message, e.category, extra));
    }
    throw e;
  }

  function resolveId(id: string, idProperty: string | null): StoredContact | undefined {
    if (idProperty === 'email') return store.getByEmail(id);
    if (idProperty && idProperty !== 'hs_object_id') throw new HttpError(400, errorBody(`${idProperty} is not a unique property`, 'VALIDATION_ERROR'));
    return store.get(id);
  }

  function batchResult(results: Record<string, unknown>[], errors: Record<string, unknown>[], started: string, okStatus: number) {
    const out: Record<string, unknown> = {
      status: 'COMPLETE',
      results,
      startedAt: started,
      completedAt: new Date().toISOString(),
    };
    if (errors.length > 0) {
      out.numErrors = errors.length;
      out.errors = errors;
      return { status: 207, body: out };
    }
    return { status: okStatus, body: out };
  }

  function notFoundError(ids: string[]): Record<string, unknown> {
    return {
      status: 'error',
      category: 'OBJECT_NOT_FOUND',
      message: 'Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.',
      context: { ids },
      errors: [],
      links: {},
    };
  }

  function propertyJson(p: PropertyDef): Record<string, unknown> {
    return {
      name: p.name,
      label: p.label,
      type: p.type,
      fieldType: p.fieldType,
      groupName: p.groupName,
      description: p.description,
      options: p.options,
      displayOrder: -1,
      calculated: false,
      externalOptions: false,
      hasUniqueValue: p.name === 'email',
      hidden: false,
      hubspotDefined: p.hubspotDefined,
      formField: !p.readOnlyValue,
      createdAt: new Date(p.createdAt).toISOString(),
      updatedAt: new Date(p.updatedAt).toISOString(),
      modificationMetadata: { archivable: !p.hubspotDefined, readOnlyDefinition: p.hubspotDefined, readOnlyValue: p.readOnlyValue },
    };
  }

  function parseOptions(raw: unknown): PropertyDef['options'] {
    if (raw === undefined) return [];
    if (!Array.isArray(raw)) throw new HttpError(400, errorBody('options must be an array', 'VALIDATION_ERROR'));
    return raw.map((o, i) => {
      const oo = asObject(o, 'option objects');
      if (typeof oo.value !== 'string' || typeof oo.label !== 'string') {
        throw new HttpError(400, errorBody('each option needs a string label and value', 'VALIDATION_ERROR'));
      }
      return { label: oo.label, value: oo.value, displayOrder: typeof oo.displayOrder === 'number' ? oo.displayOrder : i, hidden: oo.hidden === true };
    });
  }

  function subscriptionJson(s: Subscription): Record<string, unknown> {
    const out: Record<string, unknown> = {
      id: s.id,
      eventType: s.eventType,
      active: s.active,
      createdAt: new Date(s.createdAt).toISOString(),
      updatedAt: new Date(s.updatedAt).toISOString(),
    };
    if (s.propertyName) out.propertyName = s.propertyName;
    return out;
  }

  type Result = { status: number; body?: unknown };

  async function route(method: string, path: string, q: URLSearchParams, body: unknown, req: http.IncomingMessage): Promise<Result> {
    // ---- webhooks API (developer API key)
    const wh = /^\/webhooks\/v3\/([^/]+)\/(settings|subscriptions)(?:\/([^/]+))?$/.exec(path);
    if (wh) {
      if (q.get('hapikey') !== developerApiKey) {
        throw new HttpError(401, errorBody('The API key provided is invalid. View or manage your API key here: https://app.hubspot.com/l/api-key/', 'INVALID_AUTHENTICATION'));
      }
      if (wh[1] !== String(appId)) throw new HttpError(404, errorBody(`App ${wh[1]} not found`, 'OBJECT_NOT_FOUND'));
      if (wh[2] === 'settings' && !wh[3]) {
        if (method === 'GET') {
          if (!hooks.settings) throw new HttpError(404, errorBody('No settings configured for this app', 'OBJECT_NOT_FOUND'));
          const s = hooks.settings;
          return {
            status: 200,
            body: { targetUrl: s.targetUrl, throttling: { maxConcurrentRequests: s.maxConcurrentRequests, period: 'SECONDLY' }, createdAt: new Date(s.createdAt).toISOString(), updatedAt: new Date(s.updatedAt).toISOString() },
          };
        }
        if (method === 'PUT') {
          const b = asObject(body, 'settings');
          if (typeof b.targetUrl !== 'string' || !/^https?:\/\//.test(b.targetUrl)) {
            throw new HttpError(400, errorBody('targetUrl must be an absolute URL', 'VALIDATION_ERROR'));
          }
          hooks.setTarget(b.targetUrl);
          const s = hooks.settings!;
          return {
            status: 200,
            body: { targetUrl: s.targetUrl, throttling: { maxConcurrentRequests: s.maxConcurrentRequests, period: 'SECONDLY' }, createdAt: new Date(s.createdAt).toISOString(), updatedAt: new Date(s.updatedAt).toISOString() },
          };
        }
        if (method === 'DELETE') {
          hooks.setTarget(null);
          return { status: 204 };
        }
      }
      if (wh[2] === 'subscriptions') {
        if (!wh[3] && method === 'GET') return { status: 200, body: { results: [...hooks.subscriptions.values()].map(subscriptionJson) } };
        if (!wh[3] && method === 'POST') {
          const b = asObject(body, 'a subscription');
          const eventType = b.eventType;
          const known = ['contact.creation', 'contact.deletion', 'contact.privacyDeletion', 'contact.merge', 'contact.restore', 'contact.propertyChange', 'contact.associationChange'];
          if (typeof eventType !== 'string' || !known.includes(eventType)) {
            throw new HttpError(400, errorBody(`Unsupported eventType ${JSON.stringify(eventType)}`, 'VALIDATION_ERROR'));
          }
          const propertyName = typeof b.propertyName === 'string' ? b.propertyName : null;
          if (eventType === 'contact.propertyChange' && (!propertyName || !store.properties.has(propertyName))) {
            throw new HttpError(400, errorBody(`propertyName ${JSON.stringify(propertyName)} is not a contact property`, 'VALIDATION_ERROR'));
          }
          if (hooks.findSubscription(eventType, propertyName)) {
            throw new HttpError(409, errorBody(`A subscription for ${eventType}${propertyName ? ` ${propertyName}` : ''} already exists`, 'CONFLICT'));
          }
          const s = hooks.subscribe(eventType, propertyName, b.active !== false);
          return { status: 201, body: subscriptionJson(s) };
        }
        if (wh[3]) {
          const s = hooks.subscriptions.get(wh[3]);
          if (!s) throw new HttpError(404, errorBody(`Subscription ${wh[3]} not found`, 'OBJECT_NOT_FOUND'));
          if (method === 'GET') return { status: 200, body: subscriptionJson(s) };
          if (method === 'PATCH') {
            const b = asObject(body, 'a subscription patch');
            if (typeof b.active === 'boolean') s.active = b.active;
            s.updatedAt = Date.now();
            return { status: 200, body: subscriptionJson(s) };
          }
          if (method === 'DELETE') {
            hooks.subscriptions.delete(s.id);
            return { status: 204 };
          }
        }
      }
      throw new HttpError(405, errorBody(`${method} not allowed on ${path}`, 'VALIDATION_ERROR'));
    }

    // ---- CRM APIs (Bearer token, rate limited)
    const token = bearer(req);
    checkRate(token, path === `${CONTACTS}/search`);

    // account information API: "GET /account-info/v3/details" answers the account of the
    // token; portalId is "the unique identifier for the HubSpot account".
    if (path === '/account-info/v3/details') {
      if (method !== 'GET') throw new HttpError(405, errorBody(`${method} not allowed on ${path}`, 'VALIDATION_ERROR'));
      return {
        status: 200,
        body: {
          portalId,
          accountType: 'STANDARD',
          timeZone: 'US/Eastern',
          companyCurrency: 'USD',
          additionalCurrencies: [],
          utcOffset: '-05:00',
          utcOffsetMilliseconds: -18_000_000,
          uiDomain: 'app.hubspot.com',
          dataHostingLocation: 'na1',
        },
      };
    }

    // properties
    const pr = /^\/crm\/v3\/properties\/(contacts|0-1)(?:\/([^/]+))?$/.exec(path);
    if (pr) {
      const name = pr[2] ? decodeURIComponent(pr[2]) : null;
      if (!name && method === 'GET') return { status: 200, body: { results: [...store.properties.values()].map(propertyJson) } };
      if (!name && method === 'POST') {
        const b = asObject(body, 'a property');
        if (typeof b.name !== 'string' || !/^[a-z][a-z0-9_]*$/.test(b.name)) throw new HttpError(400, errorBody('name must be lower-case letters, digits and _', 'VALIDATION_ERROR'));
        if (typeof b.label !== 'string' || typeof b.type !== 'string' || typeof b.fieldType !== 'string' || typeof b.groupName !== 'string') {
          throw new HttpError(400, errorBody('label, type, fieldType and groupName are required', 'VALIDATION_ERROR'));
        }
        if (store.properties.has(b.name)) {
          throw new HttpError(409, errorBody(`Property named '${b.name}' already exists.`, 'OBJECT_ALREADY_EXISTS', { subCategory: 'PropertyValidationError.PROPERTY_EXISTS' }));
        }
        if (!['string', 'enumeration', 'datetime', 'number'].includes(b.type)) throw new HttpError(400, errorBody(`type ${b.type} is not supported`, 'VALIDATION_ERROR'));
        const t = Date.now();
        const def: PropertyDef = {
          name: b.name,
          label: b.label,
          type: b.type as PropertyDef['type'],
          fieldType: b.fieldType,
          groupName: b.groupName,
          description: typeof b.description === 'string' ? b.description : '',
          options: parseOptions(b.options),
          readOnlyValue: false,
          hubspotDefined: false,
          createdAt: t,
          updatedAt: t,
        };
        store.properties.set(def.name, def);
        return { status: 201, body: propertyJson(def) };
      }
      if (name) {
        const def = store.properties.get(name);
        if (!def) throw new HttpError(404, errorBody(`Unable to find property ${name}`, 'OBJECT_NOT_FOUND'));
        if (method === 'GET') return { status: 200, body: propertyJson(def) };
        if (method === 'PATCH') {
          if (def.hubspotDefined) throw new HttpError(400, errorBody(`${name} is a HubSpot-defined property and cannot be changed`, 'VALIDATION_ERROR'));
          const b = asObject(body, 'a property update');
          if (b.options !== undefined) def.options = parseOptions(b.options); // PATCH replaces the whole option list
          if (typeof b.label === 'string') def.label = b.label;
          if (typeof b.description === 'string') def.description = b.description;
          def.updatedAt = Date.now();
          return { status: 200, body: propertyJson(def) };
        }
      }
      throw new HttpError(405, errorBody(`${method} not allowed on ${path}`, 'VALIDATION_ERROR'));
    }

    // contacts: batch
    const batch = /^\/crm\/v3\/objects\/contacts\/batch\/(read|create|update|upsert|archive)$/.exec(path);
    if (batch && method === 'POST') {
      const started = new Date().toISOString();
      const list = inputs(body);
      const op = batch[1];
      if (op === 'read') {
        const b = asObject(body, 'a batch read');
        const idProperty = typeof b.idProperty === 'string' ? b.idProperty : null;
        const props = Array.isArray(b.properties) ? (b.properties as string[]) : null;
        const withHistory = Array.isArray(b.propertiesWithHistory) ? (b.propertiesWithHistory as unknown[]).map(String) : [];
        if (withHistory.length > 0 && list.length > 50) {
          // HubSpot's answer when property histories are asked for more than 50 records.
          throw new HttpError(400, errorBody('The maximum number of inputs supported in a batch request for property histories is 50. Please reduce the number of items and try again', 'VALIDATION_ERROR'));
        }
        const results: Record<string, unknown>[] = [];
        const missing: string[] = [];
        const seen = new Set<string>();
        for (const i of list) {
          const id = String(i.id ?? '');
          const c = resolveId(id, idProperty);
          if (!c) missing.push(id);
          else if (!seen.has(c.id)) {
            seen.add(c.id);
            results.push(store.toJson(c, props, withHistory));
          }
        }
        return batchResult(results, missing.length > 0 ? [notFoundError(missing)] : [], started, 200);
      }
      if (op === 'create') {
        // All or nothing, like HubSpot: any invalid input or existing email fails the batch.
        const emails = new Set<string>();
        for (const i of list) {
          const p = propsOf(i);
          const problems = store.problems(p);
          if (problems.length > 0) {
            throw new HttpError(400, errorBody(`Property values were not valid: ${JSON.stringify(problems)}`, 'VALIDATION_ERROR', { errors: problems }));
          }
          const email = typeof p.email === 'string' ? p.email.trim().toLowerCase() : '';
          if (email) {
            const existing = store.getByEmail(email);
            if (existing) throw new HttpError(409, errorBody(`Contact already exists. Existing ID: ${existing.id}`, 'CONFLICT'));
            if (emails.has(email)) throw new HttpError(400, errorBody(`Duplicate email in batch input: ${email}`, 'VALIDATION_ERROR'));
            emails.add(email);
          }
        }
        const results = list.map((i) => {
          try {
            return store.toJson(store.create(propsOf(i), 'INTEGRATION'), [...Object.keys(propsOf(i))]);
          } catch (e) {
            return storeError(e);
          }
        });
        return batchResult(results, [], started, 201);
      }
      if (op === 'update') {
        const b = asObject(body, 'a batch update');
        const ids = list.map((i) => String(i.id ?? ''));
        if (new Set(ids).size !== ids.length) throw new HttpError(400, errorBody('Duplicate IDs found in batch input', 'VALIDATION_ERROR'));
        const defaultIdProperty = typeof b.idProperty === 'string' ? b.idProperty : null;
        for (const i of list) {
          const problems = store.problems(propsOf(i));
          if (problems.length > 0) {
            throw new HttpError(400, errorBody(`Property values were not valid: ${JSON.stringify(problems)}`, 'VALIDATION_ERROR', { errors: problems }));
          }
        }
        const results: Record<string, unknown>[] = [];
        const missing: string[] = [];
        const errors: Record<string, unknown>[] = [];
        for (const i of list) {
          const idProperty = typeof i.idProperty === 'string' ? i.idProperty : defaultIdProperty;
          const c = resolveId(String(i.id ?? ''), idProperty);
          if (!c) {
            missing.push(String(i.id ?? ''));
            continue;
          }
          try {
            const u = store.update(c.id, propsOf(i), 'INTEGRATION');
            results.push(store.toJson(u, Object.keys(propsOf(i))));
          } catch (e) {
            if (e instanceof StoreError) errors.push({ status: 'error', category: e.category, message: e.message, context: { ids: [String(i.id)] } });
            else throw e;
          }
        }
        if (missing.length > 0) errors.push(notFoundError(missing));
        return batchResult(results, errors, started, 200);
      }
      if (op === 'upsert') {
        for (const i of list) {
          if (i.idProperty !== 'email' || typeof i.id !== 'string') {
            throw new HttpError(400, errorBody('upsert inputs need id and idProperty "email"', 'VALIDATION_ERROR'));
          }
          const problems = store.problems(propsOf(i));
          if (problems.length > 0) throw new HttpError(400, errorBody(`Property values were not valid: ${JSON.stringify(problems)}`, 'VALIDATION_ERROR', { errors: problems }));
        }
        const results = list.map((i) => {
          try {
            const existing = store.getByEmail(String(i.id));
            const c = existing
              ? store.update(existing.id, propsOf(i), 'INTEGRATION')
              : store.create({ ...propsOf(i), email: String(i.id) }, 'INTEGRATION');
            return { ...store.toJson(c, Object.keys(propsOf(i))), new: !existing };
          } catch (e) {
            return storeError(e);
          }
        });
        return batchResult(results, [], started, 200);
      }
      if (op === 'archive') {
        for (const i of list) store.archive(String(i.id ?? ''), 'INTEGRATION');
        return { status: 204 };
      }
    }

    // contacts: search
    if (path === `${CONTACTS}/search` && method === 'POST') {
      const b = asObject(body, 'a search request') as SearchRequest;
      try {
        const r = store.search(b);
        const out: Record<string, unknown> = { total: r.total, results: r.results.map((c) => store.toJson(c, Array.isArray(b.properties) ? b.properties : null)) };
        if (r.nextAfter) out.paging = { next: { after: r.nextAfter } };
        return { status: 200, body: out };
      } catch (e) {
        return storeError(e);
      }
    }

    // contacts: list / create
    if (path === CONTACTS) {
      if (method === 'GET') {
        const limit = q.has('limit') ? Number(q.get('limit')) : 10;
        if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new HttpError(400, errorBody('limit must be between 1 and 100', 'VALIDATION_ERROR'));
        const after = q.get('after');
        if (after !== null && !/^\d+$/.test(after)) throw new HttpError(400, errorBody(`after is not valid: ${after}`, 'VALIDATION_ERROR'));
        const archived = q.get('archived') === 'true';
        const rows = store.all({ includeArchived: archived }).filter((c) => c.archived === archived && (after === null || Number(c.id) >= Number(after)));
        const page = rows.slice(0, limit);
        const out: Record<string, unknown> = { results: page.map((c) => store.toJson(c, propsParam(q))) };
        const next = rows[limit];
        if (next) out.paging = { next: { after: next.id, link: `${CONTACTS}?after=${next.id}` } };
        return { status: 200, body: out };
      }
      if (method === 'POST') {
        const b = asObject(body, 'a contact');
        try {
          const c = store.create(propsOf(b), 'INTEGRATION');
          return { status: 201, body: store.toJson(c, Object.keys(propsOf(b))) };
        } catch (e) {
          return storeError(e);
        }
      }
    }

    // contacts: one
    const one = /^\/crm\/v3\/objects\/contacts\/([^/]+)$/.exec(path);
    if (one) {
      const id = decodeURIComponent(one[1]!);
      const idProperty = q.get('idProperty');
      const c = resolveId(id, idProperty);
      if (!c) throw new HttpError(404, errorBody('resource not found', 'OBJECT_NOT_FOUND'));
      if (method === 'GET') return { status: 200, body: store.toJson(c, propsParam(q), propsParam(q, 'propertiesWithHistory') ?? []) };
      if (method === 'PATCH') {
        try {
          const u = store.update(c.id, propsOf(asObject(body, 'a contact')), 'INTEGRATION');
          return { status: 200, body: store.toJson(u, Object.keys(propsOf(asObject(body, 'a contact')))) };
        } catch (e) {
          return storeError(e);
        }
      }
      if (method === 'DELETE') {
        store.archive(c.id, 'INTEGRATION');
        return { status: 204 };
      }
    }

    throw new HttpError(404, errorBody(`No route for ${method} ${path}`, 'OBJECT_NOT_FOUND'));
  }

  // ---------------------------------------------------------------- server

  /** A fault of the shared chaos vocabulary as this sandbox's own fault. */
  function planned(d: DrawnFault | null): SandboxFault | null {
    if (!d) return null;
    if (d.kind === 'rate_limit') return { kind: 'rate_limit', retryAfterSeconds: d.retryAfterSeconds };
    if (d.kind === 'server_error') return { kind: 'server_error', status: d.status };
    if (d.kind === 'latency') return { kind: 'latency', ms: d.ms };
    return { kind: 'lost_response' };
  }

  const server = http.createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const raw = await readBody(req);
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
      else if (fault) applyFault(fault, key);
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
      if (!u.pathname.startsWith('/webhooks/')) headers = rateHeaders(key);
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
    apiCalls.push({ method, path: u.pathname, query: u.search, status, at: Date.now(), body, ...(injected ? { fault: injected } : {}) });
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

  function injectFault(fault: SandboxFault | SandboxFaultKind, count = 1, match?: FaultMatch): void {
    const f: SandboxFault = typeof fault === 'string' ? ({ kind: fault, ...(fault === 'latency' ? { ms: 1000 } : {}) } as SandboxFault) : fault;
    faults.push(f, count, match);
  }

  const controls: SandboxControls<SandboxFaultKind, ApiCall> = {
    setClock: (at) => store.setClock(at),
    injectFault,
    setFaultPlan: (plan) => {
      faultPlan = plan;
    },
    requests: apiCalls,
  };

  return {
    url,
    portalId,
    appId,
    clientSecret,
    developerApiKey,
    accessToken: firstToken,
    apiCalls,
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
    controls,
    setClock: controls.setClock,
    addAccessToken: (t) => void tokens.set(t, 'valid'),
    expireAccessToken: (t) => void tokens.set(t, 'expired'),
    injectFault,
    clearFaults: () => faults.clear(),
    setFaultPlan: controls.setFaultPlan,
    noopWrites: store.noopWrites,
    beforeRequest: (match, fn, count = 1) => hooksBefore.add(match, fn, count),
    afterRequest: (match, fn, count = 1) => hooksAfter.add(match, fn, count),
    lagSearchIndex: (fn) => control(() => store.lagIndex(fn)),
    indexSearch: () => store.indexNow(),
    setRateLimit: (l) => {
      rateLimit = l;
    },
    setWebhookTarget: (u) => hooks.setTarget(u),
    webhookTarget: () => hooks.targetUrl(),
    subscriptions: () => [...hooks.subscriptions.values()],
    subscribeDefaults: () => hooks.subscribeDefaults(SYNCED_PROPERTIES),
    setWebhookBehavior: (b) => {
      hooks.behavior = { ...b };
    },
    flushWebhooks: () => hooks.flush(),
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

function peekJson(raw: string): unknown {
  try {
    return raw ? JSON.parse(raw) : undefined;
  } catch {
    return undefined;
  }
}
