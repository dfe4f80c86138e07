// pushLeads for HubSpot contacts, in named steps:
// 1. sortInputs: linked leads (externalId set) become updates; unlinked ones are grouped
//    by normalised email (one contact per email). Unlinked leads without an email are
//    refused (VALIDATION): without one a retry could duplicate.
// 2. writeUpdates of the linked leads: batch update, <=100 per call; the origin tag is
//    never written on update.
// 3. lookUpByEmail: batch read by email (idProperty=email) of the unlinked leads.
// 4. planLinksAndCreates: found -> linked, and our non-empty fields written (action
//    'linked', writeUpdates); the rest are created.
// 5. createContacts: batch create carrying lead_source_system=<originTag>. A 409 (someone
//    created the email meanwhile) falls back to one-by-one creates, where a 409 links the
//    existing id. A 400 falls back the same way so one bad lead cannot fail others.
// A retry after a lost answer finds the records in step 3: no duplicates.
// Per-input failures come back as {ok:false}: a batch update's 207 multi-status `errors`
// are matched to their inputs by `context.ids` (HubSpot's documented batch error shape:
// status, category, message, context). A call-level failure (429, 401, 5xx, network)
// fails the inputs of that call; the calls not yet made are not sent and their inputs
// come back with `attempted: false` (kit/push-results.ts).
import { CrmError, normaliseEmail, type CrmFieldType, type CrmRecord, type FieldValue, type LeadFields, type OutboundLead, type WriteAction, type WriteResult } from '../contract.ts';
import { chunk } from '../kit/chunk.ts';
import { PushResults } from '../kit/push-results.ts';
import type { HubSpotConnection } from './connection.ts';
import { translateBatchError, translateError } from './errors.ts';
import { extraProperties, extraTypes, writtenExtra } from './fields.ts';
import { omitSkipped } from '../kit/skip.ts';
import { FIELD_TO_PROPERTY, ORIGIN_PROPERTY, toHubSpotProperties, writtenFields, writtenOnCreate, writtenOver } from './mappers.ts';
import { BATCH_LIMIT, findByEmail, type BatchError } from './reads.ts';

/** One write to one contact id on behalf of one or more leads. */
interface UpdateItem {
  indices: number[];
  id: string;
  properties: Record<string, string>;
  action: WriteAction;
  /** The contact's fields as read just before this write (linking by email). */
  before?: LeadFields;
  /** The lead's extra fields (OutboundLead.extra), to report what was written. */
  extra?: Record<string, FieldValue>;
}

/** One contact to create on behalf of the leads sharing its email. */
interface CreateItem {
  email: string;
  indices: number[];
  properties: Record<string, string>;
  extra?: Record<string, FieldValue>;
}

/** The results of one push, with HubSpot's view of what a successful write leaves on the contact. */
class Push extends PushResults {
  /** The types of the extra fields the leads write, as the portal defines them. */
  types: ReadonlyMap<string, CrmFieldType> = new Map();

  /** The first lead of `indices` gets `action`; the others (same email or id) are linked to the same contact. */
  wrote(indices: number[], externalId: string, action: WriteAction, properties: Record<string, string>, before?: LeadFields, extra?: Record<string, FieldValue>): void {
    // What the contact holds after this write, as far as we know without reading it
    // again (a read now could already hold a person's edit, which must stay a change).
    const written = action === 'created' ? writtenOnCreate(properties) : before ? writtenOver(before, properties) : writtenFields(properties);
    const wroteExtra = writtenExtra(properties, extra, this.types);
    indices.forEach((i, n) =>
      this.succeed(i, { externalId, action: n === 0 ? action : action === 'created' ? 'linked' : action, written, ...(wroteExtra ? { writtenExtra: wroteExtra } : {}) }),
    );
  }
}

export async function pushLeads(conn: HubSpotConnection, leads: OutboundLead[], originTag: string): Promise<WriteResult[]> {
  const push = new Push(leads);
  const extraNames = [...new Set(leads.flatMap((l) => Object.keys(l.extra ?? {})))];
  if (extraNames.length > 0) {
    try {
      push.types = await extraTypes(conn, extraNames);
    } catch (e) {
      const err = translateError(e, 'list properties');
      push.skip(leads.map((_, i) => i), err); // nothing was sent
      return push.finish(() => ({ localId: '', ok: false, error: err }));
    }
  }
  const { updates, groups } = sortInputs(leads, push);
  await writeUpdates(conn, updates, push);
  const existing = await lookUpByEmail(conn, groups, push);
  const { links, creates } = planLinksAndCreates(leads, groups, existing, originTag, push);
  await writeUpdates(conn, links, push);
  await createContacts(conn, creates, push);
  return push.finish((lead) => ({ localId: lead.localId, ok: false, error: new CrmError('UPSTREAM', 'HubSpot: lead was not processed', { provider: 'HUBSPOT' }) }));
}

