// Parser for Zoho's search `criteria` parameter:
//   (Field:operator:value)
//   ((Field:operator:value)and(Field:operator:value))   (or `or`; nested groups allowed)
// Values escape `(`, `)`, `,` and `\` with a backslash. At most 10 conditions.
//
// Zoho documents that `equals` in the search API behaves like `contains`; the sandbox
// does the same, so an adapter must filter search results for exact matches itself.

export type Criteria =
  | { kind: 'cond'; field: string; op: string; value: string }
  | { kind: 'group'; op: 'and' | 'or'; items: Criteria[] };

export class CriteriaError extends Error {}

export function parseCriteria(input: string): Criteria {
  let pos = 0;
  let conditions = 0;

  function expect(ch: string) {
    if (input[pos] !== ch) throw new CriteriaError(`expected '${ch}' at ${pos}`);
    pos++;
  }

  function readUntilColon(): string {
    const start = pos;
    while (pos < input.length && input[pos] !== ':') pos++;
    if (pos >= input.length) throw new CriteriaError('unterminated condition');
    const s = input.slice(start, pos);
    pos++;
    return s;
  }

  function readValue(): string {
    let out = '';
    while (pos < input.length) {
      const ch = input[pos]!;
      if (ch === '\\') {
        const next = input[pos + 1];
        if (next === undefined) throw new CriteriaError('dangling escape');
        out += next;
        pos += 2;
        continue;
      }
      if (ch === ')') return out;
      if (ch === '(') throw new CriteriaError(`unescaped '(' in value at ${pos}`);
      out += ch;
      pos++;
    }
    throw new CriteriaError('unterminated value');
  }

  function parseNode(): Criteria {
    expect('(');
    if (input[pos] === '(') {
      const items: Criteria[] = [parseNode()];
      let op: 'and' | 'or' | null = null;
      while (input[pos] !== ')') {
        const rest = input.slice(pos);
        const m = /^(and|or)/i.exec(rest);
        if (!m) throw new CriteriaError(`expected and/or at ${pos}`);
        const thisOp = m[1]!.toLowerCase() as 'and' | 'or';
        if (op && op !== thisOp) throw new CriteriaError('mixed and/or in one group');
        op = thisOp;
        pos += m[1]!.length;
        items.push(parseNode());
      }
      expect(')');
      return items.length === 1 ? items[0]! : { kind: 'group', op: op ?? 'and', items };
    }
    const field = readUntilColon();
    const op = readUntilColon();
    const value = readValue();
    expect(')');
    conditions++;
    if (conditions > 10) throw new CriteriaError('more than 10 criteria');
    if (!/^[A-Za-z0-9_]+$/.test(field)) throw new CriteriaError(`bad field ${field}`);
    return { kind: 'cond', field, op: op.toLowerCase(), value };
  }

  const node = parseNode();
  if (pos !== input.length) throw new CriteriaError(`trailing input at ${pos}`);
  return node;
}

export function matchesCriteria(c: Criteria, values: Record<string, unknown>): boolean {
  if (c.kind === 'group') {
    return c.op === 'and' ? c.items.every((i) => matchesCriteria(i, values)) : c.items.some((i) => matchesCriteria(i, values));
  }
  const raw = values[c.field];
  const actual = raw === null || raw === undefined ? '' : String(raw).toLowerCase();
  const wanted = c.value.toLowerCase();
  switch (c.op) {
    case 'equals':
      // Documented: equals behaves like contains in the search API.
      return wanted !== '' && actual.includes(wanted);
    case 'not_equal':
      return actual !== wanted;
    case 'starts_with':
      return actual.startsWith(wanted);
    case 'in':
      return wanted.split(',').some((w) => actual === w.trim());
    default:
      throw new CriteriaError(`unsupported operator ${c.op}`);
  }
}
