// Contact properties beyond the six: discovery (properties API), normalised values on
// reads, wire values on writes. The mapping functions are pure; `knownProperties` keeps
// the portal's property definitions for a few minutes per connection.
//
// HubSpot property `type` (properties API: "bool, enumeration, date, datetime, string,
// number, phone_number"; `fieldType` says how it shows) -> CrmFieldType:
//   bool                                   -> boolean   ("true" / "false")
//   enumeration, fieldType booleancheckbox -> boolean
//   enumeration, fieldType checkbox        -> multipicklist ("A string representing a set
//                                             of options, with options separated by a semicolon")
//   enumeration (select, radio, ...)       -> picklist
//   number                                 -> number
//   date                                   -> date      (read as YYYY-MM-DD)
//   datetime                               -> datetime  (ISO 8601 UTC)
//   phone_number, string/phonenumber       -> phone
//   string named email                     -> email
//   anything else                          -> text
// Writable: not modificationMetadata.readOnlyValue, not calculated (calculation_equation).
// Custom: not hubspotDefined.
//
// Wire form on writes (HubSpot takes every property value as a string): number -> its
// decimal text; boolean -> "true"/"false"; multi-select -> "a;b"; date -> YYYY-MM-DD
// ("Values must be represented in UTC time and can be formatted as ISO 8601 strings or
// EPOCH-timestamps in milliseconds (i.e. midnight UTC)"); datetime -> ISO 8601 UTC;
// null -> "" ("" clears a property) and omitted on creates.
import { valueFromText } from '../kit/field-values.ts';
import { CrmError, type CrmField, type CrmFieldType, type FieldValue, type LeadFields } from '../contract.ts';
import type { HubSpotConnection } from './connection.ts';
import { FIELD_TO_PROPERTY, ORIGIN_PROPERTY } from './mappers.ts';

/** A property definition as the properties API lists it (the parts used here). */
export interface HubSpotPropertyDef {
  name: string;
  label?: string;
  type?: string;
  fieldType?: string;
  calculated?: boolean;
  hubspotDefined?: boolean;
  options?: { value: string; label: string; hidden?: boolean }[];
  modificationMetadata?: { readOnlyValue?: boolean };
}

const SYNCED_BY_PROPERTY: ReadonlyMap<string, keyof LeadFields> = new Map(
  (Object.entries(FIELD_TO_PROPERTY) as [keyof LeadFields, string][]).map(([f, p]) => [p, f]),
);

export function fieldType(def: HubSpotPropertyDef): CrmFieldType {
  const t = def.type ?? 'string';
  const ft = def.fieldType ?? '';
  if (t === 'bool') return 'boolean';
  if (t === 'enumeration') return ft === 'booleancheckbox' ? 'boolean' : ft === 'checkbox' ? 'multipicklist' : 'picklist';
  if (t === 'number') return 'number';
  if (t === 'date') return 'date';
  if (t === 'datetime') return 'datetime';
  if (t === 'phone_number' || ft === 'phonenumber') return 'phone';
  if (def.name === 'email') return 'email';
  return 'text';
}

export function toCrmField(def: HubSpotPropertyDef): CrmField {
  const type = fieldType(def);
  const synced = SYNCED_BY_PROPERTY.get(def.name);
  const out: CrmField = {
    name: def.name,
    label: def.label ?? def.name,
    type,
    writable: !(def.modificationMetadata?.readOnlyValue ?? false) && !def.calculated && def.fieldType !== 'calculation_equation',
    custom: !(def.hubspotDefined ?? false),
  };
  if (type === 'picklist' || type === 'multipicklist') {
    out.options = (def.options ?? []).filter((o) => !o.hidden).map((o) => ({ value: o.value, label: o.label }));
  }
  if (synced) out.synced = synced;
  return out;
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

// HubSpot returns dates as YYYY-MM-DD or as midnight UTC in ms, date-times as ISO text or ms.
const HUBSPOT_DATES = {
  date: (v: string) => (/^\d{4}-\d{2}-\d{2}/.test(v) ? v.slice(0, 10) : /^\d+$/.test(v) ? isoDate(Number(v)) : v),
  datetime: (v: string) => {
    const d = /^\d+$/.test(v) ? new Date(Number(v)) : new Date(v);
    return Number.isNaN(d.getTime()) ? v : d.toISOString();
  },
};

/** One property value as HubSpot returns it -> FieldValue (null for no value). */
export function normaliseValue(type: CrmFieldType, raw: string | null | undefined): FieldValue {
  if (raw === null || raw === undefined) return null;
  const v = raw.trim();
  if (v === '') return null;
  return valueFromText(type, v, HUBSPOT_DATES);
}

/** A FieldValue -> the string HubSpot takes for a property of this type; throws VALIDATION for a value of the wrong kind. */
export function wireValue(name: string, type: CrmFieldType, value: FieldValue): string {
  if (value === null) return '';
  const bad = (why: string) => new CrmError('VALIDATION', `HubSpot property ${name}: ${why}`, { provider: 'HUBSPOT', retryable: false });
  if (Array.isArray(value)) {
    if (type !== 'multipicklist') throw bad('a list is only accepted for a multiple checkboxes property');
    return value.map(String).join(';');
  }
  if (type === 'boolean' && typeof value === 'boolean') return value ? 'true' : 'false';
  if (type === 'date' && typeof value === 'string') {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) throw bad('a date must be YYYY-MM-DD');
    return value;
  }
  if (type === 'datetime' && typeof value === 'string') {
    const d = new Date(value);
    if (Number.isNaN(d.getTime())) throw bad('not a date-time');
    return d.toISOString();
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw bad('not a finite number');
    return String(value);
  }
  return String(value);
}

