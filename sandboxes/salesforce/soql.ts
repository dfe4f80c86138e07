// A small SOQL engine for one object: parses SELECT ... FROM ... [WHERE] [ORDER BY]
// [LIMIT] [OFFSET] (soql-run.ts evaluates it against rows). It covers what a sync adapter sends:
// comparisons (= != <> < > <= >=), IN / NOT IN, LIKE, AND / OR / NOT with parentheses,
// string, number, boolean, null, date and datetime literals, and COUNT().
//
// Salesforce semantics kept: field names and keywords are case-insensitive, string
// comparisons are case-insensitive, ids compare on their 15-char form (15 or 18 chars
// accepted), datetime literals are unquoted.

export class SoqlError extends Error {
  constructor(
    readonly errorCode: 'MALFORMED_QUERY' | 'INVALID_FIELD' | 'INVALID_TYPE' | 'INVALID_QUERY_FILTER_OPERATOR',
    message: string,
  ) {
    super(message);
  }
}

export type FieldKind = 'id' | 'string' | 'datetime' | 'boolean' | 'number';

export interface SoqlSchema {
  objectName: string;
  /** Canonical field name for a (case-insensitive) name, or undefined when unknown. */
  resolve(name: string): string | undefined;
  kind(field: string): FieldKind;
}

export type Value = string | number | boolean | Date | null;
export type Row = Record<string, Value>;

export type Literal =
  | { t: 'string'; v: string }
  | { t: 'number'; v: number }
  | { t: 'boolean'; v: boolean }
  | { t: 'null' }
  | { t: 'datetime'; v: Date }
  | { t: 'date'; v: string };

export type Cond =
  | { op: 'and' | 'or'; left: Cond; right: Cond }
  | { op: 'not'; inner: Cond }
  | { op: 'cmp'; field: string; cmp: '=' | '!=' | '<' | '>' | '<=' | '>=' | 'like'; value: Literal }
  | { op: 'in'; field: string; negate: boolean; values: Literal[] };

export interface Query {
  count: boolean;
  fields: string[];
  where: Cond | null;
  orderBy: { field: string; desc: boolean; nullsLast: boolean }[];
  limit: number | null;
  offset: number;
}

type Token = { k: 'word' | 'string' | 'number' | 'datetime' | 'date' | 'punct' | 'op'; v: string; pos: number };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'") {
      let s = '';
      let j = i + 1;
      for (;;) {
        if (j >= src.length) throw new SoqlError('MALFORMED_QUERY', `unterminated string at ${i}`);
        const ch = src[j];
        if (ch === '\\') {
          const n = src[j + 1];
          s += n === 'n' ? '\n' : n === 'r' ? '\r' : n === 't' ? '\t' : n;
          j += 2;
          continue;
        }
        if (ch === "'") break;
        s += ch;
        j++;
      }
      out.push({ k: 'string', v: s, pos: i });
      i = j + 1;
      continue;
    }
    const dt = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2})/.exec(src.slice(i));
    if (dt) {
      out.push({ k: 'datetime', v: dt[0], pos: i });
      i += dt[0].length;
      continue;
    }
    const d = /^\d{4}-\d{2}-\d{2}(?![\dT])/.exec(src.slice(i));
    if (d) {
      out.push({ k: 'date', v: d[0], pos: i });
      i += d[0].length;
      continue;
    }
    const num = /^-?\d+(?:\.\d+)?/.exec(src.slice(i));
    if (num && (c !== '-' || /\d/.test(src[i + 1] ?? ''))) {
      out.push({ k: 'number', v: num[0], pos: i });
      i += num[0].length;
      continue;
    }
    const op = /^(<=|>=|!=|<>|=|<|>)/.exec(src.slice(i));
    if (op) {
      out.push({ k: 'op', v: op[0] === '<>' ? '!=' : op[0], pos: i });
      i += op[0].length;
      continue;
    }
    if (c === '(' || c === ')' || c === ',') {
      out.push({ k: 'punct', v: c, pos: i });
      i++;
      continue;
    }
    const w = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(src.slice(i));
    if (w) {
      out.push({ k: 'word', v: w[0], pos: i });
      i += w[0].length;
      continue;
    }
    throw new SoqlError('MALFORMED_QUERY', `unexpected character '${c}' at ${i}`);
  }
  return out;
}

class Parser {
  private i = 0;
  constructor(
    private readonly toks: Token[],
    private readonly schema: SoqlSchema,
  ) {}

  private peek(): Token | undefined {
    return this.toks[this.i];
  }
  private isWord(w: string, t = this.peek()): boolean {
    return t?.k === 'word' && t.v.toUpperCase() === w;
  }
  private expectWord(w: string): void {
    if (!this.isWord(w)) throw this.unexpected(`expecting ${w}`);
    this.i++;
  }
  private expectPunct(p: string): void {
    const t = this.peek();
    if (t?.k !== 'punct' || t.v !== p) throw this.unexpected(`expecting '${p}'`);
    this.i++;
  }
  private unexpected(why: string): SoqlError {
    const t = this.peek();
    return new SoqlError('MALFORMED_QUERY', t ? `unexpected token: '${t.v}' (${why})` : `unexpected end of query (${why})`);
  }
  private field(): string {
    const t = this.peek();
    if (t?.k !== 'word') throw this.unexpected('expecting a field');
    this.i++;
    const f = this.schema.resolve(t.v);
    if (!f) throw new SoqlError('INVALID_FIELD', `No such column '${t.v}' on entity '${this.schema.objectName}'.`);
    return f;
  }

