// OutboundLead.skip, the same way for every adapter: the synced fields a write leaves
// alone are blanked before the adapter's mapper runs (so a field the CRM requires on
// create gets the adapter's placeholder), and their CRM fields are then taken out of
// the payload, except such a placeholder when `extra` does not write that field.
import type { CrmField, LeadFields, OutboundLead } from '../contract.ts';

/** The lead's fields with the skipped ones blank. */
export function blankSkipped(lead: Pick<OutboundLead, 'fields' | 'skip'>): LeadFields {
  if (!lead.skip?.length) return lead.fields;
  const out = { ...lead.fields };
  for (const k of lead.skip) if (k !== 'email') out[k] = null;
  return out;
}

/**
 * A write payload without the CRM fields of the skipped synced fields. `required` names
 * CRM fields the record cannot be saved without (kept with their placeholder on create,
 * unless `extra` writes them).
 */
export function omitSkipped<T extends Record<string, unknown>>(
  payload: T,
  lead: Pick<OutboundLead, 'skip' | 'extra'>,
  names: Readonly<Record<keyof LeadFields, string>>,
  required: readonly string[] = [],
): T {
  if (!lead.skip?.length) return payload;
  const out: Record<string, unknown> = { ...payload };
  for (const k of lead.skip) {
    if (k === 'email') continue;
    const name = names[k];
    if (required.includes(name) && !(lead.extra && name in lead.extra)) continue;
    delete out[name];
  }
  return out as T;
}

/** A field listing with the fields the sync keeps for itself marked (CrmField.reserved). */
export function markReserved(fields: CrmField[], names: readonly string[]): CrmField[] {
  const lower = new Set(names.map((n) => n.toLowerCase()));
  return fields.map((f) => (lower.has(f.name.toLowerCase()) ? { ...f, reserved: true } : f));
}
