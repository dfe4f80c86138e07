// pushLeads for Zoho CRM Leads (REST API v7), in named steps:
// 1. sortInputs: linked leads (externalId known) become updates; unlinked ones are grouped
//    by email (leads without an email are created as they are).
// 2. matchUnlinked: unlinked leads are first matched by email, WITHOUT writing anything
//    (reads.ts matchByEmail):
//     1. `GET /Leads/search?criteria=((Email:equals:a)or...)` (10 emails per call). Search
//        answers 204 when nothing matches, and also for a while after a write (the
//        search index lags), so
//     2. the emails still unmatched are looked for among the records modified in the last
//        `recentWindowMs` (default 10 min) through `GET /Leads` + `If-Modified-Since`,
//        which reads the database, not the index.
//   A match is linked: updated with our fields, tag untouched (action 'linked'). Several
//   inputs with one email: the first is written, the others link to its record.
// 3. createLeads: leads still unmatched are created carrying the origin tag, by one of two
//    strategies (setting `writeStrategy`, default 'auto'):
//     'insert': `POST /Leads`. When Email is a unique field, a record that appeared in the
//        meantime makes Zoho answer DUPLICATE_DATA naming it: we link it instead (update
//        without the tag). Never stamps our tag on an existing record.
//     'upsert': `POST /Leads/upsert` with duplicate_check_fields ["Email"]. Never creates
//        a duplicate even when Email is not unique; if Zoho reports action "update" (a
//        record the two look-ups above could not see yet), it is reported 'linked' and it
//        carries our tag from then on (logged as a warning).
//     'auto': 'insert' when provision() found Email unique, else 'upsert'.
// 4. updateLeads: `PUT /Leads` in batches of 100 for linked and matched records. The
//    origin tag is never sent on updates, so a record keeps whatever tag it had.
// - Every write sends `"trigger": []` (setting `triggers`): no Zoho workflow, approval or
//   blueprint runs on our writes, so no workflow-made change can echo back to the
//   platform as if a person had made it. Set `triggers` (e.g. ["workflow"]) to opt in.
// - One result per input, in input order; per-record failures are `{ok: false}`. A call
//   failing as a whole (rate limit, auth, network, 5xx) fails every input of that call
//   and stops, since the next calls would fail the same way: the writes never sent come
//   back `attempted: false` (kit/push-results.ts).
import { CrmError, normaliseEmail, type LeadFields, type OutboundLead, type WriteAction, type WriteResult } from '../contract.ts';
import { chunk } from '../kit/chunk.ts';
import { PushResults } from '../kit/push-results.ts';
import { dataOf, type ZohoConnection } from './connection.ts';
import { duplicateRecordId, translateZohoError, unexpectedResponse } from './errors.ts';
import { extraData, leadFieldDefs, writtenExtra, type ZohoFieldDef } from './fields.ts';
import type { ZohoResponse } from './http.ts';
import { fieldsToZoho, leadToRecord, writtenFromZoho, ZOHO_FIELD_NAMES, type ZohoLead } from './mappers.ts';
import { blankSkipped, omitSkipped } from '../kit/skip.ts';
import { BATCH, matchByEmail } from './reads.ts';

interface PendingUpdate {
  index: number;
  id: string;
  action: WriteAction;
  /** The record's synced fields as read just before this write (found by email). */
  before?: LeadFields;
}

interface Plan {
  updates: PendingUpdate[];
  /** Normalised email -> unlinked input indices. */
  groups: Map<string, number[]>;
  /** Indices of the leads to create. */
  creates: number[];
  /** Index of a lead to create -> the inputs with the same email that link to its record. */
  followers: Map<number, number[]>;
}

/** The results of one push, and the Leads fields the leads' extra values are written to. */
class Push extends PushResults {
  defs: ReadonlyMap<string, ZohoFieldDef> = new Map();

  /** A lead's extra values as Zoho fields, or why they cannot be written (VALIDATION). */
  extra(conn: ZohoConnection, leads: OutboundLead[], index: number, mode: 'create' | 'update'): Record<string, unknown> | CrmError {
    try {
      return extraData(leads[index]!.extra, this.defs, mode, [conn.originField], leads[index]!.skip);
    } catch (e) {
      if (!(e instanceof CrmError)) throw e;
      return e;
    }
  }

