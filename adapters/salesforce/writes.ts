// pushLeads for Salesforce Leads. Writes are idempotent: a Lead we create carries OUR
// lead id in an External ID field (`Platform_Lead_Id__c` by default) and is written by
// upsert on that field, so a retried push can never create a second Lead.
//
// Per chunk of at most 200 leads (sObject Collections accept at most 200 records per
// call), in named steps:
// 1. lookUp: the Leads carrying the unlinked leads' ids (ours from an earlier, maybe
//    unacknowledged, push) or their emails (oldest first).
// 2. planWrites: linked leads and the Leads found become updates (found by email:
//    'linked'); the rest are upserted.
// 3. upsertNew: new Leads by upsert on our lead id, carrying the origin tag; a duplicate
//    rule matching an existing Lead links it instead.
// 4. applyUpdates: updates of known Leads (linked, ours, matched): never the origin tag,
//    never a default.
import { z } from 'zod';
import { CrmError, normaliseEmail, type LeadFields, type OutboundLead, type WriteResult } from '../contract.ts';
import { chunk } from '../kit/chunk.ts';
import { PushResults } from '../kit/push-results.ts';
import { stopsThePush } from '../kit/retry.ts';
import type { SalesforceConnection, SfRecord } from './connection.ts';
import { duplicateMatchIds, fromRecordErrors, toCrmError } from './errors.ts';
import { blankSkipped, omitSkipped } from '../kit/skip.ts';
import { describeFields, extraPayload, writtenExtra, type SfDescribeField } from './fields.ts';
import {
  isSalesforceId,
  LEAD_FIELD_MAP,
  leadFieldsFromSalesforce,
  soqlString,
  toSalesforceCreate,
  toSalesforceUpdate,
  writtenFromSalesforce,
  writtenOnCreate,
} from './mappers.ts';

/** sObject Collections accept at most 200 records per call. */
export const MAX_COLLECTION = 200;
/** Leads per look-up query: keeps the GET query URL far below Salesforce's URI limit. */
const LOOKUP_CHUNK = 50;

const saveResult = z.looseObject({
  id: z.string().nullish(),
  success: z.boolean(),
  errors: z.array(z.unknown()).nullish(),
  created: z.boolean().nullish(),
});
type SaveResult = z.infer<typeof saveResult>;

interface PendingUpdate {
  index: number;
  id: string;
  action: 'updated' | 'linked';
  /** The Lead's synced fields as read just before this write (found by our id or by email). */
  before?: LeadFields;
}

/** Leads found for the unlinked leads: by our lead id (lower-cased) and by email. */
interface Found {
  byExt: Map<string, SfRecord>;
  byEmail: Map<string, SfRecord>;
}

export async function pushLeads(sf: SalesforceConnection, leads: OutboundLead[], originTag: string): Promise<WriteResult[]> {
  if (originTag.trim() === '') throw new CrmError('VALIDATION', 'originTag must not be empty', { provider: 'SALESFORCE' });
  // One result per lead, in order, whatever happens to a chunk's calls. After a call
  // fails in a way the next calls would share (rate limit, token, CRM down), the later
  // chunks are not sent: their leads come back `attempted: false`.
  const results: WriteResult[] = [];
  let halted: CrmError | null = null;
  for (const part of chunk(leads, MAX_COLLECTION)) {
    if (halted) {
      const error = halted;
      results.push(...part.map((lead): WriteResult => ({ localId: lead.localId, ok: false, error, attempted: false })));
      continue;
    }
    const done = await pushChunk(sf, part, originTag);
    results.push(...done.results);
    if (done.halted && stopsThePush(done.halted)) halted = done.halted;
  }
  return results;
}

async function pushChunk(sf: SalesforceConnection, leads: OutboundLead[], originTag: string): Promise<{ results: WriteResult[]; halted: CrmError | null }> {
  const push = new PushResults(leads);
  let defs: ReadonlyMap<string, SfDescribeField> = new Map();
  if (leads.some((l) => l.extra && Object.keys(l.extra).length > 0)) {
    try {
      defs = await describeFields(sf);
    } catch (e) {
      const err = toCrmError(e);
      push.skip(leads.map((_, i) => i), err); // nothing was sent
      return { results: push.finish(notProcessed), halted: err };
    }
  }
  let found: Found;
  try {
    found = await lookUp(sf, leads.filter((l) => !l.externalId));
  } catch (e) {
    // The look-up was the unlinked leads' call; the linked ones were never sent.
    const err = toCrmError(e);
    leads.forEach((lead, i) => (lead.externalId ? push.skip(i, err) : push.fail(i, err)));
    return { results: push.finish(notProcessed), halted: err };
  }
  const { updates, upserts } = planWrites(leads, found, push);
  const duplicates = await upsertNew(sf, leads, upserts, originTag, push, defs);
  if (duplicates === null) {
    // The upsert call failed for its leads; the updates after it are not sent.
    const err = push.halted()!;
    return { results: push.finish((lead) => ({ localId: lead.localId, ok: false, error: err, attempted: false })), halted: err };
  }
  await applyUpdates(sf, leads, [...updates, ...duplicates], push, defs);
  return { results: push.finish(notProcessed), halted: push.halted() };
}

