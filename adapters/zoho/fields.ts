// Leads fields beyond the six: discovery (fields metadata), normalised values on reads,
// JSON values on writes. The mapping functions are pure; `leadFieldDefs` keeps the
// module's fields metadata for a few minutes per connection.
//
// Fields metadata (`GET /crm/v7/settings/fields?module=Leads`: api_name, field_label,
// data_type, json_type, read_only, field_read_only, custom_field, pick_list_values[]
// {display_value, actual_value, type}) `data_type` -> CrmFieldType:
// (Picklist options are offered by their display_value: Zoho's guidance on picklists
// through the API is to "use the display_value in API requests during create, update, and
// upsert operations"; actual_value is a reference value. Options of type "unused" are not
// offered.)
//   integer, bigint, double, currency, percent, decimal -> number
//   boolean -> boolean
//   date -> date (YYYY-MM-DD); datetime -> datetime (Zoho answers with the org's offset,
//   2024-01-15T15:26:49+05:30, normalised to ISO 8601 UTC)
//   picklist -> picklist ("-None-" is no value, not an option)
//   multiselectpicklist -> multipicklist (a JSON array of values)
//   email -> email, phone -> phone
//   formula -> what it returns (formula.return_type, else json_type); anything else -> text
// Writable: not read_only, not field_read_only, not a formula or auto-number.
//
// Writes are checked here before anything is sent: a field the module lacks, a read-only
// field, a value of the wrong kind, or a picklist value that is not one of the field's
// options fails that lead with VALIDATION. (Zoho keeps a picklist value it does not list
// instead of refusing it, so a mapping slip would otherwise add stray options.)
import { valueFromText } from '../kit/field-values.ts';
import { CrmError, type CrmField, type CrmFieldType, type FieldValue, type LeadFields } from '../contract.ts';
import type { ZohoConnection } from './connection.ts';
import { unexpectedResponse } from './errors.ts';
import { parseZohoTime, picklistValue } from './mappers.ts';

export interface ZohoFieldDef {
  api_name: string;
  field_label?: string;
  display_label?: string;
  data_type?: string;
  json_type?: string;
  read_only?: boolean;
  field_read_only?: boolean;
  custom_field?: boolean;
  formula?: { return_type?: string } | null;
  pick_list_values?: { display_value?: string; actual_value?: string; type?: string }[] | null;
}

const SYNCED: ReadonlyMap<string, keyof LeadFields> = new Map([
  ['Email', 'email'],
  ['First_Name', 'firstName'],
  ['Last_Name', 'lastName'],
  ['Phone', 'phone'],
  ['Company', 'company'],
  ['Lead_Status', 'status'],
]);

const NUMBER_TYPES = new Set(['integer', 'bigint', 'double', 'currency', 'percent', 'decimal', 'long']);

export function fieldType(def: ZohoFieldDef): CrmFieldType {
  let t = def.data_type ?? 'text';
  if (t === 'formula') t = def.formula?.return_type ?? def.json_type ?? 'text';
  if (NUMBER_TYPES.has(t)) return 'number';
  if (t === 'boolean') return 'boolean';
  if (t === 'date') return 'date';
  if (t === 'datetime') return 'datetime';
  if (t === 'picklist') return 'picklist';
  if (t === 'multiselectpicklist') return 'multipicklist';
  if (t === 'email') return 'email';
  if (t === 'phone') return 'phone';
  return 'text';
}

export function isWritable(def: ZohoFieldDef): boolean {
  return !def.read_only && !def.field_read_only && def.data_type !== 'formula' && def.data_type !== 'autonumber';
}

function options(def: ZohoFieldDef): { value: string; label: string }[] {
  return (def.pick_list_values ?? [])
    .map((p) => p.display_value ?? p.actual_value)
    .filter((v, i, all): v is string => typeof v === 'string' && v !== '-None-' && (def.pick_list_values ?? [])[i]?.type !== 'unused')
    .map((v) => ({ value: v, label: v }));
}

export function toCrmField(def: ZohoFieldDef): CrmField {
  const type = fieldType(def);
  const out: CrmField = {
    name: def.api_name,
    label: def.field_label ?? def.display_label ?? def.api_name,
    type,
    writable: isWritable(def),
    custom: Boolean(def.custom_field),
  };
  if (type === 'picklist' || type === 'multipicklist') out.options = options(def);
  const synced = SYNCED.get(def.api_name);
  if (synced) out.synced = synced;
  return out;
}

/** A value as Zoho's records API renders it (JSON) -> FieldValue. */
export function normaliseValue(type: CrmFieldType, raw: unknown): FieldValue {
  if (raw === null || raw === undefined) return null;
  if (type === 'multipicklist') {
    const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(';') : [];
    const values = list.filter((v): v is string => typeof v === 'string').map((v) => v.trim()).filter((v) => v !== '' && v !== '-None-');
    return values.length === 0 ? null : values;
  }
  if (typeof raw === 'boolean') return type === 'boolean' ? raw : String(raw);
  if (typeof raw === 'number') return type === 'number' ? raw : String(raw);
  if (typeof raw !== 'string') return null; // lookups and other objects are not extra values
  const v = raw.trim();
  if (v === '') return null;
  if (type === 'picklist') return picklistValue(v);
  return valueFromText(type, v, { date: (d) => d.slice(0, 10), datetime: (d) => parseZohoTime(d)?.toISOString() ?? d });
}

/** Formats an ISO time the way Zoho takes it: seconds and an explicit offset. */
function zohoDateTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

