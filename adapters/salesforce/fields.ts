// Lead fields beyond the six: discovery (describe), normalised values on reads, JSON
// values on writes. The mapping functions are pure; `describeFields` keeps the Lead
// describe for a few minutes per connection.
//
// Describe field `type` (REST API, "sObject Describe": fields[].type, updateable,
// createable, calculated, custom, picklistValues[] {value, label, active}) -> CrmFieldType:
//   boolean                              -> boolean
//   int, double, currency, percent, long -> number
//   date                                 -> date      (read and written as YYYY-MM-DD)
//   datetime                             -> datetime  (read 2024-05-01T10:00:00.000+0000,
//                                                      normalised to ISO 8601 UTC)
//   picklist                             -> picklist  (active values only)
//   multipicklist                        -> multipicklist (values joined by ";")
//   email -> email, phone -> phone; anything else (string, textarea, url, id, ...) -> text
// Writable: (updateable or createable) and not calculated (formula fields are neither).
//
// Unknown fields: SOQL refuses a field the object lacks ("INVALID_FIELD: No such column"),
// failing the whole query, so reads only select the extra fields the describe lists; a
// field deleted since the describe was cached fails the query once, the describe is read
// again and the query repeated without it (reads.ts).
import { valueFromText } from '../kit/field-values.ts';
import { CrmError, type CrmField, type CrmFieldType, type FieldValue, type LeadFields } from '../contract.ts';
import type { SalesforceConnection } from './connection.ts';
import { LEAD_FIELD_MAP, parseSalesforceDate } from './mappers.ts';

export interface SfDescribeField {
  name: string;
  label?: string;
  type?: string;
  updateable?: boolean;
  createable?: boolean;
  calculated?: boolean;
  custom?: boolean;
  picklistValues?: { value: string; label?: string | null; active?: boolean }[] | null;
}

const SYNCED_BY_FIELD: ReadonlyMap<string, keyof LeadFields> = new Map(
  (Object.entries(LEAD_FIELD_MAP) as [keyof LeadFields, string][]).map(([f, n]) => [n.toLowerCase(), f]),
);

const NUMBER_TYPES = new Set(['int', 'double', 'currency', 'percent', 'long']);

export function fieldType(sfType: string | undefined): CrmFieldType {
  const t = (sfType ?? 'string').toLowerCase();
  if (t === 'boolean') return 'boolean';
  if (NUMBER_TYPES.has(t)) return 'number';
  if (t === 'date') return 'date';
  if (t === 'datetime') return 'datetime';
  if (t === 'picklist') return 'picklist';
  if (t === 'multipicklist') return 'multipicklist';
  if (t === 'email') return 'email';
  if (t === 'phone') return 'phone';
  return 'text';
}

export function toCrmField(f: SfDescribeField): CrmField {
  const type = fieldType(f.type);
  const out: CrmField = {
    name: f.name,
    label: f.label ?? f.name,
    type,
    writable: Boolean(f.updateable || f.createable) && !f.calculated,
    custom: Boolean(f.custom),
  };
  if (type === 'picklist' || type === 'multipicklist') {
    out.options = (f.picklistValues ?? []).filter((p) => p.active !== false).map((p) => ({ value: p.value, label: p.label ?? p.value }));
  }
  const synced = SYNCED_BY_FIELD.get(f.name.toLowerCase());
  if (synced) out.synced = synced;
  return out;
}

/** A value as a SOQL query returns it (JSON) -> FieldValue. */
export function normaliseValue(type: CrmFieldType, raw: unknown): FieldValue {
  if (raw === null || raw === undefined) return null;
  if (typeof raw === 'boolean') return type === 'boolean' ? raw : String(raw);
  if (typeof raw === 'number') return type === 'number' ? raw : String(raw);
  if (typeof raw !== 'string') return null; // compound values (address) are not extra fields
  const v = raw.trim();
  if (v === '') return null;
  return valueFromText(type, v, { date: (d) => d.slice(0, 10), datetime: (d) => parseSalesforceDate(d)?.toISOString() ?? d });
}

/** A FieldValue -> the JSON value Salesforce takes for a field of this type; VALIDATION for a value of the wrong kind. */
export function wireValue(name: string, type: CrmFieldType, value: FieldValue): string | number | boolean | null {
  if (value === null) return null;
  const bad = (why: string) => new CrmError('VALIDATION', `Salesforce field ${name}: ${why}`, { provider: 'SALESFORCE', retryable: false });
  switch (type) {
    case 'multipicklist':
      if (Array.isArray(value)) return value.map(String).join(';');
      if (typeof value === 'string') return value;
      throw bad('a multi-select picklist takes a list of values');
    case 'number':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      throw bad('a number field takes a number');
    case 'boolean':
      if (typeof value === 'boolean') return value;
      throw bad('a checkbox takes true or false');
    case 'date':
      if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
      throw bad('a date must be YYYY-MM-DD');
    case 'datetime': {
      const d = typeof value === 'string' ? new Date(value) : null;
      if (d && !Number.isNaN(d.getTime())) return d.toISOString();
      throw bad('not a date-time');
    }
    default:
      if (Array.isArray(value)) throw bad('a list is only accepted for a multi-select picklist');
      return String(value);
  }
}