  wroteExtra(lead: OutboundLead, data: Record<string, unknown>): { writtenExtra?: NonNullable<ReturnType<typeof writtenExtra>> } {
    const out = writtenExtra(lead.extra, data, this.defs);
    return out ? { writtenExtra: out } : {};
  }
}

export async function pushLeads(conn: ZohoConnection, leads: OutboundLead[], originTag: string): Promise<WriteResult[]> {
  const push = new Push(leads);
  if (leads.some((l) => l.extra && Object.keys(l.extra).length > 0)) {
    try {
      push.defs = await leadFieldDefs(conn);
    } catch (e) {
      const err = callFailed(e, push);
      push.skip(leads.map((_, i) => i), err); // nothing was sent
      return push.finish((lead) => ({ localId: lead.localId, ok: false, error: err, attempted: false }));
    }
  }
  const plan = sortInputs(leads);
  await matchUnlinked(conn, leads, plan, originTag, push);
  const linkLater = await createLeads(conn, leads, plan, originTag, push);
  await updateLeads(conn, leads, [...plan.updates, ...linkLater].sort((a, b) => a.index - b.index), push);
  // Writes never sent because an earlier call failed for good (429, auth, network, 5xx)
  // are reported as not attempted: that failure was not theirs.
  const stopped = push.halted();
  const unfinished = new CrmError('UPSTREAM', 'Zoho: write was not attempted', { provider: 'ZOHO' });
  return push.finish(
    (lead): WriteResult => (stopped ? { localId: lead.localId, ok: false, error: stopped, attempted: false } : { localId: lead.localId, ok: false, error: unfinished }),
  );
}

/** A whole-call failure: halts the push when the next calls would fail alike. Anything not a CrmError is a bug and rethrown. */
function callFailed(e: unknown, push: PushResults): CrmError {
  if (!(e instanceof CrmError)) throw e;
  return push.haltOn(e);
}

function sortInputs(leads: OutboundLead[]): Plan {
  const plan: Plan = { updates: [], groups: new Map(), creates: [], followers: new Map() };
  leads.forEach((lead, index) => {
    if (lead.externalId) {
      plan.updates.push({ index, id: lead.externalId, action: 'updated' });
      return;
    }
    const email = normaliseEmail(lead.fields.email);
    if (!email) {
      plan.creates.push(index);
      return;
    }
    const g = plan.groups.get(email);
    if (g) g.push(index);
    else plan.groups.set(email, [index]);
  });
  return plan;
}

/** Matched emails become 'linked' updates; the others are created (their first lead; the rest follow it). */
async function matchUnlinked(conn: ZohoConnection, leads: OutboundLead[], plan: Plan, originTag: string, push: Push): Promise<void> {
  let matches = new Map<string, ZohoLead>();
  if (plan.groups.size > 0) {
    try {
      matches = await matchByEmail(conn, [...plan.groups.keys()], originTag);
    } catch (e) {
      const err = callFailed(e, push);
      for (const indices of plan.groups.values()) push.fail(indices, err);
      plan.groups.clear();
    }
  }
  for (const [email, indices] of plan.groups) {
    const match = matches.get(email);
    if (match) {
      const before = leadToRecord(match, conn.originField).fields;
      for (const i of indices) plan.updates.push({ index: i, id: match.id, action: 'linked', before });
    } else {
      plan.creates.push(indices[0]!);
      if (indices.length > 1) plan.followers.set(indices[0]!, indices.slice(1));
    }
  }
}

/** Creates what has no record yet, carrying the origin tag; returns the updates that link records found on the way. */
async function createLeads(conn: ZohoConnection, leads: OutboundLead[], plan: Plan, originTag: string, push: Push): Promise<PendingUpdate[]> {
  const linkLater: PendingUpdate[] = [];
  const extras = new Map<number, Record<string, unknown>>();
  const creatable = plan.creates.filter((i) => {
    const extra = push.extra(conn, leads, i, 'create');
    if (extra instanceof CrmError) {
      push.fail([i, ...(plan.followers.get(i) ?? [])], extra);
      return false;
    }
    extras.set(i, extra);
    return true;
  });
  for (const batch of chunk(creatable.sort((a, b) => a - b), BATCH)) {
    if (push.halted()) break;
    const data = batch.map((i) => ({ ...extras.get(i), ...omitSkipped(fieldsToZoho(blankSkipped(leads[i]!), 'create'), leads[i]!, ZOHO_FIELD_NAMES, ['Last_Name']), [conn.originField]: originTag }));
    let res: ZohoResponse;
    try {
      res = await sendCreates(conn, data);
    } catch (e) {
      push.fail(batch, callFailed(e, push));
      continue;
    }
    const items = dataOf(res, 'create');
    if (items.length !== batch.length) throw unexpectedResponse(`create: ${items.length} results for ${batch.length} records`, res.status);
    batch.forEach((index, j) => recordCreate(conn, { index, lead: leads[index]!, data: data[j]!, item: items[j]!, status: res.status }, plan, push, linkLater));
  }
  return linkLater;
}

