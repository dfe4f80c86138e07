// Reads of Zoho Leads: by id, every record by id, the changes since a (Modified_Time, id)
// cursor, and the look-up by email that pushLeads runs before creating anything.
import { CrmError, normaliseEmail, type CrmRecord, type Page } from '../contract.ts';
import { chunk } from '../kit/chunk.ts';
import { cursorCodec } from '../kit/cursor.ts';
import { asLead, dataOf, infoOf, type ZohoConnection } from './connection.ts';
import { extraFieldsRead, readExtra, type ZohoFieldDef } from './fields.ts';
import { compareIds, emailCriteria, formatZohoTime, leadToRecord, parseZohoTime, picklistValue, readFieldNames, type ZohoLead } from './mappers.ts';

/** Zoho's `fields` parameter names at most 50 fields. */
const MAX_FIELDS = 50;

/** The fields a read names (ours and the extra fields the module has), and how to turn an answer into a record. */
async function readShape(conn: ZohoConnection): Promise<{ fields: string; toRecord: (item: Record<string, unknown>) => CrmRecord }> {
  const own = readFieldNames(conn.originField);
  const extras: ZohoFieldDef[] = await extraFieldsRead(conn, MAX_FIELDS - own.length);
  const names = [...new Set([...own, ...extras.map((d) => d.api_name)])];
  const asked = (conn.opts.extraFields ?? []).length > 0;
  return {
    fields: names.join(','),
    toRecord: (item) => {
      const lead = asLead(item);
      const rec = leadToRecord(lead, conn.originField);
      if (asked) rec.extra = readExtra(lead, extras);
      return rec;
    },
  };
}

/** Records per read by ids and per write. */
export const BATCH = 100;
export const MAX_PAGE = 200;
const SEARCH_EMAILS_PER_CALL = 10;

function invalidCursor(): CrmError {
  return new CrmError('VALIDATION', 'Zoho: cursor is not one this adapter issued', { provider: 'ZOHO', retryable: false });
}

/** changesSince: the (Modified_Time, id) of the last record returned. */
const changesCursor = cursorCodec<{ t: number; id: string }>({
  toJson: (c) => ({ t: c.t, id: c.id }),
  fromJson: (v) => (typeof v.t === 'number' && typeof v.id === 'string' ? { t: v.t, id: v.id } : null),
  invalid: invalidCursor,
});

/** listPage: Zoho's page token and the page size it was issued for. */
const listCursor = cursorCodec<{ pt: string; pp: number }>({
  toJson: (c) => ({ pt: c.pt, pp: c.pp }),
  fromJson: (v) => (typeof v.pt === 'string' && typeof v.pp === 'number' ? { pt: v.pt, pp: v.pp } : null),
  invalid: invalidCursor,
});

export async function readRecords(conn: ZohoConnection, ids: string[]): Promise<CrmRecord[]> {
  const unique = [...new Set(ids.filter((id) => id !== ''))];
  const byId = new Map<string, CrmRecord>();
  if (unique.length === 0) return [];
  const { fields, toRecord } = await readShape(conn);
  for (const batch of chunk(unique, BATCH)) {
    const res = await conn.http.request({ method: 'GET', path: '/Leads', query: { ids: batch.join(','), fields } });
    for (const item of dataOf(res, 'read by ids')) {
      const rec = toRecord(item);
      byId.set(rec.externalId, rec);
    }
  }
  return unique.map((id) => byId.get(id)).filter((r): r is CrmRecord => !!r);
}

/** Every record, by id ascending (ids only grow, so new records land on later pages). */
export async function listPage(conn: ZohoConnection, cursor: string | null, pageSize: number): Promise<Page> {
  const c = cursor === null ? null : listCursor.decode(cursor);
  const perPage = c ? c.pp : Math.max(1, Math.min(MAX_PAGE, Math.floor(pageSize)));
  const { fields, toRecord } = await readShape(conn);
  const res = await conn.http.request({
    method: 'GET',
    path: '/Leads',
    query: {
      fields,
      sort_by: 'id',
      sort_order: 'asc',
      per_page: perPage,
      page_token: c?.pt,
    },
  });
  const records = dataOf(res, 'list').map(toRecord);
  const { more, nextToken } = infoOf(res);
  return { records, nextCursor: more && nextToken ? listCursor.encode({ pt: nextToken, pp: perPage }) : null };
}

