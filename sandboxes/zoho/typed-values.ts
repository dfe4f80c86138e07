// Values of Leads fields that are not plain text, as Zoho's v7 records API takes and
// renders them (JSON types follow each field's `json_type` in the fields metadata):
//   integer, bigint, double, currency, percent: a JSON number
//   boolean: true / false
//   date: "YYYY-MM-DD"; datetime: ISO 8601 with offset, rendered in the org's time zone
//   multiselectpicklist: a JSON array of the chosen values (json_type jsonarray)
//   formula: computed by Zoho, read-only
// Also the custom fields every sandbox org starts with.
import { err, field, picklist, type FieldDef, type RecordResult } from './model.ts';

const NUMBER_TYPES = new Set(['integer', 'bigint', 'double', 'currency', 'percent']);
/** Data types this module checks and converts (text-like ones stay with the state). */
export const TYPED = new Set([...NUMBER_TYPES, 'boolean', 'date', 'datetime', 'multiselectpicklist']);

export function jsonTypeOf(dataType: string): string {
  if (dataType === 'integer' || dataType === 'bigint') return 'integer';
  if (NUMBER_TYPES.has(dataType)) return 'double';
  if (dataType === 'boolean') return 'boolean';
  if (dataType === 'multiselectpicklist') return 'jsonarray';
  if (dataType === 'ownerlookup') return 'jsonobject';
  return 'string';
}

/**
 * A non-null input value for a typed field -> the stored value (datetime as epoch ms), or
 * Zoho's per-record INVALID_DATA with the expected type.
 */
export function typedValue(def: FieldDef, value: unknown, path: string, strictPicklists: boolean): { value: unknown } | { error: RecordResult } {
  const invalid = (expected: string) => ({ error: err('INVALID_DATA', { api_name: def.api_name, json_path: path, expected_data_type: expected }, 'invalid data') });
  const t = def.data_type;
  if (NUMBER_TYPES.has(t)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || (jsonTypeOf(t) === 'integer' && !Number.isInteger(value))) return invalid(jsonTypeOf(t));
    return { value };
  }
  if (t === 'boolean') return typeof value === 'boolean' ? { value } : invalid('boolean');
  if (t === 'date') {
    return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(value)) ? { value } : invalid('date');
  }
  if (t === 'datetime') {
    const ms = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : NaN;
    return Number.isNaN(ms) ? invalid('datetime') : { value: Math.floor(ms / 1000) * 1000 };
  }
  // multiselectpicklist
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) return invalid('jsonarray');
  // Records carry a picklist option by its display_value (Zoho: "Use the display_value in
  // API requests during create, update, and upsert operations").
  if (strictPicklists && value.some((v) => !def.pick_list_values.some((p) => p.display_value === v))) {
    return { error: err('INVALID_DATA', { api_name: def.api_name, json_path: path }, 'invalid data') };
  }
  return { value: value.length === 0 ? null : [...value] };
}

/** A stored typed value as the API renders it. */
export function renderTyped(def: FieldDef, stored: unknown, fmt: (ms: number) => string): unknown {
  if (stored === null || stored === undefined) return def.data_type === 'multiselectpicklist' ? [] : def.data_type === 'boolean' ? false : null;
  if (def.data_type === 'datetime' && typeof stored === 'number') return fmt(stored);
  return stored;
}

/** Custom Leads fields of each kind a sandbox org starts with (one a formula: read-only). */
export function seededCustomFields(): FieldDef[] {
  const custom = (api_name: string, field_label: string, data_type: string, more: Partial<FieldDef> = {}) =>
    field({ api_name, field_label, data_type, json_type: jsonTypeOf(data_type), custom_field: true, created_source: 'crm', ...more });
  return [
    custom('Industry_Notes', 'Industry Notes', 'text'),
    custom('Employee_Count', 'Employee Count', 'integer', { length: 9 }),
    custom('Newsletter_Opt_In', 'Newsletter Opt In', 'boolean'),
    custom('Renewal_Date', 'Renewal Date', 'date'),
    custom('Last_Demo_At', 'Last Demo At', 'datetime'),
    // Options whose reference (actual) value differs from the display value records carry.
    custom('Lead_Grade', 'Lead Grade', 'picklist', {
      pick_list_values: picklist(['-None-', 'Grade_A', 'Grade_B', 'Grade_C']).map((p, i) => ({ ...p, display_value: ['-None-', 'A', 'B', 'C'][i]! })),
    }),
    custom('Interests', 'Interests', 'multiselectpicklist', { pick_list_values: picklist(['Sports', 'Music', 'Travel']) }),
    custom('Engagement_Score', 'Engagement Score', 'formula', { read_only: true, field_read_only: true, json_type: 'double' }),
  ];
}
