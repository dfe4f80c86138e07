// Edits a write of ours overwrote.
//
// A push sends the platform's change of a field. A person may edit the same field in the
// CRM after that change was made but before our write reaches the CRM, while the edit's
// notification is still on its way (the push could not wait for it). HubSpot applies a
// write's properties as sent, with no conditional update, so our older value lands on top
// of the person's newer one; a read then shows the platform's value and nothing looks
// changed. Only the field's history still shows the person's edit. By the rule every
// path follows (the later change of a field wins), that edit is the newest change: it is
// applied to the lead and written back to the CRM.
//
// Only a version set by a person or by the CRM itself counts as such an edit: a version
// an app wrote through the API may be one of ours (a late write, a retry), and is never
// taken for somebody's edit.
import { SYNCED_FIELDS, type CrmRecord, type LeadFields } from '../../adapters/contract.ts';

export interface Overwritten {
  /** The value each field gets back. */
  fields: Partial<LeadFields>;
  /** When the CRM recorded each of those edits. */
  at: Partial<Record<keyof LeadFields, Date>>;
}

/**
 * Fields whose CRM value is the platform's (`remote` equals `lead`) although a person
 * edited them after the platform's change (`localTimes`, else `leadUpdatedAt`), the edit
 * overwritten since only by writes through the API.
 */
export function overwrittenEdits(
  record: Pick<CrmRecord, 'fieldHistory'>,
  lead: LeadFields,
  remote: LeadFields,
  localTimes: Partial<Record<keyof LeadFields, Date>>,
  leadUpdatedAt: Date,
): Overwritten {
  const out: Overwritten = { fields: {}, at: {} };
  for (const field of SYNCED_FIELDS) {
    if (field === 'email') continue; // the email identifies the person: never restored
    const versions = record.fieldHistory?.[field];
    if (!versions || versions.length === 0 || remote[field] !== lead[field]) continue;
    const since = localTimes[field] ?? leadUpdatedAt;
    // Newest first (CrmRecord.fieldHistory); versions of one millisecond in the CRM's order.
    const ordered = versions;
    const i = ordered.findIndex((v) => !v.byApp && v.at > since && v.value !== lead[field]);
    if (i <= 0) continue; // none, or it is the current value (then the read shows it)
    const edit = ordered[i]!;
    if (!ordered.slice(0, i).every((v) => v.byApp)) continue;
    out.fields[field] = edit.value;
    out.at[field] = edit.at;
  }
  return out;
}
