// The bookkeeping of one HubSpot push (Push: each lead's result, and what a successful
// write leaves on the contact) and its batch updates: linked leads' changes and the links
// made by email. Per-input failures of a batch update come back as {ok:false}: its 207
// multi-status `errors` are matched to their inputs by `context.ids` (HubSpot's documented
// batch error shape: status, category, message, context).
import { CrmError, type CrmFieldType, type FieldValue, type LeadFields, type WriteAction } from '../contract.ts';
import { PushResults } from '../kit/push-results.ts';
import type { HubSpotConnection } from './connection.ts';
import { translateBatchError, translateError } from './errors.ts';
import { writtenExtra } from './fields.ts';
import { writtenFields, writtenOnCreate, writtenOver } from './mappers.ts';
import { BATCH_LIMIT, type BatchError } from './reads.ts';

/** One write to one contact id on behalf of one or more leads. */
export interface UpdateItem {
  indices: number[];
  id: string;
  properties: Record<string, string>;
  action: WriteAction;
  /** The contact's fields as read just before this write (linking by email). */
  before?: LeadFields;
  /** The lead's extra fields (OutboundLead.extra), to report what was written. */
  extra?: Record<string, FieldValue>;
}

/** The results of one push, with HubSpot's view of what a successful write leaves on the contact. */
export class Push extends PushResults {
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

/** Batch updates (unique ids per call); a whole-batch 400/409 falls back to one-by-one PATCHes. */
export async function writeUpdates(conn: HubSpotConnection, items: UpdateItem[], push: Push): Promise<void> {
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
