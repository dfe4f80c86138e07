// A local Salesforce org speaking the REST wire formats a sync adapter uses (API v62.0
// paths, any vXX.X accepted): sObject rows, upsert by External ID, sObject Collections,
// SOQL with query locators, describe, limits, the OAuth token endpoint (refresh_token
// grant), and Outbound Messages sent to a configurable endpoint. Loopback only.
import { drawFault, FaultQueue, type FaultKind, type FaultPlan } from '../kit/faults.ts';
import type { LoggedRequest, SandboxControls } from '../kit/controls.ts';
import { RequestHooks } from '../kit/hooks.ts';
import { closeServer, listenLoopback, readBody as readAll } from '../kit/http.ts';
import { pathContaining, type RequestMatch } from '../kit/match.ts';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { IdFactory, isIdShaped, KEY_PREFIX, to15, to18 } from './ids.ts';
import { OutboundDispatcher, type OutboundConfig, type OutboundDelivery } from './outbound.ts';
import { parseSoql, runQuery, SoqlError } from './soql.ts';
import { LeadStore, toJson, type FieldDef, type SfError, type StoredLead, type WriteOutcome } from './store.ts';

/** The kit's fault kinds the Salesforce sandbox renders. */
export type SandboxFault = Extract<FaultKind, 'rate_limit' | 'server_error' | 'auth_expired' | 'not_found' | 'network' | 'latency'>;

export interface SalesforceSandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Loopback only: 127.0.0.1 by default. */
  host?: string;
  organizationId?: string;
  /** OAuth: the connected app's client id/secret the token endpoint accepts. */
  clientId?: string;
  clientSecret?: string;
  /** Initial tokens (generated when absent). */
  accessToken?: string;
  refreshToken?: string;
  /** The token endpoint returns a new refresh token and revokes the old one. */
  rotateRefreshTokens?: boolean;
  /**
   * The `instance_url` the token endpoint answers (the OAuth token response names "the
   * instance of the user's org"; an org can move). Default: the sandbox's own URL.
   */
  tokenInstanceUrl?: string;
  /** Daily API request allowance reported in Sforce-Limit-Info (default 15000). */
  apiLimit?: number;
  /** Active duplicate rule (blocks with DUPLICATES_DETECTED): true matches on Email; or the fields that must all match. Default off. */
  duplicateRule?: boolean | { fields: string[] };
  /** Custom origin field; null leaves it out of the org. Default Lead_Source_System__c (Text 255). */
  originField?: string | null;
  /** Custom External ID field; null leaves it out. Default Platform_Lead_Id__c (Text 255, External ID, Unique). */
  externalIdField?: string | null;
  /** Forces query batches of this size (Salesforce may return smaller batches than asked). */
  queryBatchSize?: number | null;
  outbound?: Partial<OutboundConfig>;
}

export interface RecordedRequest extends LoggedRequest {
  query: string;
  /** The Sforce-Call-Options header, when sent. */
  callOptions: string | null;
  authorization: string | null;
}

export interface LeadSnapshot {
  /** Field values with API names; datetimes as Date. */
  values: Record<string, unknown>;
  deleted: boolean;
  createdByClient: string | null;
  /** The `client` of the Sforce-Call-Options of the last write (null: a person in the UI). */
  lastModifiedByClient: string | null;
}

export class SandboxWriteError extends Error {
  constructor(readonly errors: SfError[]) {
    super(errors.map((e) => `${e.errorCode}: ${e.message}`).join('; '));
  }
}

