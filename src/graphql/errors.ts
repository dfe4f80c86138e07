// How failures reach GraphQL clients. AppError -> a GraphQL error with its stable
// extensions.code (and extensions.fields for VALIDATION). Anything else is logged with
// the operation's context and answered as "Unexpected error." with code INTERNAL.
import { PothosValidationError } from '@pothos/core';
import { GraphQLError, type ExecutionResult } from 'graphql';
import { handleStreamOrSingleExecutionResult, type Plugin } from 'graphql-yoga';
import { AppError, isAppError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { GraphQLContext } from './builder.ts';

export const UNEXPECTED_MESSAGE = 'Unexpected error.';

function isGraphQLError(e: unknown): e is GraphQLError {
  return e instanceof GraphQLError || (e instanceof Error && e.name === 'GraphQLError');
}

/** The innermost cause of a GraphQL error (resolvers' errors arrive wrapped). */
function rootCause(error: unknown): unknown {
  let current = error;
  while (isGraphQLError(current) && current.originalError) current = current.originalError;
  return current;
}

function located(error: unknown): { nodes?: GraphQLError['nodes']; path?: GraphQLError['path'] } {
  return isGraphQLError(error) ? { nodes: error.nodes, path: error.path } : {};
}

export function appErrorToGraphQL(appError: AppError, at?: unknown): GraphQLError {
  return new GraphQLError(appError.message, {
    ...located(at),
    extensions: { code: appError.code, ...(appError.fields.length ? { fields: appError.fields } : {}) },
  });
}

/**
 * Maps one error. Returns null when the error is unexpected: the caller logs it and uses
 * `unexpectedError`.
 */
export function expectedGraphQLError(error: unknown): GraphQLError | null {
  const cause = rootCause(error);
  if (isAppError(cause)) return appErrorToGraphQL(cause, error);
  // Pothos rejects client input it cannot use (a malformed global id, unsupported paging).
  if (cause instanceof PothosValidationError) {
    return new GraphQLError(cause.message, { ...located(error), extensions: { code: 'BAD_REQUEST' } });
  }
  // Parse, validation and variable errors: GraphQL's own, meant for the client.
  if (isGraphQLError(cause)) return cause === error ? cause : (error as GraphQLError);
  return null;
}

export function unexpectedError(at?: unknown): GraphQLError {
  return new GraphQLError(UNEXPECTED_MESSAGE, { ...located(at), extensions: { code: 'INTERNAL' } });
}

function mapErrors(result: ExecutionResult, logger: Logger, operationName: string | null | undefined): ExecutionResult | null {
  if (!result.errors?.length) return null;
  let changed = false;
  const errors = result.errors.map((error) => {
    const mapped = expectedGraphQLError(error);
    if (mapped) {
      if (mapped !== error) changed = true;
      return mapped;
    }
    changed = true;
    logger.error({ err: rootCause(error), path: error.path?.join('.'), operationName }, 'unexpected error in GraphQL resolver');
    return unexpectedError(error);
  });
  return changed ? { ...result, errors } : null;
}

/**
 * Envelop plugin: runs before yoga's masking, while the operation's context (and its
 * request-scoped logger) is at hand. What it returns is already safe, so masking keeps it.
 */
export function useAppErrors(): Plugin<GraphQLContext> {
  const handle = ({ args, result, setResult }: { args: { contextValue: unknown; operationName?: string | null }; result: ExecutionResult; setResult: (r: ExecutionResult) => void }) => {
    const ctx = args.contextValue as Partial<GraphQLContext>;
    const logger = ctx.logger;
    if (!logger) return;
    const mapped = mapErrors(result, logger, args.operationName);
    if (mapped) setResult(mapped);
  };
  return {
    onExecute() {
      return { onExecuteDone: (payload) => handleStreamOrSingleExecutionResult(payload, handle) };
    },
    onSubscribe({ args }) {
      return {
        onSubscribeResult: (payload) => handleStreamOrSingleExecutionResult(payload, handle),
        onSubscribeError({ error, setError }) {
          const mapped = expectedGraphQLError(error);
          if (mapped) return setError(mapped);
          const logger = (args.contextValue as Partial<GraphQLContext>).logger;
          logger?.error({ err: rootCause(error), operationName: args.operationName }, 'unexpected error in GraphQL subscription');
          setError(unexpectedError(error));
        },
      };
    },
  };
}

/** Any error as the client may see it; unexpected ones are logged first. */
export function clientError(error: unknown, logger: Logger, context: Record<string, unknown> = {}): GraphQLError {
  const expected = expectedGraphQLError(error);
  if (expected) {
    // HTTP status hints mean nothing outside an HTTP response.
    const { http: _http, ...extensions } = expected.extensions ?? {};
    return _http ? new GraphQLError(expected.message, { nodes: expected.nodes, path: expected.path, extensions }) : expected;
  }
  logger.error({ err: rootCause(error), ...context }, 'unexpected error in GraphQL request');
  return unexpectedError(error);
}

/** yoga's last line (errors outside execution, e.g. while building the context). */
export function maskError(error: unknown): Error {
  return expectedGraphQLError(error) ?? unexpectedError(error);
}
