// Lead field rules shared by every path: validation of platform input, normalisation,
// and the hash of the synced fields used for echo suppression.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { SYNCED_FIELDS, normaliseEmail, type LeadFields } from '../../adapters/contract.ts';

export { normaliseEmail };
import { validationError, type FieldProblem } from '../errors.ts';

const text = (max: number) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    .transform((v) => v.trim())
    .transform((v) => (v === '' ? null : v))
    .nullable()
    .optional();

const emailSchema = z
  .string()
  .transform((v) => v.trim().toLowerCase())
  .pipe(z.string().max(254, 'must be at most 254 characters').email('must be a valid email address'));

const optionalFields = {
  firstName: text(200),
  lastName: text(200),
  phone: text(50),
  company: text(255),
  status: text(100),
};

const createSchema = z.object({ email: emailSchema, ...optionalFields }).strict();
const updateSchema = z.object({ email: emailSchema.optional(), ...optionalFields }).strict();

export type LeadInputFields = Partial<LeadFields> & { email?: string };

function problems(error: z.ZodError): FieldProblem[] {
  return error.issues.map((i) => ({ field: i.path.join('.') || 'input', message: i.message }));
}

/** Validates and normalises createLead input; throws a VALIDATION AppError naming each bad field. */
export function parseCreateInput(input: unknown): LeadFields & { email: string } {
  const r = createSchema.safeParse(input);
  if (!r.success) throw validationError(problems(r.error));
  return {
    email: r.data.email,
    firstName: r.data.firstName ?? null,
    lastName: r.data.lastName ?? null,
    phone: r.data.phone ?? null,
    company: r.data.company ?? null,
    status: r.data.status ?? null,
  };
}

/** Validates updateLead input: only the fields present change; null clears (except email). */
export function parseUpdateInput(input: unknown): Partial<LeadFields> {
  const r = updateSchema.safeParse(input);
  if (!r.success) throw validationError(problems(r.error));
  if ('email' in (input as object) && (input as { email?: unknown }).email === null) {
    throw validationError([{ field: 'email', message: 'cannot be cleared' }]);
  }
  const out: Partial<LeadFields> = {};
  for (const k of SYNCED_FIELDS) {
    if (k in r.data && (r.data as Record<string, unknown>)[k] !== undefined) {
      (out as Record<string, unknown>)[k] = (r.data as Record<string, unknown>)[k];
    }
  }
  return out;
}

/** Canonical form of synced fields: trimmed strings, empty as null, email lower-cased. */
export function canonicalFields(f: Partial<LeadFields>): LeadFields {
  // CRM values are not filtered like API input: NUL, which PostgreSQL text and jsonb
  // cannot hold, is dropped here so a CRM record carrying one never fails its event.
  const t = (v: string | null | undefined) => {
    const s = (v ?? '').replace(/\u0000/g, '').trim();
    return s === '' ? null : s;
  };
  return {
    email: normaliseEmail(f.email?.replace(/\u0000/g, '')),
    firstName: t(f.firstName),
    lastName: t(f.lastName),
    phone: t(f.phone),
    company: t(f.company),
    status: t(f.status),
  };
}

/** Stable hash of the synced fields: equal hashes mean "nothing a user would see changed". */
export function fieldsHash(f: Partial<LeadFields>): string {
  const c = canonicalFields(f);
  return createHash('sha256')
    .update(JSON.stringify(SYNCED_FIELDS.map((k) => c[k])))
    .digest('hex')
    .slice(0, 32);
}

export function leadFieldsOf(lead: LeadFields): LeadFields {
  return canonicalFields(lead);
}

/** The fields of `next` that differ from `current`. */
export function changedFields(current: LeadFields, next: LeadFields): Partial<LeadFields> {
  const a = canonicalFields(current);
  const b = canonicalFields(next);
  const out: Partial<LeadFields> = {};
  for (const k of SYNCED_FIELDS) if (a[k] !== b[k]) (out as Record<string, unknown>)[k] = b[k];
  return out;
}

/** A partial field snapshot as stored in CrmLink.remoteFields (canonical values, known keys only). */
export function toSnapshot(f: Partial<LeadFields>): Partial<LeadFields> {
  const c = canonicalFields(f);
  const out: Partial<LeadFields> = {};
  for (const k of SYNCED_FIELDS) if (k in f) (out as Record<string, unknown>)[k] = c[k];
  return out;
}

export function readSnapshot(json: unknown): Partial<LeadFields> | null {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return null;
  const out: Partial<LeadFields> = {};
  for (const k of SYNCED_FIELDS) {
    const v = (json as Record<string, unknown>)[k];
    if (v === null || typeof v === 'string') (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/**
 * Three-way comparison: the fields a CRM record changed since `base` (what the CRM
 * held as far as we knew). Fields unknown in the base are not reported: we cannot tell
 * whether the CRM changed them, and applying them could flip a value another CRM set.
 */
export function changedSince(base: Partial<LeadFields>, remote: LeadFields): Partial<LeadFields> {
  const r = canonicalFields(remote);
  const out: Partial<LeadFields> = {};
  for (const k of SYNCED_FIELDS) if (k in base && base[k] !== r[k]) (out as Record<string, unknown>)[k] = r[k];
  return out;
}

/** A field snapshot in the form Prisma stores in a Json column. */
export function asJson(f: Partial<LeadFields>): Record<string, string | null> {
  return { ...f } as Record<string, string | null>;
}

/** Per-field change times of a lead (`Lead.fieldsChangedAt`); unreadable entries are left out. */
export function readFieldTimes(json: unknown): Partial<Record<keyof LeadFields, Date>> {
  const out: Partial<Record<keyof LeadFields, Date>> = {};
  if (!json || typeof json !== 'object' || Array.isArray(json)) return out;
  for (const k of SYNCED_FIELDS) {
    const v = (json as Record<string, unknown>)[k];
    if (typeof v !== 'string') continue;
    const d = new Date(v);
    if (!Number.isNaN(d.getTime())) out[k] = d;
  }
  return out;
}

/** Every change time `Lead.fieldsChangedAt` holds: the synced fields and mapped attributes (`attributes.<key>`). */
export function readAllFieldTimes(json: unknown): Record<string, Date> {
  const out: Record<string, Date> = {};
  if (!json || typeof json !== 'object' || Array.isArray(json)) return out;
  for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
    if (typeof v !== 'string') continue;
    const d = new Date(v);
    if (!Number.isNaN(d.getTime())) out[k] = d;
  }
  return out;
}

/**
 * `Lead.fieldsChangedAt` with `fields` stamped: `at` for each, or the CRM's own time of
 * that field. Entries of other fields (attributes included) are kept.
 */
export function stampFieldTimes(
  json: unknown,
  fields: readonly string[],
  at: Date,
  perField: Partial<Record<string, Date>> = {},
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, d] of Object.entries(readAllFieldTimes(json))) out[k] = d.toISOString();
  for (const k of fields) out[k] = (perField[k] ?? at).toISOString();
  return out;
}

/** Synced fields other than email (which is never blank on a lead). */
export type FieldPatch = Partial<Omit<LeadFields, 'email'>>;

/** The synced fields a lead may hold blank, filled from another source when they are. */
export const BLANKABLE = ['firstName', 'lastName', 'phone', 'company', 'status'] as const;
