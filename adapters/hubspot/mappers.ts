// PURE mapping between HubSpot contact properties and the contract's LeadFields.
//
//   email          <-> email          (written trimmed and lower-cased; never cleared)
//   firstName      <-> firstname
//   lastName       <-> lastname
//   phone          <-> phone
//   company        <-> company
//   status         <-> lifecyclestage (see below)
//   origin tag     <-> lead_source_system (enumeration; written on create only)
//
// Status: the platform's status is kept in HubSpot's lifecycle-stage vocabulary, i.e. the
// internal values subscriber, lead, marketingqualifiedlead, salesqualifiedlead,
// opportunity, customer, evangelist, other (or a portal's custom stage id, all digits).
// Outbound, case, spaces, '-' and '_' are ignored and the usual short forms are accepted
// (MQL, SQL, "Marketing Qualified Lead", ...). Anything else is a VALIDATION error for that
// lead: HubSpot would reject the value and fail the whole batch with it. Inbound, the
// stored value is returned unchanged.
//
// Null vs "": in LeadFields null means "no value" ("" and blanks are treated as null).
// HubSpot clears a property written as "". So:
//   create: null fields are omitted;
//   update (a lead we are linked to): null is written as "" and clears the CRM value;
//   link   (a record someone else made, matched by email): null fields are omitted, so
//          linking never wipes data we did not know about.
import { CrmError, type CrmRecord, type FieldVersion, type LeadFields } from '../contract.ts';

export const ORIGIN_PROPERTY = 'lead_source_system';

export const FIELD_TO_PROPERTY: Readonly<Record<keyof LeadFields, string>> = {
  email: 'email',
  firstName: 'firstname',
  lastName: 'lastname',
  phone: 'phone',
  company: 'company',
  status: 'lifecyclestage',
};

/** Properties the adapter reads on every contact. */
export const READ_PROPERTIES: readonly string[] = [
  ...Object.values(FIELD_TO_PROPERTY),
  ORIGIN_PROPERTY,
  'createdate',
  'lastmodifieddate',
  'hs_object_id',
];

/** The contact properties crm-sync subscribes to (propertyChange webhooks). */
export const SYNCED_PROPERTIES: readonly string[] = Object.values(FIELD_TO_PROPERTY);

export const LIFECYCLE_STAGES: readonly string[] = [
  'subscriber',
  'lead',
  'marketingqualifiedlead',
  'salesqualifiedlead',
  'opportunity',
  'customer',
  'evangelist',
  'other',
];

const STAGE_ALIASES: Readonly<Record<string, string>> = {
  mql: 'marketingqualifiedlead',
  sql: 'salesqualifiedlead',
};

export type WriteMode = 'create' | 'update' | 'link';

/** A HubSpot contact as the SDK returns it (plain data; no SDK types leave the adapter). */
export interface HubSpotObject {
  id: string;
  properties: Record<string, string | null | undefined>;
  createdAt?: Date | string | null;
  updatedAt?: Date | string | null;
  archived?: boolean | null;
  /** Present when the read asked for `propertiesWithHistory`: each property's versions. */
  propertiesWithHistory?: Record<string, { value?: unknown; timestamp?: Date | string | null; sourceType?: unknown }[] | undefined> | null;
}

function clean(v: string | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  const t = v.trim();
  return t === '' ? null : t;
}

/** Platform status -> lifecycle stage internal value; throws CrmError VALIDATION when unknown. */
export function statusToLifecycleStage(status: string): string {
  const key = status.trim().toLowerCase().replace(/[\s_-]+/g, '');
  if (LIFECYCLE_STAGES.includes(key)) return key;
  const alias = STAGE_ALIASES[key];
  if (alias) return alias;
  if (/^\d+$/.test(key)) return key; // a portal's custom lifecycle stage id
  throw new CrmError('VALIDATION', `status "${status}" is not a HubSpot lifecycle stage (${LIFECYCLE_STAGES.join(', ')})`, {
    provider: 'HUBSPOT',
  });
}

/** Like statusToLifecycleStage, but null for a status HubSpot has no stage for. */
export function lifecycleStageFor(status: string): string | null {
  try {
    return statusToLifecycleStage(status);
  } catch {
    return null;
  }
}

/**
 * The synced fields a write set, as a read returns them (the origin tag aside);
 * properties not in the write are absent (unknown).
 */
export function writtenFields(properties: Record<string, string>): Partial<LeadFields> {
  const out: Partial<LeadFields> = {};
  const read = toLeadFields(properties);
  for (const key of Object.keys(FIELD_TO_PROPERTY) as (keyof LeadFields)[]) {
    if (FIELD_TO_PROPERTY[key] in properties) (out as Record<string, unknown>)[key] = read[key];
  }
  return out;
}

/**
 * What a create leaves in the synced fields: what it wrote, and null for every property it
 * left out (a new contact holds no value there) — except the lifecycle stage, which a
 * portal's own settings or automation may fill in on creation: unknown until read.
 */
export function writtenOnCreate(properties: Record<string, string>): Partial<LeadFields> {
  const out: Partial<LeadFields> = { email: null, firstName: null, lastName: null, phone: null, company: null };
  return { ...out, ...writtenFields(properties) };
}

/**
 * What a write to a contact someone else made (linked by email) leaves in the synced
 * fields: what it wrote, over what the contact held when we looked it up just before.
 */
