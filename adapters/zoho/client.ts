// CrmClient for Zoho CRM REST API v7, module Leads.
//
// Writes (pushLeads):
// - Linked leads (externalId known): `PUT /Leads` in batches of 100. The origin tag is
//   never sent on updates, so a record keeps whatever tag it had.
// - Unlinked leads are first matched by email, WITHOUT writing anything:
//     1. `GET /Leads/search?criteria=((Email:equals:a)or...)` (10 emails per call). Search
//        answers 204 when nothing matches, and also for a while after a write (the
//        search index lags), so
//     2. the emails still unmatched are looked for among the records modified in the last
//        `recentWindowMs` (default 10 min) through `GET /Leads` + `If-Modified-Since`,
//        which reads the database, not the index.
//   A match is linked: updated with our fields, tag untouched (action 'linked').
// - Leads still unmatched are created carrying the origin tag, by one of two strategies
//   (setting `writeStrategy`, default 'auto'):
//     'insert': `POST /Leads`. When Email is a unique field, a record that appeared in the
//        meantime makes Zoho answer DUPLICATE_DATA naming it: we link it instead (update
//        without the tag). Never stamps our tag on an existing record.
//     'upsert': `POST /Leads/upsert` with duplicate_check_fields ["Email"]. Never creates
//        a duplicate even when Email is not unique; if Zoho reports action "update" (a
//        record the two look-ups above could not see yet), it is reported 'linked' and it
//        carries our tag from then on (logged as a warning).
//     'auto': 'insert' when provision() found Email unique, else 'upsert'.
// - Every write sends `"trigger": []` (setting `triggers`): no Zoho workflow, approval or
//   blueprint runs on our writes, so no workflow-made change can echo back to the
//   platform as if a person had made it. Set `triggers` (e.g. ["workflow"]) to opt in.
// - One result per input, in input order; per-record failures are `{ok: false}`. A call
//   failing as a whole (rate limit, auth, network, 5xx) fails every input not yet written
//   with that error and stops, since the next calls would fail the same way.
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
import { ZohoAuth } from './auth.ts';
import { duplicateRecordId, translateZohoError, unexpectedResponse } from './errors.ts';
import { accountsUrlForApiDomain, normaliseOrigin, RequestLimiter, ZohoHttp, type FetchLike, type ZohoResponse } from './http.ts';
import {
  compareIds,
  DEFAULT_ORIGIN_FIELD,
  emailCriteria,
  fieldsToZoho,
  formatZohoTime,
  leadToRecord,
  writtenFromZoho,
  ORIGIN_FIELD_LABEL,
  parseZohoTime,
  picklistValue,
  readFieldNames,
  type ZohoLead,
} from './mappers.ts';

export const WATCH_EVENTS = ['Leads.create', 'Leads.edit', 'Leads.delete'] as const;
/** Zoho channels live at most one week; we ask for a week minus this margin. */
export const CHANNEL_EXPIRY_MARGIN_MS = 3600_000;
const WEEK_MS = 7 * 24 * 3600_000;
const BATCH = 100;
const SEARCH_EMAILS_PER_CALL = 10;
const MAX_PAGE = 200;
/** Origin values provision() always makes valid besides the ones it is asked for. */
export const BUILTIN_TAG_VALUES = ['zoho', 'manual'] as const;

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

const MAX_LONG = 9223372036854775807n;

/** Zoho's channel_id is a long. */
export function isZohoChannelId(v: string): boolean {
  return /^\d{1,19}$/.test(v) && BigInt(v) > 0n && BigInt(v) <= MAX_LONG;
}

interface Cursor {
  t: number;
  id: string;
}

