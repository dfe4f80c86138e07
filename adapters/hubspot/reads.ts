// Reads of HubSpot contacts: by id (with property histories), by email, every contact
// page by page, and the changes since a cursor (search API).
import { CrmError, normaliseEmail, type CrmFieldType, type CrmRecord, type Page } from '../contract.ts';
import { chunk } from '../kit/chunk.ts';
import { cursorCodec } from '../kit/cursor.ts';
import type { Contacts, HubSpotConnection } from './connection.ts';
import { translateBatchError } from './errors.ts';
import { extraTypes, readExtra } from './fields.ts';
import { READ_PROPERTIES, SYNCED_PROPERTIES, toCrmRecord, type HubSpotObject } from './mappers.ts';

type ExtraTypes = ReadonlyMap<string, CrmFieldType>;

/** The properties a read asks for: ours, and the extra fields the portal has. */
function readProperties(types: ExtraTypes): string[] {
  return [...new Set([...READ_PROPERTIES, ...types.keys()])];
}

/**
 * A contact read -> CrmRecord, with the extra fields asked for (normalised) and, when the
 * read carried histories, when each extra field last changed (its newest version).
 */
export function toRecord(obj: HubSpotObject, types: ExtraTypes): CrmRecord {
  const rec = toCrmRecord(obj);
  if (types.size === 0) return rec;
  rec.extra = readExtra(obj.properties ?? {}, types);
  if (obj.propertiesWithHistory) {
    const at: Record<string, Date> = {};
    for (const name of types.keys()) {
      let newest: number | null = null;
      for (const v of obj.propertiesWithHistory[name] ?? []) {
        const t = v?.timestamp ? new Date(v.timestamp).getTime() : NaN;
        if (!Number.isNaN(t) && (newest === null || t > newest)) newest = t;
      }
      if (newest !== null) at[name] = new Date(newest);
    }
    rec.extraUpdatedAt = at;
  }
  return rec;
}

export const BATCH_LIMIT = 100;
/** Records per batch read that asks for property histories. */
export const HISTORY_BATCH_LIMIT = 50;
export const LIST_PAGE_LIMIT = 100;
export const SEARCH_PAGE_LIMIT = 200;

/** HubSpot's documented batch error shape (status, category, message, context). */
export interface BatchError {
  category?: string;
  message?: string;
  context?: Record<string, string[] | undefined>;
}

interface Cursor {
  /** Everything with (lastmodifieddate, id) <= (t, id) has been returned. */
  t: number;
  /** null: every record at time t has been returned. */
  id: string | null;
}

const changesCursor = cursorCodec<Cursor>({
  toJson: (c) => ({ v: 1, t: c.t, id: c.id }),
  fromJson: (o) =>
    o.v === 1 && typeof o.t === 'number' && (o.id === null || (typeof o.id === 'string' && /^\d+$/.test(o.id))) ? { t: o.t, id: o.id } : null,
  invalid: (raw) => new CrmError('VALIDATION', `not a HubSpot changes cursor: ${raw.slice(0, 40)}`, { provider: 'HUBSPOT', retryable: false }),
});

function byTimeThenId(a: CrmRecord, b: CrmRecord): number {
  const ta = a.updatedAt?.getTime() ?? 0;
  const tb = b.updatedAt?.getTime() ?? 0;
  return ta - tb || Number(a.externalId) - Number(b.externalId);
}

/** Batch-read errors other than "not found" mean the read itself failed. */
function throwUnexpectedBatchErrors(res: object, what: string): void {
  const errors = ((res as { errors?: BatchError[] }).errors ?? []).filter((e) => e.category !== 'OBJECT_NOT_FOUND');
  if (errors.length > 0) throw translateBatchError(errors[0]!, what);
}

export async function readRecords(conn: HubSpotConnection, ids: string[], opts: { history?: boolean } = {}): Promise<CrmRecord[]> {
  const unique = [...new Set(ids.map(String))];
  const found = new Map<string, CrmRecord>();
  const types = await extraTypes(conn);
  // With the synced properties' histories, so the engine learns when each field changed
  // (CrmRecord.fieldUpdatedAt). HubSpot answers at most 50 records per batch read that
  // asks for property histories ("The maximum number of inputs supported in a batch
  // request for property histories is 50"), 100 without: a caller needing no history
  // (records no lead is linked to yet) gets twice as many per call of the budget.
  const history = opts.history !== false;
  for (const part of chunk(unique, history ? HISTORY_BATCH_LIMIT : BATCH_LIMIT)) {
    const propertiesWithHistory = history ? [...SYNCED_PROPERTIES, ...types.keys()] : [];
    const res = await conn.call('batch read', () =>
      conn.contacts.batchApi.read({ inputs: part.map((id) => ({ id })), properties: readProperties(types), propertiesWithHistory }, false),
    );
    throwUnexpectedBatchErrors(res, 'batch read');
    for (const r of res.results) found.set(String(r.id), toRecord(r as HubSpotObject, types));
  }
  return unique.map((id) => found.get(id)).filter((r): r is CrmRecord => r !== undefined && !r.archived);
}

