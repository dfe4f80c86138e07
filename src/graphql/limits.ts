// Abuse limits of GraphQL operations, checked before GraphQL's own validation (some of
// its rules grow with the square of the number of fields) and before anything runs, on
// HTTP, SSE and WebSockets alike:
//   * aliases: at most maxAliases aliased fields in a document (TOO_MANY_ALIASES);
//   * depth: how deep selections nest (introspection has its own, larger allowance so
//     GraphiQL keeps working) (QUERY_TOO_DEEP);
//   * cost: every field costs 1, introspection fields included, and what is selected
//     under a connection costs once per item it may return (its `first`/`last`, or the
//     default page size) (QUERY_TOO_COSTLY). Fragments are measured once each, so a
//     document spreading fragments into each other cannot make the measuring slow.
// Connections never return more than MAX_PAGE_SIZE items (larger `first`/`last` are
// clamped by Pothos, `maxConnectionSize`), so a page costs at most that many times.
import {
  GraphQLError,
  Kind,
  getNamedType,
  isObjectType,
  isInterfaceType,
  valueFromAST,
  visit,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;
/** Introspection queries (GraphiQL's) nest deeper than any data query needs to. */
export const INTROSPECTION_MAX_DEPTH = 20;
const PAGE_ARGS = ['first', 'last'];

export interface QueryLimits {
  maxDepth: number;
  maxCost: number;
  /** Aliased fields a document may hold (default 50). */
  maxAliases?: number;
}

export const DEFAULT_MAX_ALIASES = 50;

type Variables = Record<string, unknown> | null | undefined;

function fieldDef(parent: GraphQLNamedType | undefined, name: string): GraphQLField<unknown, unknown> | undefined {
  if (parent && (isObjectType(parent) || isInterfaceType(parent))) return parent.getFields()[name];
  return undefined;
}

/** The page size a field asks for: its first/last argument (literal or variable), else null. */
function pageSize(node: FieldNode, def: GraphQLField<unknown, unknown> | undefined, variables: Variables): number | null {
  if (!def || !def.args.some((a) => PAGE_ARGS.includes(a.name))) return null;
  let asked: number | null = null;
  for (const argNode of node.arguments ?? []) {
    if (!PAGE_ARGS.includes(argNode.name.value)) continue;
    if (argNode.value.kind === Kind.VARIABLE && variables == null) {
      // Validation runs (and is cached) without variables: assume the largest page.
      asked = MAX_PAGE_SIZE;
      continue;
    }
    const argDef = def.args.find((a) => a.name === argNode.name.value);
    const value = argDef ? valueFromAST(argNode.value, argDef.type, variables ?? undefined) : undefined;
    if (typeof value === 'number') asked = Math.max(asked ?? 0, value);
  }
  return asked ?? DEFAULT_PAGE_SIZE;
}

interface Walk {
  schema: GraphQLSchema;
  fragments: Record<string, FragmentDefinitionNode>;
  variables: Variables;
  /** Fragment measures (relative to where they are spread), by name and introspection flag. */
  memo: Map<string, Measure>;
}

/** Depths are relative: how many levels a selection set adds below where it is. */
interface Measure {
  depth: number;
  cost: number;
  introspectionDepth: number;
}

function childTypeOf(w: Walk, def: GraphQLField<unknown, unknown> | undefined, name: string): GraphQLNamedType | undefined {
  if (def) return getNamedType(def.type);
  if (name === '__schema') return w.schema.getType('__Schema') ?? undefined;
  if (name === '__type') return w.schema.getType('__Type') ?? undefined;
  return undefined;
}

/** Deepest nesting and cost of a selection set (fragments followed once each; cycles cut). */
function measure(w: Walk, set: SelectionSetNode, parent: GraphQLNamedType | undefined, inIntrospection: boolean, visiting: Set<string>): Measure {
  let deepest = 0;
  let deepestIntrospection = 0;
  let cost = 0;
  const merge = (inner: Measure) => {
    cost += inner.cost;
    deepest = Math.max(deepest, inner.depth);
    deepestIntrospection = Math.max(deepestIntrospection, inner.introspectionDepth);
  };
  for (const sel of set.selections) {
    if (sel.kind === Kind.FIELD) {
      const name = sel.name.value;
      const def = fieldDef(parent, name);
      const introspection = inIntrospection || name.startsWith('__');
      if (!sel.selectionSet) {
        cost += 1;
        if (introspection) deepestIntrospection = Math.max(deepestIntrospection, 1);
        else deepest = Math.max(deepest, 1);
        continue;
      }
      const size = pageSize(sel, def, w.variables);
      const inner = measure(w, sel.selectionSet, childTypeOf(w, def, name), introspection, visiting);
      cost += 1 + inner.cost * Math.min(size ?? 1, MAX_PAGE_SIZE);
      deepestIntrospection = Math.max(deepestIntrospection, inner.introspectionDepth ? inner.introspectionDepth + 1 : 0);
      if (introspection) deepestIntrospection = Math.max(deepestIntrospection, inner.depth + 1);
      else deepest = Math.max(deepest, inner.depth + 1);
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      const cond = sel.typeCondition ? w.schema.getType(sel.typeCondition.name.value) : parent;
      merge(measure(w, sel.selectionSet, cond ?? undefined, inIntrospection, visiting));
    } else {
      const fragment = w.fragments[sel.name.value];
      if (!fragment || visiting.has(fragment.name.value)) continue; // unknown or cyclic: other rules report it
      const key = `${fragment.name.value}:${inIntrospection}`;
      let inner = w.memo.get(key);
      if (!inner) {
        visiting.add(fragment.name.value);
        const cond = w.schema.getType(fragment.typeCondition.name.value);
        inner = measure(w, fragment.selectionSet, cond ?? undefined, inIntrospection, visiting);
        visiting.delete(fragment.name.value);
        w.memo.set(key, inner);
      }
      merge(inner);
    }
  }
  return { depth: deepest, cost, introspectionDepth: deepestIntrospection };
}

function rootType(schema: GraphQLSchema, op: OperationDefinitionNode) {
  return op.operation === 'query' ? schema.getQueryType() : op.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
}

/** Aliased fields anywhere in the document (fragments counted once, where written). */
export function countAliases(document: DocumentNode): number {
  let aliases = 0;
  visit(document, {
    Field(node) {
      if (node.alias) aliases++;
    },
  });
  return aliases;
}

/**
 * The limit errors of a document (empty when within every limit). Pages asked for with
 * variables count as full pages (the answer does not depend on variables, so it may be
 * cached with the document).
 */
export function limitErrors(schema: GraphQLSchema, document: DocumentNode, limits: QueryLimits): GraphQLError[] {
  const errors: GraphQLError[] = [];
  const maxAliases = limits.maxAliases ?? DEFAULT_MAX_ALIASES;
  const aliases = countAliases(document);
  if (aliases > maxAliases) {
    errors.push(
      new GraphQLError(`The document uses ${aliases} aliases; at most ${maxAliases} are allowed.`, {
        extensions: { code: 'TOO_MANY_ALIASES', aliases, maxAliases },
      }),
    );
    return errors; // measured no further: refused as cheaply as possible
  }
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const def of document.definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments[def.name.value] = def;
  }
  const w: Walk = { schema, fragments, variables: null, memo: new Map() };
  for (const op of document.definitions) {
    if (op.kind !== Kind.OPERATION_DEFINITION) continue;
    const m = measure(w, op.selectionSet, rootType(schema, op) ?? undefined, false, new Set());
    const name = op.name ? `Operation ${op.name.value}` : 'The operation';
    if (m.depth > limits.maxDepth) {
      errors.push(
        new GraphQLError(`${name} nests ${m.depth} levels deep; at most ${limits.maxDepth} are allowed.`, {
          nodes: [op],
          extensions: { code: 'QUERY_TOO_DEEP', depth: m.depth, maxDepth: limits.maxDepth },
        }),
      );
    }
    if (m.introspectionDepth > Math.max(limits.maxDepth, INTROSPECTION_MAX_DEPTH)) {
      errors.push(
        new GraphQLError(`${name} nests introspection ${m.introspectionDepth} levels deep; at most ${INTROSPECTION_MAX_DEPTH} are allowed.`, {
          nodes: [op],
          extensions: { code: 'QUERY_TOO_DEEP', depth: m.introspectionDepth, maxDepth: INTROSPECTION_MAX_DEPTH },
        }),
      );
    }
    if (m.cost > limits.maxCost) {
      errors.push(
        new GraphQLError(
          `${name} would cost ${m.cost} (fields multiplied by page sizes); at most ${limits.maxCost} is allowed. Ask for smaller pages or fewer fields.`,
          { nodes: [op], extensions: { code: 'QUERY_TOO_COSTLY', cost: m.cost, maxCost: limits.maxCost } },
        ),
      );
    }
  }
  return errors;
}

/**
 * The yoga/envelop plugin: a document over a limit is answered with the limit errors
 * alone, and GraphQL's own validation never runs on it (HTTP, SSE, WebSockets).
 */
export function useQueryLimits(limits: QueryLimits): Plugin {
  return {
    onValidate({ params, setResult }) {
      const errors = limitErrors(params.schema, params.documentAST, limits);
      if (errors.length) setResult(errors);
    },
  };
}