/** A FieldValue -> the JSON value Zoho takes for this field; VALIDATION when it cannot hold it. */
export function wireValue(def: ZohoFieldDef, value: FieldValue): unknown {
  const name = def.api_name;
  const bad = (why: string) => new CrmError('VALIDATION', `Zoho field ${name}: ${why}`, { provider: 'ZOHO', retryable: false });
  if (!isWritable(def)) throw bad('read-only');
  const type = fieldType(def);
  if (value === null) return type === 'multipicklist' ? [] : null;
  const allowed = new Set(options(def).map((o) => o.value));
  switch (type) {
    case 'multipicklist': {
      if (!Array.isArray(value)) throw bad('a multi-select picklist takes a list of values');
      const unknown = value.find((v) => !allowed.has(v));
      if (unknown !== undefined) throw bad(`"${unknown}" is not one of its options`);
      return [...value];
    }
    case 'picklist':
      if (typeof value !== 'string') throw bad('a picklist takes one of its options');
      if (!allowed.has(value)) throw bad(`"${value}" is not one of its options`);
      return value;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw bad('a number field takes a number');
      if ((def.data_type === 'integer' || def.data_type === 'bigint') && !Number.isInteger(value)) throw bad('an integer field takes a whole number');
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw bad('a boolean field takes true or false');
      return value;
    case 'date':
      if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) throw bad('a date must be YYYY-MM-DD');
      return value;
    case 'datetime': {
      const d = typeof value === 'string' ? new Date(value) : null;
      if (!d || Number.isNaN(d.getTime())) throw bad('not a date-time');
      return zohoDateTime(d);
    }
    default:
      if (Array.isArray(value)) throw bad('a list is only accepted for a multi-select picklist');
      return String(value);
  }
}

/** Extra values -> Zoho fields for one write (null clears on updates, left out of creates). */
export function extraData(
  extra: Record<string, FieldValue> | undefined,
  defs: ReadonlyMap<string, ZohoFieldDef>,
  mode: 'create' | 'update',
  reserved: readonly string[] = [],
  /** Synced fields the write leaves to `extra` (OutboundLead.skip): their field may be written here. */
  skipped: readonly (keyof LeadFields)[] = [],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(extra ?? {})) {
    const synced = SYNCED.get(name);
    if ((synced && (synced === 'email' || !skipped.includes(synced))) || reserved.includes(name) || name === 'id') {
      // The six go through LeadFields and the origin tag is crm-sync's own (creates only).
      throw new CrmError('VALIDATION', `Zoho field ${name} is written by crm-sync itself, not as an extra field`, { provider: 'ZOHO', retryable: false });
    }
    const def = defs.get(name);
    if (!def) throw new CrmError('VALIDATION', `Zoho: the Leads module has no field ${name}`, { provider: 'ZOHO', retryable: false });
    if (value === null && mode === 'create') continue;
    out[name] = wireValue(def, value);
  }
  return out;
}

/** The extra values a write set, as a read returns them. */
export function writtenExtra(extra: Record<string, FieldValue> | undefined, data: Record<string, unknown>, defs: ReadonlyMap<string, ZohoFieldDef>): Record<string, FieldValue> | undefined {
  if (!extra) return undefined;
  const out: Record<string, FieldValue> = {};
  for (const name of Object.keys(extra)) {
    const def = defs.get(name);
    if (!def) continue;
    const type = fieldType(def);
    // Zoho renders an empty boolean field as false.
    out[name] = type === 'boolean' && (data[name] ?? null) === null ? false : name in data ? normaliseValue(type, data[name]) : null;
  }
  return out;
}

/** The extra fields of one record as read, normalised. */
export function readExtra(lead: Record<string, unknown>, defs: readonly ZohoFieldDef[]): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {};
  for (const def of defs) out[def.api_name] = normaliseValue(fieldType(def), lead[def.api_name]);
  return out;
}

const TTL_MS = 5 * 60_000;
const cache = new WeakMap<ZohoConnection, { at: number; defs: Promise<Map<string, ZohoFieldDef>> }>();

/** The Leads fields by API name (fields metadata), cached for a few minutes per connection. */
export function leadFieldDefs(conn: ZohoConnection, fresh = false): Promise<Map<string, ZohoFieldDef>> {
  const hit = cache.get(conn);
  if (hit && !fresh && Date.now() - hit.at < TTL_MS) return hit.defs;
  const defs = conn.http.request({ method: 'GET', path: '/settings/fields', query: { module: 'Leads' } }).then((res) => {
    const fields = (res.body as { fields?: unknown } | null)?.fields;
    if (!Array.isArray(fields)) throw unexpectedResponse('fields metadata without fields', res.status);
    return new Map((fields as ZohoFieldDef[]).filter((f) => typeof f?.api_name === 'string').map((f) => [f.api_name, f]));
  });
  cache.set(conn, { at: Date.now(), defs });
  defs.catch(() => cache.delete(conn));
  return defs;
}

export async function listFields(conn: ZohoConnection): Promise<CrmField[]> {
  return [...(await leadFieldDefs(conn, true)).values()].map(toCrmField);
}

/**
 * The extra fields the connection reads that the module has, at most `room` of them
 * (how Zoho answers a `fields` name the module lacks is not documented, so none is sent)
 * (Zoho's `fields` parameter takes at most 50 names). A name the module lacks is left
 * out of the request and of CrmRecord.extra, so it never stops the six fields' sync.
 */
export async function extraFieldsRead(conn: ZohoConnection, room: number): Promise<ZohoFieldDef[]> {
  const names = conn.opts.extraFields ?? [];
  if (names.length === 0) return [];
  const defs = await leadFieldDefs(conn);
  const found = [...new Set(names)].flatMap((n) => {
    const d = defs.get(n);
    return d ? [d] : [];
  });
  if (found.length > room) {
    conn.opts.logger?.warn({ provider: 'ZOHO', asked: found.length, room }, 'zoho: more extra fields than one read may name; reading the first ones');
  }
  return found.slice(0, Math.max(0, room));
}
