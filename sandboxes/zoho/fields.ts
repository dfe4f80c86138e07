// The Zoho sandbox's field metadata API behind /settings/fields: creating a custom field
// (text, picklist, multi-select picklist, email, phone, textarea, integer, decimal,
// currency, boolean, date, date-time; a label must be unique) and adding values to a
// custom picklist. Answers are per-field results.
import { jsonTypeOf } from './typed-values.ts';
import { err, field, nextId, ok, picklist, type FieldDef, type PicklistValue, type RecordResult } from './model.ts';

export function createCustomField(fields: FieldDef[], apiNameFor: ((label: string) => string) | undefined, input: Record<string, unknown>, index: number): RecordResult {
  const label = typeof input.field_label === 'string' ? input.field_label.trim() : '';
  const dataType = typeof input.data_type === 'string' ? input.data_type : '';
  if (!label) return err('MANDATORY_NOT_FOUND', { api_name: 'field_label', json_path: `$.fields[${index}].field_label` }, 'required field not found');
  if (!dataType) return err('MANDATORY_NOT_FOUND', { api_name: 'data_type', json_path: `$.fields[${index}].data_type` }, 'required field not found');
  if (!['text', 'picklist', 'multiselectpicklist', 'email', 'phone', 'textarea', 'integer', 'double', 'currency', 'boolean', 'date', 'datetime'].includes(dataType)) {
    return err('INVALID_DATA', { api_name: 'data_type', json_path: `$.fields[${index}].data_type` }, 'invalid data');
  }
  if (fields.some((f) => f.field_label.toLowerCase() === label.toLowerCase())) {
    return err('DUPLICATE_DATA', { api_name: 'field_label', json_path: `$.fields[${index}].field_label` }, 'duplicate data');
  }
  let values: PicklistValue[] = [];
  if (dataType === 'picklist' || dataType === 'multiselectpicklist') {
    const raw = input.pick_list_values;
    if (!Array.isArray(raw) || raw.length === 0) {
      return err('MANDATORY_NOT_FOUND', { api_name: 'pick_list_values', json_path: `$.fields[${index}].pick_list_values` }, 'required field not found');
    }
    const parsed = parsePicklistInput(raw);
    if (!parsed) return err('INVALID_DATA', { api_name: 'pick_list_values', json_path: `$.fields[${index}].pick_list_values` }, 'invalid data');
    values = picklist(dataType === 'picklist' ? ['-None-', ...parsed] : parsed);
  }
  const base = apiNameFor?.(label) ?? label.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  let apiName = base;
  for (let n = 1; fields.some((f) => f.api_name === apiName); n++) apiName = `${base}${n}`;
  const def = field({
    api_name: apiName,
    field_label: label,
    data_type: dataType,
    json_type: jsonTypeOf(dataType),
    custom_field: true,
    created_source: 'crm',
    pick_list_values: values,
    length: typeof input.length === 'number' ? input.length : 255,
  });
  fields.push(def);
  return ok({ id: def.id }, 'field created');
}

export function updateCustomField(fields: FieldDef[], id: string, input: Record<string, unknown>): RecordResult {
  const def = fields.find((f) => f.id === id);
  if (!def) return err('INVALID_DATA', { api_name: 'id' }, 'the id given seems to be invalid');
  if (!def.custom_field) return err('NOT_SUPPORTED', { api_name: 'id' }, 'system fields cannot be updated');
  if (input.pick_list_values !== undefined) {
    if (def.data_type !== 'picklist') return err('INVALID_DATA', { api_name: 'pick_list_values' }, 'invalid data');
    const parsed = Array.isArray(input.pick_list_values) ? parsePicklistInput(input.pick_list_values) : null;
    if (!parsed) return err('INVALID_DATA', { api_name: 'pick_list_values' }, 'invalid data');
    for (const v of parsed) {
      if (!def.pick_list_values.some((p) => p.actual_value === v)) {
        def.pick_list_values.push({
          display_value: v,
          actual_value: v,
          id: nextId('5725767000000003'),
          sequence_number: def.pick_list_values.length + 1,
          type: 'used',
        });
      }
    }
  }
  return ok({ id: def.id }, 'field updated');
}

function parsePicklistInput(raw: unknown[]): string[] | null {
  const out: string[] = [];
  for (const item of raw) {
    if (!item || typeof item !== 'object') return null;
    const o = item as Record<string, unknown>;
    const actual = typeof o.actual_value === 'string' ? o.actual_value : typeof o.display_value === 'string' ? o.display_value : null;
    if (!actual) return null;
    out.push(actual);
  }
  return out;
}