/** One create call, by the write strategy in force ('auto': 'insert' when Email is unique, else 'upsert'). */
function sendCreates(conn: ZohoConnection, data: Record<string, unknown>[]): Promise<ZohoResponse> {
  const settings = conn.settings;
  const strategy = settings.writeStrategy === 'auto' ? (settings.emailUnique ? 'insert' : 'upsert') : settings.writeStrategy;
  return strategy === 'insert'
    ? conn.http.request({ method: 'POST', path: '/Leads', body: { data, trigger: settings.triggers }, perRecord: true })
    : conn.http.request({
        method: 'POST',
        path: '/Leads/upsert',
        body: { data, duplicate_check_fields: ['Email'], trigger: settings.triggers },
        perRecord: true,
      });
}

/** The result of one record of a create call: created (or upserted into a record), a record to link, or a failure. */
function recordCreate(
  conn: ZohoConnection,
  r: { index: number; lead: OutboundLead; data: Record<string, unknown>; item: Record<string, unknown>; status: number },
  plan: Plan,
  push: Push,
  linkLater: PendingUpdate[],
): void {
  const { index, data, item } = r;
  const followers = plan.followers.get(index) ?? [];
  const details = (item.details ?? {}) as Record<string, unknown>;
  if (item.status === 'success' && item.code === 'SUCCESS' && details.id !== undefined) {
    const id = String(details.id);
    const existed = item.action === 'update';
    if (existed) {
      conn.opts.logger?.warn({ id }, 'zoho: upsert matched a record the email look-ups did not see; it now carries the origin tag');
    }
    push.succeed(index, {
      externalId: id,
      action: existed ? 'linked' : 'created',
      written: writtenFromZoho(data),
      record: existed ? undefined : leadToRecord({ ...data, id, Created_Time: details.Created_Time, Modified_Time: details.Modified_Time }, conn.originField),
      ...push.wroteExtra(r.lead, data),
    });
    for (const f of followers) linkLater.push({ index: f, id, action: 'linked' });
    return;
  }
  const existingId = item.code === 'DUPLICATE_DATA' ? duplicateRecordId(details) : undefined;
  if (existingId && details.api_name === 'Email') {
    // Someone created this email since our look-up: link it, tag untouched.
    linkLater.push({ index, id: existingId, action: 'linked' });
    for (const f of followers) linkLater.push({ index: f, id: existingId, action: 'linked' });
    return;
  }
  const err = translateZohoError(item, r.status);
  push.fail(index, err);
  push.fail(followers, err);
}

/** Updates linked and matched records: our fields, never the origin tag. */
async function updateLeads(conn: ZohoConnection, leads: OutboundLead[], all: PendingUpdate[], push: Push): Promise<void> {
  const extras = new Map<number, Record<string, unknown>>();
  const updates = all.filter((u) => {
    const extra = push.extra(conn, leads, u.index, 'update');
    if (extra instanceof CrmError) {
      push.fail(u.index, extra);
      return false;
    }
    extras.set(u.index, extra);
    return true;
  });
  for (const batch of chunk(updates, BATCH)) {
    if (push.halted()) break;
    const data = batch.map((u) => ({ id: u.id, ...extras.get(u.index), ...omitSkipped(fieldsToZoho(leads[u.index]!.fields, 'update'), leads[u.index]!, ZOHO_FIELD_NAMES) }));
    let res: ZohoResponse;
    try {
      res = await conn.http.request({ method: 'PUT', path: '/Leads', body: { data, trigger: conn.settings.triggers }, perRecord: true });
    } catch (e) {
      push.fail(
        batch.map((u) => u.index),
        callFailed(e, push),
      );
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
        push.succeed(u.index, { externalId: u.id, action: u.action, written, ...push.wroteExtra(leads[u.index]!, data[j]!) });
      } else {
        push.fail(u.index, translateZohoError(item, res.status));
      }
    });
  }
}
