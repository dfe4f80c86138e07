// Field mappings of an integration: which platform field (one of the synced fields, or a
// lead attribute) goes to which CRM field, in which direction, who wins a conflict, and
// how picklist values translate. Stored on the integration (fieldMappings); null means
// the defaults: each synced field to the CRM field the adapter uses for it, both ways,
// newest change wins — what every integration did before mappings existed.
//
// Two routes through the engine:
//   fixed  a synced field mapped to the adapter's own field without a value map: the
//          adapter's mappers carry it (as before); direction and conflict rule apply.
//   extra  everything else (attributes, a synced field to another CRM field, value
//          maps): read and written by CRM field name (ConnectionOptions.extraFields,
//          CrmRecord.extra, OutboundLead.extra), compared in the CRM's terms.
// Email is the identity of a person: always synced both ways, never mappable.
import { SYNCED_FIELDS, type CrmField, type CrmFieldType, type FieldValue, type LeadFields } from '../../adapters/contract.ts';
import { validationError, type FieldProblem } from '../errors.ts';
import type { Integration } from '../generated/prisma/client.ts';
import { ATTRIBUTE_KEY } from './attributes.ts';

export const DIRECTIONS = ['both', 'to_crm', 'from_crm'] as const;
export const CONFLICT_RULES = ['newest', 'crm_wins', 'platform_wins'] as const;
export type MappingDirection = (typeof DIRECTIONS)[number];
export type ConflictRule = (typeof CONFLICT_RULES)[number];

export interface ValueMapEntry {
  platform: string;
  crm: string;
}

export interface FieldMapping {
  /** firstName, lastName, phone, company, status, or attributes.<key>. */
  platform: string;
  /** The CRM field's API name. */
  crm: string;
  direction: MappingDirection;
  conflict: ConflictRule;
  /** Picklists: platform value -> CRM option value. Empty: values as they are. */
  valueMap: ValueMapEntry[];
  /** The CRM field's type when the mapping was set (values are converted to it). */
  crmType?: CrmFieldType;
}

/** The synced fields a mapping may name (email is never mapped). */
/** Which side a resync takes the values from. */
export type ResyncSource = 'crm' | 'platform';

export const MAPPABLE_FIELDS = SYNCED_FIELDS.filter((k) => k !== 'email') as Exclude<keyof LeadFields, 'email'>[];
export type MappableField = (typeof MAPPABLE_FIELDS)[number];

export const MAX_MAPPINGS = 100;
export const MAX_VALUE_MAP = 200;

/** The codes of refused mappings, stable for clients (extensions.fields[].code). */
export type MappingProblemCode =
  | 'MAPPING_PLATFORM_FIELD_INVALID'
  | 'MAPPING_DUPLICATE_PLATFORM_FIELD'
  | 'MAPPING_DUPLICATE_CRM_FIELD'
  | 'MAPPING_UNKNOWN_CRM_FIELD'
  | 'MAPPING_RESERVED_CRM_FIELD'
  | 'MAPPING_READ_ONLY_TARGET'
  | 'MAPPING_TYPE_MISMATCH'
  | 'MAPPING_VALUE_MAP_NOT_PICKLIST'
  | 'MAPPING_VALUE_MAP_UNKNOWN_OPTION'
  | 'MAPPING_VALUE_MAP_DUPLICATE'
  | 'MAPPING_TOO_MANY';

const problem = (field: string, code: MappingProblemCode, message: string): FieldProblem => ({ field, code, message });

/** The default mappings of a CRM whose adapter uses `fieldNames` for the synced fields. */
export function defaultMappings(fieldNames: Readonly<Record<keyof LeadFields, string>>): FieldMapping[] {
  return MAPPABLE_FIELDS.map((k) => ({ platform: k, crm: fieldNames[k], direction: 'both', conflict: 'newest', valueMap: [] }));
}

/** The mappings stored on an integration (null or unreadable: the defaults). */
export function mappingsOf(stored: unknown, fieldNames: Readonly<Record<keyof LeadFields, string>>): FieldMapping[] {
  if (!Array.isArray(stored)) return defaultMappings(fieldNames);
  return stored.filter(isMapping);
}

