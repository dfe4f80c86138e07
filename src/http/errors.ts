// Error answers of the HTTP layer: `{ error: { code, message } }` (plus `fields` for
// VALIDATION) with the AppError's status. GraphQL-path answers use the GraphQL shape.
import type { Context } from 'hono';
import { AppError, isAppError } from '../errors.ts';
import type { HttpEnv } from './context.ts';

export const UNEXPECTED_MESSAGE = 'Unexpected error.';

export function errorPayload(error: AppError) {
  return {
    error: { code: error.code, message: error.message, ...(error.fields.length ? { fields: error.fields } : {}) },
  };
}

function isGraphQLPath(c: Context<HttpEnv>): boolean {
  return c.req.path === '/graphql' || c.req.path === '/graphql/';
}

/** The response for an AppError, shaped for the route it answers. */
export function appErrorResponse(c: Context<HttpEnv>, error: AppError, headers: Record<string, string> = {}): Response {
  const body = isGraphQLPath(c)
    ? {
        errors: [
          {
            message: error.message,
            extensions: { code: error.code, ...(error.fields.length ? { fields: error.fields } : {}) },
          },
        ],
      }
    : errorPayload(error);
  return Response.json(body, { status: error.httpStatus, headers });
}

/** Hono's onError: typed errors keep their status and code; anything else is a logged 500. */
export function handleHttpError(err: unknown, c: Context<HttpEnv>): Response {
  if (isAppError(err)) return appErrorResponse(c, err);
  const log = c.get('log');
  log?.error({ err, method: c.req.method, path: c.req.path }, 'unexpected error handling request');
  return appErrorResponse(c, new AppError('INTERNAL', UNEXPECTED_MESSAGE));
}