/** Existing contacts by (normalised) email. */
export async function findByEmail(conn: HubSpotConnection, emails: string[]): Promise<Map<string, CrmRecord>> {
  const found = new Map<string, CrmRecord>();
  for (const part of chunk(emails, BATCH_LIMIT)) {
    const res = await conn.call('batch read by email', () =>
      conn.contacts.batchApi.read(
        { inputs: part.map((id) => ({ id })), idProperty: 'email', properties: [...READ_PROPERTIES], propertiesWithHistory: [] },
        false,
      ),
    );
    throwUnexpectedBatchErrors(res, 'batch read by email');
    for (const r of res.results) {
      const rec = toCrmRecord(r as HubSpotObject);
      const email = normaliseEmail(rec.fields.email);
      if (email && !rec.archived) found.set(email, rec);
    }
  }
  return found;
}

export async function listPage(conn: HubSpotConnection, cursor: string | null, pageSize: number): Promise<Page> {
  if (cursor !== null && !/^\d+$/.test(cursor)) {
    throw new CrmError('VALIDATION', `not a HubSpot list cursor: ${cursor.slice(0, 40)}`, { provider: 'HUBSPOT', retryable: false });
  }
  const limit = Math.max(1, Math.min(LIST_PAGE_LIMIT, Math.floor(pageSize) || LIST_PAGE_LIMIT));
  const types = await extraTypes(conn);
  const res = await conn.call('list contacts', () =>
    conn.contacts.basicApi.getPage(limit, cursor ?? undefined, readProperties(types), undefined, undefined, false),
  );
  return {
    records: res.results.map((r) => toRecord(r as HubSpotObject, types)),
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
export async function changesSince(conn: HubSpotConnection, cursor: string | null, limit: number): Promise<Page> {
  const size = Math.max(1, Math.min(SEARCH_PAGE_LIMIT, Math.floor(limit) || SEARCH_PAGE_LIMIT));
  const c: Cursor | null = cursor === null ? null : changesCursor.decode(cursor);

  if (c !== null && c.id !== null) {
    const ties = await search(
      conn,
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
      return { records: ties, nextCursor: changesCursor.encode({ t: c.t, id: last.externalId }) };
    }
  }

  const newer = await search(
    conn,
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
      return changesSince(conn, changesCursor.encode({ t: lastTime, id: '0' }), size);
    }
  }
  const last = records[records.length - 1]!;
  return { records, nextCursor: changesCursor.encode({ t: last.updatedAt?.getTime() ?? 0, id: last.externalId }) };
}

/** A changesSince cursor starting at `time`, inclusive (records modified at or after it). */
export function cursorAt(time: Date): string {
  const t = time.getTime();
  if (Number.isNaN(t)) throw new CrmError('VALIDATION', 'cursorAt needs a valid time', { provider: 'HUBSPOT', retryable: false });
  return changesCursor.encode({ t: t - 1, id: null });
}

/** The lastmodifieddate a changes cursor stands at. */
export function cursorTime(cursor: string): Date {
  return new Date(changesCursor.decode(cursor).t);
}

async function search(
  conn: HubSpotConnection,
  filters: { propertyName: string; operator: string; value: string }[],
  sortBy: string,
  limit: number,
): Promise<CrmRecord[]> {
  type SearchRequest = Parameters<Contacts['searchApi']['doSearch']>[0];
  const types = await extraTypes(conn);
  const request = {
    filterGroups: [{ filters }],
    // The API takes {propertyName, direction}; the SDK's type says string[].
    sorts: [{ propertyName: sortBy, direction: 'ASCENDING' }],
    properties: readProperties(types),
    limit,
  } as unknown as SearchRequest;
  const res = await conn.call('search', () => conn.contacts.searchApi.doSearch(request), 'search');
  return res.results.map((r) => toRecord(r as HubSpotObject, types));
}