function isMapping(v: unknown): v is FieldMapping {
  if (!v || typeof v !== 'object') return false;
  const m = v as Record<string, unknown>;
  return typeof m.platform === 'string' && typeof m.crm === 'string' && DIRECTIONS.includes(m.direction as MappingDirection) && CONFLICT_RULES.includes(m.conflict as ConflictRule) && Array.isArray(m.valueMap);
}

export const isAttribute = (platform: string) => platform.startsWith('attributes.');
export const attributeKey = (platform: string) => platform.slice('attributes.'.length);
export const writesCrm = (m: Pick<FieldMapping, 'direction'>) => m.direction !== 'from_crm';
export const readsCrm = (m: Pick<FieldMapping, 'direction'>) => m.direction !== 'to_crm';

/** What the engine does with an integration's mappings (see the header). */
export interface MappingPlan {
  mappings: FieldMapping[];
  /** Synced fields the adapter carries itself, with their mapping. Email always (both, newest). */
  fixed: Map<keyof LeadFields, FieldMapping>;
  /** Through the extra channel. */
  extra: FieldMapping[];
  /** CRM fields to read beyond the six. */
  extraFields: string[];
  /** Synced fields the adapter must not write (OutboundLead.skip). */
  skip: (keyof LeadFields)[];
  /** Synced fields whose CRM change the fixed route must not apply. */
  notFromCrm: Set<keyof LeadFields>;
}

export function planOf(mappings: FieldMapping[], fieldNames: Readonly<Record<keyof LeadFields, string>>): MappingPlan {
  const fixed = new Map<keyof LeadFields, FieldMapping>();
  fixed.set('email', { platform: 'email', crm: fieldNames.email, direction: 'both', conflict: 'newest', valueMap: [] });
  const extra: FieldMapping[] = [];
  for (const m of mappings) {
    const k = m.platform as keyof LeadFields;
    if (!isAttribute(m.platform) && m.crm === fieldNames[k] && m.valueMap.length === 0) fixed.set(k, m);
    else extra.push(m);
  }
  const skip = MAPPABLE_FIELDS.filter((k) => !fixed.has(k) || !writesCrm(fixed.get(k)!));
  const notFromCrm = new Set<keyof LeadFields>(MAPPABLE_FIELDS.filter((k) => !fixed.has(k) || !readsCrm(fixed.get(k)!)));
  return { mappings, fixed, extra, extraFields: [...new Set(extra.map((m) => m.crm))], skip, notFromCrm };
}

/** True when the plan is today's behaviour exactly (nothing for the mapping code to do). */
export function isDefaultPlan(plan: MappingPlan): boolean {
  return plan.extra.length === 0 && plan.skip.length === 0 && plan.notFromCrm.size === 0 && [...plan.fixed.values()].every((m) => m.conflict === 'newest');
}

/** What setFieldMappings answers. */
export interface SetMappingsResult {
  integration: Integration;
  /** Platform fields whose mapping is new or changed: a resync of them is offered. */
  changed: string[];
  /** What an administrator must do in the CRM for the mapped fields' changes to be notified (empty: done by the service). */
  manualSteps: string[];
}

// ------------------------------------------------------------------ validation

const TEXT_TYPES: ReadonlySet<CrmFieldType> = new Set(['text', 'email', 'phone', 'picklist']);

export interface MappingInput {
  platform: string;
  crm: string;
  direction?: MappingDirection | null;
  conflict?: ConflictRule | null;
  valueMap?: readonly ValueMapEntry[] | null;
}

/**
 * Mappings as given to setFieldMappings, checked against the CRM's fields (discovery):
 * every problem is refused with a code and the mapping's index; nothing is stored when any
 * is. `reserved` are CRM fields no mapping may name (the origin field, the email field).
 */
