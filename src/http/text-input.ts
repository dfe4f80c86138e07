// What text the API accepts in any input (GraphQL arguments and input objects, REST
// JSON bodies and path parameters). One rule for every field, checked centrally before
// anything runs, so hostile text never reaches a resolver, a CRM or PostgreSQL (which
// refuses NUL in text with error 22021):
//   * at most MAX_INPUT_STRING_LENGTH characters;
//   * well-formed Unicode (no lone UTF-16 surrogates);
//   * no C0/C1 control characters (NUL, ESC, DEL, ...). Tab, line feed and carriage
//     return are allowed only in fields declared multi-line (none today: every field is
//     a name, an address, an id or a token);
//   * no bidirectional embedding, override or isolate controls (U+202A-U+202E,
//     U+2066-U+2069), which make text display differently from what it holds.
//     Left-to-right / right-to-left marks (U+200E, U+200F) stay allowed.
import type { FieldProblem } from '../errors.ts';

export const MAX_INPUT_STRING_LENGTH = 10_000;

const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;
const LINE_BREAK_OR_TAB = /[\t\n\r]/;
const BIDI_CONTROL = /[\u202A-\u202E\u2066-\u2069]/;

function codePoint(ch: string): string {
  return `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

function hasLoneSurrogate(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      return true;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}

/** Why a string is refused, or null when it is acceptable. */
export function textProblem(value: string, opts: { multiline?: boolean } = {}): string | null {
  if (value.length > MAX_INPUT_STRING_LENGTH) return `must be at most ${MAX_INPUT_STRING_LENGTH} characters`;
  if (hasLoneSurrogate(value)) return 'is not valid Unicode (it holds an unpaired surrogate)';
  const control = CONTROL.exec(value) ?? (opts.multiline ? null : LINE_BREAK_OR_TAB.exec(value));
  if (control) return `must not contain control characters (found ${codePoint(control[0])})`;
  const bidi = BIDI_CONTROL.exec(value);
  if (bidi) return `must not contain bidirectional text controls (found ${codePoint(bidi[0])})`;
  return null;
}

/** Problems of every string (and object key) in a parsed JSON value, by path (`a.b[2].c`). */
export function jsonTextProblems(value: unknown, path = '', out: FieldProblem[] = [], depth = 0): FieldProblem[] {
  if (out.length >= 20) return out;
  const here = path || '(body)';
  if (depth > 64) {
    out.push({ field: here, message: 'is nested too deeply' });
    return out;
  }
  if (typeof value === 'string') {
    const problem = textProblem(value);
    if (problem) out.push({ field: here, message: problem });
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => jsonTextProblems(item, `${path}[${i}]`, out, depth + 1));
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const keyProblem = textProblem(key);
      const name = keyProblem ? '(a key)' : path ? `${path}.${key}` : key;
      if (keyProblem) out.push({ field: name, message: `has a key that ${keyProblem}` });
      else jsonTextProblems(item, name, out, depth + 1);
    }
  }
  return out;
}