/** Linked leads become updates (only the fields the engine says changed); unlinked ones are grouped by email. */
function sortInputs(leads: OutboundLead[], push: Push): { updates: UpdateItem[]; groups: Map<string, number[]> } {
  const updates: UpdateItem[] = [];
  const groups = new Map<string, number[]>();
  leads.forEach((lead, i) => {
    if (lead.externalId) {
      try {
        const properties = { ...omitSkipped(onlyChanged(toHubSpotProperties(lead.fields, 'update'), lead.changed), lead, FIELD_TO_PROPERTY), ...extraProperties(lead.extra, push.types, 'update', lead.skip) };
        updates.push({ indices: [i], id: String(lead.externalId), properties, action: 'updated', extra: lead.extra });
      } catch (e) {
        push.fail([i], translateError(e, 'map lead'));
      }
      return;
    }
    const email = normaliseEmail(lead.fields.email);
    if (!email) {
      push.fail([i], new CrmError('VALIDATION', 'HubSpot: an unlinked lead needs an email (the key that makes creates idempotent)', { provider: 'HUBSPOT', retryable: false }));
      return;
    }
    const g = groups.get(email);
    if (g) g.push(i);
    else groups.set(email, [i]);
  });
  return { updates, groups };
}

/** Who exists already among the unlinked leads' emails. A failed look-up fails them and halts the push. */
async function lookUpByEmail(conn: HubSpotConnection, groups: Map<string, number[]>, push: Push): Promise<Map<string, CrmRecord>> {
  const emails = [...groups.keys()];
  if (emails.length === 0) return new Map();
  const halted = push.halted();
  if (halted) {
    push.skip(emails.flatMap((e) => groups.get(e)!), halted);
    return new Map();
  }
  try {
    return await findByEmail(conn, emails);
  } catch (e) {
    const err = translateError(e, 'batch read by email');
    push.fail(emails.flatMap((m) => groups.get(m)!), err);
    push.halt(err);
    return new Map();
  }
}

/** Found contacts are linked (our fields written over them); the other emails are created. */
function planLinksAndCreates(
  leads: OutboundLead[],
  groups: Map<string, number[]>,
  existing: Map<string, CrmRecord>,
  originTag: string,
  push: Push,
): { links: UpdateItem[]; creates: CreateItem[] } {
  const links: UpdateItem[] = [];
  const creates: CreateItem[] = [];
  for (const [email, indices] of groups) {
    if (indices.every((i) => push.has(i))) continue;
    const first = leads[indices[0]!]!;
    try {
      const rec = existing.get(email);
      if (rec) {
        const properties = { ...omitSkipped(toHubSpotProperties(first.fields, 'link'), first, FIELD_TO_PROPERTY), ...extraProperties(first.extra, push.types, 'link', first.skip) };
        links.push({ indices, id: rec.externalId, properties, action: 'linked', before: rec.fields, extra: first.extra });
      } else {
        const properties = { ...extraProperties(first.extra, push.types, 'create', first.skip), ...omitSkipped(toHubSpotProperties(first.fields, 'create', originTag), first, FIELD_TO_PROPERTY) };
        creates.push({ email, indices, properties, extra: first.extra });
      }
    } catch (e) {
      push.fail(indices, translateError(e, 'map lead'));
    }
  }
  return { links, creates };
}

/** Batch creates of <=100; a refused batch (400/409) or per-input errors fall back to one-by-one creates. */
async function createContacts(conn: HubSpotConnection, creates: CreateItem[], push: Push): Promise<void> {
  for (const part of chunk(creates, BATCH_LIMIT)) {
    const halted = push.halted();
    if (halted) {
      push.skip(part.flatMap((p) => p.indices), halted);
      continue;
    }
    try {
      const res = await conn.call('batch create', () =>
        conn.contacts.batchApi.create({ inputs: part.map((p) => ({ properties: p.properties, associations: [] })) }),
      );
      const byEmail = new Map<string, string>();
      for (const r of res.results) {
        const email = normaliseEmail((r.properties as Record<string, string | null>).email);
        if (email) byEmail.set(email, String(r.id));
      }
      const errs = (res as { errors?: BatchError[] }).errors ?? [];
      for (const p of part) {
        const id = byEmail.get(p.email);
        if (id) push.wrote(p.indices, id, 'created', p.properties, undefined, p.extra);
        else if (errs.length > 0) await createOne(conn, p, push);
        else push.fail(p.indices, new CrmError('UPSTREAM', `HubSpot batch create: no result for ${p.email}`, { provider: 'HUBSPOT' }));
      }
    } catch (e) {
      const err = translateError(e, 'batch create');
      if (err.code === 'CONFLICT' || err.code === 'VALIDATION') {
        conn.opts.logger?.info({ code: err.code, inputs: part.length }, 'hubspot batch create refused; creating one by one');
        for (const p of part) await createOne(conn, p, push);
      } else {
        // The batch may or may not have been applied; a retry finds its records by email.
        push.fail(part.flatMap((p) => p.indices), err);
        push.haltOn(err);
      }
    }
  }
}

