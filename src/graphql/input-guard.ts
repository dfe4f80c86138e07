// One pass over every input of an operation, before anything executes: each argument of
// each selected field (literals and variables alike, coerced against the schema's input
// types) is walked, and every string reaching a String, ID or custom scalar must pass
// textProblem (src/http/text-input.ts). A refusal is a GraphQL error with code
// BAD_USER_INPUT naming every offending field (`input.email`), and nothing runs.
// An input field may allow line breaks and tabs with `extensions: { multiline: true }`.
import {
  GraphQLError,
  Kind,
  TypeInfo,
  getArgumentValues,
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  isEnumType,
  isInputObjectType,
  isListType,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { FieldProblem } from '../errors.ts';
import { textProblem } from '../http/text-input.ts';

const MAX_PROBLEMS = 20;

function walk(value: unknown, type: GraphQLInputType, path: string, multiline: boolean, out: FieldProblem[]): void {
  if (value === null || value === undefined || out.length >= MAX_PROBLEMS) return;
  const t = getNullableType(type) as GraphQLInputType;
  if (isListType(t)) {
    if (Array.isArray(value)) value.forEach((item, i) => walk(item, t.ofType, `${path}[${i}]`, multiline, out));
    return;
  }
  if (isInputObjectType(t)) {
    if (typeof value !== 'object') return;
    for (const field of Object.values(t.getFields())) {
      const v = (value as Record<string, unknown>)[field.name];
      walk(v, field.type, `${path}.${field.name}`, field.extensions?.multiline === true, out);
    }
    return;
  }
  if (isEnumType(getNamedType(t))) return;
  if (typeof value === 'string') {
    const problem = textProblem(value, { multiline });
    if (problem) out.push({ field: path, message: problem });
    return;
  }
  // A JSON value (lead attributes): every key and every text inside it.
  if (typeof value === 'object') walkJson(value, path, multiline, out);
}

function walkJson(value: unknown, path: string, multiline: boolean, out: FieldProblem[]): void {
  if (out.length >= MAX_PROBLEMS) return;
  if (typeof value === 'string') {
    const problem = textProblem(value, { multiline });
    if (problem) out.push({ field: path, message: problem });
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => walkJson(item, `${path}[${i}]`, multiline, out));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const keyProblem = textProblem(k, { multiline: false });
      if (keyProblem) out.push({ field: path, message: `key: ${keyProblem}` });
      else walkJson(v, `${path}.${k}`, multiline, out);
    }
  }
}

/**
 * Problems of the inputs of the operation that would run. Inputs GraphQL itself cannot
 * coerce are left to execution, which reports them.
 */
export function inputProblems(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  rawVariables: Record<string, unknown> | null | undefined,
): FieldProblem[] {
  const operation = getOperationAST(document, operationName);
  if (!operation) return [];
  const out: FieldProblem[] = [];
  const vars = getVariableValues(schema, operation.variableDefinitions ?? [], rawVariables ?? {}, { maxErrors: 1 });
  if (vars.errors) return [];
  const variables = vars.coerced;
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      OperationDefinition(node) {
        return node === operation ? undefined : false;
      },
      Field(node) {
        if (!node.arguments?.length || out.length >= MAX_PROBLEMS) return;
        const def = typeInfo.getFieldDef();
        if (!def) return;
        let args: Record<string, unknown>;
        try {
          args = getArgumentValues(def, node, variables);
        } catch {
          return; // execution reports what cannot be coerced
        }
        for (const arg of def.args) walk(args[arg.name], arg.type, arg.name, arg.extensions?.multiline === true, out);
      },
      Directive() {
        return false;
      },
      [Kind.VARIABLE_DEFINITION]: () => false,
    }),
  );
  return out;
}

export function badUserInput(problems: FieldProblem[]): GraphQLError {
  return new GraphQLError(`Invalid input: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, {
    extensions: { code: 'BAD_USER_INPUT', fields: problems },
  });
}

/** Refuses operations whose inputs hold unacceptable text (HTTP, SSE and WebSockets). */
export function useInputGuard(): Plugin {
  const check = (args: { schema: GraphQLSchema; document: DocumentNode; operationName?: string | null; variableValues?: unknown }) => {
    const problems = inputProblems(args.schema, args.document, args.operationName, args.variableValues as Record<string, unknown> | undefined);
    return problems.length ? badUserInput(problems) : null;
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const error = check(args);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = check(args);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}
