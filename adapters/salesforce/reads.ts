// Reads of Salesforce Leads (SOQL): by id, every Lead by Id, and the changes since a
// (SystemModstamp, Id) cursor.
import { CrmError, type CrmRecord, type Page } from '../contract.ts';
import { chunk } from '../kit/chunk.ts';
import { cursorCodec } from '../kit/cursor.ts';
import type { SalesforceConnection, SfRecord } from './connection.ts';
import { extraFieldsRead, readExtra } from './fields.ts';
import { id15, isSalesforceId, parseSalesforceDate, soqlDateTime, soqlString } from './mappers.ts';

const READ_CHUNK = 200;
/** Sorts before every real id in `Id >` comparisons. */
const LOWEST_ID = '000000000000000';

function invalidCursor(_raw: string, cause?: unknown): CrmError {
  return new CrmError('VALIDATION', 'invalid Salesforce cursor', { provider: 'SALESFORCE', cause, retryable: false });
}

/** changesSince: the SystemModstamp (ISO, UTC) and Id of the last record returned. */
const changesCursor = cursorCodec<{ t: string; id: string }>({
  toJson: (c) => ({ v: 1, ...c }),
  fromJson: (c) => {
    if (c.v !== 1 || typeof c.id !== 'string' || !isSalesforceId(c.id)) return null;
    if (typeof c.t !== 'string' || Number.isNaN(new Date(c.t).getTime())) return null;
    return { t: c.t, id: c.id };
  },
  invalid: invalidCursor,
});

/** listPage: the Id of the last record returned. */
const listCursor = cursorCodec<{ id: string }>({
  toJson: (c) => ({ v: 1, ...c }),
  fromJson: (c) => (c.v === 1 && typeof c.id === 'string' && isSalesforceId(c.id) ? { id: c.id } : null),
  invalid: invalidCursor,
});

/** SOQL datetime literal at second precision when possible (Salesforce stamps whole seconds). */
function soqlTime(iso: string): string {
  const d = new Date(iso);
  return d.getUTCMilliseconds() === 0 ? soqlDateTime(d).replace('.000Z', 'Z') : soqlDateTime(d);
}

/**
 * Runs a Lead query selecting our fields and the extra fields the Lead has. SOQL refuses
 * a field the object lacks (INVALID_FIELD, the whole query): when a cached describe still
 * listed a field deleted since, the describe is read again and the query repeated once.
 */
async function queryLeads(sf: SalesforceConnection, what: string, soqlFor: (select: string) => string, max: number): Promise<{ rows: SfRecord[]; records: CrmRecord[] }> {
  let extras = await extraFieldsRead(sf);
  const run = (ex: typeof extras) => {
    const own = new Set(sf.fieldList.split(', ').map((f) => f.toLowerCase()));
    const more = [...new Set(ex.map((e) => e.def.name))].filter((n) => !own.has(n.toLowerCase()));
    return sf.query(what, soqlFor([sf.fieldList, ...more].join(', ')), max);
  };
  let rows: SfRecord[];
  try {
    rows = await run(extras);
  } catch (e) {
    if (extras.length === 0 || !(e instanceof CrmError) || e.code !== 'VALIDATION') throw e;
    extras = await extraFieldsRead(sf, true);
    rows = await run(extras);
  }
  const records = rows.map((r) => {
    const rec = sf.toRecord(r);
    if (sf.extraFields.length > 0) rec.extra = readExtra(r, extras);
    return rec;
  });
  return { rows, records };
}

export async function readRecords(sf: SalesforceConnection, ids: string[]): Promise<CrmRecord[]> {
  // An id that is not a Salesforce id cannot exist; sending it would fail the whole query.
  const unique = [...new Map(ids.filter(isSalesforceId).map((id) => [id15(id), id])).values()];
  const out: CrmRecord[] = [];
  for (const part of chunk(unique, READ_CHUNK)) {
    const { records } = await queryLeads(sf, 'readRecords', (select) => `SELECT ${select} FROM Lead WHERE Id IN (${part.map(soqlString).join(', ')})`, part.length);
    out.push(...records);
  }
  return out;
}

export async function listPage(sf: SalesforceConnection, cursor: string | null, pageSize: number): Promise<Page> {
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new CrmError('VALIDATION', `pageSize must be a positive integer, got ${pageSize}`, { provider: 'SALESFORCE' });
  }
  const after = cursor ? listCursor.decode(cursor) : null;
  const where = after ? ` WHERE Id > ${soqlString(after.id)}` : '';
  // One extra row tells whether another page exists.
  const { rows, records } = await queryLeads(sf, 'listPage', (select) => `SELECT ${select} FROM Lead${where} ORDER BY Id LIMIT ${pageSize + 1}`, pageSize + 1);
  const page = rows.slice(0, pageSize);
  const more = rows.length > pageSize;
  return {
    records: records.slice(0, pageSize),
    nextCursor: more ? listCursor.encode({ id: page[page.length - 1].Id }) : null,
  };
}

/**
 * Records changed after the cursor, oldest first, by the compound (SystemModstamp, Id)
 * key so that records sharing one SystemModstamp are never skipped. The returned cursor
 * points after the last record returned; with nothing new it is the cursor passed in.
 */
export async function changesSince(sf: SalesforceConnection, cursor: string | null, limit: number): Promise<Page> {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new CrmError('VALIDATION', `limit must be a positive integer, got ${limit}`, { provider: 'SALESFORCE' });
  }
  const c = cursor ? changesCursor.decode(cursor) : null;
  const where = c ? ` WHERE SystemModstamp > ${soqlTime(c.t)} OR (SystemModstamp = ${soqlTime(c.t)} AND Id > ${soqlString(c.id)})` : '';
  const { rows, records } = await queryLeads(sf, 'changesSince', (select) => `SELECT ${select} FROM Lead${where} ORDER BY SystemModstamp, Id LIMIT ${limit}`, limit);
  if (rows.length === 0) return { records: [], nextCursor: cursor };
  const last = rows[rows.length - 1];
  const stamp = parseSalesforceDate(last.SystemModstamp);
  if (!stamp) throw new CrmError('UPSTREAM', 'Salesforce record without SystemModstamp', { provider: 'SALESFORCE' });
  return {
    records,
    nextCursor: changesCursor.encode({ t: stamp.toISOString(), id: last.Id }),
  };
}

/**
 * A changesSince cursor that starts at `time`, inclusive: Salesforce stamps whole
 * seconds, so the cursor sits before every record of that second (a repeat is harmless,
 * a miss is not).
 */
export function cursorAt(time: Date): string {
  if (Number.isNaN(time.getTime())) throw new CrmError('VALIDATION', 'cursorAt needs a valid time', { provider: 'SALESFORCE' });
  const second = new Date(Math.floor(time.getTime() / 1000) * 1000);
  return changesCursor.encode({ t: second.toISOString(), id: LOWEST_ID });
}

/** The SystemModstamp a changes cursor stands at. */
export function cursorTime(cursor: string): Date {
  return new Date(changesCursor.decode(cursor).t);
}