export function writtenOver(before: LeadFields, properties: Record<string, string>): Partial<LeadFields> {
  return { ...before, ...writtenFields(properties) };
}

export function lifecycleStageToStatus(stage: string | null | undefined): string | null {
  return clean(stage);
}

/** The origin tag carried by a contact's properties; null when empty. */
export function readOriginTag(properties: Record<string, string | null | undefined>): string | null {
  return clean(properties[ORIGIN_PROPERTY]);
}

export function toLeadFields(properties: Record<string, string | null | undefined>): LeadFields {
  const email = clean(properties.email);
  return {
    email: email === null ? null : email.toLowerCase(),
    firstName: clean(properties.firstname),
    lastName: clean(properties.lastname),
    phone: clean(properties.phone),
    company: clean(properties.company),
    status: lifecycleStageToStatus(properties.lifecyclestage),
  };
}

function toDate(v: Date | string | null | undefined): Date | null {
  if (v === null || v === undefined || v === '') return null;
  const d = v instanceof Date ? v : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function toCrmRecord(obj: HubSpotObject): CrmRecord {
  const p = obj.properties ?? {};
  return {
    externalId: String(obj.id),
    fields: toLeadFields(p),
    originTag: readOriginTag(p),
    createdAt: toDate(obj.createdAt) ?? toDate(p.createdate),
    updatedAt: toDate(p.lastmodifieddate) ?? toDate(obj.updatedAt),
    ...(obj.propertiesWithHistory ? withHistory(fieldVersions(obj.propertiesWithHistory)) : {}),
    archived: obj.archived ?? false,
  };
}

/** The history, and when each field last changed: the time of its newest version. */
function withHistory(history: Partial<Record<keyof LeadFields, FieldVersion[]>>): Pick<CrmRecord, 'fieldHistory' | 'fieldUpdatedAt'> {
  const fieldUpdatedAt: Partial<Record<keyof LeadFields, Date>> = {};
  for (const [field, versions] of Object.entries(history) as [keyof LeadFields, FieldVersion[]][]) {
    if (versions[0]) fieldUpdatedAt[field] = versions[0].at;
  }
  return { fieldHistory: history, fieldUpdatedAt };
}

/** Versions kept per field: enough to look past a few writes of ours. */
const VERSIONS_KEPT = 20;
/**
 * Sources of a change made through the API by an app. HubSpot's API returns a property's
 * history "along with who or what made the change" (developer changelog, "CRM property
 * change source will show user ID instead of owner email": a change made in the HubSpot
 * app carries sourceId `userId:123`); its PropertyHistory objects have `value`,
 * `timestamp`, `sourceType` (e.g. CRM_UI), `sourceId`. INTEGRATION and API are the
 * sourceType/changeSource values of writes through the API; anything else (a person in
 * HubSpot, an import, a workflow) is never taken for one of ours.
 */
const APP_SOURCES = new Set(['INTEGRATION', 'API']);

/**
 * Each synced property's versions, newest first (sorted here; versions of one millisecond
 * keep HubSpot's order), values mapped like the current ones.
 */
export function fieldVersions(history: NonNullable<HubSpotObject['propertiesWithHistory']>): Partial<Record<keyof LeadFields, FieldVersion[]>> {
  const out: Partial<Record<keyof LeadFields, FieldVersion[]>> = {};
  for (const [field, property] of Object.entries(FIELD_TO_PROPERTY) as [keyof LeadFields, string][]) {
    const versions: FieldVersion[] = [];
    for (const v of history[property] ?? []) {
      const at = toDate(v?.timestamp ?? null);
      if (!at) continue;
      const raw = typeof v.value === 'string' ? v.value : v.value === null || v.value === undefined ? null : String(v.value);
      versions.push({ value: toLeadFields({ [property]: raw })[field], at, byApp: APP_SOURCES.has(String(v.sourceType ?? '')) });
    }
    versions.sort((a, b) => b.at.getTime() - a.at.getTime());
    if (versions.length > 0) out[field] = versions.slice(0, VERSIONS_KEPT);
  }
  return out;
}

/**
 * LeadFields -> HubSpot properties for one write (see the header for the modes).
 * `originTag` is written on create only; updates and links never touch the tag.
 * A status HubSpot has no lifecycle stage for is left out of the write.
 */
export function toHubSpotProperties(fields: LeadFields, mode: WriteMode, originTag?: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(FIELD_TO_PROPERTY) as (keyof LeadFields)[]) {
    const prop = FIELD_TO_PROPERTY[key];
    let v = clean(fields[key]);
    if (v !== null && key === 'email') v = v.toLowerCase();
    if (v !== null && key === 'status') {
      // A status HubSpot cannot hold (e.g. a Salesforce "Open - Not Contacted" reaching
      // HubSpot through the platform) is not written, rather than failing the contact.
      v = lifecycleStageFor(v);
      if (v === null) continue;
    }
    if (key === 'email' && mode === 'link') continue; // equal already (matched on it)
    if (v === null) {
      if (mode === 'update' && key !== 'email') out[prop] = '';
      continue;
    }
    out[prop] = v;
  }
  if (mode === 'create') {
    const tag = clean(originTag);
    if (tag === null) throw new CrmError('VALIDATION', 'an origin tag is required to create a contact', { provider: 'HUBSPOT' });
    out[ORIGIN_PROPERTY] = tag;
  }
  return out;
}
