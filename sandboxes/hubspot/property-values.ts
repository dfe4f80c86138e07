// Property values by type, as HubSpot's properties API describes them: checks on write
// and the form a value is stored and read back in. The properties guide's types:
//   bool        "true" / "false"
//   enumeration one option's internal value; a multiple checkboxes property (fieldType
//               checkbox) takes several, "separated by a semicolon"
//   number      a decimal number
//   date        "Values must be represented in UTC time and can be formatted as ISO 8601
//               strings or EPOCH-timestamps in milliseconds (i.e. midnight UTC)"; read
//               back as YYYY-MM-DD
//   datetime    ISO 8601 or epoch milliseconds; read back as ISO 8601 UTC
//   string      any text
import type { PropertyDef, PropertyProblem } from './model.ts';

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

function asTime(v: string): number | null {
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  return Number.isNaN(t) ? null : t;
}

/** What is wrong with a non-empty value for this property, or null. */
export function valueProblem(def: PropertyDef, v: string): PropertyProblem | null {
  const problem = (error: string, message: string): PropertyProblem => ({ isValid: false, message, error, name: def.name });
  switch (def.type) {
    case 'enumeration': {
      const values = def.fieldType === 'checkbox' ? v.split(';').filter((s) => s !== '') : [v];
      const bad = values.find((x) => !def.options.some((o) => o.value === x));
      return bad === undefined ? null : problem('INVALID_OPTION', `${bad} was not one of the allowed options: [${def.options.map((o) => o.value).join(', ')}]`);
    }
    case 'bool':
      return /^(true|false)$/i.test(v) ? null : problem('INVALID_BOOLEAN', `${v} is not a valid boolean value (true or false)`);
    case 'number':
      return v.trim() !== '' && Number.isFinite(Number(v)) ? null : problem('INVALID_DOUBLE', `${v} is not a valid number`);
    case 'date': {
      if (DATE_RE.test(v) && !Number.isNaN(Date.parse(v))) return null;
      const t = /^\d+$/.test(v) ? Number(v) : null;
      if (t !== null && t % 86_400_000 === 0) return null;
      return problem('INVALID_DATE', `${v} is not a valid date: use YYYY-MM-DD or a timestamp at midnight UTC`);
    }
    case 'datetime':
      return asTime(v) === null ? problem('INVALID_DATETIME', `${v} is not a valid date-time`) : null;
    default:
      return null;
  }
}

/** A valid non-empty value as HubSpot stores and returns it. */
export function storedValue(def: PropertyDef | undefined, v: string): string {
  if (!def) return v;
  switch (def.type) {
    case 'bool':
      return v.toLowerCase();
    case 'date':
      return DATE_RE.test(v) ? v : new Date(Number(v)).toISOString().slice(0, 10);
    case 'datetime': {
      const t = asTime(v);
      return t === null ? v : new Date(t).toISOString();
    }
    default:
      return v;
  }
}

/** Custom contact properties every sandbox portal starts with, one of each kind. */
export function seedCustomProperties(add: (name: string, label: string, type: PropertyDef['type'], fieldType: string, extra?: Partial<PropertyDef>) => void): void {
  const custom = { hubspotDefined: false, groupName: 'contactinformation' };
  const options = (values: string[]) => values.map((v, i) => ({ label: v[0]!.toUpperCase() + v.slice(1), value: v, displayOrder: i, hidden: false }));
  add('industry_notes', 'Industry notes', 'string', 'text', custom);
  add('employee_count', 'Employee count', 'number', 'number', custom);
  add('newsletter_opt_in', 'Newsletter opt-in', 'bool', 'booleancheckbox', {
    ...custom,
    options: [
      { label: 'Yes', value: 'true', displayOrder: 0, hidden: false },
      { label: 'No', value: 'false', displayOrder: 1, hidden: false },
    ],
  });
  add('renewal_date', 'Renewal date', 'date', 'date', custom);
  add('last_demo_at', 'Last demo at', 'datetime', 'date', custom);
  add('lead_grade', 'Lead grade', 'enumeration', 'select', { ...custom, options: options(['a', 'b', 'c']) });
  add('interests', 'Interests', 'enumeration', 'checkbox', { ...custom, options: options(['sports', 'music', 'travel']) });
  add('engagement_score', 'Engagement score', 'number', 'calculation_equation', { ...custom, calculated: true, readOnlyValue: true });
}