export function parseMappings(input: readonly MappingInput[], fields: CrmField[], reserved: readonly string[]): FieldMapping[] {
  const problems: FieldProblem[] = [];
  if (input.length > MAX_MAPPINGS) throw validationError([problem('mappings', 'MAPPING_TOO_MANY', `at most ${MAX_MAPPINGS} mappings`)]);
  const byName = new Map(fields.map((f) => [f.name, f]));
  const lower = new Map(fields.map((f) => [f.name.toLowerCase(), f]));
  const seenPlatform = new Set<string>();
  const seenCrm = new Set<string>();
  const out: FieldMapping[] = [];
  input.forEach((m, i) => {
    const at = `mappings.${i}`;
    const platform = m.platform.trim();
    const before = problems.length;
    const builtin = (MAPPABLE_FIELDS as string[]).includes(platform);
    if (!builtin && !(isAttribute(platform) && ATTRIBUTE_KEY.test(attributeKey(platform)))) {
      problems.push(problem(`${at}.platform`, 'MAPPING_PLATFORM_FIELD_INVALID', `"${platform}" is not a platform field: use ${MAPPABLE_FIELDS.join(', ')} or attributes.<key> (email is always synced and cannot be mapped)`));
    } else if (seenPlatform.has(platform)) {
      problems.push(problem(`${at}.platform`, 'MAPPING_DUPLICATE_PLATFORM_FIELD', `"${platform}" is mapped more than once`));
    }
    seenPlatform.add(platform);
    const field = byName.get(m.crm) ?? lower.get(m.crm.toLowerCase());
    const direction = m.direction ?? 'both';
    const conflict = m.conflict ?? 'newest';
    const valueMap = (m.valueMap ?? []).map((e) => ({ platform: e.platform.trim(), crm: e.crm.trim() }));
    if (!field) {
      problems.push(problem(`${at}.crm`, 'MAPPING_UNKNOWN_CRM_FIELD', `the CRM has no field "${m.crm}" on this object`));
    } else if (reserved.some((r) => r.toLowerCase() === field.name.toLowerCase())) {
      problems.push(problem(`${at}.crm`, 'MAPPING_RESERVED_CRM_FIELD', `"${field.name}" is kept by the sync itself (email or origin tag) and cannot be mapped`));
    } else {
      if (seenCrm.has(field.name)) problems.push(problem(`${at}.crm`, 'MAPPING_DUPLICATE_CRM_FIELD', `"${field.name}" is the target of more than one mapping`));
      seenCrm.add(field.name);
      if (writesCrm({ direction }) && !field.writable) {
        problems.push(problem(`${at}.crm`, 'MAPPING_READ_ONLY_TARGET', `"${field.name}" is read-only in the CRM: map it from the CRM only (direction from_crm)`));
      }
      if (builtin && !TEXT_TYPES.has(field.type)) {
        problems.push(problem(`${at}.crm`, 'MAPPING_TYPE_MISMATCH', `${platform} is text; "${field.name}" holds ${field.type} values`));
      }
      problems.push(...valueMapProblems(at, field, valueMap));
    }
    if (problems.length === before && field) out.push({ platform, crm: field.name, direction, conflict, valueMap, crmType: field.type });
  });
  if (problems.length > 0) throw validationError(problems);
  return out;
}

function valueMapProblems(at: string, field: CrmField, valueMap: ValueMapEntry[]): FieldProblem[] {
  const out: FieldProblem[] = [];
  if (valueMap.length === 0) return out;
  if (field.type !== 'picklist' && field.type !== 'multipicklist') {
    return [problem(`${at}.valueMap`, 'MAPPING_VALUE_MAP_NOT_PICKLIST', `"${field.name}" is not a picklist: a value map needs one`)];
  }
  if (valueMap.length > MAX_VALUE_MAP) return [problem(`${at}.valueMap`, 'MAPPING_TOO_MANY', `at most ${MAX_VALUE_MAP} values`)];
  const options = new Set((field.options ?? []).map((o) => o.value));
  const seen = new Set<string>();
  valueMap.forEach((e, j) => {
    if (e.platform === '' || seen.has(e.platform)) {
      out.push(problem(`${at}.valueMap.${j}.platform`, 'MAPPING_VALUE_MAP_DUPLICATE', e.platform === '' ? 'must not be empty' : `"${e.platform}" is mapped more than once`));
    }
    seen.add(e.platform);
    if (!options.has(e.crm)) {
      const known = [...options].slice(0, 20).join(', ');
      out.push(problem(`${at}.valueMap.${j}.crm`, 'MAPPING_VALUE_MAP_UNKNOWN_OPTION', `"${field.name}" has no option "${e.crm}" (options: ${known}${options.size > 20 ? ', ...' : ''})`));
    }
  });
  return out;
}

// ------------------------------------------------------------------ values