function notProcessed(lead: OutboundLead): WriteResult {
  return { localId: lead.localId, ok: false, error: new CrmError('UPSTREAM', 'no result for this lead', { provider: 'SALESFORCE' }) };
}

/** Finds Leads carrying our lead ids or the leads' emails (oldest first). */
async function lookUp(sf: SalesforceConnection, unlinked: OutboundLead[]): Promise<Found> {
  const found: Found = { byExt: new Map(), byEmail: new Map() };
  for (const part of chunk(unlinked, LOOKUP_CHUNK)) {
    const extIds = [...new Set(part.map((l) => l.localId))];
    const emails = [...new Set(part.map((l) => normaliseEmail(l.fields.email)).filter((e): e is string => e !== null))];
    const clauses = [`${sf.externalIdField} IN (${extIds.map(soqlString).join(', ')})`];
    if (emails.length > 0) clauses.push(`Email IN (${emails.map(soqlString).join(', ')})`);
    const soql =
      `SELECT Id, ${Object.values(LEAD_FIELD_MAP).join(', ')}, ${sf.externalIdField}, CreatedDate FROM Lead WHERE ${clauses.join(' OR ')} ` +
      'ORDER BY CreatedDate, Id';
    for (const r of await sf.query('pushLeads lookup', soql, Number.MAX_SAFE_INTEGER)) {
      const extValue = r[sf.externalIdField];
      const ext = typeof extValue === 'string' ? extValue.toLowerCase() : null;
      if (ext && !found.byExt.has(ext)) found.byExt.set(ext, r);
      const email = normaliseEmail(typeof r.Email === 'string' ? r.Email : null);
      if (email && !found.byEmail.has(email)) found.byEmail.set(email, r); // oldest first
    }
  }
  return found;
}

/** Linked leads, Leads carrying our id and Leads matched by email are updated; the rest upserted (indices). */
function planWrites(leads: OutboundLead[], found: Found, push: PushResults): { updates: PendingUpdate[]; upserts: number[] } {
  const updates: PendingUpdate[] = [];
  const upserts: number[] = [];
  leads.forEach((lead, index) => {
    if (lead.externalId) {
      if (isSalesforceId(lead.externalId)) updates.push({ index, id: lead.externalId, action: 'updated' });
      else push.fail(index, new CrmError('NOT_FOUND', `not a Salesforce id: ${lead.externalId}`, { provider: 'SALESFORCE', retryable: false }));
      return;
    }
    const mine = found.byExt.get(lead.localId.toLowerCase());
    if (mine) {
      updates.push({ index, id: mine.Id, action: 'updated', before: leadFieldsFromSalesforce(mine) });
      return;
    }
    const email = normaliseEmail(lead.fields.email);
    const match = email ? found.byEmail.get(email) : undefined;
    if (match) updates.push({ index, id: match.Id, action: 'linked', before: leadFieldsFromSalesforce(match) });
    else upserts.push(index);
  });
  return { updates, upserts };
}

/**
 * New Leads: upsert on our lead id, carrying the origin tag. Returns the Leads a
 * duplicate rule matched (to link), or null when the call failed as a whole (its leads
 * failed, the push halted).
 */