/** Extra values -> properties for a write; null is "" (clears) except on creates, where it is left out. */
export function extraProperties(
  extra: Record<string, FieldValue> | undefined,
  types: ReadonlyMap<string, CrmFieldType>,
  mode: 'create' | 'update' | 'link',
  /** Synced fields the write leaves to `extra` (OutboundLead.skip): their property may be written here. */
  skipped: readonly (keyof LeadFields)[] = [],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(extra ?? {})) {
    const synced = SYNCED_BY_PROPERTY.get(name);
    if (name === ORIGIN_PROPERTY || (synced && (synced === 'email' || !skipped.includes(synced)))) {
      // The six go through LeadFields and the origin tag is ours alone (written on create only).
      throw new CrmError('VALIDATION', `HubSpot property ${name} is written by crm-sync itself, not as an extra field`, { provider: 'HUBSPOT', retryable: false });
    }
    if (value === null && mode !== 'update') continue;
    // A property the portal does not list is sent as text: HubSpot refuses it for that
    // contact (PROPERTY_DOESNT_EXIST), which fails that lead only.
    out[name] = wireValue(name, types.get(name) ?? 'text', value);
  }
  return out;
}

/** The extra values a write set, as a read returns them. */
export function writtenExtra(properties: Record<string, string>, extra: Record<string, FieldValue> | undefined, types: ReadonlyMap<string, CrmFieldType>): Record<string, FieldValue> | undefined {
  if (!extra) return undefined;
  const out: Record<string, FieldValue> = {};
  for (const name of Object.keys(extra)) {
    if (name in properties) out[name] = normaliseValue(types.get(name) ?? 'text', properties[name]);
    else if (extra[name] === null) out[name] = null; // left out of a create: empty
  }
  return out;
}

/** The extra fields of a contact read: those the portal has, normalised; absent otherwise. */
export function readExtra(properties: Record<string, string | null | undefined>, types: ReadonlyMap<string, CrmFieldType>): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {};
  for (const [name, type] of types) out[name] = normaliseValue(type, properties[name]);
  return out;
}

const TTL_MS = 5 * 60_000;
const cache = new WeakMap<HubSpotConnection, { at: number; defs: Promise<HubSpotPropertyDef[]> }>();

/** The portal's contact properties (GET /crm/v3/properties/contacts), cached for a few minutes per connection. */
export function propertyDefs(conn: HubSpotConnection, fresh = false): Promise<HubSpotPropertyDef[]> {
  const hit = cache.get(conn);
  if (hit && !fresh && Date.now() - hit.at < TTL_MS) return hit.defs;
  const defs = conn
    .call('list properties', () => conn.propertiesApi.getAll('contacts', false))
    .then((res) => res.results.map((p) => p as unknown as HubSpotPropertyDef));
  cache.set(conn, { at: Date.now(), defs });
  defs.catch(() => cache.delete(conn));
  return defs;
}

export async function listFields(conn: HubSpotConnection): Promise<CrmField[]> {
  return (await propertyDefs(conn, true)).map(toCrmField);
}

/**
 * The types of the extra fields the connection reads that the portal has. A name the
 * portal lacks (never created, or deleted since the mapping was made) is left out of the
 * request and of CrmRecord.extra, so it never stops the six fields' sync.
 */
export async function extraTypes(conn: HubSpotConnection, names: readonly string[] | undefined = conn.opts.extraFields): Promise<Map<string, CrmFieldType>> {
  const out = new Map<string, CrmFieldType>();
  if (!names || names.length === 0) return out;
  const defs = new Map((await propertyDefs(conn)).map((d) => [d.name, d]));
  for (const n of names) {
    const def = defs.get(n);
    if (def) out.set(n, fieldType(def));
  }
  return out;
}