/** A value a mapping could not carry, and why (recorded as a warning in the sync history). */
export interface Unmappable {
  mapping: FieldMapping;
  value: FieldValue;
  reason: string;
}

export type Converted = { ok: true; value: FieldValue } | { ok: false; reason: string };

const text = (v: FieldValue): string | null => {
  if (v === null) return null;
  if (Array.isArray(v)) return v.length ? v.join(';') : null;
  const s = String(v).trim();
  return s === '' ? null : s;
};

/** A platform value -> the CRM value the mapping writes (the CRM field's type, option values). */
export function toCrmValue(m: FieldMapping, value: FieldValue): Converted {
  const type = m.crmType;
  if (value === null || value === '' || (Array.isArray(value) && value.length === 0)) return { ok: true, value: null };
  if (m.valueMap.length > 0) {
    const map = (v: string) => m.valueMap.find((e) => e.platform === v || e.platform.toLowerCase() === v.toLowerCase())?.crm;
    if (Array.isArray(value)) {
      const mapped = value.map((v) => map(v));
      const missing = value.filter((_, i) => mapped[i] === undefined);
      if (missing.length) return { ok: false, reason: `no CRM value is mapped for ${missing.map((v) => `"${v}"`).join(', ')}` };
      return { ok: true, value: type === 'multipicklist' ? (mapped as string[]) : (mapped as string[]).join(';') };
    }
    const crm = map(String(value));
    if (crm === undefined) return { ok: false, reason: `no CRM value is mapped for "${String(value)}"` };
    return { ok: true, value: type === 'multipicklist' ? [crm] : crm };
  }
  switch (type) {
    case 'number': {
      const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim()) : NaN;
      return Number.isFinite(n) ? { ok: true, value: n } : { ok: false, reason: `"${String(value)}" is not a number` };
    }
    case 'boolean':
      if (typeof value === 'boolean') return { ok: true, value };
      if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) return { ok: true, value: value.trim().toLowerCase() === 'true' };
      return { ok: false, reason: `"${String(value)}" is not true or false` };
    case 'date':
      if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value)) return { ok: true, value };
      return { ok: false, reason: `"${String(value)}" is not a date (YYYY-MM-DD)` };
    case 'datetime': {
      const d = typeof value === 'string' ? new Date(value) : null;
      return d && !Number.isNaN(d.getTime()) ? { ok: true, value: d.toISOString() } : { ok: false, reason: `"${String(value)}" is not a date and time` };
    }
    case 'multipicklist':
      return { ok: true, value: Array.isArray(value) ? value : String(value).split(';').map((s) => s.trim()).filter(Boolean) };
    default:
      return { ok: true, value: text(value) };
  }
}

/** A CRM value -> the platform value (text for the synced fields; the FieldValue for attributes). */
export function fromCrmValue(m: FieldMapping, value: FieldValue | undefined): Converted {
  if (value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0)) return { ok: true, value: null };
  if (m.valueMap.length > 0) {
    const back = (v: string) => m.valueMap.find((e) => e.crm === v)?.platform;
    const list = Array.isArray(value) ? value : [String(value)];
    const mapped = list.map(back);
    const missing = list.filter((_, i) => mapped[i] === undefined);
    if (missing.length) return { ok: false, reason: `the CRM value ${missing.map((v) => `"${v}"`).join(', ')} has no platform value in the value map` };
    return { ok: true, value: Array.isArray(value) && isAttribute(m.platform) ? (mapped as string[]) : (mapped as string[]).join(';') };
  }
  if (!isAttribute(m.platform)) return { ok: true, value: text(value) };
  return { ok: true, value };
}

/** Equal values in the CRM's terms (multi-select lists compared as sets, numbers by value). */
export function sameValue(a: FieldValue | undefined, b: FieldValue | undefined): boolean {
  const norm = (v: FieldValue | undefined) => (v === undefined || v === '' || (Array.isArray(v) && v.length === 0) ? null : v);
  const x = norm(a);
  const y = norm(b);
  if (Array.isArray(x) || Array.isArray(y)) {
    if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length) return false;
    const sx = [...x].sort();
    const sy = [...y].sort();
    return sx.every((v, i) => v === sy[i]);
  }
  if (typeof x === 'string' && typeof y === 'string') return x.trim() === y.trim();
  return x === y;
}

