// pushLeads for HubSpot contacts, in named steps:
// 1. sortInputs: linked leads (externalId set) become updates; unlinked ones are grouped
//    by normalised email (one contact per email). Unlinked leads without an email are
//    refused (VALIDATION): without one a retry could duplicate.
// 2. writeUpdates of the linked leads (write-updates.ts): batch update, <=100 per call;
//    the origin tag is never written on update.
// 3. createOrLink of the unlinked ones (write-creates.ts): batch create first, carrying
//    lead_source_system=<originTag>, ONE call per 100 new emails; only a batch HubSpot
//    refuses because one of its emails exists is read by email, its existing contacts
//    linked (never tagged) and the rest created. A retry after a lost answer links the
//    contacts it made: no duplicates.
// A call-level failure (429, 401, 5xx, network) fails the inputs of that call; the calls
// not yet made are not sent and their inputs come back with `attempted: false`
// (kit/push-results.ts).
import { CrmError, normaliseEmail, type OutboundLead, type WriteResult } from '../contract.ts';
import type { HubSpotConnection } from './connection.ts';
import { translateError } from './errors.ts';
import { extraProperties, extraTypes } from './fields.ts';
import { omitSkipped } from '../kit/skip.ts';
import { FIELD_TO_PROPERTY, toHubSpotProperties } from './mappers.ts';
import { createOrLink } from './write-creates.ts';
import { Push, writeUpdates, type UpdateItem } from './write-updates.ts';

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
  await createOrLink(conn, leads, groups, originTag, push);
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

/** The properties of the fields a push changes (all of them when the engine did not say). */
function onlyChanged(properties: Record<string, string>, changed: OutboundLead['changed']): Record<string, string> {
  if (!changed) return properties;
  const keep = new Set(changed.map((k) => FIELD_TO_PROPERTY[k]));
  return Object.fromEntries(Object.entries(properties).filter(([p]) => keep.has(p)));
}
