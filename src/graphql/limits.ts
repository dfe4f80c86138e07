// Abuse limits of GraphQL operations, checked while validating (before anything runs),
// on HTTP, SSE and WebSockets alike:
//   * depth: how deep selections nest (introspection has its own, larger allowance so
//     GraphiQL keeps working);
//   * cost: every field costs 1, and what is selected under a connection costs once per
//     item it may return (its `first`/`last`, or the default page size);
// Connections never return more than MAX_PAGE_SIZE items (larger `first`/`last` are
// clamped by Pothos, `maxConnectionSize`), so a page costs at most that many times.
// Errors carry stable codes: QUERY_TOO_DEEP, QUERY_TOO_COSTLY.
import {
  GraphQLError,
  Kind,
  getNamedType,
  isObjectType,
  isInterfaceType,
  valueFromAST,
  type ASTVisitor,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
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
}

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
}

/** Deepest nesting and cost of a selection set (fragments followed; cycles cut). */
function measure(
  w: Walk,
  set: SelectionSetNode,
  parent: GraphQLNamedType | undefined,
  depth: number,
  inIntrospection: boolean,
  visiting: Set<string>,
): { depth: number; cost: number; introspectionDepth: number } {
  let deepest = depth;
  let deepestIntrospection = 0;
  let cost = 0;
  for (const sel of set.selections) {
    if (sel.kind === Kind.FIELD) {
      const name = sel.name.value;
      const def = fieldDef(parent, name) ?? (name === '__schema' ? w.schema.getQueryType()?.getFields()[name] : undefined);
      const introspection = inIntrospection || name.startsWith('__');
      const size = pageSize(sel, def, w.variables);
      const own = introspection ? 0 : 1;
      if (!sel.selectionSet) {
        cost += own;
        if (introspection) deepestIntrospection = Math.max(deepestIntrospection, depth + 1);
        else deepest = Math.max(deepest, depth + 1);
        continue;
      }
      const childType = def ? getNamedType(def.type) : name === '__schema' ? w.schema.getType('__Schema') : name === '__type' ? w.schema.getType('__Type') : undefined;
      const inner = measure(w, sel.selectionSet, childType ?? undefined, depth + 1, introspection, visiting);
      cost += own + inner.cost * Math.min(size ?? 1, MAX_PAGE_SIZE);
      deepestIntrospection = Math.max(deepestIntrospection, inner.introspectionDepth);
      if (introspection) deepestIntrospection = Math.max(deepestIntrospection, inner.depth);
      else deepest = Math.max(deepest, inner.depth);
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      const cond = sel.typeCondition ? w.schema.getType(sel.typeCondition.name.value) : parent;
      const inner = measure(w, sel.selectionSet, cond ?? undefined, depth, inIntrospection, visiting);
      cost += inner.cost;
      deepest = Math.max(deepest, inner.depth);
      deepestIntrospection = Math.max(deepestIntrospection, inner.introspectionDepth);
    } else {
      const fragment = w.fragments[sel.name.value];
      if (!fragment || visiting.has(fragment.name.value)) continue; // unknown or cyclic: other rules report it
      visiting.add(fragment.name.value);
      const cond = w.schema.getType(fragment.typeCondition.name.value);
      const inner = measure(w, fragment.selectionSet, cond ?? undefined, depth, inIntrospection, visiting);
      visiting.delete(fragment.name.value);
      cost += inner.cost;
      deepest = Math.max(deepest, inner.depth);
      deepestIntrospection = Math.max(deepestIntrospection, inner.introspectionDepth);
    }
  }
  return { depth: deepest, cost, introspectionDepth: deepestIntrospection };
}

function rootType(schema: GraphQLSchema, op: OperationDefinitionNode) {
  return op.operation === 'query' ? schema.getQueryType() : op.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
}

/**
 * A validation rule enforcing the limits. Pages asked for with variables count as full
 * pages (the result does not depend on variables, so it may be cached).
 */
export function queryLimitsRule(limits: QueryLimits): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments: Record<string, FragmentDefinitionNode> = {};
    for (const def of context.getDocument().definitions) {
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments[def.name.value] = def;
    }
    const w: Walk = { schema: context.getSchema(), fragments, variables: null };
    return {
      OperationDefinition(op) {
        const m = measure(w, op.selectionSet, rootType(w.schema, op) ?? undefined, 0, false, new Set());
        const name = op.name ? `Operation ${op.name.value}` : 'The operation';
        if (m.depth > limits.maxDepth) {
          context.reportError(
            new GraphQLError(`${name} nests ${m.depth} levels deep; at most ${limits.maxDepth} are allowed.`, {
              nodes: [op],
              extensions: { code: 'QUERY_TOO_DEEP', depth: m.depth, maxDepth: limits.maxDepth },
            }),
          );
        }
        if (m.introspectionDepth > Math.max(limits.maxDepth, INTROSPECTION_MAX_DEPTH)) {
          context.reportError(
            new GraphQLError(`${name} nests introspection ${m.introspectionDepth} levels deep; at most ${INTROSPECTION_MAX_DEPTH} are allowed.`, {
              nodes: [op],
              extensions: { code: 'QUERY_TOO_DEEP', depth: m.introspectionDepth, maxDepth: INTROSPECTION_MAX_DEPTH },
            }),
          );
        }
        if (m.cost > limits.maxCost) {
          context.reportError(
            new GraphQLError(
              `${name} would cost ${m.cost} (fields multiplied by page sizes); at most ${limits.maxCost} is allowed. Ask for smaller pages or fewer fields.`,
              { nodes: [op], extensions: { code: 'QUERY_TOO_COSTLY', cost: m.cost, maxCost: limits.maxCost } },
            ),
          );
        }
        return false; // measured whole; nothing below needs visiting
      },
    };
  };
}

/** The yoga/envelop plugin adding the rule to every validation (HTTP, SSE, WebSockets). */
export function useQueryLimits(limits: QueryLimits): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(queryLimitsRule(limits));
    },
  };
}
