// Values of the Lead's typed fields beyond text (number, date, date-time, multi-select
// picklist) as Salesforce's REST API takes and returns them in JSON, and the custom
// fields every sandbox org starts with.
//   double/currency/percent/int: a JSON number
//   date: "YYYY-MM-DD"; datetime: ISO 8601, returned as 2024-05-01T10:00:00.000+0000
//   multipicklist: the selected values joined by ";" (a restricted one refuses a value
//   that is not defined: INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST)
import type { FieldDef, SfError } from './schema.ts';
import type { Value } from './soql.ts';

export const NUMBER_TYPES: ReadonlySet<string> = new Set(['double', 'currency', 'percent', 'int']);

/** Types this module coerces (the others are handled by the store as before). */
export function isTypedField(f: FieldDef): boolean {
  return NUMBER_TYPES.has(f.type) || f.type === 'date' || f.type === 'multipicklist' || (f.type === 'datetime' && f.createable);
}

/** A non-null JSON value for a typed field -> the stored value, or the record's error. */
export function coerceTyped(f: FieldDef, raw: unknown): { value: Value } | { error: SfError } {
  const wrongType = (): { error: SfError } => ({ error: { errorCode: 'INVALID_TYPE_ON_FIELD_IN_RECORD', message: `${f.label}: value not of required type: ${String(raw)}`, fields: [f.name] } });
  if (NUMBER_TYPES.has(f.type)) {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
    if (!Number.isFinite(n) || (f.type === 'int' && !Number.isInteger(n))) return wrongType();
    return { value: n };
  }
  if (typeof raw !== 'string') return wrongType();
  const s = raw.trim();
  if (s === '') return { value: null };
  if (f.type === 'date') {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(s) || Number.isNaN(Date.parse(s))) return wrongType();
    return { value: s };
  }
  if (f.type === 'datetime') {
    const d = new Date(s.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
    return Number.isNaN(d.getTime()) ? wrongType() : { value: d };
  }
  // multipicklist
  const values = s.split(';').map((v) => v.trim()).filter((v) => v !== '');
  const bad = f.restrictedPicklist ? values.find((v) => !(f.picklistValues ?? []).includes(v)) : undefined;
  if (bad !== undefined) {
    return { error: { errorCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', message: `${f.label}: bad value for restricted picklist field: ${bad}`, fields: [f.name] } };
  }
  return { value: values.join(';') };
}

/** Custom Lead fields of each kind every sandbox org starts with (one a formula: read-only). */
export function seededCustomFields(): FieldDef[] {
  const rw = { createable: true, updateable: true, custom: true };
  return [
    { name: 'Industry_Notes__c', label: 'Industry Notes', type: 'string', length: 255, ...rw },
    { name: 'Employee_Count__c', label: 'Employee Count', type: 'double', ...rw },
    { name: 'Newsletter_Opt_In__c', label: 'Newsletter Opt-In', type: 'boolean', ...rw },
    { name: 'Renewal_Date__c', label: 'Renewal Date', type: 'date', ...rw },
    { name: 'Last_Demo_At__c', label: 'Last Demo At', type: 'datetime', ...rw },
    { name: 'Lead_Grade__c', label: 'Lead Grade', type: 'picklist', length: 255, picklistValues: ['A', 'B', 'C'], restrictedPicklist: true, ...rw },
    { name: 'Interests__c', label: 'Interests', type: 'multipicklist', length: 4099, picklistValues: ['Sports', 'Music', 'Travel'], restrictedPicklist: true, ...rw },
    { name: 'Engagement_Score__c', label: 'Engagement Score', type: 'double', createable: false, updateable: false, custom: true, calculated: true },
  ];
}
