// The Salesforce CrmClient, built on jsforce 3. No jsforce type leaves this file: every
// method returns contract types and throws CrmError only (via errors.ts).
//
// Choices worth knowing:
// - Writes are idempotent: a Lead we create carries OUR lead id in an External ID field
//   (`Platform_Lead_Id__c` by default) and is written by upsert on that field, so a
//   retried push can never create a second Lead.
// - Every request carries `Sforce-Call-Options: client=<callOptionsClient>` (jsforce's
//   `callOptions`), so Salesforce's change origin names us.
// - jsforce's own transport retries (GETs on 5xx/429, up to 5 times with growing sleeps)
//   are switched off for the requests issued here: failures surface as CrmError at once
//   and the engine's retry policy is the only one.
// - Session refresh uses jsforce's refresh delegate with our own refresh function, so the
//   new credentials are persisted (onCredentialsChanged, awaited) BEFORE the failed call is
//   replayed, rotated refresh tokens and a changed instance URL are kept, and a refresh
//   loop (the API rejecting every fresh token) ends in AUTH_EXPIRED instead of spinning.
import { Connection } from 'jsforce';
import { z } from 'zod';
import {
  CrmError,
  normaliseEmail,
  type AdapterLogger,
  type ConnectionOptions,
  type CrmClient,
  type CrmRecord,
  type Credentials,
  type OutboundLead,
  type Page,
  type ProvisionOptions,
  type ProvisionReport,
  type LeadFields,
  type WriteResult,
  type PrepareReport,
} from '../contract.ts';
import { duplicateMatchIds, fromRecordErrors, toCrmError } from './errors.ts';
import { SlidingWindowLimiter } from './limiter.ts';
import {
  crmRecordFromSalesforce,
  DEFAULT_EXTERNAL_ID_FIELD,
  DEFAULT_ORIGIN_FIELD,
  id15,
  id18,
  isSalesforceId,
  LEAD_FIELD_MAP,
  leadFieldsFromSalesforce,
  parseSalesforceDate,
  selectFields,
  soqlDateTime,
  soqlString,
  toSalesforceCreate,
  toSalesforceUpdate,
  writtenFromSalesforce,
  writtenOnCreate,
} from './mappers.ts';

export const API_VERSION = '62.0';
/** sObject Collections accept at most 200 records per call. */
export const MAX_COLLECTION = 200;
/** Leads per look-up query: keeps the GET query URL far below Salesforce's URI limit. */
const LOOKUP_CHUNK = 50;
const READ_CHUNK = 200;
const DEFAULT_CALL_CLIENT = 'crm-sync';
const DEFAULT_RATE_LIMIT = { requests: 25, perMs: 1_000 };
/** More refreshes than this within REFRESH_WINDOW_MS means the API rejects fresh tokens. */
const MAX_REFRESHES = 3;
const REFRESH_WINDOW_MS = 60_000;
const NO_RETRY = { retry: { maxRetries: 0 } };
/** Sorts before every real id in `Id >` comparisons. */
const LOWEST_ID = '000000000000000';

/** Fields the Outbound Message must carry (documented in provision's manual steps). */
export function outboundFields(originField: string): string[] {
  return ['Id', 'Email', 'FirstName', 'LastName', 'Phone', 'Company', 'Status', originField, 'CreatedDate', 'LastModifiedDate', 'SystemModstamp'];
}

const sfRecord = z.looseObject({ Id: z.string() });
const queryResult = z.object({
  totalSize: z.number(),
  done: z.boolean(),
  records: z.array(sfRecord),
  nextRecordsUrl: z.string().optional(),
});
type SfRecord = z.infer<typeof sfRecord>;

const saveResult = z.looseObject({
  id: z.string().nullish(),
  success: z.boolean(),
  errors: z.array(z.unknown()).nullish(),
  created: z.boolean().nullish(),
});
type SaveResult = z.infer<typeof saveResult>;

