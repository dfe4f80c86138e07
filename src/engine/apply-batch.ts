// The one way CRM records are applied: a batch of them (a webhook task's records, an
// import or poll page; a single record is a batch of one), with the same rules as
// apply.ts, in bulk where nothing needs deciding:
//   - new people (no link, an email no lead has, not our own origin, first of their
//     record and of their email in the batch) are created, linked and fanned out in ONE
//     transaction by the function that creates one (from-crm.ts);
//   - records of an import or poll whose link already knows their state cost no write.
// Everything else (own-origin records, existing leads by email, real changes, webhook
// events of records already linked: those may carry a person's edit our write
// overwrote) is decided one by one by applyRecord, in batch order. A record that fails
// fails alone: its result says so, the others are applied.
import { hasOwnOrigin, type ChangeEvent, type CrmRecord } from '../../adapters/contract.ts';
import type { Integration } from '../generated/prisma/client.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { applyRecord } from './apply.ts';
import { canonicalFields, fieldsHash } from './fields.ts';
import { createLeadsFromRecords, recordNoun, type ApplyDeps } from './from-crm.ts';
import { readMatches } from './lead-store.ts';
import { knownState } from './links.ts';
import { planFor, readRemoteExtra } from './mapped-fields.ts';
import { recordUnmappable } from './mapping-warnings.ts';
import { sameValue, type Unmappable } from './mappings.ts';
import type { ApplyResult, ApplyVia } from './outcomes.ts';

/** A record to apply, with the webhook event that announced it (none for import and poll). */
export interface Arriving {
  record: CrmRecord;
  event?: ChangeEvent;
}

/** What applying one record did, or why it failed (the others are applied all the same). */
export type BatchResult = ApplyResult | { outcome: 'failed'; leadId: null; error: unknown };

export async function applyRecords(deps: ApplyDeps, integration: Integration, batch: readonly (Arriving | CrmRecord)[], via: ApplyVia): Promise<BatchResult[]> {
  const items: Arriving[] = batch.map((b) => ('record' in b ? b : { record: b }));
  const { prisma } = deps;
  const results: BatchResult[] = new Array(items.length);
  const ids = [...new Set(items.map((a) => a.record.externalId))];
  const emails = [...new Set(items.map((a) => canonicalFields(a.record.fields).email).filter((e): e is string => e !== null))];
  const { links, knownEmails } = await readMatches(prisma, integration, ids, emails);
  const linkById = new Map(links.map((l) => [l.externalId, l]));
  const plan = planFor(deps.connections.adapter(integration.provider), integration);
  // A record whose mapped fields beyond the six differ from what the link knows is decided too.
  const extraKnown = (link: (typeof links)[number], record: CrmRecord) => {
    if (plan.extra.length === 0) return true;
    const known = readRemoteExtra(link.remoteExtra);
    return Object.entries(record.extra ?? {}).every(([k, v]) => k in known && sameValue(known[k], v));
  };
  const slow: number[] = [];
  const fresh: number[] = [];
  const seenEmails = new Set<string>();
  const seenIds = new Set<string>();
  items.forEach(({ record, event }, i) => {
    const firstOfRecord = !seenIds.has(record.externalId);
    seenIds.add(record.externalId);
    const link = linkById.get(record.externalId);
    const remote = canonicalFields(record.fields);
    if (link) {
      if (!event && firstOfRecord && knownState(link, fieldsHash(remote)) && extraKnown(link, record)) results[i] = { outcome: 'unchanged', leadId: link.leadId };
      else slow.push(i);
      return;
    }
    const email = remote.email;
    const ownOrigin = Boolean(event?.ownOrigin) || hasOwnOrigin(record, deps.platformTag);
    if (!firstOfRecord || !email || ownOrigin || knownEmails.has(email) || seenEmails.has(email)) {
      slow.push(i);
      return;
    }
    seenEmails.add(email);
    fresh.push(i);
  });

  if (fresh.length) {
    const noun = recordNoun(deps, integration);
    const log = deps.logger.child({ integrationId: integration.id, provider: integration.provider, via });
    if (via === 'webhook') for (const i of fresh) log.info({ externalId: items[i].record.externalId }, `creating lead from ${noun} ${items[i].record.externalId}`);
    else log.info({ records: fresh.length }, `creating ${fresh.length} lead(s) from ${noun} records`);
    try {
      const unmappable: Unmappable[][] = [];
      const created = await createLeadsFromRecords(prisma, integration, fresh.map((i) => items[i].record), new Date(), { plan, unmappable });
      fresh.forEach((i, n) => (results[i] = { outcome: 'created', leadId: created[n].id }));
      for (const [n, list] of unmappable.entries()) {
        if (list?.length) await recordUnmappable(deps, integration, 'inbound', via, created[n].id, items[fresh[n]].record.externalId, list);
      }
      if (via === 'webhook') {
        fresh.forEach((i, n) => log.info({ leadId: created[n].id, externalId: items[i].record.externalId }, `created lead ${created[n].id} from ${noun} ${items[i].record.externalId}`));
      } else {
        log.info({ created: created.length }, `created ${created.length} lead(s) from ${integration.provider}`);
      }
      for (const lead of created) await deps.pubsub.publish('lead.created', { organizationId: lead.organizationId, lead });
    } catch (e) {
      // Someone (a webhook, another instance) got there first, or one row is refused:
      // decide one by one, so only what really fails fails.
      if (!isUniqueViolation(e)) log.warn({ err: e }, 'creating leads in one transaction failed; applying one by one');
      slow.push(...fresh);
    }
  }
  for (const i of slow.sort((a, b) => a - b)) {
    const { record, event } = items[i];
    try {
      results[i] = await applyRecord(deps, integration, record, via, event);
    } catch (error) {
      results[i] = { outcome: 'failed', leadId: null, error };
    }
  }
  return results;
}

/** The first failure of a batch, thrown: for callers that must not move past one (the poll's cursor). */
export function throwFirstFailure(results: readonly BatchResult[]): void {
  const failed = results.find((r): r is Extract<BatchResult, { outcome: 'failed' }> => r.outcome === 'failed');
  if (failed) throw failed.error;
}
