// Lead attributes: custom values beyond the six synced fields, kept on the lead as one
// JSON object. A value is text, a number, a boolean, a date (`YYYY-MM-DD`) or a list of
// texts: the contract's FieldValue without null (null in a change removes the key).
// Every problem is refused with a stable code per kind (FieldProblem.code), and nothing
// is stored when any value is refused.
import type { FieldValue } from '../../adapters/contract.ts';
import { validationError, type FieldProblem } from '../errors.ts';

export type AttributeValue = Exclude<FieldValue, null>;
export type Attributes = Record<string, AttributeValue>;

export const ATTRIBUTE_KEY = /^[a-z][a-z0-9_]{0,62}$/;
export const MAX_ATTRIBUTES = 50;
export const MAX_ATTRIBUTE_TEXT = 1_000;
export const MAX_ATTRIBUTE_LIST = 50;
export const MAX_ATTRIBUTE_LIST_ITEM = 255;

/** The codes of refused attributes, stable for clients (extensions.fields[].code). */
export type AttributeProblemCode =
  | 'ATTRIBUTES_NOT_OBJECT'
  | 'ATTRIBUTE_KEY_INVALID'
  | 'ATTRIBUTES_TOO_MANY'
  | 'ATTRIBUTE_TYPE_INVALID'
  | 'ATTRIBUTE_TEXT_TOO_LONG'
  | 'ATTRIBUTE_LIST_TOO_LONG'
  | 'ATTRIBUTE_LIST_ITEM_INVALID'
  | 'ATTRIBUTE_DATE_INVALID'
  | 'ATTRIBUTE_NUMBER_INVALID';

const DATE_LIKE = /^\d{4}-\d{2}-\d{2}$/;

function problem(field: string, code: AttributeProblemCode, message: string): FieldProblem {
  return { field, code, message };
}

/** A calendar date as `YYYY-MM-DD` that exists (no 2026-02-30). */
function isRealDate(s: string): boolean {
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The problem with one value, or null when it may be stored. Text is kept as given. */
function valueProblem(field: string, value: unknown): FieldProblem | null {
  if (typeof value === 'boolean') return null;
  if (typeof value === 'number') {
    return Number.isFinite(value) ? null : problem(field, 'ATTRIBUTE_NUMBER_INVALID', 'must be a finite number');
  }
  if (typeof value === 'string') {
    if (value.length > MAX_ATTRIBUTE_TEXT) return problem(field, 'ATTRIBUTE_TEXT_TOO_LONG', `must be at most ${MAX_ATTRIBUTE_TEXT} characters`);
    // PostgreSQL jsonb cannot hold NUL.
    if (value.includes('\u0000')) return problem(field, 'ATTRIBUTE_TYPE_INVALID', 'must not contain NUL characters');
    if (DATE_LIKE.test(value) && !isRealDate(value)) return problem(field, 'ATTRIBUTE_DATE_INVALID', 'must be a real date (YYYY-MM-DD)');
    return null;
  }
  if (Array.isArray(value)) {
    if (value.length > MAX_ATTRIBUTE_LIST) return problem(field, 'ATTRIBUTE_LIST_TOO_LONG', `must hold at most ${MAX_ATTRIBUTE_LIST} items`);
    const bad = value.findIndex((v) => typeof v !== 'string' || v.length > MAX_ATTRIBUTE_LIST_ITEM || v.includes('\u0000'));
    if (bad >= 0) {
      return problem(`${field}.${bad}`, 'ATTRIBUTE_LIST_ITEM_INVALID', `list items must be texts of at most ${MAX_ATTRIBUTE_LIST_ITEM} characters`);
    }
    return null;
  }
  return problem(field, 'ATTRIBUTE_TYPE_INVALID', 'must be a text, number, boolean, date (YYYY-MM-DD) or list of texts');
}

function keyProblem(key: string): FieldProblem | null {
  return ATTRIBUTE_KEY.test(key)
    ? null
    : problem(`attributes.${key}`, 'ATTRIBUTE_KEY_INVALID', 'key must start with a lower-case letter and hold at most 63 lower-case letters, digits or underscores');
}

/**
 * A change of attributes as given to createLead/updateLead: each key with its new value,
 * null to remove it. Throws a VALIDATION AppError naming every problem.
 */
export function parseAttributeChange(input: unknown): Record<string, AttributeValue | null> {
  if (!isObject(input)) {
    throw validationError([problem('attributes', 'ATTRIBUTES_NOT_OBJECT', 'must be an object of key/value pairs')]);
  }
  const problems: FieldProblem[] = [];
  for (const [key, value] of Object.entries(input)) {
    const p = keyProblem(key) ?? (value === null ? null : valueProblem(`attributes.${key}`, value));
    if (p) problems.push(p);
  }
  if (problems.length) throw validationError(problems);
  return input as Record<string, AttributeValue | null>;
}

/** Stored attributes as read from the column (anything unreadable is left out). */
export function readAttributes(json: unknown): Attributes {
  if (!isObject(json)) return {};
  const out: Attributes = {};
  for (const [k, v] of Object.entries(json)) if (v !== null && !keyProblem(k) && !valueProblem(k, v)) out[k] = v as AttributeValue;
  return out;
}

/**
 * The attributes after a change: keys set to null removed, others set, the rest kept.
 * Throws ATTRIBUTES_TOO_MANY when the result would hold more than MAX_ATTRIBUTES keys.
 */
export function mergeAttributes(current: unknown, change: Record<string, AttributeValue | null>): Attributes {
  const out: Attributes = { ...readAttributes(current) };
  for (const [k, v] of Object.entries(change)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  if (Object.keys(out).length > MAX_ATTRIBUTES) {
    throw validationError([problem('attributes', 'ATTRIBUTES_TOO_MANY', `a lead holds at most ${MAX_ATTRIBUTES} attributes`)]);
  }
  return out;
}

/** Equal attribute sets (key order ignored). */
export function sameAttributes(a: Attributes, b: Attributes): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => k in b && JSON.stringify(a[k]) === JSON.stringify(b[k]));
}

/** One filter of the `leads` query: leads whose attribute `key` equals `equals`. */
export function parseAttributeFilter(key: unknown, equals: unknown, at: string): { key: string; equals: AttributeValue } {
  const problems: FieldProblem[] = [];
  if (typeof key !== 'string' || !ATTRIBUTE_KEY.test(key)) {
    problems.push(problem(`${at}.key`, 'ATTRIBUTE_KEY_INVALID', 'key must start with a lower-case letter and hold at most 63 lower-case letters, digits or underscores'));
  }
  const p = equals === null || equals === undefined ? problem(`${at}.equals`, 'ATTRIBUTE_TYPE_INVALID', 'is required') : valueProblem(`${at}.equals`, equals);
  if (p) problems.push(p);
  if (problems.length) throw validationError(problems);
  return { key: key as string, equals: equals as AttributeValue };
}