/**
 * Extra values -> JSON fields for one write (null clears on updates, left out of creates).
 * A field the org's Lead lacks fails the lead (VALIDATION) before anything is sent: in an
 * sObject Collections request it would fail the other records of the call too.
 */
export function extraPayload(
  extra: Record<string, FieldValue> | undefined,
  defs: ReadonlyMap<string, SfDescribeField>,
  mode: 'create' | 'update',
  reserved: readonly string[] = [],
  /** Synced fields the write leaves to `extra` (OutboundLead.skip): their field may be written here. */
  skipped: readonly (keyof LeadFields)[] = [],
): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  const syncedHere = [...SYNCED_BY_FIELD.entries()].filter(([, k]) => k === 'email' || !skipped.includes(k)).map(([n]) => n);
  const ours = new Set([...reserved, ...syncedHere, 'id'].map((n) => n.toLowerCase()));
  for (const [name, value] of Object.entries(extra ?? {})) {
    if (ours.has(name.toLowerCase())) {
      // The six go through LeadFields; the origin tag and our lead id are crm-sync's own.
      throw new CrmError('VALIDATION', `Salesforce field ${name} is written by crm-sync itself, not as an extra field`, { provider: 'SALESFORCE', retryable: false });
    }
    const def = defs.get(name.toLowerCase());
    if (!def) throw new CrmError('VALIDATION', `Salesforce: the Lead has no field ${name}`, { provider: 'SALESFORCE', retryable: false });
    if (value === null && mode === 'create') continue;
    out[def.name] = wireValue(name, fieldType(def.type), value);
  }
  return out;
}

/** The extra values a write set, as a read returns them. */
export function writtenExtra(extra: Record<string, FieldValue> | undefined, defs: ReadonlyMap<string, SfDescribeField>): Record<string, FieldValue> | undefined {
  if (!extra) return undefined;
  const out: Record<string, FieldValue> = {};
  for (const [name, value] of Object.entries(extra)) {
    const def = defs.get(name.toLowerCase());
    if (!def) continue;
    const type = fieldType(def.type);
    // A checkbox is never empty in Salesforce: cleared, it reads unchecked.
    out[name] = type === 'boolean' && value === null ? false : normaliseValue(type, wireValue(name, type, value));
  }
  return out;
}

/** The extra fields of one Lead row, under the names they were asked by. */
export function readExtra(row: Record<string, unknown>, fields: readonly { asked: string; def: SfDescribeField }[]): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {};
  for (const { asked, def } of fields) {
    const key = def.name in row ? def.name : Object.keys(row).find((k) => k.toLowerCase() === def.name.toLowerCase());
    out[asked] = normaliseValue(fieldType(def.type), key === undefined ? null : row[key]);
  }
  return out;
}

const TTL_MS = 5 * 60_000;
const cache = new WeakMap<SalesforceConnection, { at: number; defs: Promise<Map<string, SfDescribeField>> }>();

/** The Lead's fields by lower-cased API name (GET /sobjects/Lead/describe), cached for a few minutes per connection. */
export function describeFields(sf: SalesforceConnection, fresh = false): Promise<Map<string, SfDescribeField>> {
  const hit = cache.get(sf);
  if (hit && !fresh && Date.now() - hit.at < TTL_MS) return hit.defs;
  const defs = sf.get<{ fields?: SfDescribeField[] }>('describe Lead', '/sobjects/Lead/describe').then((d) => {
    if (!d || !Array.isArray(d.fields)) throw new CrmError('UPSTREAM', 'unexpected Salesforce response to describe Lead', { provider: 'SALESFORCE' });
    return new Map(d.fields.filter((f) => typeof f?.name === 'string').map((f) => [f.name.toLowerCase(), f]));
  });
  cache.set(sf, { at: Date.now(), defs });
  defs.catch(() => cache.delete(sf));
  return defs;
}

export async function listFields(sf: SalesforceConnection): Promise<CrmField[]> {
  return [...(await describeFields(sf, true)).values()].map(toCrmField);
}

/** The extra fields the connection reads that the Lead has (others are left out of reads). */
export async function extraFieldsRead(sf: SalesforceConnection, fresh = false): Promise<{ asked: string; def: SfDescribeField }[]> {
  const names = sf.extraFields;
  if (names.length === 0) return [];
  const defs = await describeFields(sf, fresh);
  return names.flatMap((asked) => {
    const def = defs.get(asked.toLowerCase());
    return def ? [{ asked, def }] : [];
  });
}
