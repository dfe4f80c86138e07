// The HTTP application: one server for GraphQL (HTTP, SSE, WebSockets on /graphql),
// /healthz and the REST shim. Built here, listened on by src/main.ts (and by tests on
// port 0).
import type { AddressInfo } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import { createAuthenticator } from './auth.ts';
import type { Config } from './config.ts';
import type { Database } from './db/client.ts';
import { dashboardRoutes } from './dashboard/routes.ts';
import type { SyncService } from './engine/types.ts';
import { AppError } from './errors.ts';
import type { Logger } from './logger.ts';
import type { PubSub } from './pubsub.ts';
import type { HttpEnv } from './http/context.ts';
import { appErrorResponse, handleHttpError } from './http/errors.ts';
import { attachGraphQLWebSockets, createGraphQLServer, GRAPHQL_PATH } from './http/graphql.ts';
import { graphiqlPage } from './http/graphiql.ts';
import { limitBody, requestContext } from './http/middleware.ts';
import { bindRequestContext, countRequests, metricsRoutes, opsRoutes } from './http/ops.ts';
import { corsFor, type OriginPolicy } from './http/origins.ts';
import { createRevocations } from './http/revocations.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { createRateLimiter } from './http/rate-limit.ts';
import { restRoutes } from './http/rest.ts';

export interface AppDeps {
  config: Config;
  db: Database;
  logger: Logger;
  pubsub: PubSub;
  service: SyncService;
  /** Served on /metrics; the engine's (service.metrics) when absent, else a new registry. */
  metrics?: Metrics;
  /** How often open streams are checked against revoked keys in the database (tests shorten it). */
  revocationSweepMs?: number;
}

export interface App {
  /** The Fetch handler (GraphQL over HTTP and SSE, REST, health); no WebSockets. */
  fetch: (request: Request) => Promise<Response>;
  /** Listens on `port` (0 for any free port) at config.HOST, and on METRICS_PORT when set. */
  start(port?: number): Promise<{ url: string; port: number; metricsUrl?: string }>;
  /** Stops accepting connections, closes WebSockets and open streams, then resolves. */
  stop(): Promise<void>;
}

/** How long stop() lets in-flight requests finish before cutting the connections. */
const SHUTDOWN_GRACE_MS = 5_000;

