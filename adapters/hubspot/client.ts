// The HubSpot CrmClient, on the official SDK (@hubspot/api-client 13.5).
//
// - The SDK runs with numberOfApiCallRetries: 0 and no limiter: we own the retry policy
//   (the SDK's retries would replay POST creates). The SDK keeps its decorators in a
//   process-wide singleton applied when an API group is first touched, so the client
//   builds its SDK objects and touches every API group synchronously in the constructor,
//   while its own (decorator-free) configuration is the current one.
// - Every call goes through a client-side sliding-window limiter (default 100 / 10 s, or
//   ConnectionOptions.rateLimit) and search additionally through 4 / s.
// - No call is retried here, reads included: a 429 surfaces at once as RATE_LIMITED with
//   retryAfterMs and the engine (which owns retries and backoff) decides. Retrying inside
//   would hide the budget from the engine and double the wait after a 10-s 429.
// - SDK types never leave this file; everything thrown is a CrmError (errors.ts).
import { Client } from '@hubspot/api-client';
import { checkOrigin, HostAllowList } from '../kit/net-guard.ts';
import { refusedDestination } from '../kit/text.ts';
import { guardedAgent } from '../kit/transport.ts';
import {
  CrmError,
  normaliseEmail,
  type ConnectionOptions,
  type CrmClient,
  type CrmRecord,
  type LeadFields,
  type OutboundLead,
  type Page,
  type ProvisionOptions,
  type ProvisionReport,
  type WriteAction,
  type WriteResult,
  type PrepareReport,
} from '../contract.ts';
import { pinAgent } from './agent.ts';
import { isAlreadyExists, translateBatchError, translateError } from './errors.ts';
import {
  ORIGIN_PROPERTY,
  READ_PROPERTIES,
  SYNCED_PROPERTIES,
  toCrmRecord,
  toHubSpotProperties,
  writtenFields,
  writtenOnCreate,
  writtenOver,
  FIELD_TO_PROPERTY,
  type HubSpotObject,
} from './mappers.ts';
import { SlidingWindowLimiter } from './rate-limiter.ts';

/**
 * HubSpot's API hosts: `https://api.hubapi.com` is the documented base of every API
 * call (and the SDK's default basePath); `api.hubspot.com` answers the same API.
 */
export const HUBSPOT_API_HOSTS: readonly string[] = ['api.hubapi.com', 'api.hubspot.com'];
const API_HOSTS = new HostAllowList(HUBSPOT_API_HOSTS);

export const BATCH_LIMIT = 100;
/** Records per batch read that asks for property histories. */
export const HISTORY_BATCH_LIMIT = 50;
export const LIST_PAGE_LIMIT = 100;
export const SEARCH_PAGE_LIMIT = 200;
export const DEFAULT_RATE_LIMIT = { requests: 100, perMs: 10_000 };
export const SEARCH_RATE_LIMIT = { requests: 4, perMs: 1_000 };
export const DEFAULT_ORIGIN_OPTIONS = ['hubspot', 'manual'];
export const WEBHOOK_EVENTS: readonly { eventType: string; propertyName?: string }[] = [
  { eventType: 'contact.creation' },
  { eventType: 'contact.deletion' },
  { eventType: 'contact.merge' },
  { eventType: 'contact.restore' },
  ...SYNCED_PROPERTIES.map((p) => ({ eventType: 'contact.propertyChange', propertyName: p })),
];

function isRate(v: unknown): v is { requests: number; perMs: number } {
  const o = v as { requests?: unknown; perMs?: unknown } | null;
  return !!o && typeof o.requests === 'number' && o.requests >= 1 && typeof o.perMs === 'number' && o.perMs > 0;
}

function eventLabel(e: { eventType: string; propertyName?: string | null }): string {
  return e.propertyName ? `${e.eventType}:${e.propertyName}` : e.eventType;
}

type Contacts = Client['crm']['contacts'];
type PropertiesCore = Client['crm']['properties']['coreApi'];
type Webhooks = Client['webhooks'];

interface Cursor {
  /** Everything with (lastmodifieddate, id) <= (t, id) has been returned. */
  t: number;
  /** null: every record at time t has been returned. */
  id: string | null;
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify({ v: 1, t: c.t, id: c.id }), 'utf8').toString('base64url');
}