/**
 * Records changed after the cursor, oldest first, at most `limit`. The cursor is the
 * (Modified_Time, id) of the last record returned: records sharing that time with a
 * larger id still come next time, so ties on the (second-resolution) time lose nothing.
 * Zoho does not document the order of equal times, so a page is cut only where the
 * time changes: all records of the last time included have been seen.
 */
export async function changesSince(conn: ZohoConnection, cursor: string | null, limit: number): Promise<Page> {
  const c = cursor === null ? null : changesCursor.decode(cursor);
  const max = Math.max(1, Math.floor(limit));
  const after = (r: CrmRecord) => {
    if (!c) return true;
    const t = r.updatedAt?.getTime() ?? 0;
    return t > c.t || (t === c.t && compareIds(r.externalId, c.id) > 0);
  };
  const sortKey = (a: CrmRecord, b: CrmRecord) =>
    (a.updatedAt?.getTime() ?? 0) - (b.updatedAt?.getTime() ?? 0) || compareIds(a.externalId, b.externalId);

  const candidates: CrmRecord[] = [];
  const { fields, toRecord } = await readShape(conn);
  // Zoho's If-Modified-Since keeps records modified after the given second; one second
  // earlier keeps the cursor's own second (ties), filtered exactly below.
  const headers = c ? { 'If-Modified-Since': formatZohoTime(new Date(c.t - 1000)) } : undefined;
  let pageToken: string | undefined;
  for (;;) {
    const res = await conn.http.request({
      method: 'GET',
      path: '/Leads',
      query: { fields, sort_by: 'Modified_Time', sort_order: 'asc', per_page: MAX_PAGE, page_token: pageToken },
      headers,
    });
    const page = dataOf(res, 'changes').map(toRecord);
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
  const nextCursor = last ? changesCursor.encode({ t: last.updatedAt?.getTime() ?? 0, id: last.externalId }) : cursor;
  return { records, nextCursor };
}

/** A changesSince cursor that starts at `time` (its whole second: Zoho times have no milliseconds). */
export function cursorAt(time: Date): string {
  return changesCursor.encode({ t: Math.floor(time.getTime() / 1000) * 1000, id: '' });
}

/** The Modified_Time a changes cursor stands at. */
export function cursorTime(cursor: string): Date {
  return new Date(changesCursor.decode(cursor).t);
}

/** Finds existing records for normalised emails; prefers one carrying our tag, then the oldest. */
export async function matchByEmail(conn: ZohoConnection, emails: string[], originTag: string): Promise<Map<string, ZohoLead>> {
  const found = new Map<string, ZohoLead[]>();
  const add = (item: Record<string, unknown>) => {
    const lead = asLead(item);
    const email = normaliseEmail(typeof lead.Email === 'string' ? lead.Email : null);
    if (!email || !emails.includes(email)) return; // search `equals` behaves like contains
    const list = found.get(email) ?? [];
    if (!list.some((l) => l.id === lead.id)) list.push(lead);
    found.set(email, list);
  };

  for (const batch of chunk(emails, SEARCH_EMAILS_PER_CALL)) {
    for (let page = 1; page <= 10; page++) {
      const res = await conn.http.request({
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
    const fields = readFieldNames(conn.originField).join(',');
    const since = formatZohoTime(new Date(conn.now() - conn.settings.recentWindowMs));
    let pageToken: string | undefined;
    for (let page = 0; page < conn.settings.recentMaxPages; page++) {
      const res = await conn.http.request({
        method: 'GET',
        path: '/Leads',
        query: { fields, sort_by: 'Modified_Time', sort_order: 'desc', per_page: MAX_PAGE, page_token: pageToken },
        headers: { 'If-Modified-Since': since },
      });
      dataOf(res, 'recent').forEach(add);
      const { more, nextToken } = infoOf(res);
      if (!more || !nextToken) break;
      if (page === conn.settings.recentMaxPages - 1) {
        conn.opts.logger?.warn({ pages: page + 1 }, 'zoho: more recently modified leads than the look-up reads; relying on search and duplicate checks');
      }
      pageToken = nextToken;
    }
  }

  const out = new Map<string, ZohoLead>();
  for (const [email, list] of found) {
    list.sort((a, b) => {
      const ours = (l: ZohoLead) => (picklistValue(l[conn.originField])?.toLowerCase() === originTag.toLowerCase() ? 0 : 1);
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
