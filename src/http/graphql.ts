// GraphQL over HTTP (queries, mutations, SSE subscriptions, GraphiQL) with yoga, and
// over WebSockets (graphql-ws) on the same path. Both authenticate with the API key and
// build the context with the same factory.
import type { IncomingMessage } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type { DocumentNode, ExecutionArgs } from 'graphql';
import { createGraphQLError, createYoga, type YogaLogger } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Authenticator } from '../auth.ts';
import type { GraphQLContext, GraphQLServices } from '../graphql/builder.ts';
import { useEndOnRevocation } from '../graphql/end-on-revocation.ts';
import { clientError, maskError, useAppErrors } from '../graphql/errors.ts';
import { useExposure, type Exposure } from '../graphql/exposure.ts';
import { useInputGuard } from '../graphql/input-guard.ts';
import { useQueryLimits, type QueryLimits } from '../graphql/limits.ts';
import { schema } from '../graphql/schema.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { useGraphQLMetrics } from '../graphql/metrics-plugin.ts';
import { MAX_BODY_BYTES } from './context.ts';
import type { GraphiQLPage } from './graphiql.ts';
import { UNAUTHENTICATED_MESSAGE, requestIdFrom } from './middleware.ts';
import { upgradeOriginAllowed, type OriginPolicy } from './origins.ts';
import { rateLimited, type RateLimiter } from './rate-limit.ts';
import type { Revocations } from './revocations.ts';

export const GRAPHQL_PATH = '/graphql';

/** What the HTTP layer hands yoga with each request. */
export interface GraphQLServerContext {
  requestId?: string;
  log?: Logger;
}

export interface GraphQLDeps {
  services: GraphQLServices;
  auth: Authenticator;
  logger: Logger;
  metrics?: Metrics;
  /** Per-API-key rate limit, taken once per operation (HTTP request or WebSocket subscribe). */
  limiter?: RateLimiter;
  /** Depth, cost and alias limits of operations (defaults: 10, 5000 and 50). */
  limits?: QueryLimits;
  /** Introspection and "Did you mean" hints (default: both on). */
  exposure?: Exposure;
  /** GraphiQL from local assets; absent: no GraphiQL. */
  graphiql?: GraphiQLPage;
  /** Distinct operation names kept as metric labels (default 100). */
  maxOperationLabels?: number;
  /** Ends subscriptions (and closes sockets) of revoked keys. */
  revocations?: Revocations;
  /** Origins allowed to open WebSockets besides this server's own (default: same-origin only). */
  origins?: OriginPolicy;
}

function yogaLogger(logger: Logger): YogaLogger {
  const forward =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (...args: unknown[]) => {
      const [first, ...rest] = args;
      if (first instanceof Error) logger[level]({ err: first }, rest.map(String).join(' ') || first.message);
      else logger[level](args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
    };
  return { debug: forward('debug'), info: forward('info'), warn: forward('warn'), error: forward('error') };
}

export function createGraphQLServer(deps: GraphQLDeps) {
  const { services, auth, logger, metrics, limiter, limits, exposure, graphiql, revocations } = deps;
  return createYoga<GraphQLServerContext, GraphQLContext>({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
    maxRequestBodySize: MAX_BODY_BYTES,
    logging: yogaLogger(logger.child({ component: 'graphql' })),
    maskedErrors: { maskError },
    // CORS is answered by the HTTP layer for every route (src/http/origins.ts).
    cors: false,
    plugins: [
      // First: a document over a limit is refused before GraphQL's own validation.
      useQueryLimits(limits ?? { maxDepth: 10, maxCost: 5_000 }),
      useExposure(exposure ?? { introspection: true, suggestions: true }),
      useInputGuard(),
      useAppErrors(),
      ...(metrics ? [useGraphQLMetrics(metrics, { maxOperations: deps.maxOperationLabels })] : []),
      ...(revocations ? [useEndOnRevocation(revocations)] : []),
    ],
    graphiql: graphiql
      ? {
          title: 'crm-sync',
          headers: JSON.stringify({ Authorization: 'Bearer <your API key>' }),
          shouldPersistHeaders: false,
        }
      : false,
    ...(graphiql ? { renderGraphiQL: graphiql.render } : {}),
    context: async ({ request, requestId, log }): Promise<GraphQLContext> => {
      const id = requestId ?? requestIdFrom(request.headers.get('x-request-id'));
      const requestLog = log ?? logger.child({ requestId: id });
      let principal;
      try {
        principal = await auth.authenticate(request.headers.get('authorization'));
      } catch (err) {
        // Logged here, with the request id; the client sees a masked error.
        requestLog.error({ err }, 'could not authenticate the request');
        throw createGraphQLError('Unexpected error.', { extensions: { code: 'INTERNAL', http: { status: 500 } } });
      }
      if (!principal) {
        throw createGraphQLError(UNAUTHENTICATED_MESSAGE, {
          extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: { 'www-authenticate': 'Bearer' } } },
        });
      }
      const decision = limiter?.take(principal.apiKeyId);
      if (decision && !decision.allowed) {
        throw createGraphQLError(rateLimited(decision).message, {
          extensions: {
            code: 'RATE_LIMITED',
            retryAfterSeconds: decision.retryAfterSeconds,
            http: { status: 429, headers: { 'retry-after': String(decision.retryAfterSeconds) } },
          },
        });
      }
      return {
        organizationId: principal.organizationId,
        apiKeyId: principal.apiKeyId,
        scopes: principal.scopes,
        services,
        requestId: id,
        logger: requestLog.child({
          organizationId: principal.organizationId,
          apiKeyId: principal.apiKeyId,
        }),
      };
    },
  });
}