async function upsertNew(
  sf: SalesforceConnection,
  leads: OutboundLead[],
  upserts: number[],
  originTag: string,
  push: PushResults,
  defs: ReadonlyMap<string, SfDescribeField>,
): Promise<PendingUpdate[] | null> {
  const duplicates: PendingUpdate[] = [];
  // A lead whose extra values cannot be written (a field the Lead lacks, a value of the
  // wrong kind) fails alone, before the call: it would fail the others' JSON too.
  upserts = upserts.filter((i) => {
    try {
      extraPayload(leads[i].extra, defs, 'create', [sf.originField, sf.externalIdField], leads[i].skip);
      return true;
    } catch (e) {
      push.fail(i, toCrmError(e));
      return false;
    }
  });
  if (upserts.length === 0) return duplicates;
  const payload = upserts.map((i) => ({
    ...extraPayload(leads[i].extra, defs, 'create', [sf.originField, sf.externalIdField], leads[i].skip),
    ...omitSkipped(toSalesforceCreate(blankSkipped(leads[i])), leads[i], LEAD_FIELD_MAP, ['LastName', 'Company']),
    [sf.originField]: originTag,
    [sf.externalIdField]: leads[i].localId,
  }));
  let res: unknown;
  try {
    res = await sf.call('pushLeads upsert', () => sf.api.sobject('Lead').upsert(payload, sf.externalIdField, { allOrNone: false }));
  } catch (e) {
    const err = toCrmError(e);
    push.fail(upserts, err);
    push.halt(err);
    return null;
  }
  // allOrNone=false: one result per record, in order (`success`, `errors[]`; Salesforce REST
  // API guide, "Update Records Using sObject Collections": "The SaveResult objects are
  // returned in the order in which the update requests were specified"), so each
  // failure belongs to its own lead.
  saveResults(sf, res, upserts.length, 'upsert').forEach((r, k) => {
    const index = upserts[k];
    if (r.success && r.id) {
      push.succeed(index, {
        externalId: r.id,
        action: r.created ? 'created' : 'updated',
        // An upsert that found our Lead from an earlier push only set what it sent.
        written: r.created ? writtenOnCreate(payload[k]) : writtenFromSalesforce(payload[k]),
        ...withWrittenExtra(leads[index].extra, defs),
      });
      return;
    }
    const error = fromRecordErrors(r.errors);
    // A duplicate rule matched an existing Lead: link it (and write our fields to it)
    // instead of creating another.
    const match = error.code === 'CONFLICT' ? duplicateLeadId(r.errors) : undefined;
    if (match) duplicates.push({ index, id: match, action: 'linked' });
    else push.fail(index, error);
  });
  return duplicates;
}

async function applyUpdates(sf: SalesforceConnection, leads: OutboundLead[], all: PendingUpdate[], push: PushResults, defs: ReadonlyMap<string, SfDescribeField>): Promise<void> {
  const updates = all.filter((u) => {
    try {
      extraPayload(leads[u.index].extra, defs, 'update', [sf.originField, sf.externalIdField], leads[u.index].skip);
      return true;
    } catch (e) {
      push.fail(u.index, toCrmError(e));
      return false;
    }
  });
  if (updates.length === 0) return;
  const payload = updates.map((u) => ({ Id: u.id, ...extraPayload(leads[u.index].extra, defs, 'update', [sf.originField, sf.externalIdField], leads[u.index].skip), ...omitSkipped(toSalesforceUpdate(leads[u.index].fields), leads[u.index], LEAD_FIELD_MAP) }));
  let res: unknown;
  let saved: SaveResult[];
  try {
    res = await sf.call('pushLeads update', () => sf.api.sobject('Lead').update(payload, { allOrNone: false }));
    saved = saveResults(sf, res, updates.length, 'update');
  } catch (e) {
    // The call failed as a whole: the error belongs to the leads it carried (earlier
    // chunks keep their results).
    const err = toCrmError(e);
    push.fail(updates.map((u) => u.index), err);
    push.halt(err);
    return;
  }
  saved.forEach((r, k) => {
    const u = updates[k];
    if (r.success) {
      push.succeed(u.index, {
        externalId: r.id ?? u.id,
        action: u.action,
        // Fields an update leaves alone (a required field we have no value for) keep
        // what the look-up read just before: never what a later read says.
        written: { ...(u.before ?? {}), ...writtenFromSalesforce(payload[k]) },
        ...withWrittenExtra(leads[u.index].extra, defs),
      });
    } else {
      push.fail(u.index, fromRecordErrors(r.errors));
    }
  });
}

function withWrittenExtra(extra: OutboundLead['extra'], defs: ReadonlyMap<string, SfDescribeField>): { writtenExtra?: NonNullable<ReturnType<typeof writtenExtra>> } {
  const out = writtenExtra(extra, defs);
  return out ? { writtenExtra: out } : {};
}

function duplicateLeadId(errors: unknown): string | undefined {
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
function saveResults(sf: SalesforceConnection, res: unknown, expected: number, what: string): SaveResult[] {
  const list = sf.parse(z.array(saveResult), res, what);
  if (list.length !== expected) {
    throw new CrmError('UPSTREAM', `Salesforce ${what} returned ${list.length} results for ${expected} records`, {
      provider: 'SALESFORCE',
    });
  }
  return list;
}