const describeResult = z.looseObject({
  fields: z.array(
    z.looseObject({
      name: z.string(),
      type: z.string().optional(),
      externalId: z.boolean().optional(),
      unique: z.boolean().optional(),
      restrictedPicklist: z.boolean().optional(),
      picklistValues: z.array(z.looseObject({ value: z.string(), active: z.boolean().optional() })).optional(),
    }),
  ),
});

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

interface Cursor {
  /** SystemModstamp of the last record returned (ISO, UTC). */
  t?: string;
  /** Id of the last record returned. */
  id?: string;
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify({ v: 1, ...c })).toString('base64url');
}

function decodeCursor(cursor: string, need: 'changes' | 'list'): Cursor {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (c.v !== 1 || typeof c.id !== 'string' || !isSalesforceId(c.id)) throw new Error('bad shape');
    if (need === 'changes') {
      if (typeof c.t !== 'string' || Number.isNaN(new Date(c.t).getTime())) throw new Error('bad time');
      return { t: c.t, id: c.id };
    }
    return { id: c.id };
  } catch (e) {
    throw new CrmError('VALIDATION', 'invalid Salesforce cursor', { provider: 'SALESFORCE', cause: e, retryable: false });
  }
}

/** SOQL datetime literal at second precision when possible (Salesforce stamps whole seconds). */
function soqlTime(iso: string): string {
  const d = new Date(iso);
  return d.getUTCMilliseconds() === 0 ? soqlDateTime(d).replace('.000Z', 'Z') : soqlDateTime(d);
}

