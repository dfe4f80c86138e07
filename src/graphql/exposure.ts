// How much of the schema the API gives away: introspection (__schema, __type) and
// GraphQL's "Did you mean ...?" hints, which reveal field, argument, type and enum value
// names even when introspection is off. Both are on in development and off in
// production unless configured (GRAPHQL_INTROSPECTION, GRAPHQL_SUGGESTIONS).
// __typename stays available: clients need it and it reveals nothing new.
import { GraphQLError, type ASTVisitor, type ExecutionResult, type ValidationContext, type ValidationRule } from 'graphql';
import { handleStreamOrSingleExecutionResult, type Plugin } from 'graphql-yoga';

export interface Exposure {
  introspection: boolean;
  suggestions: boolean;
}

/** Refuses __schema and __type with code INTROSPECTION_DISABLED. */
export const noIntrospectionRule: ValidationRule = (context: ValidationContext): ASTVisitor => ({
  Field(node) {
    const name = node.name.value;
    if (name === '__schema' || name === '__type') {
      context.reportError(
        new GraphQLError(`Introspection is disabled on this server: ${name} cannot be queried.`, {
          nodes: [node],
          extensions: { code: 'INTROSPECTION_DISABLED' },
        }),
      );
    }
  },
});

const SUGGESTION = /\s*Did you mean [\s\S]*\?\s*$/;

/** The error without its "Did you mean ...?" hint (the same error when it has none). */
export function withoutSuggestion<E extends Error>(error: E): E {
  if (!SUGGESTION.test(error.message)) return error;
  const message = error.message.replace(SUGGESTION, '');
  if (error instanceof GraphQLError) {
    return new GraphQLError(message, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      originalError: error.originalError,
      extensions: error.extensions,
    }) as unknown as E;
  }
  return Object.assign(new Error(message), { name: error.name }) as E;
}

function stripResult(result: ExecutionResult, setResult: (r: ExecutionResult) => void) {
  if (!result.errors?.some((e) => SUGGESTION.test(e.message))) return;
  setResult({ ...result, errors: result.errors.map(withoutSuggestion) });
}

export function useExposure(exposure: Exposure): Plugin {
  return {
    onValidate({ addValidationRule }) {
      if (!exposure.introspection) addValidationRule(noIntrospectionRule);
      if (exposure.suggestions) return;
      return ({ result, setResult }) => {
        if (result.some((e: Error) => SUGGESTION.test(e.message))) setResult(result.map((e: Error) => withoutSuggestion(e)));
      };
    },
    // Variable values are checked while executing: their errors carry hints too.
    onExecute() {
      if (exposure.suggestions) return;
      return {
        onExecuteDone: (payload) => handleStreamOrSingleExecutionResult(payload, ({ result, setResult }) => stripResult(result, setResult)),
      };
    },
    onSubscribe() {
      if (exposure.suggestions) return;
      return {
        onSubscribeResult: (payload) => handleStreamOrSingleExecutionResult(payload, ({ result, setResult }) => stripResult(result, setResult)),
      };
    },
  };
}
