// Field values beyond the six, as text from a CRM -> the contract's FieldValue: what the
// adapters share (numbers, booleans, multi-selects joined by ';'); dates and date-times
// each CRM writes its own way, so the adapter says how to read them.
import type { CrmFieldType, FieldValue } from '../contract.ts';

export interface DateReaders {
  /** A date as this CRM writes it -> `YYYY-MM-DD` (or the text as it is when unreadable). */
  date(v: string): FieldValue;
  /** A date-time as this CRM writes it -> ISO 8601 UTC (or the text as it is when unreadable). */
  datetime(v: string): FieldValue;
}

/** Non-empty trimmed text of a field of `type` -> its FieldValue; text a type cannot read stays text. */
export function valueFromText(type: CrmFieldType, v: string, dates: DateReaders): FieldValue {
  switch (type) {
    case 'number': {
      const n = Number(v);
      return Number.isFinite(n) ? n : v;
    }
    case 'boolean':
      return v.toLowerCase() === 'true';
    case 'multipicklist':
      return v.split(';').map((s) => s.trim()).filter((s) => s !== '');
    case 'date':
      return dates.date(v);
    case 'datetime':
      return dates.datetime(v);
    default:
      return v;
  }
}
