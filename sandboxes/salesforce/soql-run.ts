// Runs a parsed SOQL query (soql.ts) against rows: WHERE with Salesforce's comparison
// semantics (case-insensitive strings, ids on their 15-character form, LIKE with % and _),
// ORDER BY (Id when none; NULLS FIRST/LAST place nulls whatever the direction), OFFSET and
// LIMIT.
import { SoqlError, type Cond, type FieldKind, type Literal, type Query, type Row, type SoqlSchema, type Value } from './soql.ts';

export function compareValues(kind: FieldKind, a: Exclude<Value, null>, b: Exclude<Value, null>): number {
  if (kind === 'datetime') return (a as Date).getTime() - (b as Date).getTime();
  if (kind === 'number') return (a as number) - (b as number);
  if (kind === 'boolean') return Number(a) - Number(b);
  if (kind === 'id') {
    const x = String(a).slice(0, 15);
    const y = String(b).slice(0, 15);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const x = String(a).toLowerCase();
  const y = String(b).toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

function literalFor(kind: FieldKind, field: string, lit: Literal): Value {
  switch (lit.t) {
    case 'null':
      return null;
    case 'string':
      if (kind === 'id') {
        if (!/^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/.test(lit.v)) {
          throw new SoqlError('INVALID_QUERY_FILTER_OPERATOR', `invalid ID field: ${lit.v}`);
        }
        return lit.v;
      }
      if (kind !== 'string') throw new SoqlError('INVALID_QUERY_FILTER_OPERATOR', `value of filter criterion for field '${field}' must be of type ${kind} and should not be enclosed in quotes`);
      return lit.v;
    case 'datetime':
      if (kind !== 'datetime') throw new SoqlError('INVALID_QUERY_FILTER_OPERATOR', `value of filter criterion for field '${field}' must be of type ${kind}`);
      return lit.v;
    case 'date':
      throw new SoqlError('INVALID_QUERY_FILTER_OPERATOR', `value of filter criterion for field '${field}' must be of type dateTime and should not be enclosed in quotes`);
    case 'number':
      if (kind !== 'number') throw new SoqlError('INVALID_QUERY_FILTER_OPERATOR', `value of filter criterion for field '${field}' must be of type ${kind}`);
      return lit.v;
    case 'boolean':
      if (kind !== 'boolean') throw new SoqlError('INVALID_QUERY_FILTER_OPERATOR', `value of filter criterion for field '${field}' must be of type ${kind}`);
      return lit.v;
  }
}

function likeToRegExp(pattern: string): RegExp {
  const re = pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/%/g, '.*').replace(/_/g, '.');
  return new RegExp(`^${re}$`, 'is');
}

function evaluate(c: Cond, row: Row, schema: SoqlSchema): boolean {
  switch (c.op) {
    case 'and':
      return evaluate(c.left, row, schema) && evaluate(c.right, row, schema);
    case 'or':
      return evaluate(c.left, row, schema) || evaluate(c.right, row, schema);
    case 'not':
      return !evaluate(c.inner, row, schema);
    case 'in': {
      const kind = schema.kind(c.field);
      const v = row[c.field] ?? null;
      const hit = c.values.some((lit) => {
        const w = literalFor(kind, c.field, lit);
        if (v === null || w === null) return v === w;
        return compareValues(kind, v, w) === 0;
      });
      return c.negate ? !hit : hit;
    }
    case 'cmp': {
      const kind = schema.kind(c.field);
      const v = row[c.field] ?? null;
      if (c.cmp === 'like') {
        if (c.value.t !== 'string') throw new SoqlError('INVALID_QUERY_FILTER_OPERATOR', 'LIKE needs a string');
        return v !== null && likeToRegExp(c.value.v).test(String(v));
      }
      const w = literalFor(kind, c.field, c.value);
      if (w === null || v === null) {
        if (c.cmp === '=') return v === w;
        if (c.cmp === '!=') return v !== w;
        return false;
      }
      const d = compareValues(kind, v, w);
      switch (c.cmp) {
        case '=':
          return d === 0;
        case '!=':
          return d !== 0;
        case '<':
          return d < 0;
        case '>':
          return d > 0;
        case '<=':
          return d <= 0;
        case '>=':
          return d >= 0;
      }
    }
  }
}

/** Filters and orders rows (LIMIT/OFFSET applied); projection is the caller's job. */
export function runQuery(q: Query, rows: Row[], schema: SoqlSchema): Row[] {
  let out = q.where ? rows.filter((r) => evaluate(q.where!, r, schema)) : rows.slice();
  const order = q.orderBy.length > 0 ? q.orderBy : [{ field: schema.resolve('Id')!, desc: false, nullsLast: false }];
  out.sort((a, b) => {
    for (const o of order) {
      const x = a[o.field] ?? null;
      const y = b[o.field] ?? null;
      if (x === null || y === null) {
        if (x === y) continue;
        // NULLS FIRST/LAST places nulls regardless of the direction.
        return x === null ? (o.nullsLast ? 1 : -1) : o.nullsLast ? -1 : 1;
      }
      const d = compareValues(schema.kind(o.field), x, y);
      if (d !== 0) return o.desc ? -d : d;
    }
    return 0;
  });
  out = out.slice(q.offset);
  if (q.limit !== null) out = out.slice(0, q.limit);
  return out;
}