/** Creates one contact; a 409 links the existing contact instead. */
async function createOne(conn: HubSpotConnection, p: CreateItem, push: Push): Promise<void> {
  const halted = push.halted();
  if (halted) return push.skip(p.indices, halted);
  try {
    const created = await conn.call('create', () => conn.contacts.basicApi.create({ properties: p.properties, associations: [] }));
    push.wrote(p.indices, String(created.id), 'created', p.properties, undefined, p.extra);
    return;
  } catch (e) {
    const err = translateError(e, 'create');
    if (err.code !== 'CONFLICT') {
      push.fail(p.indices, err);
      push.haltOn(err);
      return;
    }
    let existingId = err.existingId;
    if (!existingId) {
      try {
        existingId = (await findByEmail(conn, [p.email])).get(p.email)?.externalId;
      } catch (e2) {
        push.fail(p.indices, translateError(e2, 'batch read by email'));
        return;
      }
    }
    if (!existingId) {
      push.fail(p.indices, err);
      return;
    }
    const { [ORIGIN_PROPERTY]: _tag, email: _email, ...linkProps } = p.properties;
    await writeUpdates(conn, [{ indices: p.indices, id: existingId, properties: linkProps, action: 'linked', extra: p.extra }], push);
  }
}

/** Batch updates (unique ids per call); a whole-batch 400/409 falls back to one-by-one PATCHes. */
async function writeUpdates(conn: HubSpotConnection, items: UpdateItem[], push: Push): Promise<void> {
  const pending: UpdateItem[] = [];
  for (const it of items) {
    if (Object.keys(it.properties).length === 0) push.wrote(it.indices, it.id, it.action, it.properties, it.before, it.extra); // nothing to write
    else pending.push(it);
  }
  for (const part of distinctIdBatches(pending)) {
    const halted = push.halted();
    if (halted) {
      part.forEach((it) => push.skip(it.indices, halted));
      continue;
    }
    try {
      const res = await conn.call('batch update', () =>
        conn.contacts.batchApi.update({ inputs: part.map((it) => ({ id: it.id, properties: it.properties })) }),
      );
      const done = new Set(res.results.map((r) => String(r.id)));
      const errorFor = new Map<string, CrmError>();
      for (const e of (res as { errors?: BatchError[] }).errors ?? []) {
        const err = translateBatchError(e, 'batch update');
        for (const id of e.context?.ids ?? []) errorFor.set(String(id), err);
      }
      for (const it of part) {
        if (done.has(it.id)) push.wrote(it.indices, it.id, it.action, it.properties, it.before, it.extra);
        else push.fail(it.indices, errorFor.get(it.id) ?? new CrmError('UPSTREAM', `HubSpot batch update: no result for ${it.id}`, { provider: 'HUBSPOT' }));
      }
    } catch (e) {
      const err = translateError(e, 'batch update');
      if (err.code === 'VALIDATION' || err.code === 'CONFLICT') {
        conn.opts.logger?.info({ code: err.code, inputs: part.length }, 'hubspot batch update refused; updating one by one');
        for (const it of part) await updateOne(conn, it, push);
      } else {
        part.forEach((it) => push.fail(it.indices, err));
        push.haltOn(err);
      }
    }
  }
}

/** Calls of <=100 inputs with distinct ids (HubSpot rejects duplicate ids in one batch). */
function distinctIdBatches(items: UpdateItem[]): UpdateItem[][] {
  const calls: UpdateItem[][] = [];
  for (const it of items) {
    let target = calls.find((c) => c.length < BATCH_LIMIT && !c.some((x) => x.id === it.id));
    if (!target) calls.push((target = []));
    target.push(it);
  }
  return calls;
}

async function updateOne(conn: HubSpotConnection, it: UpdateItem, push: Push): Promise<void> {
  const halted = push.halted();
  if (halted) return push.skip(it.indices, halted);
  try {
    await conn.call('update', () => conn.contacts.basicApi.update(it.id, { properties: it.properties }));
    push.wrote(it.indices, it.id, it.action, it.properties, it.before, it.extra);
  } catch (e) {
    const err = translateError(e, 'update');
    push.fail(it.indices, err);
    push.haltOn(err);
  }
}

/** The properties of the fields a push changes (all of them when the engine did not say). */
function onlyChanged(properties: Record<string, string>, changed: OutboundLead['changed']): Record<string, string> {
  if (!changed) return properties;
  const keep = new Set(changed.map((k) => FIELD_TO_PROPERTY[k]));
  return Object.fromEntries(Object.entries(properties).filter(([p]) => keep.has(p)));
}