export function buildApp({ config, db, logger, pubsub, service, ...deps }: AppDeps): App {
  const auth = createAuthenticator(db.prisma, logger.child({ component: 'auth' }));
  const metrics = deps.metrics ?? service.metrics ?? createMetrics();
  // One bucket per API key, shared by GraphQL (HTTP, SSE, WebSockets) and REST.
  const limiter = createRateLimiter(config.API_RATE_LIMIT_PER_MINUTE);
  const limits = { maxDepth: config.GRAPHQL_MAX_DEPTH, maxCost: config.GRAPHQL_MAX_COST, maxAliases: config.GRAPHQL_MAX_ALIASES };
  const origins: OriginPolicy = { allowed: config.CORS_ORIGINS, publicBaseUrl: config.PUBLIC_BASE_URL };
  const revocations = createRevocations({ pubsub, prisma: db.prisma, logger, sweepMs: deps.revocationSweepMs });
  const graphiql = config.GRAPHQL_GRAPHIQL ? graphiqlPage() : undefined;
  const graphqlDeps = {
    services: { sync: service, prisma: db.prisma, pubsub },
    auth,
    logger,
    metrics,
    limiter,
    limits,
    exposure: { introspection: config.GRAPHQL_INTROSPECTION, suggestions: config.GRAPHQL_SUGGESTIONS },
    graphiql,
    maxOperationLabels: config.GRAPHQL_METRICS_MAX_OPERATIONS,
    revocations,
    origins,
  };
  const yoga = createGraphQLServer(graphqlDeps);
  if (config.NODE_ENV === 'production' && !config.METRICS_TOKEN && !config.METRICS_PORT) {
    logger.warn(
      'METRICS: /metrics is served on the API port WITHOUT authentication: set METRICS_TOKEN (bearer token) or METRICS_PORT (a port kept off the public network)',
    );
  }

  const app = new Hono<HttpEnv>();
  app.use('*', requestContext(logger));
  app.use('*', bindRequestContext());
  app.use('*', countRequests(metrics));
  app.use('*', corsFor(origins));
  app.use('*', limitBody());

  app.get('/healthz', async (c) => {
    try {
      await db.prisma.$queryRaw`SELECT 1`;
      return c.json({ status: 'ok' });
    } catch (err) {
      c.get('log').error({ err }, 'health check: database unreachable');
      return c.json({ status: 'unavailable' }, 503);
    }
  });

  const metricsPort = config.METRICS_PORT;
  app.route('/', opsRoutes({ prisma: db.prisma, service, metrics, serveMetrics: !metricsPort, metricsToken: config.METRICS_TOKEN }));

  app.on(['GET', 'POST', 'OPTIONS'], GRAPHQL_PATH, async (c) => {
    const response = await yoga.fetch(c.req.raw, { requestId: c.get('requestId'), log: c.get('log') });
    return graphiql && c.req.method === 'GET' ? graphiql.secure(response) : response;
  });

  app.route('/api/v1', restRoutes({ config, service, auth, limiter }));
  app.route('/dashboard', dashboardRoutes());

  app.notFound((c) => appErrorResponse(c, new AppError('NOT_FOUND', `No route for ${c.req.method} ${c.req.path}.`)));
  app.onError(handleHttpError);

  // METRICS_PORT: /metrics alone on its own listener (request ids, counting, token).
  const metricsApp = new Hono<HttpEnv>();
  metricsApp.use('*', requestContext(logger));
  metricsApp.route('/', metricsRoutes({ prisma: db.prisma, metrics, metricsToken: config.METRICS_TOKEN }));
  metricsApp.notFound((c) => appErrorResponse(c, new AppError('NOT_FOUND', `No route for ${c.req.method} ${c.req.path}.`)));
  metricsApp.onError(handleHttpError);

  let server: HttpServer | undefined;
  let metricsServer: HttpServer | undefined;
  let sockets: ReturnType<typeof attachGraphQLWebSockets> | undefined;

  const listen = async (s: HttpServer, port: number) => {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, config.HOST, () => {
        s.off('error', reject);
        resolve();
      });
    });
    const address = s.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const shownHost = host === '0.0.0.0' || host === '[::]' ? 'localhost' : host;
    return { url: `http://${shownHost}:${address.port}`, port: address.port };
  };

  return {
    fetch: async (request) => app.fetch(request),

    async start(port = config.PORT) {
      if (server) throw new Error('app already started');
      const s = createAdaptorServer({ fetch: app.fetch, hostname: config.HOST }) as HttpServer;
      sockets = attachGraphQLWebSockets(s, yoga, graphqlDeps);
      const listening = await listen(s, port);
      server = s;
      if (!metricsPort) return listening;
      const m = createAdaptorServer({ fetch: metricsApp.fetch, hostname: config.HOST }) as HttpServer;
      try {
        const metricsListening = await listen(m, metricsPort);
        metricsServer = m;
        logger.info({ url: `${metricsListening.url}/metrics` }, 'metrics served on their own port');
        return { ...listening, metricsUrl: metricsListening.url };
      } catch (err) {
        await new Promise<void>((resolve) => s.close(() => resolve()));
        server = undefined;
        throw err;
      }
    },

    async stop() {
      await revocations.stop();
      const m = metricsServer;
      metricsServer = undefined;
      if (m) {
        m.closeAllConnections();
        await new Promise<void>((resolve) => m.close(() => resolve()));
      }
      const s = server;
      if (!s) return;
      server = undefined;
      await sockets?.close();
      sockets = undefined;
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      s.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), SHUTDOWN_GRACE_MS);
        timer.unref();
      });
      if ((await Promise.race([closed, grace])) === 'timeout') {
        // Long-lived responses (SSE subscriptions) never finish by themselves.
        s.closeAllConnections();
        await closed;
      }
      clearTimeout(timer);
      await yoga.dispose();
    },
  };
}
