// The engine's use of field mappings (mappings.ts): what a push writes through the
// extra channel, what a CRM record changes through it, and the values a mapping could not
// carry, recorded as warnings in the sync history (never dropped silently).
//
// Echo suppression and the three-way comparison work per mapped field, in the CRM's
// terms: CrmLink.remoteExtra holds what the CRM holds as far as we know (the last read,
// or what we last wrote). A record whose value equals it changed nothing (our own write
// coming back included); a value equal to what the platform's value maps to is no change
// either — so a value map that sends two platform values to one CRM option never
// flip-flops between them.
import type { CrmAdapter, CrmRecord, FieldValue, LeadFields } from '../../adapters/contract.ts';
import type { CrmLink, Integration, Lead } from '../generated/prisma/client.ts';
import { parseAttributeChange, readAttributes, type AttributeValue } from './attributes.ts';
import {
  attributeKey,
  fromCrmValue,
  isAttribute,
  isDefaultPlan,
  mappingsOf,
  planOf,
  readsCrm,
  sameValue,
  toCrmValue,
  writesCrm,
  type FieldMapping,
  type MappingPlan,
  type Unmappable,
} from './mappings.ts';

type PlanSource = Pick<Integration, 'id' | 'fieldMappings'>;
const plans = new Map<string, { key: string; plan: MappingPlan }>();

/** The mapping plan of an integration (kept per integration until its mappings change). */
export function planFor(adapter: Pick<CrmAdapter, 'fieldNames'>, integration: PlanSource): MappingPlan {
  const key = JSON.stringify(integration.fieldMappings ?? null);
  const hit = plans.get(integration.id);
  if (hit && hit.key === key) return hit.plan;
  const plan = planOf(mappingsOf(integration.fieldMappings, adapter.fieldNames), adapter.fieldNames);
  plans.set(integration.id, { key, plan });
  return plan;
}

export { isDefaultPlan };

/** What the CRM holds of the mapped extra fields, as far as we know (CrmLink.remoteExtra). */
export function readRemoteExtra(json: unknown): Record<string, FieldValue> {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return {};
  return json as Record<string, FieldValue>;
}

/** The platform value of a mapped field on a lead. */
export function platformValue(lead: Pick<Lead, 'attributes'> & Partial<LeadFields>, platform: string): FieldValue {
  if (isAttribute(platform)) return readAttributes(lead.attributes)[attributeKey(platform)] ?? null;
  return (lead as Record<string, unknown>)[platform] as string | null ?? null;
}

// ------------------------------------------------------------------ outbound

export interface OutboundExtra {
  extra: Record<string, FieldValue>;
  unmappable: Unmappable[];
}

/**
 * The extra values a push writes for a lead: each mapped field written to the CRM whose
 * value the CRM is not known to hold (all non-empty ones for a lead not linked yet).
 */
export function outboundExtra(plan: MappingPlan, lead: Pick<Lead, 'attributes'> & Partial<LeadFields>, link: Pick<CrmLink, 'remoteExtra'> | undefined): OutboundExtra {
  const out: OutboundExtra = { extra: {}, unmappable: [] };
  const known = readRemoteExtra(link?.remoteExtra);
  for (const m of plan.extra) {
    if (!writesCrm(m)) continue;
    const value = platformValue(lead, m.platform);
    const conv = toCrmValue(m, value);
    if (!conv.ok) {
      out.unmappable.push({ mapping: m, value, reason: conv.reason });
      continue;
    }
    if (link && m.crm in known && sameValue(known[m.crm], conv.value)) continue;
    if (!link && conv.value === null) continue;
    out.extra[m.crm] = conv.value;
  }
  return out;
}

// ------------------------------------------------------------------ inbound

export interface MappedChange {
  /** Synced fields set through extra mappings (value maps, other CRM fields). */
  fields: Partial<LeadFields>;
  /** Attributes set (null removes). */
  attributes: Record<string, AttributeValue | null>;
  /** When the CRM changed each platform field applied. */
  times: Record<string, Date>;
  /** What the CRM holds of the mapped fields now (the link's new remoteExtra). */
  snapshot: Record<string, FieldValue>;
  /** A platform value was kept over a CRM change (its rule): it is written back. */
  writeBack: boolean;
  unmappable: Unmappable[];
}

/**
 * True when a record holds a mapped field's value other than the one the link knows the
 * CRM held (a field the link never knew counts as empty): a creation notification of our
 * own record that carries it was edited in the CRM before it went out (Salesforce stamps
 * whole seconds, so an edit within the second of our create still reads as the creation).
 */