function encodeCursor(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

function decodeCursor<T>(raw: string, check: (v: Record<string, unknown>) => boolean): T {
  try {
    const v = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as unknown;
    if (v && typeof v === 'object' && check(v as Record<string, unknown>)) return v as T;
  } catch {
    // fall through
  }
  throw new CrmError('VALIDATION', 'Zoho: cursor is not one this adapter issued', { provider: 'ZOHO', retryable: false });
}

function dataOf(res: ZohoResponse, what: string): Record<string, unknown>[] {
  if (res.status === 204 || res.status === 304 || res.body === null) return [];
  const data = (res.body as { data?: unknown }).data;
  if (!Array.isArray(data)) throw unexpectedResponse(`${what}: no data array`, res.status);
  return data as Record<string, unknown>[];
}

function infoOf(res: ZohoResponse): { more: boolean; nextToken: string | null } {
  const info = (res.body as { info?: Record<string, unknown> } | null)?.info ?? {};
  return {
    more: info.more_records === true,
    nextToken: typeof info.next_page_token === 'string' && info.next_page_token !== '' ? info.next_page_token : null,
  };
}

function asLead(item: Record<string, unknown>): ZohoLead {
  const id = item.id;
  if (typeof id !== 'string' && typeof id !== 'number') throw unexpectedResponse('record without id', 200);
  return { ...item, id: String(id) };
}

/** Whole-call failures that make every following call pointless. */
function stopsEverything(e: CrmError): boolean {
  return ['RATE_LIMITED', 'AUTH_EXPIRED', 'NETWORK', 'UPSTREAM', 'PERMISSION'].includes(e.code);
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

interface PendingUpdate {
  index: number;
  id: string;
  action: WriteAction;
  /** The record's synced fields as read just before this write (found by email). */
  before?: LeadFields;
}

export class ZohoClient implements CrmClient {
  readonly provider = 'ZOHO' as const;
  private settings: ZohoSettings;
  private readonly explicitOriginField: boolean;
  private apiDomain: string;
  private readonly http: ZohoHttp;
  private readonly now: () => number;

  constructor(private readonly opts: ConnectionOptions, deps: ZohoDeps = {}) {
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
    const fetchImpl: FetchLike = deps.fetch ?? ((input, init) => fetch(input, init));
    const accountsUrl = opts.credentials.accountsUrl || accountsUrlForApiDomain(this.apiDomain);
    const auth = new ZohoAuth({
      credentials: opts.credentials,
      accountsUrl: accountsUrl || null,
      fetch: fetchImpl,
      onCredentialsChanged: opts.onCredentialsChanged,
      onApiDomain: (d) => {
        try {
          this.apiDomain = normaliseOrigin(d);
        } catch {
          opts.logger?.warn({ apiDomain: d }, 'zoho: token refresh named an api_domain that is not a URL; ignored');
        }
      },
      logger: opts.logger,
      now: this.now,
    });
    const rate = opts.rateLimit;
    this.http = new ZohoHttp({
      apiDomain: () => this.apiDomain,
      auth,
      fetch: fetchImpl,
      limiter: new RequestLimiter(this.settings.maxConcurrent, rate),
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

  // ---- reading ----------------------------------------------------------------------

  async readRecords(ids: string[]): Promise<CrmRecord[]> {
    const unique = [...new Set(ids.filter((id) => id !== ''))];
    const byId = new Map<string, CrmRecord>();
    const fields = readFieldNames(this.originField).join(',');
    for (const batch of chunks(unique, BATCH)) {
      const res = await this.http.request({ method: 'GET', path: '/Leads', query: { ids: batch.join(','), fields } });
      for (const item of dataOf(res, 'read by ids')) {
        const rec = leadToRecord(asLead(item), this.originField);
        byId.set(rec.externalId, rec);
      }
    }
    return unique.map((id) => byId.get(id)).filter((r): r is CrmRecord => !!r);
  }

  /** Every record, by id ascending (ids only grow, so new records land on later pages). */
  async listPage(cursor: string | null, pageSize: number): Promise<Page> {
    const c = cursor === null ? null : decodeCursor<{ pt: string; pp: number }>(cursor, (v) => typeof v.pt === 'string' && typeof v.pp === 'number');
    const perPage = c ? c.pp : Math.max(1, Math.min(MAX_PAGE, Math.floor(pageSize)));
    const res = await this.http.request({
      method: 'GET',
      path: '/Leads',
      query: {
        fields: readFieldNames(this.originField).join(','),
        sort_by: 'id',
        sort_order: 'asc',
        per_page: perPage,
        page_token: c?.pt,
      },
    });
    const records = dataOf(res, 'list').map((item) => leadToRecord(asLead(item), this.originField));
    const { more, nextToken } = infoOf(res);
    return { records, nextCursor: more && nextToken ? encodeCursor({ pt: nextToken, pp: perPage }) : null };
  }

  /**
   * Records changed after the cursor, oldest first, at most `limit`. The cursor is the
   * (Modified_Time, id) of the last record returned: records sharing that time with a
   * larger id still come next time, so ties on the (second-resolution) time lose nothing.
   * Zoho does not document the order of equal times, so a page is cut only where the
   * time changes: all records of the last time included have been seen.
   */
  async changesSince(cursor: string | null, limit: number): Promise<Page> {
    const c = cursor === null ? null : decodeCursor<Cursor>(cursor, (v) => typeof v.t === 'number' && typeof v.id === 'string');
    const max = Math.max(1, Math.floor(limit));
    const after = (r: CrmRecord) => {
      if (!c) return true;
      const t = r.updatedAt?.getTime() ?? 0;
      return t > c.t || (t === c.t && compareIds(r.externalId, c.id) > 0);
    };
    const sortKey = (a: CrmRecord, b: CrmRecord) =>
      (a.updatedAt?.getTime() ?? 0) - (b.updatedAt?.getTime() ?? 0) || compareIds(a.externalId, b.externalId);

    const candidates: CrmRecord[] = [];
    const fields = readFieldNames(this.originField).join(',');
    // Zoho's If-Modified-Since keeps records modified after the given second; one second
    // earlier keeps the cursor's own second (ties), filtered exactly below.
    const headers = c ? { 'If-Modified-Since': formatZohoTime(new Date(c.t - 1000)) } : undefined;
    let pageToken: string | undefined;
    for (;;) {
      const res = await this.http.request({
        method: 'GET',
        path: '/Leads',
        query: { fields, sort_by: 'Modified_Time', sort_order: 'asc', per_page: MAX_PAGE, page_token: pageToken },
        headers,
      });
      const page = dataOf(res, 'changes').map((item) => leadToRecord(asLead(item), this.originField));
      candidates.push(...page.filter(after));
      const { more, nextToken } = infoOf(res);
      if (!more || !nextToken) break;
      if (candidates.length >= max) {
        candidates.sort(sortKey);
        const cutTime = candidates[max - 1]!.updatedAt?.getTime() ?? 0;
        const lastSeen = page[page.length - 1]?.updatedAt?.getTime() ?? 0;
        if (lastSeen > cutTime) break;
      }
      pageToken = nextToken;
    }
    candidates.sort(sortKey);
    const records = candidates.slice(0, max);
    const last = records[records.length - 1];
    const nextCursor = last ? encodeCursor({ t: last.updatedAt?.getTime() ?? 0, id: last.externalId } satisfies Cursor) : cursor;
    return { records, nextCursor };
  }

  /** A changesSince cursor that starts at `time` (its whole second: Zoho times have no milliseconds). */
  cursorAt(time: Date): string {
    return encodeCursor({ t: Math.floor(time.getTime() / 1000) * 1000, id: '' } satisfies Cursor);
  }

  /** The Modified_Time a changes cursor stands at. */
  cursorTime(cursor: string): Date {
    return new Date(decodeCursor<Cursor>(cursor, (v) => typeof v.t === 'number' && typeof v.id === 'string').t);
  }

  // ---- writing ----------------------------------------------------------------------

  async pushLeads(leads: OutboundLead[], originTag: string): Promise<WriteResult[]> {
    const results: Array<WriteResult | undefined> = new Array(leads.length);
    let fatal: CrmError | null = null;
    const log = this.opts.logger;

    const fail = (index: number, error: CrmError) => {
      if (!results[index]) results[index] = { localId: leads[index]!.localId, ok: false, error };
    };
    const stopOn = (e: unknown): CrmError => {
      if (!(e instanceof CrmError)) throw e;
      if (stopsEverything(e)) fatal = e;
      return e;
    };

    const updates: PendingUpdate[] = [];
    const groups = new Map<string, number[]>(); // normalised email -> unlinked input indices
    const creates: number[] = [];
    leads.forEach((lead, index) => {
      if (lead.externalId) {
        updates.push({ index, id: lead.externalId, action: 'updated' });
        return;
      }
      const email = normaliseEmail(lead.fields.email);
      if (!email) {
        creates.push(index);
        return;
      }
      const g = groups.get(email);
      if (g) g.push(index);
      else groups.set(email, [index]);
    });

    // 1. Match unlinked leads by email (search index, then the unindexed recent records).
    let matches = new Map<string, ZohoLead>();
    if (groups.size > 0) {
      try {
        matches = await this.matchByEmail([...groups.keys()], originTag);
      } catch (e) {
        const err = stopOn(e);
        for (const indices of groups.values()) for (const i of indices) fail(i, err);
        groups.clear();
      }
    }
    // Several inputs with one email: the first is written, the others link to its record.
    const followers = new Map<number, number[]>();
    for (const [email, indices] of groups) {
      const match = matches.get(email);
      if (match) {
        const before = leadToRecord(match, this.originField).fields;
        for (const i of indices) updates.push({ index: i, id: match.id, action: 'linked', before });
      } else {
        creates.push(indices[0]!);
        if (indices.length > 1) followers.set(indices[0]!, indices.slice(1));
      }
    }

    // 2. Create what has no record yet, carrying the origin tag.
    const strategy = this.settings.writeStrategy === 'auto' ? (this.settings.emailUnique ? 'insert' : 'upsert') : this.settings.writeStrategy;
    const linkLater: PendingUpdate[] = [];
    creates.sort((a, b) => a - b);
    for (const batch of chunks(creates, BATCH)) {
      if (fatal) break;
      const data = batch.map((i) => ({ ...fieldsToZoho(leads[i]!.fields, 'create'), [this.originField]: originTag }));
      let res: ZohoResponse;
      try {
        res =
          strategy === 'insert'
            ? await this.http.request({ method: 'POST', path: '/Leads', body: { data, trigger: this.settings.triggers }, perRecord: true })
            : await this.http.request({
                method: 'POST',
                path: '/Leads/upsert',
                body: { data, duplicate_check_fields: ['Email'], trigger: this.settings.triggers },
                perRecord: true,
              });
      } catch (e) {
        const err = stopOn(e);
        for (const i of batch) fail(i, err);
        continue;
      }
      const items = dataOf(res, 'create');
      if (items.length !== batch.length) throw unexpectedResponse(`create: ${items.length} results for ${batch.length} records`, res.status);
      batch.forEach((index, j) => {
        const item = items[j]!;
        const details = (item.details ?? {}) as Record<string, unknown>;
        if (item.status === 'success' && item.code === 'SUCCESS' && details.id !== undefined) {
          const id = String(details.id);
          const existed = item.action === 'update';
          if (existed) {
            log?.warn({ id }, 'zoho: upsert matched a record the email look-ups did not see; it now carries the origin tag');
          }
          results[index] = {
            localId: leads[index]!.localId,
            ok: true,
            externalId: id,
            action: existed ? 'linked' : 'created',
            written: writtenFromZoho(data[j]!),
            record: existed
              ? undefined
              : leadToRecord({ ...data[j]!, id, Created_Time: details.Created_Time, Modified_Time: details.Modified_Time }, this.originField),
          };
          for (const f of followers.get(index) ?? []) linkLater.push({ index: f, id, action: 'linked' });
          return;
        }
        const existingId = item.code === 'DUPLICATE_DATA' ? duplicateRecordId(details) : undefined;
        if (existingId && details.api_name === 'Email') {
          // Someone created this email since our look-up: link it, tag untouched.
          linkLater.push({ index, id: existingId, action: 'linked' });
          for (const f of followers.get(index) ?? []) linkLater.push({ index: f, id: existingId, action: 'linked' });
          return;
        }
        const err = translateZohoError(item, res.status);
        fail(index, err);
        for (const f of followers.get(index) ?? []) fail(f, err);
      });
    }

    // 3. Update linked and matched records: our fields, never the origin tag.
    const allUpdates = [...updates, ...linkLater].sort((a, b) => a.index - b.index);
    for (const batch of chunks(allUpdates, BATCH)) {
      if (fatal) break;
      const data = batch.map((u) => ({ id: u.id, ...fieldsToZoho(leads[u.index]!.fields, 'update') }));
      let res: ZohoResponse;
      try {
        res = await this.http.request({ method: 'PUT', path: '/Leads', body: { data, trigger: this.settings.triggers }, perRecord: true });
      } catch (e) {
        const err = stopOn(e);
        for (const u of batch) fail(u.index, err);
        continue;
      }
      const items = dataOf(res, 'update');
      if (items.length !== batch.length) throw unexpectedResponse(`update: ${items.length} results for ${batch.length} records`, res.status);
      batch.forEach((u, j) => {
        const item = items[j]!;
        if (item.status === 'success' && item.code === 'SUCCESS') {
          // A field the update leaves alone (Last_Name we have no value for) keeps what the
          // look-up read just before the write: never what a later read says.
          const written = { ...(u.before ?? {}), ...writtenFromZoho(data[j]!) };
          results[u.index] = { localId: leads[u.index]!.localId, ok: true, externalId: u.id, action: u.action, written };
        } else {
          fail(u.index, translateZohoError(item, res.status));
        }
      });
    }

    // Writes never sent because an earlier call failed for good (429, auth, network, 5xx)
    // are reported as not attempted: that failure was not theirs.
    const stopped: CrmError | null = fatal;
    const unfinished = new CrmError('UPSTREAM', 'Zoho: write was not attempted', { provider: 'ZOHO' });
    return leads.map(
      (lead, i): WriteResult =>
        results[i] ?? (stopped ? { localId: lead.localId, ok: false, error: stopped, attempted: false } : { localId: lead.localId, ok: false, error: unfinished }),
    );
  }

  /** Finds existing records for normalised emails; prefers one carrying our tag, then the oldest. */
  private async matchByEmail(emails: string[], originTag: string): Promise<Map<string, ZohoLead>> {
    const found = new Map<string, ZohoLead[]>();
    const add = (item: Record<string, unknown>) => {
      const lead = asLead(item);
      const email = normaliseEmail(typeof lead.Email === 'string' ? lead.Email : null);
      if (!email || !emails.includes(email)) return; // search `equals` behaves like contains
      const list = found.get(email) ?? [];
      if (!list.some((l) => l.id === lead.id)) list.push(lead);
      found.set(email, list);
    };

    for (const batch of chunks(emails, SEARCH_EMAILS_PER_CALL)) {
      for (let page = 1; page <= 10; page++) {
        const res = await this.http.request({
          method: 'GET',
          path: '/Leads/search',
          query: { criteria: emailCriteria(batch), per_page: MAX_PAGE, page },
        });
        // 204: nothing matches, or the index has not caught up with recent writes yet.
        dataOf(res, 'search').forEach(add);
        if (!infoOf(res).more) break;
      }
    }

    const missing = emails.filter((e) => !found.has(e));
    if (missing.length > 0) {
      const fields = readFieldNames(this.originField).join(',');
      const since = formatZohoTime(new Date(this.now() - this.settings.recentWindowMs));
      let pageToken: string | undefined;
      for (let page = 0; page < this.settings.recentMaxPages; page++) {
        const res = await this.http.request({
          method: 'GET',
          path: '/Leads',
          query: { fields, sort_by: 'Modified_Time', sort_order: 'desc', per_page: MAX_PAGE, page_token: pageToken },
          headers: { 'If-Modified-Since': since },
        });
        dataOf(res, 'recent').forEach(add);
        const { more, nextToken } = infoOf(res);
        if (!more || !nextToken) break;
        if (page === this.settings.recentMaxPages - 1) {
          this.opts.logger?.warn({ pages: page + 1 }, 'zoho: more recently modified leads than the look-up reads; relying on search and duplicate checks');
        }
        pageToken = nextToken;
      }
    }

    const out = new Map<string, ZohoLead>();
    for (const [email, list] of found) {
      list.sort((a, b) => {
        const ours = (l: ZohoLead) => (picklistValue(l[this.originField])?.toLowerCase() === originTag.toLowerCase() ? 0 : 1);
        return (
          ours(a) - ours(b) ||
          (parseZohoTime(a.Created_Time)?.getTime() ?? 0) - (parseZohoTime(b.Created_Time)?.getTime() ?? 0) ||
          compareIds(a.id, b.id)
        );
      });
      out.set(email, list[0]!);
    }
    return out;
  }

  // ---- identity -------------------------------------------------------------------------

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

  // ---- provisioning -----------------------------------------------------------------

  private async leadFields(): Promise<Record<string, unknown>[]> {
    const res = await this.http.request({ method: 'GET', path: '/settings/fields', query: { module: 'Leads' } });
    const fields = (res.body as { fields?: unknown } | null)?.fields;
    if (!Array.isArray(fields)) throw unexpectedResponse('fields metadata without fields', res.status);
    return fields as Record<string, unknown>[];
  }

  /** Creates the origin picklist if missing (and adds missing values); returns its API name. */
  private async ensureOriginField(tagValues: string[]): Promise<{ created: boolean; emailUnique: boolean }> {
    const wanted = [...new Set([...tagValues, ...BUILTIN_TAG_VALUES].map((v) => v.trim()).filter(Boolean))];
    let fields = await this.leadFields();
    const email = fields.find((f) => f.api_name === 'Email');
    const unique = email?.unique;
    const emailUnique = !!unique && typeof unique === 'object' && Object.keys(unique).length > 0;

    const find = (list: Record<string, unknown>[]) =>
      list.find((f) =>
        this.explicitOriginField || this.settings.originFieldId
          ? f.api_name === this.settings.originField || (this.settings.originFieldId !== undefined && f.id === this.settings.originFieldId)
          : f.custom_field === true && typeof f.field_label === 'string' && f.field_label.toLowerCase() === ORIGIN_FIELD_LABEL.toLowerCase(),
      );

    let field = find(fields);
    let created = false;
    if (!field) {
      const res = await this.http.request({
        method: 'POST',
        path: '/settings/fields',
        query: { module: 'Leads' },
        body: {
          fields: [
            {
              field_label: ORIGIN_FIELD_LABEL,
              data_type: 'picklist',
              pick_list_values: wanted.map((v) => ({ display_value: v, actual_value: v })),
            },
          ],
        },
        perRecord: true,
      });
      const item = ((res.body as { fields?: Record<string, unknown>[] } | null)?.fields ?? [])[0];
      if (!item) throw unexpectedResponse('field creation without result', res.status);
      if (item.status !== 'success') {
        // A field with our label may have been made meanwhile: use it if it is there now.
        if (item.code !== 'DUPLICATE_DATA') throw translateZohoError(item, res.status);
      } else {
        created = true;
      }
      const newId = (item.details as { id?: unknown } | undefined)?.id;
      fields = await this.leadFields();
      field = (newId !== undefined ? fields.find((f) => f.id === String(newId)) : undefined) ?? find(fields);
      if (!field) throw unexpectedResponse('created origin field is missing from the fields metadata', 200);
    }
    const apiName = field.api_name;
    if (typeof apiName !== 'string' || apiName === '') throw unexpectedResponse('origin field without api_name', 200);
    const fieldId = String(field.id);

    if (!created && field.data_type === 'picklist') {
      const have = new Set(
        (Array.isArray(field.pick_list_values) ? field.pick_list_values : []).map((p) => String((p as { actual_value?: unknown }).actual_value)),
      );
      const missing = wanted.filter((v) => !have.has(v));
      if (missing.length > 0) {
        const res = await this.http.request({
          method: 'PATCH',
          path: `/settings/fields/${encodeURIComponent(fieldId)}`,
          query: { module: 'Leads' },
          body: { fields: [{ id: fieldId, pick_list_values: missing.map((v) => ({ display_value: v, actual_value: v })) }] },
          perRecord: true,
        });
        const item = ((res.body as { fields?: Record<string, unknown>[] } | null)?.fields ?? [])[0];
        if (!item || item.status !== 'success') throw translateZohoError(item ?? {}, res.status);
      }
    }
    this.settings = { ...this.settings, originField: apiName, originFieldId: fieldId, emailUnique };
    return { created, emailUnique };
  }

  private async registerChannel(opts: ProvisionOptions, method: 'POST' | 'PATCH'): Promise<Date | null> {
    if (opts.webhookToken.length > 50) {
      throw new CrmError('VALIDATION', 'Zoho channel tokens are at most 50 characters', { provider: 'ZOHO', retryable: false });
    }
    if (!isZohoChannelId(opts.channelId)) {
      throw new CrmError('VALIDATION', `Zoho channel_id must be a positive 64-bit integer (at most 19 digits), got "${opts.channelId}"`, {
        provider: 'ZOHO',
        retryable: false,
      });
    }
    const requested = new Date(this.now() + WEEK_MS - CHANNEL_EXPIRY_MARGIN_MS);
    const res = await this.http.request({
      method,
      path: '/actions/watch',
      body: {
        watch: [
          {
            channel_id: opts.channelId,
            events: [...WATCH_EVENTS],
            notify_url: opts.webhookUrl,
            token: opts.webhookToken,
            channel_expiry: formatZohoTime(requested),
            return_affected_field_values: false,
            notify_on_related_action: false,
          },
        ],
      },
      perRecord: false,
    });
    const item = ((res.body as { watch?: Record<string, unknown>[] } | null)?.watch ?? [])[0];
    if (!item) throw unexpectedResponse('watch without result', res.status);
    if (item.status !== 'success') throw translateZohoError(item, res.status);
    const events = ((item.details as { events?: Array<Record<string, unknown>> } | undefined)?.events ?? []).filter(
      (e) => String(e.channel_id ?? opts.channelId) === opts.channelId,
    );
    const expiries = events.map((e) => parseZohoTime(e.channel_expiry)).filter((d): d is Date => d !== null);
    const expiresAt = expiries.length ? new Date(Math.min(...expiries.map((d) => d.getTime()))) : null;
    if (expiresAt && expiresAt.getTime() < requested.getTime() - 60_000) {
      this.opts.logger?.warn(
        { requested: requested.toISOString(), granted: expiresAt.toISOString() },
        'zoho: channel granted a shorter expiry than requested; renew before it',
      );
    }
    this.settings = { ...this.settings, channelId: opts.channelId, channelExpiry: expiresAt?.toISOString() };
    return expiresAt;
  }

  private persistedSettings(): Record<string, unknown> {
    const s = this.settings;
    return {
      ...this.opts.settings,
      originField: s.originField,
      ...(s.originFieldId ? { originFieldId: s.originFieldId } : {}),
      ...(s.channelId ? { channelId: s.channelId } : {}),
      ...(s.channelExpiry ? { channelExpiry: s.channelExpiry } : {}),
      ...(s.emailUnique !== undefined ? { emailUnique: s.emailUnique } : {}),
    };
  }

  async prepare(tagValues: string[]): Promise<PrepareReport> {
    const { created } = await this.ensureOriginField(tagValues);
    return { originFieldReady: true, originFieldCreated: created, manualSteps: [], settings: this.persistedSettings() };
  }

  async provision(opts: ProvisionOptions): Promise<ProvisionReport> {
    const { created, emailUnique } = await this.ensureOriginField(opts.tagValues);
    const expiresAt = await this.registerChannel(opts, 'POST');
    const manualSteps: string[] = [];
    if (!emailUnique) {
      manualSteps.push(
        "Recommended: in Zoho CRM (Setup > Modules and Fields > Leads > Email) enable 'Do not allow duplicate values'. " +
          'Then a lead created in Zoho seconds before the platform pushes the same email is linked without receiving the platform origin tag.',
      );
    }
    return {
      originFieldReady: true,
      originFieldCreated: created,
      subscriptionId: opts.channelId,
      events: [...WATCH_EVENTS],
      expiresAt,
      manualSteps,
      settings: this.persistedSettings(),
    };
  }

  /** Extends the notification channel (channels live at most a week). Re-creates it if it lapsed. */
  async renewWebhooks(opts: ProvisionOptions): Promise<ProvisionReport> {
    let expiresAt: Date | null;
    try {
      expiresAt = await this.registerChannel(opts, 'PATCH');
    } catch (e) {
      // An unknown or lapsed channel cannot be patched: enable it again.
      if (!(e instanceof CrmError) || (e.code !== 'VALIDATION' && e.code !== 'NOT_FOUND')) throw e;
      expiresAt = await this.registerChannel(opts, 'POST');
    }
    return {
      originFieldReady: this.explicitOriginField || this.settings.originFieldId !== undefined,
      originFieldCreated: false,
      subscriptionId: opts.channelId,
      events: [...WATCH_EVENTS],
      expiresAt,
      manualSteps: [],
      settings: this.persistedSettings(),
    };
  }

  async unprovision(): Promise<void> {
    const channelId = this.settings.channelId;
    if (!channelId) return;
    const res = await this.http.request({ method: 'DELETE', path: '/actions/watch', query: { channel_ids: channelId }, perRecord: false }).catch((e: unknown) => {
      // Already gone (expired channels are removed by Zoho): nothing left to undo.
      if (e instanceof CrmError && e.code === 'VALIDATION') return null;
      throw e;
    });
    const item = ((res?.body as { watch?: Record<string, unknown>[] } | null)?.watch ?? [])[0];
    if (item && item.status !== 'success' && item.code !== 'INVALID_DATA') throw translateZohoError(item, res?.status);
    this.settings = { ...this.settings, channelId: undefined, channelExpiry: undefined };
  }
}

export function connectZoho(opts: ConnectionOptions, deps: ZohoDeps = {}): ZohoClient {
  return new ZohoClient(opts, deps);
}