interface PendingUpdate {
  index: number;
  id: string;
  action: 'updated' | 'linked';
  /** The Lead's synced fields as read just before this write (found by our id or by email). */
  before?: LeadFields;
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class SalesforceClient implements CrmClient {
  readonly provider = 'SALESFORCE' as const;
  readonly originField: string;
  readonly externalIdField: string;
  readonly callOptionsClient: string;

  private readonly conn: Connection;
  private readonly limiter: SlidingWindowLimiter;
  private readonly timeoutMs: number;
  private readonly logger?: AdapterLogger;
  private credentials: Credentials;
  private readonly onCredentialsChanged?: ConnectionOptions['onCredentialsChanged'];
  private refreshTimes: number[] = [];
  private usageWarned = false;

  constructor(opts: ConnectionOptions) {
    const s = resolveSettings(opts.settings, opts.credentials);
    this.originField = s.originField;
    this.externalIdField = s.externalIdField;
    this.callOptionsClient = s.callOptionsClient;
    this.logger = opts.logger;
    this.credentials = { ...opts.credentials };
    this.onCredentialsChanged = opts.onCredentialsChanged;
    const rl = opts.rateLimit ?? DEFAULT_RATE_LIMIT;
    this.limiter = new SlidingWindowLimiter(rl.requests, rl.perMs);
    this.timeoutMs = opts.callTimeoutMs ?? 30_000;

    const baseUrl = opts.baseUrl.replace(/\/+$/, '');
    const { accessToken, refreshToken, clientId, clientSecret } = opts.credentials;
    if (!accessToken && !refreshToken) {
      throw new CrmError('AUTH_EXPIRED', 'Salesforce credentials need an accessToken or a refreshToken', {
        provider: 'SALESFORCE',
        retryable: false,
      });
    }
    const canRefresh = Boolean(refreshToken && clientId);
    this.conn = new Connection({
      instanceUrl: baseUrl,
      accessToken: accessToken ?? undefined,
      refreshToken: canRefresh ? refreshToken : undefined,
      version: API_VERSION,
      callOptions: { client: this.callOptionsClient },
      oauth2: canRefresh
        ? { clientId, clientSecret: clientSecret ?? undefined, loginUrl: (opts.credentials.loginUrl ?? baseUrl).replace(/\/+$/, '') }
        : undefined,
      refreshFn: canRefresh ? (conn, callback) => void this.refreshSession(conn, callback) : undefined,
    });
  }

  // ---- plumbing -------------------------------------------------------------------------

  private async refreshSession(
    conn: Connection,
    callback: (err?: Error | null, accessToken?: string, res?: never) => void,
  ): Promise<void> {
    try {
      const now = Date.now();
      this.refreshTimes = this.refreshTimes.filter((t) => t > now - REFRESH_WINDOW_MS);
      if (this.refreshTimes.length >= MAX_REFRESHES) {
        throw new Error(`refresh loop: ${this.refreshTimes.length} refreshes within ${REFRESH_WINDOW_MS / 1000}s were all rejected`);
      }
      this.refreshTimes.push(now);
      const refreshToken = conn.refreshToken;
      if (!refreshToken) throw new Error('No refresh token found in the connection');
      const res = tokenResponse.parse(await conn.oauth2.refreshToken(refreshToken));
      if (res.instance_url) conn.instanceUrl = res.instance_url.replace(/\/+$/, '');
      if (res.refresh_token) conn.refreshToken = res.refresh_token;
      const next: Credentials = {
        ...this.credentials,
        accessToken: res.access_token,
        refreshToken: res.refresh_token ?? this.credentials.refreshToken,
        instanceUrl: res.instance_url ?? this.credentials.instanceUrl,
        issuedAt: res.issued_at ? new Date(Number(res.issued_at)).toISOString() : new Date().toISOString(),
        // Salesforce does not say when a token expires: a stale expiry must not linger.
        expiresAt: undefined,
      };
      this.credentials = next;
      if (this.onCredentialsChanged) {
        try {
          await this.onCredentialsChanged({ ...next }, res.instance_url ? { baseUrl: conn.instanceUrl } : undefined);
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
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    await this.limiter.acquire();
    let timer: NodeJS.Timeout | undefined;
    try {
      const out = await Promise.race([
        fn(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new CrmError('NETWORK', `Salesforce ${what}: no answer within ${this.timeoutMs} ms`, { provider: 'SALESFORCE' })),
            this.timeoutMs,
          );
        }),
      ]);
      this.watchUsage();
      return out;
    } catch (e) {
      const err = toCrmError(e);
      this.logger?.warn({ provider: 'SALESFORCE', code: err.code, what }, err.message);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private watchUsage(): void {
    const usage = this.conn.limitInfo?.apiUsage;
    if (!usage || usage.limit <= 0) return;
    const high = usage.used / usage.limit >= 0.9;
    if (high && !this.usageWarned) {
      this.logger?.warn({ provider: 'SALESFORCE', used: usage.used, limit: usage.limit }, 'Salesforce daily API usage above 90%');
    }
    this.usageWarned = high;
  }

  private get<T>(what: string, url: string): Promise<T> {
    return this.call(what, () => this.conn.request<T>({ method: 'GET', url }, NO_RETRY));
  }

  /** Runs a SOQL query, following nextRecordsUrl until `max` records or the end. */
  private async query(what: string, soql: string, max: number): Promise<SfRecord[]> {
    const records: SfRecord[] = [];
    let res = this.parse(queryResult, await this.get<unknown>(what, `/query?q=${encodeURIComponent(soql)}`), what);
    records.push(...res.records);
    while (!res.done && res.nextRecordsUrl && records.length < max) {
      res = this.parse(queryResult, await this.get<unknown>(`${what} (queryMore)`, res.nextRecordsUrl), what);
      records.push(...res.records);
    }
    return records.slice(0, max);
  }

  private parse<S extends z.ZodType>(schema: S, data: unknown, what: string): z.infer<S> {
    const r = schema.safeParse(data);
    if (!r.success) {
      throw new CrmError('UPSTREAM', `unexpected Salesforce response to ${what}: ${r.error.message}`, {
        provider: 'SALESFORCE',
        cause: r.error,
      });
    }
    return r.data;
  }

  private toRecord(r: SfRecord): CrmRecord {
    return crmRecordFromSalesforce(r, this.originField);
  }

  private get fieldList(): string {
    return selectFields(this.originField, this.externalIdField).join(', ');
  }

  // ---- reads ----------------------------------------------------------------------------

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

  async readRecords(ids: string[]): Promise<CrmRecord[]> {
    // An id that is not a Salesforce id cannot exist; sending it would fail the whole query.
    const unique = [...new Map(ids.filter(isSalesforceId).map((id) => [id15(id), id])).values()];
    const out: CrmRecord[] = [];
    for (const part of chunk(unique, READ_CHUNK)) {
      const soql = `SELECT ${this.fieldList} FROM Lead WHERE Id IN (${part.map(soqlString).join(', ')})`;
      const rows = await this.query('readRecords', soql, part.length);
      out.push(...rows.map((r) => this.toRecord(r)));
    }
    return out;
  }

  async listPage(cursor: string | null, pageSize: number): Promise<Page> {
    if (!Number.isInteger(pageSize) || pageSize < 1) {
      throw new CrmError('VALIDATION', `pageSize must be a positive integer, got ${pageSize}`, { provider: 'SALESFORCE' });
    }
    const after = cursor ? decodeCursor(cursor, 'list') : null;
    const where = after ? ` WHERE Id > ${soqlString(after.id!)}` : '';
    // One extra row tells whether another page exists.
    const soql = `SELECT ${this.fieldList} FROM Lead${where} ORDER BY Id LIMIT ${pageSize + 1}`;
    const rows = await this.query('listPage', soql, pageSize + 1);
    const page = rows.slice(0, pageSize);
    const more = rows.length > pageSize;
    return {
      records: page.map((r) => this.toRecord(r)),
      nextCursor: more ? encodeCursor({ id: page[page.length - 1].Id }) : null,
    };
  }

  /**
   * Records changed after the cursor, oldest first, by the compound (SystemModstamp, Id)
   * key so that records sharing one SystemModstamp are never skipped. The returned cursor
   * points after the last record returned; with nothing new it is the cursor passed in.
   */
  async changesSince(cursor: string | null, limit: number): Promise<Page> {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new CrmError('VALIDATION', `limit must be a positive integer, got ${limit}`, { provider: 'SALESFORCE' });
    }
    const c = cursor ? decodeCursor(cursor, 'changes') : null;
    const where = c
      ? ` WHERE SystemModstamp > ${soqlTime(c.t!)} OR (SystemModstamp = ${soqlTime(c.t!)} AND Id > ${soqlString(c.id!)})`
      : '';
    const soql = `SELECT ${this.fieldList} FROM Lead${where} ORDER BY SystemModstamp, Id LIMIT ${limit}`;
    const rows = await this.query('changesSince', soql, limit);
    if (rows.length === 0) return { records: [], nextCursor: cursor };
    const last = rows[rows.length - 1];
    const stamp = parseSalesforceDate(last.SystemModstamp);
    if (!stamp) throw new CrmError('UPSTREAM', 'Salesforce record without SystemModstamp', { provider: 'SALESFORCE' });
    return {
      records: rows.map((r) => this.toRecord(r)),
      nextCursor: encodeCursor({ t: stamp.toISOString(), id: last.Id }),
    };
  }

  /**
   * A changesSince cursor that starts at `time`, inclusive: Salesforce stamps whole
   * seconds, so the cursor sits before every record of that second (a repeat is harmless,
   * a miss is not).
   */
  cursorAt(time: Date): string {
    if (Number.isNaN(time.getTime())) throw new CrmError('VALIDATION', 'cursorAt needs a valid time', { provider: 'SALESFORCE' });
    const second = new Date(Math.floor(time.getTime() / 1000) * 1000);
    return encodeCursor({ t: second.toISOString(), id: LOWEST_ID });
  }

  /** The SystemModstamp a changes cursor stands at. */
  cursorTime(cursor: string): Date {
    return new Date(decodeCursor(cursor, 'changes').t!);
  }

  // ---- writes ---------------------------------------------------------------------------

  async pushLeads(leads: OutboundLead[], originTag: string): Promise<WriteResult[]> {
    if (originTag.trim() === '') throw new CrmError('VALIDATION', 'originTag must not be empty', { provider: 'SALESFORCE' });
    const results: WriteResult[] = [];
    for (const part of chunk(leads, MAX_COLLECTION)) results.push(...(await this.pushChunk(part, originTag)));
    return results;
  }

  private async pushChunk(leads: OutboundLead[], originTag: string): Promise<WriteResult[]> {
    // 1. Unlinked leads: a Lead carrying our lead id is ours from an earlier (maybe
    //    unacknowledged) push; otherwise the oldest Lead with the same e-mail is linked.
    const unlinked = leads.filter((l) => !l.externalId);
    const byExt = new Map<string, SfRecord>();
    const byEmail = new Map<string, SfRecord>();
    try {
      await this.lookUp(unlinked, byExt, byEmail);
    } catch (e) {
      // The look-up was the unlinked leads' call; the linked ones were never sent.
      const err = toCrmError(e);
      return leads.map((lead) => (lead.externalId ? { localId: lead.localId, ok: false, error: err, attempted: false } : this.failed(lead, err)));
    }
    return this.writeChunk(leads, originTag, byExt, byEmail);
  }

  /** Finds Leads carrying our lead ids or the leads' emails (oldest first). */
  private async lookUp(unlinked: OutboundLead[], byExt: Map<string, SfRecord>, byEmail: Map<string, SfRecord>): Promise<void> {
    for (const part of chunk(unlinked, LOOKUP_CHUNK)) {
      const extIds = [...new Set(part.map((l) => l.localId))];
      const emails = [...new Set(part.map((l) => normaliseEmail(l.fields.email)).filter((e): e is string => e !== null))];
      const clauses = [`${this.externalIdField} IN (${extIds.map(soqlString).join(', ')})`];
      if (emails.length > 0) clauses.push(`Email IN (${emails.map(soqlString).join(', ')})`);
      const soql =
        `SELECT Id, ${Object.values(LEAD_FIELD_MAP).join(', ')}, ${this.externalIdField}, CreatedDate FROM Lead WHERE ${clauses.join(' OR ')} ` +
        'ORDER BY CreatedDate, Id';
      for (const r of await this.query('pushLeads lookup', soql, Number.MAX_SAFE_INTEGER)) {
        const extValue = r[this.externalIdField];
        const ext = typeof extValue === 'string' ? extValue.toLowerCase() : null;
        if (ext && !byExt.has(ext)) byExt.set(ext, r);
        const email = normaliseEmail(typeof r.Email === 'string' ? r.Email : null);
        if (email && !byEmail.has(email)) byEmail.set(email, r); // oldest first
      }
    }
  }

  private async writeChunk(
    leads: OutboundLead[],
    originTag: string,
    byExt: Map<string, SfRecord>,
    byEmail: Map<string, SfRecord>,
  ): Promise<WriteResult[]> {
    const results: (WriteResult | undefined)[] = new Array(leads.length);
    const updates: PendingUpdate[] = [];
    const upserts: number[] = [];
    leads.forEach((lead, index) => {
      if (lead.externalId) {
        if (isSalesforceId(lead.externalId)) updates.push({ index, id: lead.externalId, action: 'updated' });
        else results[index] = this.failed(lead, new CrmError('NOT_FOUND', `not a Salesforce id: ${lead.externalId}`, { provider: 'SALESFORCE', retryable: false }));
        return;
      }
      const mine = byExt.get(lead.localId.toLowerCase());
      if (mine) {
        updates.push({ index, id: mine.Id, action: 'updated', before: leadFieldsFromSalesforce(mine) });
        return;
      }
      const email = normaliseEmail(lead.fields.email);
      const match = email ? byEmail.get(email) : undefined;
      if (match) updates.push({ index, id: match.Id, action: 'linked', before: leadFieldsFromSalesforce(match) });
      else upserts.push(index);
    });

    // 2. New Leads: upsert on our lead id, carrying the origin tag.
    const duplicates: PendingUpdate[] = [];
    if (upserts.length > 0) {
      const payload = upserts.map((i) => ({
        ...toSalesforceCreate(leads[i].fields),
        [this.originField]: originTag,
        [this.externalIdField]: leads[i].localId,
      }));
      let res: unknown;
      try {
        res = await this.call('pushLeads upsert', () =>
          this.conn.sobject('Lead').upsert(payload, this.externalIdField, { allOrNone: false }),
        );
      } catch (e) {
        // The upsert call failed for its leads; the updates after it are not sent.
        const err = toCrmError(e);
        for (const i of upserts) results[i] = this.failed(leads[i], err);
        return leads.map((lead, i) => results[i] ?? { localId: lead.localId, ok: false, error: err, attempted: false });
      }
      // allOrNone=false: one result per record, in order (`success`, `errors[]`), so each
      // failure belongs to its own lead.
      this.saveResults(res, upserts.length, 'upsert').forEach((r, k) => {
        const index = upserts[k];
        const lead = leads[index];
        if (r.success && r.id) {
          results[index] = {
            localId: lead.localId,
            ok: true,
            externalId: r.id,
            action: r.created ? 'created' : 'updated',
            // An upsert that found our Lead from an earlier push only set what it sent.
            written: r.created ? writtenOnCreate(payload[k]) : writtenFromSalesforce(payload[k]),
          };
          return;
        }
        const error = fromRecordErrors(r.errors);
        // A duplicate rule matched an existing Lead: link it (and write our fields to it)
        // instead of creating another.
        const match = error.code === 'CONFLICT' ? this.duplicateLeadId(r.errors) : undefined;
        if (match) duplicates.push({ index, id: match, action: 'linked' });
        else results[index] = this.failed(lead, error);
      });
    }

    // 3. Updates of known Leads (linked, ours, matched): never the origin tag, never a default.
    await this.applyUpdates(leads, [...updates, ...duplicates], results);

    return results.map((r, i) => r ?? this.failed(leads[i], new CrmError('UPSTREAM', 'no result for this lead', { provider: 'SALESFORCE' })));
  }

  private failed(lead: OutboundLead, error: CrmError): WriteResult {
    return { localId: lead.localId, ok: false, error };
  }

  private async applyUpdates(leads: OutboundLead[], updates: PendingUpdate[], results: (WriteResult | undefined)[]): Promise<void> {
    if (updates.length === 0) return;
    const payload = updates.map((u) => ({ Id: u.id, ...toSalesforceUpdate(leads[u.index].fields) }));
    const res = await this.call('pushLeads update', () => this.conn.sobject('Lead').update(payload, { allOrNone: false }));
    this.saveResults(res, updates.length, 'update').forEach((r, k) => {
      const u = updates[k];
      const lead = leads[u.index];
      results[u.index] = r.success
        ? {
            localId: lead.localId,
            ok: true,
            externalId: r.id ?? u.id,
            action: u.action,
            // Fields an update leaves alone (a required field we have no value for) keep
            // what the look-up read just before: never what a later read says.
            written: { ...(u.before ?? {}), ...writtenFromSalesforce(payload[k]) },
          }
        : this.failed(lead, fromRecordErrors(r.errors));
    });
  }

  private duplicateLeadId(errors: unknown): string | undefined {
    if (!Array.isArray(errors)) return undefined;
    for (const e of errors) {
      if (typeof e !== 'object' || e === null) continue;
      const code = (e as Record<string, unknown>).statusCode ?? (e as Record<string, unknown>).errorCode;
      if (code !== 'DUPLICATES_DETECTED') continue;
      const lead = duplicateMatchIds((e as Record<string, unknown>).duplicateResult).find((id) => id.startsWith('00Q'));
      if (lead) return lead;
    }
    return undefined;
  }

  /** jsforce returns 2xx bodies as they are: check shape, count, and leave `success` to the caller. */
  private saveResults(res: unknown, expected: number, what: string): SaveResult[] {
    const list = this.parse(z.array(saveResult), res, what);
    if (list.length !== expected) {
      throw new CrmError('UPSTREAM', `Salesforce ${what} returned ${list.length} results for ${expected} records`, {
        provider: 'SALESFORCE',
      });
    }
    return list;
  }

  // ---- provisioning ---------------------------------------------------------------------

  /** Checks the Lead fields our writes need (origin tag, external id); steps for what is missing. */
  private async checkFields(tagValues: string[]): Promise<{ originOk: boolean; extOk: boolean; manualSteps: string[] }> {
    const describe = this.parse(
      describeResult,
      await this.get<unknown>('describe Lead', '/sobjects/Lead/describe'),
      'describe Lead',
    );
    const find = (name: string) => describe.fields.find((f) => f.name.toLowerCase() === name.toLowerCase());
    const origin = find(this.originField);
    const ext = find(this.externalIdField);
    const manualSteps: string[] = [];

    let originOk = Boolean(origin);
    if (!origin) {
      manualSteps.push(
        `Create the custom field Lead.${this.originField} (Setup > Object Manager > Lead > Fields & Relationships > New): ` +
          `Text(255), or a Picklist with the values ${tagValues.join(', ')}. It marks the Leads this integration created.`,
      );
    } else if (origin.type === 'picklist' && origin.restrictedPicklist) {
      const values = new Set((origin.picklistValues ?? []).filter((p) => p.active !== false).map((p) => p.value));
      const missing = tagValues.filter((v) => !values.has(v));
      if (missing.length > 0) {
        originOk = false;
        manualSteps.push(`Add the values ${missing.join(', ')} to the restricted picklist Lead.${this.originField}.`);
      }
    }
    let extOk = Boolean(ext?.externalId);
    if (!ext) {
      manualSteps.push(
        `Create the custom field Lead.${this.externalIdField}: Text(255), with "External ID" and "Unique" (case-insensitive) checked. ` +
          'It holds the platform lead id and makes every write idempotent.',
      );
    } else if (!ext.externalId) {
      extOk = false;
      manualSteps.push(`Mark Lead.${this.externalIdField} as "External ID" and "Unique" (edit the field in Object Manager > Lead).`);
    }
    return { originOk, extOk, manualSteps };
  }

  async prepare(tagValues: string[]): Promise<PrepareReport> {
    const { originOk, extOk, manualSteps } = await this.checkFields(tagValues);
    return {
      originFieldReady: originOk && extOk,
      originFieldCreated: false,
      manualSteps,
      settings: { originField: this.originField, externalIdField: this.externalIdField, callOptionsClient: this.callOptionsClient },
    };
  }

  async provision(opts: ProvisionOptions): Promise<ProvisionReport> {
    const { originOk, extOk, manualSteps } = await this.checkFields(opts.tagValues);
    const fields = outboundFields(this.originField);
    manualSteps.push(
      `Create an Outbound Message on Lead (Setup > Process Automation > Outbound Messages > New): Endpoint URL ${opts.webhookUrl}, ` +
        `fields ${fields.join(', ')}; leave "Send Session ID" unchecked.`,
      'Make it fire on every Lead change: a record-triggered Flow on Lead ("A record is created or updated", ' +
        'run "Actions and Related Records", no entry conditions) whose action is that Outbound Message ' +
        '(or a Workflow Rule "created, and every time it\'s edited" with criteria formula TRUE).',
      'Deliveries are checked against this integration\'s Salesforce Organization ID (Setup > Company Information): ' +
        'it must be the account id the integration was created with.',
    );
    return {
      originFieldReady: originOk && extOk,
      originFieldCreated: false,
      subscriptionId: null,
      events: ['Lead.created', 'Lead.updated'],
      expiresAt: null,
      manualSteps,
      settings: {
        originField: this.originField,
        externalIdField: this.externalIdField,
        callOptionsClient: this.callOptionsClient,
        outboundFields: fields,
      },
    };
  }
}