export interface SalesforceSandboxControls extends SandboxControls<SandboxFault, RecordedRequest> {
  readonly organizationId: string;
  /** The API user's id (writes through the API) and the UI user's id (controls). */
  readonly integrationUserId: string;
  readonly uiUserId: string;
  /** Current credentials: what an adapter needs to connect (loginUrl = the sandbox). */
  credentials(): { accessToken: string; refreshToken: string; clientId: string; clientSecret: string; loginUrl: string };
  /** Every change from now on carries this time (whole seconds); null: real time. */
  setClock(at: Date | null): void;
  /**
   * Leads `fn` creates get their Id and SystemModstamp now but stay invisible to SOQL until
   * the returned function is called: a save that commits after it was stamped.
   */
  commitLater(fn: () => void): () => void;
  // -- "as a person in the UI" (no Sforce-Call-Options, UI user) --
  createLeadAsUser(fields: Record<string, unknown>): string;
  updateLeadAsUser(id: string, fields: Record<string, unknown>): void;
  deleteLead(id: string): void;
  getLead(id: string): LeadSnapshot | null;
  listLeads(): LeadSnapshot[];
  // -- org configuration --
  /** true: a blocking rule matching on Email; { fields }: matching when all fields equal; false: off. */
  setDuplicateRule(rule: boolean | { fields: string[] }): void;
  addField(def: Omit<FieldDef, 'createable' | 'updateable'> & Partial<Pick<FieldDef, 'createable' | 'updateable'>>): void;
  removeField(name: string): void;
  // -- faults --
  /**
   * The next `count` API calls (not the token endpoint) fail this way; with `method` /
   * `pathIncludes` only the next matching calls do (e.g. only the write of a push).
   */
  injectFault(kind: SandboxFault, count?: number, opts?: { latencyMs?: number; method?: string; pathIncludes?: string }): void;
  /** Latency added to every API call. */
  setLatency(ms: number): void;
  /**
   * From now on each API call fails with probability `plan.rate` (null: off), in the shared
   * chaos vocabulary: rate_limit is Salesforce's 403 REQUEST_LIMIT_EXCEEDED, server_error a
   * 500/502/503, latency holds the call before applying it, lost_response applies it and drops
   * the connection.
   */
  setFaultPlan(plan: FaultPlan | null): void;
  /**
   * Runs `fn` right after the next `count` matching API calls were applied, before they
   * are answered (e.g. a person editing a Lead the client just wrote).
   */
  afterApiRequest(match: { method?: string; pathIncludes?: string }, fn: () => void, count?: number): void;
  /** The next `count` records written through sObject Collections fail inside a 2xx answer. */
  failNextRecordWrites(count: number, errorCode?: string, message?: string): void;
  /** Every access token issued so far stops working (401 INVALID_SESSION_ID). */
  expireAccessTokens(): void;
  /** The refresh token stops working (token endpoint: invalid_grant). */
  revokeRefreshToken(): void;
  setApiLimit(max: number): void;
  apiUsage(): { used: number; max: number };
  setQueryBatchSize(size: number | null): void;
  /** API requests received, oldest first. */
  readonly requests: RecordedRequest[];
  /** Refresh-token grants answered successfully. */
  tokenRefreshes(): number;
  // -- outbound messages --
  readonly outbound: {
    configure(config: Partial<OutboundConfig>): void;
    readonly config: OutboundConfig;
    readonly deliveries: OutboundDelivery[];
    pending(): number;
    /** Each of the next n messages is POSTed twice. */
    duplicateNext(n?: number): void;
    /** The next n messages wait `ms` before they are sent. */
    delayNext(ms: number, n?: number): void;
    /** The next n dispatches send their notifications newest first. */
    reorderNext(n?: number): void;
    /** The envelope Salesforce would send for these Leads, without sending it. */
    envelopeFor(leadIds: string[], opts?: { organizationId?: string; notificationIds?: string[] }): { body: string; notificationIds: string[] };
  };
  /** Sends every queued notification now; resolves once all are acknowledged. */
  flushNotifications(opts?: { timeoutMs?: number }): Promise<OutboundDelivery[]>;
}

export interface SalesforceSandbox {
  url: string;
  close(): Promise<void>;
  controls: SalesforceSandboxControls;
}

const MAX_BODY = 10 * 1024 * 1024;
const QUERY_LOCATOR_TTL_MS = 15 * 60_000;