export type GraphQLServer = ReturnType<typeof createGraphQLServer>;

/** The Authorization value a graphql-ws client sent in its connection params. */
function authorizationFromParams(params: Record<string, unknown> | undefined): string | undefined {
  if (!params) return undefined;
  const value = params.Authorization ?? params.authorization;
  return typeof value === 'string' ? value : undefined;
}

interface ConnectionState {
  requestId: string;
  log: Logger;
  authorization?: string;
}

type RootValue = { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown };

/**
 * Serves graphql-ws on the HTTP server's upgrade requests to /graphql. The connection is
 * refused (close code 4403) unless its connection params carry a valid API key.
 */
export function attachGraphQLWebSockets(server: HttpServer, yoga: GraphQLServer, deps: GraphQLDeps) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY_BYTES });
  const states = new WeakMap<object, ConnectionState>();

  const disposable = useServer<Record<string, unknown> | undefined, { state?: ConnectionState }>(
    {
      execute: (args) => (args.rootValue as RootValue).execute(args) as never,
      subscribe: (args) => (args.rootValue as RootValue).subscribe(args) as never,
      onConnect: async (ctx) => {
        const upgrade = ctx.extra.request;
        const requestId = requestIdFrom(headerValue(upgrade, 'x-request-id'));
        const log = deps.logger.child({ requestId, transport: 'ws' });
        const authorization = authorizationFromParams(ctx.connectionParams);
        let principal;
        try {
          principal = await deps.auth.authenticate(authorization);
        } catch (err) {
          log.error({ err }, 'could not authenticate a websocket connection');
          // graphql-ws closes with 4500 and this message as the reason.
          throw new Error('Unexpected error.');
        }
        if (!principal) {
          log.info('websocket connection refused: missing or invalid API key');
          return false;
        }
        const socket = ctx.extra.socket;
        const unwatch = deps.revocations?.watch(principal.apiKeyId, () => {
          log.info({ apiKeyId: principal.apiKeyId }, 'websocket closed: its API key was revoked');
          socket.close(4403, 'API key revoked');
        });
        if (unwatch) socket.once('close', unwatch);
        states.set(socket, {
          requestId,
          log: log.child({ organizationId: principal.organizationId, apiKeyId: principal.apiKeyId }),
          authorization,
        });
        log.debug({ organizationId: principal.organizationId }, 'websocket connection accepted');
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        const state = states.get(ctx.extra.socket);
        // The same context factory as HTTP: it reads the key from a Request's headers.
        const request = new Request(`http://localhost${GRAPHQL_PATH}`, {
          method: 'POST',
          headers: state?.authorization ? { authorization: state.authorization } : {},
        });
        const enveloped = yoga.getEnveloped({
          ...ctx,
          request,
          params: payload,
          requestId: state?.requestId,
          log: state?.log,
        });
        const log = state?.log ?? deps.logger;
        // Errors before execution answer this operation; thrown ones would close the socket.
        let document: DocumentNode;
        try {
          document = enveloped.parse(payload.query);
        } catch (err) {
          return [clientError(err, log)];
        }
        const errors = enveloped.validate(enveloped.schema, document);
        if (errors.length) return errors;
        let contextValue: GraphQLContext;
        try {
          contextValue = await enveloped.contextFactory();
        } catch (err) {
          return [clientError(err, log)];
        }
        log.debug({ operationName: payload.operationName ?? null }, 'websocket operation');
        const args: ExecutionArgs = {
          schema: enveloped.schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue,
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe } satisfies RootValue,
        };
        return args;
      },
    },
    wss,
  );

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const { pathname } = new URL(request.url ?? '/', 'http://localhost');
    if (pathname !== GRAPHQL_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (deps.origins && !upgradeOriginAllowed(deps.origins, request)) {
      // Cross-site WebSocket hijacking: browsers send the page's Origin and no CORS check.
      deps.logger.info({ origin: headerValue(request, 'origin') }, 'websocket upgrade refused: origin not allowed');
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  };
  server.on('upgrade', onUpgrade);

  return {
    async close() {
      server.off('upgrade', onUpgrade);
      await disposable.dispose();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