function decodeCursor(s: string): Cursor {
  try {
    const o = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as { v?: unknown; t?: unknown; id?: unknown };
    if (o.v === 1 && typeof o.t === 'number' && (o.id === null || (typeof o.id === 'string' && /^\d+$/.test(o.id)))) {
      return { t: o.t, id: o.id };
    }
  } catch {
    /* fall through */
  }
  throw new CrmError('VALIDATION', `not a HubSpot changes cursor: ${s.slice(0, 40)}`, { provider: 'HUBSPOT', retryable: false });
}

function byTimeThenId(a: CrmRecord, b: CrmRecord): number {
  const ta = a.updatedAt?.getTime() ?? 0;
  const tb = b.updatedAt?.getTime() ?? 0;
  return ta - tb || Number(a.externalId) - Number(b.externalId);
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Errors after which further calls in the same push are pointless (they would fail alike). */
function stopsThePush(e: CrmError): boolean {
  return e.code === 'RATE_LIMITED' || e.code === 'AUTH_EXPIRED' || e.code === 'PERMISSION' || e.code === 'NETWORK' || e.code === 'UPSTREAM';
}

interface BatchError {
  category?: string;
  message?: string;
  context?: Record<string, string[] | undefined>;
}

/** One write to one contact id on behalf of one or more leads. */
interface UpdateItem {
  indices: number[];
  id: string;
  properties: Record<string, string>;
  action: WriteAction;
  /** The contact's fields as read just before this write (linking by email). */
  before?: LeadFields;
}

export class HubSpotClient implements CrmClient {
  readonly provider = 'HUBSPOT' as const;
  readonly originField = ORIGIN_PROPERTY;

  private readonly sdk: Client;
  private readonly contacts: Contacts;
  private readonly propertiesApi: PropertiesCore;
  private readonly webhooksApi: Webhooks | null;
  private readonly appId: number | null;
  private readonly limiter: SlidingWindowLimiter;
  private readonly searchLimiter: SlidingWindowLimiter;
  private readonly timeoutMs: number;
  private createdSubscriptionIds: string[];
  /** Set when the base URL is refused by the network guard: every call fails with it, unsent. */
  private readonly refused: CrmError | null = null;

  constructor(private readonly opts: ConnectionOptions) {
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
    const sdk = new Client({ accessToken, basePath, numberOfApiCallRetries: 0, httpAgent });
    this.sdk = sdk;
    this.contacts = sdk.crm.contacts;
    this.propertiesApi = sdk.crm.properties.coreApi;
    pinAgent([this.contacts.basicApi, this.contacts.batchApi, this.contacts.searchApi, this.propertiesApi], httpAgent);
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
    const rl = opts.rateLimit ?? DEFAULT_RATE_LIMIT;
    this.limiter = new SlidingWindowLimiter(rl.requests, rl.perMs);
    const srl = isRate(opts.settings.searchRateLimit) ? opts.settings.searchRateLimit : SEARCH_RATE_LIMIT;
    this.searchLimiter = new SlidingWindowLimiter(srl.requests, srl.perMs);
    this.timeoutMs =
      typeof opts.settings.requestTimeoutMs === 'number' ? opts.settings.requestTimeoutMs : (opts.callTimeoutMs ?? 30_000);
    const created = opts.settings.createdSubscriptionIds;
    this.createdSubscriptionIds = Array.isArray(created) ? created.map(String) : [];
  }

  /** One SDK call: budgeted, time-limited, and translated to CrmError on failure. */
  private async call<T>(what: string, fn: () => Promise<T>, kind: 'normal' | 'search' = 'normal'): Promise<T> {
    if (this.refused) throw this.refused;
    if (kind === 'search') await this.searchLimiter.acquire();
    await this.limiter.acquire();
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        fn(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new CrmError('NETWORK', `HubSpot ${what}: no answer within ${this.timeoutMs} ms`, { provider: 'HUBSPOT' })),
            this.timeoutMs,
          );
        }),
      ]);
    } catch (e) {
      const err = translateError(e, what);
      this.opts.logger?.debug({ code: err.code, status: err.status, what }, 'hubspot call failed');
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  // ------------------------------------------------------------------ identity

  /**
   * The HubSpot account this token belongs to. HubSpot's account information API
   * documents `GET /account-info/v3/details` answering `{ portalId, accountType,
   * timeZone, ... }` where portalId is "the unique identifier for the HubSpot account"
   * (the Hub ID webhooks carry as `portalId`).
   */
  async whoami(): Promise<{ accountId: string }> {
    const body = await this.call('account details', async () => {
      const res = await this.sdk.apiRequest({ method: 'GET', path: '/account-info/v3/details' });
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

  // ------------------------------------------------------------------ reads

  async readRecords(ids: string[]): Promise<CrmRecord[]> {
    const unique = [...new Set(ids.map(String))];
    const found = new Map<string, CrmRecord>();
    // With the synced properties' histories, so the engine learns when each field changed
    // (CrmRecord.fieldUpdatedAt). HubSpot answers at most 50 records per batch read that
    // asks for property histories ("The maximum number of inputs supported in a batch
    // request for property histories is 50").
    for (const part of chunk(unique, HISTORY_BATCH_LIMIT)) {
      const res = await this.call('batch read', () =>
        this.contacts.batchApi.read({ inputs: part.map((id) => ({ id })), properties: [...READ_PROPERTIES], propertiesWithHistory: [...SYNCED_PROPERTIES] }, false),
      );
      this.throwUnexpectedBatchErrors(res, 'batch read');
      for (const r of res.results) found.set(String(r.id), toCrmRecord(r as HubSpotObject));
    }
    return unique.map((id) => found.get(id)).filter((r): r is CrmRecord => r !== undefined && !r.archived);
  }

  /** Batch-read errors other than "not found" mean the read itself failed. */
  private throwUnexpectedBatchErrors(res: object, what: string): void {
    const errors = ((res as { errors?: BatchError[] }).errors ?? []).filter((e) => e.category !== 'OBJECT_NOT_FOUND');
    if (errors.length > 0) throw translateBatchError(errors[0]!, what);
  }

  /** Existing contacts by (normalised) email. */
  private async findByEmail(emails: string[]): Promise<Map<string, CrmRecord>> {
    const found = new Map<string, CrmRecord>();
    for (const part of chunk(emails, BATCH_LIMIT)) {
      const res = await this.call('batch read by email', () =>
        this.contacts.batchApi.read(
          { inputs: part.map((id) => ({ id })), idProperty: 'email', properties: [...READ_PROPERTIES], propertiesWithHistory: [] },
          false,
        ),
      );
      this.throwUnexpectedBatchErrors(res, 'batch read by email');
      for (const r of res.results) {
        const rec = toCrmRecord(r as HubSpotObject);
        const email = normaliseEmail(rec.fields.email);
        if (email && !rec.archived) found.set(email, rec);
      }
    }
    return found;
  }

  async listPage(cursor: string | null, pageSize: number): Promise<Page> {
    if (cursor !== null && !/^\d+$/.test(cursor)) {
      throw new CrmError('VALIDATION', `not a HubSpot list cursor: ${cursor.slice(0, 40)}`, { provider: 'HUBSPOT', retryable: false });
    }
    const limit = Math.max(1, Math.min(LIST_PAGE_LIMIT, Math.floor(pageSize) || LIST_PAGE_LIMIT));
    const res = await this.call('list contacts', () =>
      this.contacts.basicApi.getPage(limit, cursor ?? undefined, [...READ_PROPERTIES], undefined, undefined, false),
    );
    return {
      records: res.results.map((r) => toCrmRecord(r as HubSpotObject)),
      nextCursor: res.paging?.next?.after ?? null,
    };
  }

  /**
   * Records changed since the cursor, oldest first, through the search API.
   *
   * HubSpot search sorts by ONE property and promises no order among ties, and never
   * pages past 10,000 results. So the cursor is a compound (lastmodifieddate, id):
   * - ties at the cursor's time are read with `lastmodifieddate EQ t AND hs_object_id GT id`
   *   sorted by id;
   * - newer records with `lastmodifieddate GT t` sorted by time; when a full page ends in
   *   a time that may continue on the next page, records of that last time are left for
   *   the tie query (by id) instead of being split by an unknown order.
   * Every query starts a new window (no `after` paging), so the 10k window never binds.
   * Known limit: HubSpot's search index lags writes by a few seconds; webhooks remain the
   * primary change feed and this is the catch-up path.
   */
  async changesSince(cursor: string | null, limit: number): Promise<Page> {
    const size = Math.max(1, Math.min(SEARCH_PAGE_LIMIT, Math.floor(limit) || SEARCH_PAGE_LIMIT));
    let c: Cursor | null = cursor === null ? null : decodeCursor(cursor);

    if (c !== null && c.id !== null) {
      const ties = await this.search(
        [
          { propertyName: 'lastmodifieddate', operator: 'EQ', value: String(c.t) },
          { propertyName: 'hs_object_id', operator: 'GT', value: c.id },
        ],
        'hs_object_id',
        size,
      );
      if (ties.length > 0) {
        ties.sort(byTimeThenId);
        const last = ties[ties.length - 1]!;
        return { records: ties, nextCursor: encodeCursor({ t: c.t, id: last.externalId }) };
      }
    }

    const newer = await this.search(
      c === null
        ? [{ propertyName: 'lastmodifieddate', operator: 'GTE', value: '0' }]
        : [{ propertyName: 'lastmodifieddate', operator: 'GT', value: String(c.t) }],
      'lastmodifieddate',
      size,
    );
    if (newer.length === 0) return { records: [], nextCursor: cursor };
    newer.sort(byTimeThenId);
    const lastTime = newer[newer.length - 1]!.updatedAt?.getTime() ?? 0;
    let records = newer;
    if (newer.length === size) {
      const before = newer.filter((r) => (r.updatedAt?.getTime() ?? 0) < lastTime);
      if (before.length > 0) {
        records = before;
      } else {
        // A whole page sharing one time: continue it by id.
        c = { t: lastTime, id: '0' };
        return this.changesSince(encodeCursor(c), size);
      }
    }
    const last = records[records.length - 1]!;
    return { records, nextCursor: encodeCursor({ t: last.updatedAt?.getTime() ?? 0, id: last.externalId }) };
  }

  /** A changesSince cursor starting at `time`, inclusive (records modified at or after it). */
  cursorAt(time: Date): string {
    const t = time.getTime();
    if (Number.isNaN(t)) throw new CrmError('VALIDATION', 'cursorAt needs a valid time', { provider: 'HUBSPOT', retryable: false });
    return encodeCursor({ t: t - 1, id: null });
  }

  /** The lastmodifieddate a changes cursor stands at. */
  cursorTime(cursor: string): Date {
    return new Date(decodeCursor(cursor).t);
  }

  private async search(
    filters: { propertyName: string; operator: string; value: string }[],
    sortBy: string,
    limit: number,
  ): Promise<CrmRecord[]> {
    type SearchRequest = Parameters<Contacts['searchApi']['doSearch']>[0];
    const request = {
      filterGroups: [{ filters }],
      // The API takes {propertyName, direction}; the SDK's type says string[].
      sorts: [{ propertyName: sortBy, direction: 'ASCENDING' }],
      properties: [...READ_PROPERTIES],
      limit,
    } as unknown as SearchRequest;
    const res = await this.call('search', () => this.contacts.searchApi.doSearch(request), 'search');
    return res.results.map((r) => toCrmRecord(r as HubSpotObject));
  }

  // ------------------------------------------------------------------ writes

  /**
   * 1. Linked leads (externalId set): batch update, <=100 per call; the origin tag is never
   *    written on update.
   * 2. Unlinked leads: batch read by email (idProperty=email). Found -> linked, and our
   *    non-empty fields written (action 'linked').
   * 3. The rest: batch create carrying lead_source_system=<originTag>. A 409 (someone
   *    created the email meanwhile) falls back to one-by-one creates, where a 409 links
   *    the existing id. A 400 falls back the same way so one bad lead cannot fail others.
   * A retry after a lost answer finds the records in step 2: no duplicates. Unlinked leads
   * without an email are refused (VALIDATION): without one a retry could duplicate.
   * Per-input failures come back as {ok:false}: a batch update's 207 multi-status
   * `errors` are matched to their inputs by `context.ids` (HubSpot's documented batch
   * error shape: status, category, message, context). A call-level failure (429, 401,
   * 5xx, network) fails the inputs of that call; the calls not yet made are not sent and
   * their inputs come back with `attempted: false`.
   */
  async pushLeads(leads: OutboundLead[], originTag: string): Promise<WriteResult[]> {
    const results: (WriteResult | undefined)[] = new Array(leads.length);
    let halted: CrmError | null = null;
    const fail = (indices: number[], error: CrmError) => {
      for (const i of indices) if (!results[i]) results[i] = { localId: leads[i]!.localId, ok: false, error };
    };
    // Per-record attribution: a lead not written because another lead's call failed first
    // is reported as not attempted, so its own attempt count stays clean.
    const skip = (indices: number[], error: CrmError) => {
      for (const i of indices) if (!results[i]) results[i] = { localId: leads[i]!.localId, ok: false, error, attempted: false };
    };
    const succeed = (indices: number[], externalId: string, action: WriteAction, properties: Record<string, string>, before?: LeadFields) => {
      // What the contact holds after this write, as far as we know without reading it
      // again (a read now could already hold a person's edit, which must stay a change).
      const written = action === 'created' ? writtenOnCreate(properties) : before ? writtenOver(before, properties) : writtenFields(properties);
      indices.forEach((i, n) => {
        results[i] = { localId: leads[i]!.localId, ok: true, externalId, action: n === 0 ? action : action === 'created' ? 'linked' : action, written };
      });
    };
    const ctx = { fail, skip, succeed, halted: () => halted, halt: (e: CrmError) => (halted = halted ?? e) };

    // Sort the inputs.
    const updates: UpdateItem[] = [];
    const groups = new Map<string, number[]>();
    leads.forEach((lead, i) => {
      if (lead.externalId) {
        try {
          updates.push({ indices: [i], id: String(lead.externalId), properties: onlyChanged(toHubSpotProperties(lead.fields, 'update'), lead.changed), action: 'updated' });
        } catch (e) {
          fail([i], translateError(e, 'map lead'));
        }
        return;
      }
      const email = normaliseEmail(lead.fields.email);
      if (!email) {
        fail([i], new CrmError('VALIDATION', 'HubSpot: an unlinked lead needs an email (the key that makes creates idempotent)', { provider: 'HUBSPOT', retryable: false }));
        return;
      }
      const g = groups.get(email);
      if (g) g.push(i);
      else groups.set(email, [i]);
    });

    // 1. Linked leads.
    await this.writeUpdates(updates, ctx);

    // 2. Unlinked leads: who exists already?
    const emails = [...groups.keys()];
    let existing = new Map<string, CrmRecord>();
    if (emails.length > 0) {
      if (halted) {
        skip(emails.flatMap((e) => groups.get(e)!), halted);
      } else {
        try {
          existing = await this.findByEmail(emails);
        } catch (e) {
          const err = translateError(e, 'batch read by email');
          fail(emails.flatMap((m) => groups.get(m)!), err);
          halted = err;
        }
      }
    }
    const links: UpdateItem[] = [];
    const creates: { email: string; indices: number[]; properties: Record<string, string> }[] = [];
    for (const email of emails) {
      const indices = groups.get(email)!;
      if (indices.every((i) => results[i])) continue;
      const first = leads[indices[0]!]!;
      try {
        const rec = existing.get(email);
        if (rec) links.push({ indices, id: rec.externalId, properties: toHubSpotProperties(first.fields, 'link'), action: 'linked', before: rec.fields });
        else creates.push({ email, indices, properties: toHubSpotProperties(first.fields, 'create', originTag) });
      } catch (e) {
        fail(indices, translateError(e, 'map lead'));
      }
    }
    await this.writeUpdates(links, ctx);

    // 3. Create the rest.
    for (const part of chunk(creates, BATCH_LIMIT)) {
      if (halted) {
        skip(part.flatMap((p) => p.indices), halted);
        continue;
      }
      try {
        const res = await this.call('batch create', () =>
          this.contacts.batchApi.create({ inputs: part.map((p) => ({ properties: p.properties, associations: [] })) }),
        );
        const byEmail = new Map<string, string>();
        for (const r of res.results) {
          const email = normaliseEmail((r.properties as Record<string, string | null>).email);
          if (email) byEmail.set(email, String(r.id));
        }
        const errs = (res as { errors?: BatchError[] }).errors ?? [];
        for (const p of part) {
          const id = byEmail.get(p.email);
          if (id) succeed(p.indices, id, 'created', p.properties);
          else if (errs.length > 0) await this.createOne(p, ctx);
          else fail(p.indices, new CrmError('UPSTREAM', `HubSpot batch create: no result for ${p.email}`, { provider: 'HUBSPOT' }));
        }
      } catch (e) {
        const err = translateError(e, 'batch create');
        if (err.code === 'CONFLICT' || err.code === 'VALIDATION') {
          this.opts.logger?.info({ code: err.code, inputs: part.length }, 'hubspot batch create refused; creating one by one');
          for (const p of part) await this.createOne(p, ctx);
        } else {
          // The batch may or may not have been applied; a retry finds its records by email.
          fail(part.flatMap((p) => p.indices), err);
          if (stopsThePush(err)) halted = err;
        }
      }
    }

    return results.map(
      (r, i) => r ?? { localId: leads[i]!.localId, ok: false, error: new CrmError('UPSTREAM', 'HubSpot: lead was not processed', { provider: 'HUBSPOT' }) },
    );
  }

  /** Creates one contact; a 409 links the existing contact instead. */
  private async createOne(
    p: { email: string; indices: number[]; properties: Record<string, string> },
    ctx: PushContext,
  ): Promise<void> {
    const halted = ctx.halted();
    if (halted) return ctx.skip(p.indices, halted);
    try {
      const created = await this.call('create', () => this.contacts.basicApi.create({ properties: p.properties, associations: [] }));
      ctx.succeed(p.indices, String(created.id), 'created', p.properties);
      return;
    } catch (e) {
      const err = translateError(e, 'create');
      if (err.code !== 'CONFLICT') {
        ctx.fail(p.indices, err);
        if (stopsThePush(err)) ctx.halt(err);
        return;
      }
      let existingId = err.existingId;
      if (!existingId) {
        try {
          existingId = (await this.findByEmail([p.email])).get(p.email)?.externalId;
        } catch (e2) {
          ctx.fail(p.indices, translateError(e2, 'batch read by email'));
          return;
        }
      }
      if (!existingId) {
        ctx.fail(p.indices, err);
        return;
      }
      const { [ORIGIN_PROPERTY]: _tag, email: _email, ...linkProps } = p.properties;
      await this.writeUpdates([{ indices: p.indices, id: existingId, properties: linkProps, action: 'linked' }], ctx);
    }
  }

  /** Batch updates (unique ids per call); a whole-batch 400/409 falls back to one-by-one PATCHes. */
  private async writeUpdates(items: UpdateItem[], ctx: PushContext): Promise<void> {
    const pending: UpdateItem[] = [];
    for (const it of items) {
      if (Object.keys(it.properties).length === 0) ctx.succeed(it.indices, it.id, it.action, it.properties, it.before); // nothing to write
      else pending.push(it);
    }
    // Calls of <=100 inputs with distinct ids (HubSpot rejects duplicate ids in one batch).
    const calls: UpdateItem[][] = [];
    for (const it of pending) {
      let target = calls.find((c) => c.length < BATCH_LIMIT && !c.some((x) => x.id === it.id));
      if (!target) calls.push((target = []));
      target.push(it);
    }
    for (const part of calls) {
      const halted = ctx.halted();
      if (halted) {
        part.forEach((it) => ctx.skip(it.indices, halted));
        continue;
      }
      try {
        const res = await this.call('batch update', () =>
          this.contacts.batchApi.update({ inputs: part.map((it) => ({ id: it.id, properties: it.properties })) }),
        );
        const done = new Set(res.results.map((r) => String(r.id)));
        const errorFor = new Map<string, CrmError>();
        for (const e of (res as { errors?: BatchError[] }).errors ?? []) {
          const err = translateBatchError(e, 'batch update');
          for (const id of e.context?.ids ?? []) errorFor.set(String(id), err);
        }
        for (const it of part) {
          if (done.has(it.id)) ctx.succeed(it.indices, it.id, it.action, it.properties, it.before);
          else ctx.fail(it.indices, errorFor.get(it.id) ?? new CrmError('UPSTREAM', `HubSpot batch update: no result for ${it.id}`, { provider: 'HUBSPOT' }));
        }
      } catch (e) {
        const err = translateError(e, 'batch update');
        if (err.code === 'VALIDATION' || err.code === 'CONFLICT') {
          this.opts.logger?.info({ code: err.code, inputs: part.length }, 'hubspot batch update refused; updating one by one');
          for (const it of part) await this.updateOne(it, ctx);
        } else {
          part.forEach((it) => ctx.fail(it.indices, err));
          if (stopsThePush(err)) ctx.halt(err);
        }
      }
    }
  }

  private async updateOne(it: UpdateItem, ctx: PushContext): Promise<void> {
    const halted = ctx.halted();
    if (halted) return ctx.skip(it.indices, halted);
    try {
      await this.call('update', () => this.contacts.basicApi.update(it.id, { properties: it.properties }));
      ctx.succeed(it.indices, it.id, it.action, it.properties, it.before);
    } catch (e) {
      const err = translateError(e, 'update');
      ctx.fail(it.indices, err);
      if (stopsThePush(err)) ctx.halt(err);
    }
  }

  // ------------------------------------------------------------------ provisioning

  async prepare(tagValues: string[]): Promise<PrepareReport> {
    const wanted = [...new Set([...tagValues, ...DEFAULT_ORIGIN_OPTIONS].map((v) => v.trim()).filter(Boolean))];
    const originFieldCreated = await this.ensureOriginProperty(wanted);
    return { originFieldReady: true, originFieldCreated, manualSteps: [], settings: { ...this.opts.settings, originProperty: ORIGIN_PROPERTY } };
  }

  async provision(p: ProvisionOptions): Promise<ProvisionReport> {
    const wanted = [...new Set([...p.tagValues, ...DEFAULT_ORIGIN_OPTIONS].map((v) => v.trim()).filter(Boolean))];
    const originFieldCreated = await this.ensureOriginProperty(wanted);
    const settings: Record<string, unknown> = { ...this.opts.settings, originProperty: ORIGIN_PROPERTY };
    const events = WEBHOOK_EVENTS.map(eventLabel);

    if (!this.webhooksApi || this.appId === null) {
      return {
        originFieldReady: true,
        originFieldCreated,
        subscriptionId: null,
        events,
        expiresAt: null,
        manualSteps: [
          `In your HubSpot developer account open the app that holds this portal's access, then Webhooks: set the Target URL to ${p.webhookUrl}`,
          `Create these subscriptions and activate them: ${events.map((e) => e.replace(':', ' for property ')).join(', ')}`,
          "Give crm-sync the app's client secret (it signs the webhooks), or provide appId and developerApiKey in the credentials so crm-sync can configure the webhooks itself",
        ],
        settings,
      };
    }

    const api = this.webhooksApi;
    const appId = this.appId;
    await this.call('webhook settings', () =>
      api.settingsApi.configure(appId, { targetUrl: p.webhookUrl, throttling: { maxConcurrentRequests: 10 } }),
    );
    const current = await this.call('list subscriptions', () => api.subscriptionsApi.getAll(appId));
    const ids: string[] = [];
    const created: string[] = [];
    for (const want of WEBHOOK_EVENTS) {
      const match = current.results.find(
        (s) => String(s.eventType) === want.eventType && (s.propertyName ?? null) === (want.propertyName ?? null),
      );
      if (match) {
        if (!match.active) await this.call('activate subscription', () => api.subscriptionsApi.update(Number(match.id), appId, { active: true }));
        ids.push(String(match.id));
        continue;
      }
      type CreateRequest = Parameters<Webhooks['subscriptionsApi']['create']>[1];
      const body = { eventType: want.eventType, active: true, ...(want.propertyName ? { propertyName: want.propertyName } : {}) } as CreateRequest;
      try {
        const s = await this.call('create subscription', () => api.subscriptionsApi.create(appId, body));
        ids.push(String(s.id));
        created.push(String(s.id));
      } catch (e) {
        if (!(e instanceof CrmError) || !isAlreadyExists(e)) throw e;
        // Created concurrently: find it.
        const again = await this.call('list subscriptions', () => api.subscriptionsApi.getAll(appId));
        const s = again.results.find((x) => String(x.eventType) === want.eventType && (x.propertyName ?? null) === (want.propertyName ?? null));
        if (!s) throw e;
        ids.push(String(s.id));
      }
    }
    this.createdSubscriptionIds = [...new Set([...this.createdSubscriptionIds, ...created])];
    return {
      originFieldReady: true,
      originFieldCreated,
      subscriptionId: ids.join(','),
      events,
      expiresAt: null,
      manualSteps: [],
      settings: {
        ...settings,
        appId: String(appId),
        webhookTargetUrl: p.webhookUrl,
        subscriptionIds: ids,
        createdSubscriptionIds: this.createdSubscriptionIds,
      },
    };
  }

  /** Creates lead_source_system (true) or makes sure it offers every wanted option (false). */
  private async ensureOriginProperty(values: string[]): Promise<boolean> {
    type CreateRequest = Parameters<PropertiesCore['create']>[1];
    const body = {
      name: ORIGIN_PROPERTY,
      label: 'Lead source system',
      description: 'Which system created this contact (written by crm-sync on the contacts it creates).',
      type: 'enumeration',
      fieldType: 'select',
      groupName: 'contactinformation',
      formField: false,
      options: values.map((v, i) => ({ label: v, value: v, displayOrder: i, hidden: false })),
    } as CreateRequest;
    try {
      await this.call('create property', () => this.propertiesApi.create('contacts', body));
      return true;
    } catch (e) {
      if (!(e instanceof CrmError) || !isAlreadyExists(e)) throw e;
    }
    const prop = await this.call('read property', () => this.propertiesApi.getByName('contacts', ORIGIN_PROPERTY));
    const have = prop.options.map((o) => ({ label: o.label, value: o.value, displayOrder: o.displayOrder ?? 0, hidden: o.hidden ?? false }));
    const missing = values.filter((v) => !have.some((o) => o.value === v));
    if (missing.length > 0) {
      type UpdateRequest = Parameters<PropertiesCore['update']>[2];
      // PATCH replaces the option list: send the existing options plus the missing ones.
      const options = [...have, ...missing.map((v, i) => ({ label: v, value: v, displayOrder: have.length + i, hidden: false }))];
      await this.call('update property options', () =>
        this.propertiesApi.update('contacts', ORIGIN_PROPERTY, { options } as UpdateRequest),
      );
    }
    return false;
  }

  async unprovision(): Promise<void> {
    if (this.createdSubscriptionIds.length === 0) return;
    if (!this.webhooksApi || this.appId === null) {
      throw new CrmError('PERMISSION', 'HubSpot: appId and developerApiKey are needed to remove webhook subscriptions', {
        provider: 'HUBSPOT',
        retryable: false,
      });
    }
    const api = this.webhooksApi;
    const appId = this.appId;
    const remaining: string[] = [];
    let firstError: CrmError | null = null;
    for (const id of this.createdSubscriptionIds) {
      try {
        await this.call('delete subscription', () => api.subscriptionsApi.archive(Number(id), appId));
      } catch (e) {
        const err = translateError(e, 'delete subscription');
        if (err.code === 'NOT_FOUND') continue; // already gone
        remaining.push(id);
        firstError = firstError ?? err;
      }
    }
    this.createdSubscriptionIds = remaining;
    if (firstError) throw firstError;
  }
}

interface PushContext {
  fail(indices: number[], error: CrmError): void;
  /** Leads whose write was never sent because an earlier call of the push failed. */
  skip(indices: number[], error: CrmError): void;
  succeed(indices: number[], externalId: string, action: WriteAction, properties: Record<string, string>, before?: LeadFields): void;
  halted(): CrmError | null;
  halt(e: CrmError): void;
}

/** The properties of the fields a push changes (all of them when the engine did not say). */
function onlyChanged(properties: Record<string, string>, changed: OutboundLead['changed']): Record<string, string> {
  if (!changed) return properties;
  const keep = new Set(changed.map((k) => FIELD_TO_PROPERTY[k]));
  return Object.fromEntries(Object.entries(properties).filter(([p]) => keep.has(p)));
}
