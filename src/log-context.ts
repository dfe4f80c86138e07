// The request a piece of work runs for, carried by AsyncLocalStorage so that every log
// line written while serving a request — by the HTTP layer, GraphQL resolvers or the
// engine functions they call — names its request id, without passing loggers around.
// Background workers run outside any request and log their own context.
import { AsyncLocalStorage } from 'node:async_hooks';
import { symbols } from 'pino';

// pino keeps a logger's serialised bindings under this symbol.
const chindingsSym = symbols.chindingsSym;

export interface LogContext {
  requestId: string;
}

const storage = new AsyncLocalStorage<LogContext>();

/** Runs `fn` (and everything it starts) as part of request `requestId`. */
export function withRequestContext<T>(requestId: string, fn: () => T): T {
  return storage.run({ requestId }, fn);
}

/** Runs `fn` detached from the current request (background work started by a request). */
export function outsideRequest<T>(fn: () => T): T {
  return storage.exit(fn);
}

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/**
 * pino mixin: adds the current request id to a line whose logger does not already
 * carry one in its bindings (request loggers are children with requestId).
 */
export function requestIdMixin(_merge: object, _level: number, logger?: unknown): Record<string, unknown> {
  const store = storage.getStore();
  if (!store) return {};
  const chindings = (logger as Record<symbol, unknown> | undefined)?.[chindingsSym];
  if (typeof chindings === 'string' && chindings.includes('"requestId"')) return {};
  return { requestId: store.requestId };
}