export function carriesExtraChanges(remoteExtra: unknown, record: Pick<CrmRecord, 'extra'>): boolean {
  const known = readRemoteExtra(remoteExtra);
  return Object.entries(record.extra ?? {}).some(([name, value]) => !sameValue(known[name] ?? null, value ?? null));
}

export const noMappedChange = (snapshot: Record<string, FieldValue> = {}): MappedChange => ({ fields: {}, attributes: {}, times: {}, snapshot, writeBack: false, unmappable: [] });

export function hasMappedChange(c: MappedChange): boolean {
  return Object.keys(c.fields).length > 0 || Object.keys(c.attributes).length > 0;
}

/**
 * What a CRM record changes through the extra mappings of a lead (null: a new lead, every
 * value read from the CRM is taken). Per field: the CRM's value equal to what the link
 * knows, or to what the platform's value maps to, is no change; a CRM change of a field
 * the platform also changed since is settled by the mapping's rule (crm_wins,
 * platform_wins, newest by the two sides' change times).
 */
export function mappedFromCrm(
  plan: MappingPlan,
  link: Pick<CrmLink, 'remoteExtra'> | null,
  lead: (Pick<Lead, 'attributes' | 'updatedAt'> & Partial<LeadFields>) | null,
  record: Pick<CrmRecord, 'extra' | 'extraUpdatedAt' | 'updatedAt'>,
  fieldTimes: Record<string, Date>,
): MappedChange {
  const known = readRemoteExtra(link?.remoteExtra);
  const out = noMappedChange({ ...known });
  const read = record.extra ?? {};
  for (const m of plan.extra) {
    if (!(m.crm in read)) continue;
    const crmValue = read[m.crm] ?? null;
    out.snapshot[m.crm] = crmValue;
    if (!readsCrm(m)) continue;
    const base = m.crm in known ? known[m.crm] : undefined;
    if (base !== undefined && sameValue(base, crmValue)) continue;
    const crmAt = record.extraUpdatedAt?.[m.crm] ?? record.updatedAt ?? new Date();
    if (lead) {
      const mine = toCrmValue(m, platformValue(lead, m.platform));
      if (mine.ok && sameValue(mine.value, crmValue)) continue;
      const platformChanged = base === undefined ? platformValue(lead, m.platform) !== null : !(mine.ok && sameValue(mine.value, base));
      // A field mapped from the CRM only is never written to it: the platform's value is a
      // local one, there is nothing to write back, and the CRM's change of it is applied.
      if (platformChanged && writesCrm(m) && !crmWins(m, fieldTimes[m.platform] ?? lead.updatedAt, crmAt)) {
        out.writeBack = true;
        continue;
      }
    }
    take(out, m, crmValue, crmAt);
  }
  return out;
}

/** Who wins a field both sides changed since they last agreed. */
function crmWins(m: FieldMapping, platformAt: Date, crmAt: Date): boolean {
  if (m.conflict === 'crm_wins') return true;
  if (m.conflict === 'platform_wins') return false;
  return crmAt.getTime() >= platformAt.getTime();
}

function take(out: MappedChange, m: FieldMapping, crmValue: FieldValue, at: Date) {
  const conv = fromCrmValue(m, crmValue);
  if (!conv.ok) {
    out.unmappable.push({ mapping: m, value: crmValue, reason: conv.reason });
    return;
  }
  if (isAttribute(m.platform)) {
    const key = attributeKey(m.platform);
    try {
      // The attribute rules hold for values from a CRM too (length, dates, lists).
      parseAttributeChange({ [key]: conv.value });
    } catch {
      out.unmappable.push({ mapping: m, value: crmValue, reason: 'the value is not one a lead attribute can hold (too long, or not a text, number, boolean, date or list of texts)' });
      return;
    }
    out.attributes[key] = conv.value as AttributeValue | null;
  } else {
    (out.fields as Record<string, unknown>)[m.platform] = conv.value === null ? null : String(conv.value);
  }
  out.times[m.platform] = at;
}

/** A lead's fields for a new lead (or blanks filled) from a CRM record: fields not read from this CRM are blank, extra-mapped ones set. */
export function inboundFields(plan: MappingPlan, fields: LeadFields, mapped: MappedChange): LeadFields {
  const out = { ...fields };
  for (const k of plan.notFromCrm) if (k !== 'email') out[k] = null;
  return { ...out, ...mapped.fields, email: fields.email };
}

/** The attributes of a lead after a mapped change. */
export function withAttributes(current: unknown, change: Record<string, AttributeValue | null>): Record<string, AttributeValue> {
  const out = { ...readAttributes(current) };
  for (const [k, v] of Object.entries(change)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}
