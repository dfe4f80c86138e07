// Generated fuzzing of every write surface. The cases are derived at run time from the
// executable GraphQL schema (every mutation, every argument, every field of every input
// object, recursively) and from the OpenAPI document the service serves (every route,
// its path parameters and JSON body properties), so a mutation or route added later is
// fuzzed without touching this file. Each case puts one hostile value (NUL, control
// characters, 100,000 characters, lone surrogates, a right-to-left override, wrong
// types, huge and negative numbers, nested junk) in one place of an otherwise plausible
// input, and must be refused with a clear client error (GraphQL: an error whose code is
// not INTERNAL; REST: a 4xx with the error envelope) while no table gains or loses a row.
// Deterministic: a fixed seed picks the values, a few hundred requests in all.
import {
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLInputType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../../src/graphql/schema.ts';
import { gql, newTenant, rest, startApi, type Tenant, type TestApi } from '../api/harness.ts';

const SEED = 20261201;
/** Hostile values tried per input position (plus one literal per mutation argument). */
const PER_POSITION = 4;

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = mulberry32(SEED);
const pick = <T,>(items: readonly T[], n: number): T[] => {
  const pool = [...items];
  const out: T[] = [];
  while (out.length < n && pool.length) out.push(pool.splice(Math.floor(random() * pool.length), 1)[0]);
  return out;
};

/** Hostile text: refused by the text rules whatever the field. */
const HOSTILE_TEXT = ['\u0000', 'a\u0000b', 'x'.repeat(100_000), '\ud800', 'abc\udfff', '\u202Egnp.exe', '\u0007bell', '\u001b[2J', 'line\nbreak', '\u0085'];
/** Values of the wrong shape for text, ids and enums. */
const WRONG_SHAPE = [true, [], ['x'], {}, { nested: { junk: ['\u0000', { deeper: [null, 1e308] }] } }, 1.5, Number.MAX_VALUE, -1e308];
const WRONG_NUMBER = [2 ** 31, -(2 ** 31) - 1, 1e308, -1, -999999, 1.5, 'abc', '\u0000', true, { junk: [] }];
const WRONG_BOOLEAN = ['true', 0, 1, -1, '\u0000', [], { junk: true }];

function hostileFor(type: GraphQLInputType): unknown[] {
  const named = getNamedType(type);
  if (isScalarType(named) && (named.name === 'Int' || named.name === 'Float')) return pick(WRONG_NUMBER, PER_POSITION);
  if (isScalarType(named) && named.name === 'Boolean') return pick(WRONG_BOOLEAN, PER_POSITION);
  // String, ID, enums and custom scalars: at least one hostile text and one wrong shape.
  return [...pick(HOSTILE_TEXT, PER_POSITION - 1), ...pick(WRONG_SHAPE, 1)];
}

/** A plausible value of a type (lists: one item; input objects: every field). */
function plausible(type: GraphQLInputType): unknown {
  const t = getNullableType(type) as GraphQLInputType;
  if (isListType(t)) return [plausible(t.ofType)];
  if (isInputObjectType(t)) return Object.fromEntries(Object.values(t.getFields()).map((f) => [f.name, plausible(f.type)]));
  if (isEnumType(t)) return t.getValues()[0].name;
  switch ((t as { name: string }).name) {
    case 'Int':
    case 'Float':
      return 1;
    case 'Boolean':
      return false;
    case 'DateTime':
      return '2026-01-01T00:00:00Z';
    default:
      return 'fuzz@example.com';
  }
}

interface Position {
  path: string[];
  type: GraphQLInputType;
}

/** Every place a value can be put in an argument: the argument itself and each nested input field. */
function positions(type: GraphQLInputType, path: string[], depth = 0): Position[] {
  const out: Position[] = [{ path, type }];
  const t = getNamedType(type);
  if (depth < 4 && isInputObjectType(t)) {
    const list = isListType(getNullableType(type));
    for (const f of Object.values(t.getFields())) out.push(...positions(f.type, [...path, ...(list ? ['0'] : []), f.name], depth + 1));
  }
  return out;
}

/** How the input rules name a position: `input.email`, `filter.items[0].name`. */
function fieldName(position: Position): string {
  const name = position.path.reduce((acc, p) => (p === '0' ? `${acc}[0]` : acc ? `${acc}.${p}` : p), '');
  // A single value given for a list is coerced to a list of one.
  return isListType(getNullableType(position.type)) ? `${name}[0]` : name;
}

function setAt(root: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(root);
  let here: any = copy;
  for (const key of path.slice(0, -1)) here = here[key];
  here[path[path.length - 1]] = value;
  return copy;
}

function typeRef(type: GraphQLInputType): string {
  return String(type);
}

async function rowCounts(api: TestApi): Promise<Record<string, number>> {
  const tables = await api.db.prisma.$queryRaw<{ table_name: string }[]>`
    SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> '_prisma_migrations'`;
  const counts: Record<string, number> = {};
  for (const { table_name } of tables) {
    const [row] = await api.db.prisma.$queryRawUnsafe<{ n: bigint }[]>(`SELECT count(*) AS n FROM "${table_name.replace(/"/g, '""')}"`);
    counts[table_name] = Number(row.n);
  }
  return counts;
}

type Outcome = { where: string; status: number; errors?: { message: string; extensions?: Record<string, any> }[]; data?: unknown };

/** A refusal as the client sees it: a client error with a code that is not INTERNAL and a message. */
function expectRefused(o: Outcome) {
  expect(o.status, o.where).toBeLessThan(500);
  expect(o.errors?.length, `${o.where}: ${JSON.stringify(o.data)}`).toBeGreaterThan(0);
  for (const e of o.errors!) {
    expect(e.extensions?.code, `${o.where}: ${e.message}`).not.toBe('INTERNAL');
    expect(e.message, o.where).not.toBe('Unexpected error.');
    expect(e.message.length, o.where).toBeGreaterThan(0);
  }
}

describe('generated fuzzing (deterministic)', () => {
  let api: TestApi;
  let t: Tenant;
  let before: Record<string, number>;
  let requests = 0;
  beforeAll(async () => {
    api = await startApi({ env: { NODE_ENV: 'production', API_RATE_LIMIT_PER_MINUTE: '0' } });
    t = await newTenant(api, 'Acme');
    before = await rowCounts(api);
  });
  afterAll(() => api?.close());

  it('every mutation refuses hostile values in every argument and input field, writing nothing', async () => {
    const mutations = Object.values(schema.getMutationType()!.getFields());
    expect(mutations.length).toBeGreaterThan(0);
    for (const mutation of mutations) {
      const selection = isLeafType(getNamedType(mutation.type)) ? '' : ' { __typename }';
      const vars = (args: readonly GraphQLArgument[]) => args.map((a) => `$${a.name}: ${typeRef(a.type)}`).join(', ');
      const call = `${mutation.name}(${mutation.args.map((a) => `${a.name}: $${a.name}`).join(', ')})`;
      const document = mutation.args.length ? `mutation Fuzz(${vars(mutation.args)}) { ${call}${selection} }` : `mutation Fuzz { ${mutation.name}${selection} }`;
      const base = Object.fromEntries(mutation.args.map((a) => [a.name, plausible(a.type)]));
      for (const arg of mutation.args) {
        for (const position of positions(arg.type, [arg.name])) {
          for (const value of hostileFor(position.type)) {
            const variables = setAt(base, position.path, value);
            const r = await gql(api, t.key, document, variables);
            requests++;
            const where = `${mutation.name} ${position.path.join('.')} = ${JSON.stringify(value).slice(0, 40)}`;
            expectRefused({ where, status: r.status, errors: r.body.errors, data: r.body.data });
            if (typeof value === 'string' && HOSTILE_TEXT.includes(value) && ['String', 'ID'].includes(getNamedType(position.type).name)) {
              // Refused for this value, by the input rules, naming the field.
              const fields = r.body.errors!.flatMap((e) => (e.extensions?.fields ?? []).map((f: { field: string }) => f.field));
              expect(fields, where).toContain(fieldName(position));
            }
          }
        }
        // The same hostile text as a literal in the document.
        if (isScalarType(getNamedType(arg.type)) && getNamedType(arg.type).name !== 'Int') {
          const literal = `mutation { ${mutation.name}(${arg.name}: ${JSON.stringify('x\u0000y')})${selection} }`;
          const r = await gql(api, t.key, literal);
          requests++;
          expectRefused({ where: `${mutation.name}(${arg.name}: literal NUL)`, status: r.status, errors: r.body.errors, data: r.body.data });
        }
      }
    }
    expect(await rowCounts(api)).toEqual(before);
  }, 600_000);

  it('every REST route of the OpenAPI document refuses hostile path parameters and bodies with a 4xx, writing nothing', async () => {
    const doc = (await rest(api, null, 'GET', '/api/v1/openapi.json')).json as {
      paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: { content: Record<string, { schema: any }> } }>>;
      components: { schemas: Record<string, any> };
    };
    const resolve = (s: any): any => (s?.$ref ? doc.components.schemas[s.$ref.split('/').pop()] : s);
    const routes = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method: method.toUpperCase(), op })));
    expect(routes.length).toBeGreaterThan(0);
    const hostileSegments = ['%00', 'a%00b', encodeURIComponent('x'.repeat(100_000)), '%ED%A0%80', encodeURIComponent('\u202Eevil'), '%1B%5B2J', '..%2F..%2Fetc', '%FF'];
    for (const { path, method, op } of routes) {
      const params = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
      const fill = (name: string) => (name === 'provider' ? 'hubspot' : 'fuzz-id');
      const url = (overrides: Record<string, string>) => path.replace(/\{(\w+)\}/g, (_m, name: string) => overrides[name] ?? fill(name));
      const jsonSchema = resolve(op.requestBody?.content?.['application/json']?.schema);
      const baseBody = jsonSchema?.properties ? Object.fromEntries(Object.keys(jsonSchema.properties).map((k) => [k, 'fuzz-id'])) : undefined;
      const send = async (p: string, body?: unknown, raw?: string) => {
        const r = await rest(api, t.key, method, p, raw ?? (body === undefined ? undefined : JSON.stringify(body)));
        requests++;
        const where = `${method} ${p.slice(0, 80)} ${raw ?? JSON.stringify(body)?.slice(0, 60)}`;
        expect(r.status, `${where} -> ${r.text.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
        expect(r.status, `${where} -> ${r.text.slice(0, 200)}`).toBeLessThan(500);
        if (r.json?.error) {
          expect(r.json.error.code, where).not.toBe('INTERNAL');
          expect(String(r.json.error.message).length, where).toBeGreaterThan(0);
        }
      };
      for (const name of params) for (const segment of pick(hostileSegments, PER_POSITION)) await send(url({ [name]: segment }), baseBody);
      if (method === 'GET') continue;
      // Bodies: junk of every shape, and each documented property made hostile.
      for (const body of pick<unknown>(['\u0000', 42, -1e308, [], [1, [2, [3]]], { nested: { junk: ['\u0000'] } }, null, 'x'.repeat(100_000)], PER_POSITION)) {
        await send(url({}), body);
      }
      for (const raw of ['{', '\u0000', '{"a":"\\ud800"}']) await send(url({}), undefined, raw);
      for (const key of Object.keys(jsonSchema?.properties ?? {})) {
        for (const value of [...pick(HOSTILE_TEXT, PER_POSITION - 1), ...pick(WRONG_SHAPE, 1)]) await send(url({}), { ...baseBody, [key]: value });
      }
    }
    expect(await rowCounts(api)).toEqual(before);
  }, 600_000);

  it('stayed within a few hundred requests', () => {
    expect(requests).toBeGreaterThan(100);
    expect(requests).toBeLessThan(1_000);
  });
});
