// The unlinked leads of a HubSpot push: each email becomes one contact, created or linked.
//
// Create first, in batches of <=100 carrying lead_source_system=<originTag>: a contact's
// email is unique in HubSpot, so a batch create is the check. New leads cost ONE call per
// 100. HubSpot's batch create is all or nothing unless each input carries an
// objectWriteTraceId (error handling docs: "For the object APIs' batch create endpoints,
// you can enable multi status responses that include partial failures ... include a
// unique objectWriteTraceId"); we send none, so a batch meeting an existing email is
// refused whole with 409 CONFLICT "Contact already exists. Existing ID: <id>", naming the
// first existing contact only (HubSpot/hubspot-api-python#51). For THAT batch only:
// 1. lookUpByEmail: batch read by email (idProperty=email) of its emails;
// 2. planLinksAndCreates: found -> linked, our non-empty fields written over it WITHOUT
//    the origin tag (a person's contact is never claimed as ours); the rest are created;
// 3. createContacts: batch create of the rest; another 409 (someone created one of them
//    meanwhile) falls back to one-by-one creates, where a 409 links the existing id.
// A 400 falls back to one-by-one creates too, so one bad lead cannot fail the others.
// A retry after a lost answer meets its own contacts as existing emails: linked, never
// created twice (and they carry our tag already, from their create).
import { CrmError, normaliseEmail, type CrmRecord, type FieldValue, type OutboundLead } from '../contract.ts';
import { chunk } from '../kit/chunk.ts';
import type { HubSpotConnection } from './connection.ts';
import { translateError } from './errors.ts';
import { extraProperties } from './fields.ts';
import { FIELD_TO_PROPERTY, ORIGIN_PROPERTY, toHubSpotProperties } from './mappers.ts';
import { omitSkipped } from '../kit/skip.ts';
import { BATCH_LIMIT, findByEmail, type BatchError } from './reads.ts';
import { writeUpdates, type Push, type UpdateItem } from './write-updates.ts';

/** One contact to create on behalf of the leads sharing its email. */
interface CreateItem {
  email: string;
  indices: number[];
  properties: Record<string, string>;
  extra?: Record<string, FieldValue>;
}

/** Creates (or, where the email exists, links) one contact per email of `groups`. */
export async function createOrLink(conn: HubSpotConnection, leads: OutboundLead[], groups: Map<string, number[]>, originTag: string, push: Push): Promise<void> {
  const open = [...groups].filter(([, indices]) => !indices.every((i) => push.has(i)));
  for (const part of chunk(open, BATCH_LIMIT)) {
    const halted = push.halted();
    if (halted) {
      push.skip(part.flatMap(([, indices]) => indices), halted);
      continue;
    }
    const creates = planCreates(leads, part, originTag, push);
    if (creates.length === 0) continue;
    if ((await createBatch(conn, creates, push)) !== 'exists') continue;
    // One of these emails is a contact already (a person's, or ours from an attempt whose
    // answer was lost): find which, link those, create the others.
    const batch = new Map(creates.map((c) => [c.email, c.indices]));
    const existing = await lookUpByEmail(conn, batch, push);
    if (push.halted()) continue;
    const { links, creates: rest } = planLinksAndCreates(leads, batch, existing, originTag, push);
    await writeUpdates(conn, links, push);
    await createContacts(conn, rest, push);
  }
}

/** The create of each email's first lead, tagged with our origin. */
function planCreates(leads: OutboundLead[], part: [string, number[]][], originTag: string, push: Push): CreateItem[] {
  const creates: CreateItem[] = [];
  for (const [email, indices] of part) {
    const first = leads[indices[0]!]!;
    try {
      const properties = { ...extraProperties(first.extra, push.types, 'create', first.skip), ...omitSkipped(toHubSpotProperties(first.fields, 'create', originTag), first, FIELD_TO_PROPERTY) };
      creates.push({ email, indices, properties, extra: first.extra });
    } catch (e) {
      push.fail(indices, translateError(e, 'map lead'));
    }
  }
  return creates;
}

/** Who exists already among `groups`' emails. A failed look-up fails them and halts the push. */
async function lookUpByEmail(conn: HubSpotConnection, groups: Map<string, number[]>, push: Push): Promise<Map<string, CrmRecord>> {
  const emails = [...groups.keys()];
  try {
    return await findByEmail(conn, emails);
  } catch (e) {
    const err = translateError(e, 'batch read by email');
    push.fail(emails.flatMap((m) => groups.get(m)!), err);
    push.halt(err);
    return new Map();
  }
}

/** Found contacts are linked (our fields written over them, never our tag); the other emails are created. */
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

/** Batch creates of the emails nobody holds; one refused for an existing email (a race) goes one by one. */
async function createContacts(conn: HubSpotConnection, creates: CreateItem[], push: Push): Promise<void> {
  for (const part of chunk(creates, BATCH_LIMIT)) {
    const halted = push.halted();
    if (halted) {
      push.skip(part.flatMap((p) => p.indices), halted);
      continue;
    }
    if ((await createBatch(conn, part, push)) === 'exists') {
      conn.opts.logger?.info({ inputs: part.length }, 'hubspot batch create refused: an email exists; creating one by one');
      for (const p of part) await createOne(conn, p, push);
    }
  }
}

/**
 * One batch create (<=100). 'exists': HubSpot refused the whole batch because one of its
 * emails is a contact already (409 CONFLICT); nothing was created and nothing is settled.
 * A refused invalid batch (400) goes one by one; any other failure fails its leads.
 */
async function createBatch(conn: HubSpotConnection, part: CreateItem[], push: Push): Promise<'done' | 'exists'> {
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
    return 'done';
  } catch (e) {
    const err = translateError(e, 'batch create');
    if (err.code === 'CONFLICT') return 'exists';
    if (err.code === 'VALIDATION') {
      conn.opts.logger?.info({ code: err.code, inputs: part.length }, 'hubspot batch create refused; creating one by one');
      for (const p of part) await createOne(conn, p, push);
    } else {
      // The batch may or may not have been applied; a retry meets its contacts as existing emails.
      push.fail(part.flatMap((p) => p.indices), err);
      push.haltOn(err);
    }
    return 'done';
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