interface QueryCursor {
  rows: Record<string, unknown>[];
  totalSize: number;
  batch: number;
  expiresAt: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}`);
  }
}

function sfErrors(status: number, errorCode: string, message: string, fields?: string[]): HttpError {
  return new HttpError(status, [{ message, errorCode, ...(fields ? { fields } : {}) }]);
}

/** A REST error array entry (errorCode) from a store error. */
function restError(e: SfError): Record<string, unknown> {
  return e.duplicateResult
    ? { duplicateResult: e.duplicateResult, errorCode: e.errorCode, message: e.message, fields: e.fields }
    : { message: e.message, errorCode: e.errorCode, fields: e.fields };
}

/** A collection result error entry (statusCode) from a store error. */
function collectionError(e: SfError): Record<string, unknown> {
  return {
    statusCode: e.errorCode,
    message: e.message,
    fields: e.fields,
    ...(e.duplicateResult ? { duplicateResult: e.duplicateResult } : {}),
  };
}

function token(orgId: string): string {
  return `${to15(orgId)}!AQ${randomBytes(24).toString('base64url')}`;
}

export async function startSalesforceSandbox(opts: SalesforceSandboxOptions = {}): Promise<SalesforceSandbox> {
  const host = opts.host ?? '127.0.0.1';
  const organizationId = to18(opts.organizationId ?? '00D5g000008XyZa');
  const userIds = new IdFactory(KEY_PREFIX.user);
  const integrationUserId = userIds.make();
  const uiUserId = userIds.make();
  const actionId = new IdFactory(KEY_PREFIX.outboundAction).make();
  const locatorIds = new IdFactory(KEY_PREFIX.queryLocator);
  const clientId = opts.clientId ?? 'sandbox-consumer-key';
  const clientSecret = opts.clientSecret ?? 'sandbox-consumer-secret';

  const store = new LeadStore(integrationUserId);
  const ruleFor = (r: boolean | { fields: string[] } | undefined) => (r === true ? { fields: ['Email'] } : r ? r : null);
  store.duplicateRule = ruleFor(opts.duplicateRule);
  const originField = opts.originField === undefined ? 'Lead_Source_System__c' : opts.originField;
  const externalIdField = opts.externalIdField === undefined ? 'Platform_Lead_Id__c' : opts.externalIdField;
  if (originField) store.addField({ name: originField, label: 'Lead Source System', type: 'string', length: 255, createable: true, updateable: true, custom: true });
  if (externalIdField) {
    store.addField({ name: externalIdField, label: 'Platform Lead Id', type: 'string', length: 255, createable: true, updateable: true, custom: true, externalId: true, unique: true });
  }

  let accessTokens = new Set<string>([opts.accessToken ?? token(organizationId)]);
  let currentAccess = [...accessTokens][0];
  let refreshToken = opts.refreshToken ?? `5Aep861${randomBytes(30).toString('base64url')}`;
  let refreshValid = true;
  let refreshes = 0;
  let apiLimit = opts.apiLimit ?? 15_000;
  let apiUsed = 0;
  let latencyMs = 0;
  let faultPlan: FaultPlan | null = null;
  let queryBatchSize = opts.queryBatchSize ?? null;
  const faults = new FaultQueue<{ kind: SandboxFault; latencyMs?: number }>();
  const recordFailures: { errorCode: string; message: string }[] = [];
  const cursors = new Map<string, QueryCursor>();
  const requests: RecordedRequest[] = [];
  const afterHooks = new RequestHooks();
  const matchOf = (o: { method?: string; pathIncludes?: string }): RequestMatch => ({
    method: o.method,
    path: o.pathIncludes === undefined ? undefined : pathContaining(o.pathIncludes),
  });
  let url = '';

  const outbound = new OutboundDispatcher(store, () => ({
    organizationId,
    actionId,
    instanceUrl: url,
    apiVersion: '62.0',
    sessionId: currentAccess,
  }));
  if (opts.outbound) outbound.config = { ...outbound.config, ...opts.outbound };

  const apiActor = (callOptions: string | null) => {
    const m = callOptions ? /(?:^|[,;\s])client=([^,;\s]+)/i.exec(callOptions) : null;
    return { userId: integrationUserId, client: m ? m[1] : null };
  };
  const uiActor = { userId: uiUserId, client: null };

  // ---- request handling -----------------------------------------------------------------

  const readBody = (req: http.IncomingMessage) =>
    readAll(req, { maxBytes: MAX_BODY, tooLarge: () => sfErrors(413, 'REQUEST_ENTITY_TOO_LARGE', 'Request body too large') });

  function json(body: string): unknown {
    if (body.trim() === '') return {};
    try {
      return JSON.parse(body);
    } catch (e) {
      throw sfErrors(400, 'JSON_PARSER_ERROR', `Unexpected character: ${(e as Error).message}`);
    }
  }

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

  async function handleToken(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const form = new URLSearchParams(await readBody(req));
    const fail = (error: string, description: string) => send(res, 400, { error, error_description: description });
    if (form.get('grant_type') !== 'refresh_token') return fail('unsupported_grant_type', 'grant type not supported');
    if (form.get('client_id') !== clientId) return fail('invalid_client_id', 'client identifier invalid');
    const secret = form.get('client_secret');
    if (secret !== null && secret !== clientSecret) return fail('invalid_client', 'invalid client credentials');
    if (!refreshValid || form.get('refresh_token') !== refreshToken) return fail('invalid_grant', 'expired access/refresh token');
    const access = token(organizationId);
    accessTokens.add(access);
    currentAccess = access;
    refreshes++;
    const body: Record<string, unknown> = {
      access_token: access,
      signature: randomBytes(32).toString('base64'),
      scope: 'refresh_token api',
      instance_url: opts.tokenInstanceUrl ?? url,
      id: `${url}/id/${organizationId}/${integrationUserId}`,
      token_type: 'Bearer',
      issued_at: String(Date.now()),
    };
    if (opts.rotateRefreshTokens) {
      refreshToken = `5Aep861${randomBytes(30).toString('base64url')}`;
      body.refresh_token = refreshToken;
    }
    send(res, 200, body);
  }

  /**
   * The OpenID Connect UserInfo endpoint: "information about the user associated with the
   * connected app's access token", among it `organization_id` (18 characters) and
   * `user_id`. A token it does not know is refused with 401 (OIDC: invalid_token).
   */
  function handleUserInfo(req: http.IncomingMessage, res: http.ServerResponse): void {
    const bearer = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer || !accessTokens.has(bearer)) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer error="invalid_token"' });
      res.end('Bad_OAuth_Token');
      return;
    }
    send(res, 200, {
      sub: `${url}/id/${organizationId}/${integrationUserId}`,
      user_id: integrationUserId,
      organization_id: organizationId,
      preferred_username: 'integration@sandbox.example',
      name: 'Integration User',
      email: 'integration@sandbox.example',
      email_verified: true,
      zoneinfo: 'GMT',
      urls: { rest: `${url}/services/data/v{version}/` },
    });
  }

  function faultResponse(kind: SandboxFault): HttpError | 'network' | null {
    switch (kind) {
      case 'rate_limit':
        return sfErrors(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.');
      case 'server_error':
        return sfErrors(500, 'UNKNOWN_EXCEPTION', 'An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)');
      case 'auth_expired':
        return sfErrors(401, 'INVALID_SESSION_ID', 'Session expired or invalid');
      case 'not_found':
        return sfErrors(404, 'NOT_FOUND', 'The requested resource does not exist');
      case 'network':
        return 'network';
      case 'latency':
        return null;
    }
  }

  async function handleApi(req: http.IncomingMessage, res: http.ServerResponse, u: URL, rec: RecordedRequest): Promise<void> {
    const fault = faults.take(req.method ?? 'GET', u.pathname);
    const drawn = fault ? null : drawFault(faultPlan, req.method ?? 'GET', u.pathname);
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
      throw drawn.status === 500
        ? sfErrors(500, 'UNKNOWN_EXCEPTION', 'An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)')
        : sfErrors(drawn.status, 'SERVER_UNAVAILABLE', 'Server temporarily unavailable');
    }
    const auth = req.headers.authorization ?? '';
    const bearer = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(auth)?.[1];
    if (!bearer || !accessTokens.has(bearer)) throw sfErrors(401, 'INVALID_SESSION_ID', 'Session expired or invalid');
    apiUsed++;
    if (apiUsed > apiLimit) throw sfErrors(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.');

    const m = /^\/services\/data\/v(\d+\.\d)(\/.*)?$/.exec(u.pathname);
    const version = m![1];
    const path = (m![2] ?? '/').replace(/\/+$/, '') || '/';
    const seg = path.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    const callOptions = rec.callOptions;
    const body = ['POST', 'PATCH', 'PUT'].includes(method) ? await readBody(req) : '';
    const out = route(method, seg, u, body, version, callOptions, req);
    if (out.status < 400) await afterHooks.run(method, u.pathname);
    if (drawn?.kind === 'lost_response') {
      rec.status = 0;
      req.socket.destroy();
      return;
    }
    send(res, out.status, out.body, { 'Sforce-Limit-Info': `api-usage=${apiUsed}/${apiLimit}`, ...(out.headers ?? {}) });
  }

  type Out = { status: number; body?: unknown; headers?: Record<string, string> };

  function notFound(): HttpError {
    return sfErrors(404, 'NOT_FOUND', 'The requested resource does not exist');
  }

  function leadOr404(id: string): StoredLead {
    const lead = isIdShaped(id) ? store.get(id) : undefined;
    if (lead) return lead;
    if (isIdShaped(id) && store.isDeleted(id)) throw sfErrors(404, 'ENTITY_IS_DELETED', 'entity is deleted');
    throw notFound();
  }

  function checkType(type: unknown): void {
    if (type !== 'Lead') throw sfErrors(400, 'INVALID_TYPE', `sObject type '${String(type)}' is not supported.`);
  }

  function describe(version: string): Record<string, unknown> {
    return {
      name: 'Lead',
      label: 'Lead',
      labelPlural: 'Leads',
      keyPrefix: '00Q',
      custom: false,
      createable: true,
      updateable: true,
      deletable: true,
      queryable: true,
      fields: store.allFields().map((f) => ({
        name: f.name,
        label: f.label,
        type: f.type,
        length: f.length ?? 0,
        custom: Boolean(f.custom),
        nillable: !f.required && f.type !== 'boolean' && f.name !== 'Id',
        createable: f.createable,
        updateable: f.updateable,
        defaultedOnCreate: Boolean(f.defaultValue) || !f.createable,
        externalId: Boolean(f.externalId),
        unique: Boolean(f.unique),
        caseSensitive: false,
        restrictedPicklist: Boolean(f.restrictedPicklist),
        picklistValues: (f.picklistValues ?? []).map((v) => ({ value: v, label: v, active: true, defaultValue: v === f.defaultValue })),
      })),
      urls: {
        sobject: `/services/data/v${version}/sobjects/Lead`,
        describe: `/services/data/v${version}/sobjects/Lead/describe`,
        rowTemplate: `/services/data/v${version}/sobjects/Lead/{ID}`,
      },
    };
  }

  function nextRecordFailure(): SfError | null {
    const f = recordFailures.shift();
    return f ? { errorCode: f.errorCode, message: f.message, fields: [] } : null;
  }

  function route(method: string, seg: string[], u: URL, rawBody: string, version: string, callOptions: string | null, req: http.IncomingMessage): Out {
    const actor = apiActor(callOptions);
    const [head, type, a, b] = seg;
    if (seg.length === 0 && method === 'GET') {
      return { status: 200, body: { sobjects: `/services/data/v${version}/sobjects`, query: `/services/data/v${version}/query`, limits: `/services/data/v${version}/limits`, composite: `/services/data/v${version}/composite` } };
    }
    if (head === 'limits' && seg.length === 1 && method === 'GET') {
      return { status: 200, body: { DailyApiRequests: { Max: apiLimit, Remaining: Math.max(0, apiLimit - apiUsed) } } };
    }
    if (head === 'query' && method === 'GET') {
      if (seg.length === 1) return runSoql(u.searchParams.get('q') ?? '', version, req);
      if (seg.length === 2) return queryMore(seg[1], version);
    }
    if (head === 'sobjects') {
      if (seg.length === 1 && method === 'GET') return { status: 200, body: { sobjects: [{ name: 'Lead', keyPrefix: '00Q', queryable: true, createable: true }] } };
      checkType(type);
      if (seg.length === 2 && method === 'POST') return createOne(json(rawBody), actor);
      if (seg.length === 3 && a === 'describe' && method === 'GET') return { status: 200, body: describe(version) };
      if (seg.length === 3) {
        if (method === 'GET') {
          const lead = leadOr404(a);
          const fields = u.searchParams.get('fields')?.split(',').map((f) => store.resolve(f.trim()) ?? f.trim());
          for (const f of fields ?? []) if (!store.field(f)) throw sfErrors(400, 'INVALID_FIELD', `No such column '${f}' on sobject of type Lead`);
          return { status: 200, body: toJson(lead.values, version, fields ? ['Id', ...fields.filter((f) => f !== 'Id')] : undefined) };
        }
        if (method === 'PATCH') {
          leadOr404(a);
          const body = json(rawBody) as Record<string, unknown>;
          rejectUnknown(body);
          const r = store.update(a, body, actor);
          if (!r.ok) throw new HttpError(400, r.errors.map(restError));
          return { status: 204 };
        }
        if (method === 'DELETE') {
          leadOr404(a);
          const r = store.delete(a, actor);
          if (!r.ok) throw new HttpError(400, r.errors.map(restError));
          return { status: 204 };
        }
      }
      if (seg.length === 4) {
        const f = store.field(a);
        if (!f || !(f.externalId || f.name === 'Id')) {
          throw sfErrors(404, 'NOT_FOUND', `Provided external ID field does not exist or is not accessible: ${a}`);
        }
        if (method === 'GET') {
          const matches = store.findByField(f.name, b);
          if (matches.length === 0) throw notFound();
          if (matches.length > 1) return { status: 300, body: matches.map((x) => `/services/data/v${version}/sobjects/Lead/${String(x.values.Id)}`) };
          return { status: 200, body: toJson(matches[0].values, version) };
        }
        if (method === 'PATCH') return upsertOne(f.name, b, json(rawBody) as Record<string, unknown>, actor, version);
      }
    }
    if (head === 'composite' && type === 'sobjects') {
      if (seg.length === 2 && method === 'POST') return createMany(json(rawBody), actor);
      if (seg.length === 2 && method === 'PATCH') return updateMany(json(rawBody), actor);
      if (seg.length === 2 && method === 'DELETE') return deleteMany(u, actor);
      if (seg.length === 4 && method === 'PATCH') {
        checkType(a);
        return upsertMany(b, json(rawBody), actor);
      }
    }
    throw notFound();
  }

  function rejectUnknown(body: Record<string, unknown>): void {
    const unknown = store.unknownFields(body);
    if (unknown.length > 0) throw sfErrors(400, 'INVALID_FIELD', `No such column '${unknown[0]}' on sobject of type Lead`);
  }

  function createOne(body: unknown, actor: ReturnType<typeof apiActor>): Out {
    const rec = body as Record<string, unknown>;
    rejectUnknown(rec);
    const r = store.create(rec, actor);
    if (!r.ok) throw new HttpError(400, r.errors.map(restError));
    return { status: 201, body: { id: r.id, success: true, errors: [] } };
  }

  function upsertOne(field: string, value: string, body: Record<string, unknown>, actor: ReturnType<typeof apiActor>, version: string): Out {
    rejectUnknown(body);
    const r = store.upsert(field, value, body, actor);
    if (r.ok === 'multiple') return { status: 300, body: r.ids.map((id) => `/services/data/v${version}/sobjects/Lead/${id}`) };
    if (!r.ok) throw new HttpError(400, r.errors.map(restError));
    if (r.created) return { status: 201, body: { id: r.id, success: true, errors: [], created: true } };
    // API 46.0+ answers an update through upsert with 200 and a body; older versions 204.
    return Number(version) >= 46 ? { status: 200, body: { id: r.id, success: true, errors: [], created: false } } : { status: 204 };
  }

  function collection(body: unknown): { allOrNone: boolean; records: Record<string, unknown>[] } {
    const b = body as { allOrNone?: unknown; records?: unknown };
    if (!b || !Array.isArray(b.records)) throw sfErrors(400, 'JSON_PARSER_ERROR', 'records: expected an array');
    if (b.records.length > 200) throw sfErrors(400, 'EXCEEDED_ID_LIMIT', 'record limit reached. cannot submit more than 200 records into this call');
    const records = b.records as Record<string, unknown>[];
    for (const r of records) {
      const attrs = r?.attributes as { type?: unknown } | undefined;
      if (!attrs?.type) throw sfErrors(400, 'INVALID_TYPE', 'Must send a concrete entity type.');
      checkType(attrs.type);
      rejectUnknown(Object.fromEntries(Object.entries(r).filter(([k]) => k.toLowerCase() !== 'id')));
    }
    return { allOrNone: b.allOrNone === true, records };
  }

  /** Runs per-record writes; with allOrNone any failure rolls every record back. */
  function writeAll(
    allOrNone: boolean,
    records: Record<string, unknown>[],
    write: (r: Record<string, unknown>, i: number) => WriteOutcome | { ok: false; errors: SfError[] },
    withCreated: boolean,
  ): Out {
    const restore = allOrNone ? store.checkpoint() : null;
    const outcomes = records.map((r, i) => {
      const injected = nextRecordFailure();
      return injected ? { ok: false as const, errors: [injected] } : write(r, i);
    });
    const failed = outcomes.some((o) => !o.ok);
    if (restore && failed) {
      restore();
      return {
        status: 200,
        body: outcomes.map((o) => ({
          success: false,
          errors: o.ok
            ? [{ statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK', message: 'Record rolled back because not all records were valid and the request was using AllOrNone header', fields: [] }]
            : o.errors.map(collectionError),
        })),
      };
    }
    restore?.commit();
    return {
      status: 200,
      body: outcomes.map((o) =>
        o.ok
          ? { id: o.id, success: true, errors: [], ...(withCreated ? { created: o.created } : {}) }
          : { success: false, errors: o.errors.map(collectionError) },
      ),
    };
  }

  function createMany(body: unknown, actor: ReturnType<typeof apiActor>): Out {
    const { allOrNone, records } = collection(body);
    return writeAll(allOrNone, records, (r) => {
      const { attributes: _a, ...fields } = r;
      if ('id' in fields || 'Id' in fields) return { ok: false, errors: [{ errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE', message: 'cannot specify Id in an insert call', fields: ['Id'] }] };
      return store.create(fields, actor);
    }, false);
  }

  function updateMany(body: unknown, actor: ReturnType<typeof apiActor>): Out {
    const { allOrNone, records } = collection(body);
    return writeAll(allOrNone, records, (r) => {
      const { attributes: _a, id, Id, ...fields } = r;
      const rid = (id ?? Id) as unknown;
      if (typeof rid !== 'string' || rid === '') return { ok: false, errors: [{ errorCode: 'MISSING_ARGUMENT', message: 'Id not specified in an update call', fields: [] }] };
      if (!isIdShaped(rid) || !rid.startsWith('00Q')) return { ok: false, errors: [{ errorCode: 'MALFORMED_ID', message: `Lead ID: id value of incorrect type: ${rid}`, fields: ['Id'] }] };
      if (!store.get(rid) && !store.isDeleted(rid)) return { ok: false, errors: [{ errorCode: 'INVALID_CROSS_REFERENCE_KEY', message: 'invalid cross reference id', fields: [] }] };
      return store.update(rid, fields, actor);
    }, false);
  }

  function upsertMany(extField: string, body: unknown, actor: ReturnType<typeof apiActor>): Out {
    const f = store.field(extField);
    if (!f || !f.externalId) throw sfErrors(400, 'INVALID_FIELD', `Field name provided, ${extField} is not an External ID or indexed field for Lead`);
    const { allOrNone, records } = collection(body);
    const values = records.map((r) => {
      const k = Object.keys(r).find((x) => x.toLowerCase() === f.name.toLowerCase());
      const v = k ? r[k] : undefined;
      return typeof v === 'string' || typeof v === 'number' ? String(v) : null;
    });
    const seen = new Map<string, number>();
    for (const v of values) if (v !== null) seen.set(v.toLowerCase(), (seen.get(v.toLowerCase()) ?? 0) + 1);
    return writeAll(allOrNone, records, (r, i) => {
      const v = values[i];
      if (v === null || v === '') return { ok: false, errors: [{ errorCode: 'MISSING_ARGUMENT', message: `${f.name} not specified`, fields: [f.name] }] };
      if ((seen.get(v.toLowerCase()) ?? 0) > 1) return { ok: false, errors: [{ errorCode: 'DUPLICATE_EXTERNAL_ID', message: `Duplicate external id specified: ${v}`, fields: [f.name] }] };
      const { attributes: _a, ...fields } = r;
      const out = store.upsert(f.name, v, fields, actor);
      if (out.ok === 'multiple') {
        return { ok: false, errors: [{ errorCode: 'DUPLICATE_EXTERNAL_ID', message: `${f.name}: more than one record found for external id field: [${out.ids.join(', ')}]`, fields: [f.name] }] };
      }
      return out;
    }, true);
  }

  function deleteMany(u: URL, actor: ReturnType<typeof apiActor>): Out {
    const ids = (u.searchParams.get('ids') ?? '').split(',').filter(Boolean);
    if (ids.length > 200) throw sfErrors(400, 'EXCEEDED_ID_LIMIT', 'record limit reached. cannot submit more than 200 records into this call');
    const allOrNone = u.searchParams.get('allOrNone') === 'true';
    return writeAll(allOrNone, ids.map((id) => ({ id })), (r) => {
      const id = String(r.id);
      if (!isIdShaped(id)) return { ok: false, errors: [{ errorCode: 'MALFORMED_ID', message: `malformed id ${id}`, fields: [] }] };
      return store.delete(id, actor);
    }, false);
  }

  function runSoql(soql: string, version: string, req: http.IncomingMessage): Out {
    let rows: Record<string, unknown>[];
    let count = false;
    try {
      const q = parseSoql(soql, store);
      count = q.count;
      const hits = runQuery(q, store.committed().map((l) => l.values), store);
      if (count) return { status: 200, body: { totalSize: hits.length, done: true, records: [] } };
      rows = hits.map((h) => toJson(h, version, q.fields));
    } catch (e) {
      if (e instanceof SoqlError) throw sfErrors(400, e.errorCode, e.message);
      throw e;
    }
    const asked = /batchSize\s*=\s*(\d+)/i.exec(String(req.headers['sforce-query-options'] ?? ''))?.[1];
    const batch = queryBatchSize ?? (asked ? Math.min(2000, Math.max(200, Number(asked))) : 2000);
    return { status: 200, body: page(rows, 0, batch, version, null) };
  }

  function page(rows: Record<string, unknown>[], offset: number, batch: number, version: string, locator: string | null): Record<string, unknown> {
    const slice = rows.slice(offset, offset + batch);
    const end = offset + slice.length;
    const body: Record<string, unknown> = { totalSize: rows.length, done: end >= rows.length, records: slice };
    if (end < rows.length) {
      const id = locator ?? locatorIds.make();
      cursors.set(id, { rows, totalSize: rows.length, batch, expiresAt: Date.now() + QUERY_LOCATOR_TTL_MS });
      body.nextRecordsUrl = `/services/data/v${version}/query/${id}-${end}`;
    } else if (locator) {
      cursors.delete(locator);
    }
    return body;
  }

  function queryMore(locator: string, version: string): Out {
    const m = /^([a-zA-Z0-9]{15,18})-(\d+)$/.exec(locator);
    const c = m ? cursors.get(m[1]) : undefined;
    if (!m || !c || c.expiresAt < Date.now()) throw sfErrors(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
    return { status: 200, body: page(c.rows, Number(m[2]), c.batch, version, m[1]) };
  }

  // ---- server ---------------------------------------------------------------------------

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://sandbox');
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
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
      if (u.pathname === '/services/oauth2/token' && req.method === 'POST') return handleToken(req, res);
      if (u.pathname === '/services/oauth2/userinfo' && (req.method === 'GET' || req.method === 'POST')) {
        requests.push(rec);
        return handleUserInfo(req, res);
      }
      if (u.pathname === '/services/data' || u.pathname === '/services/data/') {
        return send(res, 200, [{ label: "Winter '25", url: '/services/data/v62.0', version: '62.0' }]);
      }
      if (/^\/services\/data\/v\d+\.\d(\/|$)/.test(u.pathname)) {
        requests.push(rec);
        return handleApi(req, res, u, rec);
      }
      throw notFound();
    };
    handle().catch((e: unknown) => {
      if (res.headersSent || res.destroyed) return;
      if (e instanceof HttpError) {
        const headers: Record<string, string> = u.pathname.startsWith('/services/data/v') ? { 'Sforce-Limit-Info': `api-usage=${apiUsed}/${apiLimit}` } : {};
        send(res, e.status, e.body, headers);
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
    credentials: () => ({ accessToken: currentAccess, refreshToken, clientId, clientSecret, loginUrl: url }),
    setClock: (at) => store.setClock(at),
    commitLater: (fn) => store.commitLater(fn),
    afterApiRequest: (match, fn, count = 1) => afterHooks.add(matchOf(match), fn, count),
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
    setFaultPlan(plan) {
      faultPlan = plan;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    failNextRecordWrites(count, errorCode = 'UNABLE_TO_LOCK_ROW', message = 'unable to obtain exclusive access to this record or 1 records') {
      for (let i = 0; i < count; i++) recordFailures.push({ errorCode, message });
    },
    expireAccessTokens() {
      accessTokens = new Set();
    },
    revokeRefreshToken() {
      refreshValid = false;
    },
    setApiLimit(max) {
      apiLimit = max;
    },
    apiUsage: () => ({ used: apiUsed, max: apiLimit }),
    setQueryBatchSize(size) {
      queryBatchSize = size;
    },
    requests,
    tokenRefreshes: () => refreshes,
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