  parse(): Query {
    this.expectWord('SELECT');
    let count = false;
    const fields: string[] = [];
    if (this.isWord('COUNT') && this.toks[this.i + 1]?.v === '(') {
      this.i++;
      this.expectPunct('(');
      this.expectPunct(')');
      count = true;
    } else {
      for (;;) {
        fields.push(this.field());
        if (this.peek()?.v !== ',') break;
        this.i++;
      }
    }
    this.expectWord('FROM');
    const obj = this.peek();
    if (obj?.k !== 'word') throw this.unexpected('expecting an object');
    if (obj.v.toLowerCase() !== this.schema.objectName.toLowerCase()) {
      throw new SoqlError('INVALID_TYPE', `sObject type '${obj.v}' is not supported.`);
    }
    this.i++;
    let where: Cond | null = null;
    if (this.isWord('WHERE')) {
      this.i++;
      where = this.orExpr();
    }
    const orderBy: Query['orderBy'] = [];
    if (this.isWord('ORDER')) {
      this.i++;
      this.expectWord('BY');
      for (;;) {
        const field = this.field();
        let desc = false;
        if (this.isWord('ASC')) this.i++;
        else if (this.isWord('DESC')) {
          this.i++;
          desc = true;
        }
        let nullsLast = desc;
        if (this.isWord('NULLS')) {
          this.i++;
          if (this.isWord('FIRST')) nullsLast = false;
          else if (this.isWord('LAST')) nullsLast = true;
          else throw this.unexpected('expecting FIRST or LAST');
          this.i++;
        }
        orderBy.push({ field, desc, nullsLast });
        if (this.peek()?.v !== ',') break;
        this.i++;
      }
    }
    let limit: number | null = null;
    let offset = 0;
    if (this.isWord('LIMIT')) {
      this.i++;
      limit = this.integer();
    }
    if (this.isWord('OFFSET')) {
      this.i++;
      offset = this.integer();
    }
    if (this.peek()) throw this.unexpected('expecting end of query');
    return { count, fields, where, orderBy, limit, offset };
  }

  private integer(): number {
    const t = this.peek();
    if (t?.k !== 'number' || !/^\d+$/.test(t.v)) throw this.unexpected('expecting a non-negative integer');
    this.i++;
    return Number(t.v);
  }

  private orExpr(): Cond {
    let left = this.andExpr();
    while (this.isWord('OR')) {
      this.i++;
      left = { op: 'or', left, right: this.andExpr() };
    }
    return left;
  }
  private andExpr(): Cond {
    let left = this.notExpr();
    while (this.isWord('AND')) {
      this.i++;
      left = { op: 'and', left, right: this.notExpr() };
    }
    return left;
  }
  private notExpr(): Cond {
    if (this.isWord('NOT')) {
      this.i++;
      return { op: 'not', inner: this.notExpr() };
    }
    if (this.peek()?.v === '(') {
      this.i++;
      const inner = this.orExpr();
      this.expectPunct(')');
      return inner;
    }
    return this.comparison();
  }
  private comparison(): Cond {
    const field = this.field();
    const t = this.peek();
    if (this.isWord('NOT') && this.isWord('IN', this.toks[this.i + 1])) {
      this.i += 2;
      return { op: 'in', field, negate: true, values: this.list() };
    }
    if (this.isWord('IN')) {
      this.i++;
      return { op: 'in', field, negate: false, values: this.list() };
    }
    if (this.isWord('LIKE')) {
      this.i++;
      return { op: 'cmp', field, cmp: 'like', value: this.literal() };
    }
    if (t?.k !== 'op') throw this.unexpected('expecting an operator');
    this.i++;
    return { op: 'cmp', field, cmp: t.v as '=' | '!=' | '<' | '>' | '<=' | '>=', value: this.literal() };
  }
  private list(): Literal[] {
    this.expectPunct('(');
    const values: Literal[] = [];
    for (;;) {
      values.push(this.literal());
      if (this.peek()?.v === ',') {
        this.i++;
        continue;
      }
      break;
    }
    this.expectPunct(')');
    return values;
  }
  private literal(): Literal {
    const t = this.peek();
    if (!t) throw this.unexpected('expecting a value');
    this.i++;
    switch (t.k) {
      case 'string':
        return { t: 'string', v: t.v };
      case 'number':
        return { t: 'number', v: Number(t.v) };
      case 'datetime': {
        const iso = t.v.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
        const d = new Date(iso);
        if (Number.isNaN(d.getTime())) throw new SoqlError('MALFORMED_QUERY', `invalid datetime literal ${t.v}`);
        return { t: 'datetime', v: d };
      }
      case 'date':
        return { t: 'date', v: t.v };
      case 'word': {
        const w = t.v.toLowerCase();
        if (w === 'null') return { t: 'null' };
        if (w === 'true' || w === 'false') return { t: 'boolean', v: w === 'true' };
        break;
      }
    }
    this.i--;
    throw this.unexpected('expecting a value');
  }
}

export function parseSoql(soql: string, schema: SoqlSchema): Query {
  return new Parser(tokenize(soql), schema).parse();
}

/** Compares two non-null values of one field kind; strings case-insensitively. */
