// Operations endpoints: /metrics (Prometheus text format; behind METRICS_TOKEN and/or on
// METRICS_PORT when configured) and /readyz (can this instance take traffic: database
// reachable, migrations applied, workers running), plus the middleware counting HTTP
// requests and binding the request id to the async context.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { Hono } from 'hono';
import { routePath } from 'hono/route';
import { listMigrations } from '../db/migrate.ts';
import type { SyncService } from '../engine/types.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';
import { withRequestContext } from '../log-context.ts';
import { METRICS_CONTENT_TYPE, type Metrics } from '../metrics.ts';
import { refreshQueueGauges } from '../engine/queue-metrics.ts';
import type { HttpEnv } from './context.ts';

/** Every log line written while serving the request carries its id (src/log-context.ts). */
export function bindRequestContext(): MiddlewareHandler<HttpEnv> {
  return (c, next) => withRequestContext(c.get('requestId'), next);
}

/** Counts answered requests by method, route pattern (never the raw path) and status. */
export function countRequests(metrics: Metrics): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    await next();
    let route = routePath(c, -1);
    if (!route || route === '*' || route === '/*') route = 'unmatched';
    metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
  };
}

interface Check {
  ok: boolean;
  [detail: string]: unknown;
}

export interface OpsDeps {
  prisma: PrismaClient;
  service: SyncService;
  metrics: Metrics;
  /** Serve /metrics with these routes (false when it has its own port). */
  serveMetrics?: boolean;
  /** Bearer token /metrics requires. */
  metricsToken?: string;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** 401 unless `Authorization: Bearer <token>` (compared in constant time). */
function requireToken(token: string): MiddlewareHandler<HttpEnv> {
  const expected = digest(token);
  return async (c, next) => {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(c.req.header('authorization') ?? '');
    if (!m || !timingSafeEqual(digest(m[1]), expected)) {
      return c.text('A valid metrics token is required: send it as "Authorization: Bearer <METRICS_TOKEN>".\n', 401, {
        'www-authenticate': 'Bearer realm="metrics"',
      });
    }
    await next();
  };
}

/** GET /metrics alone (for the API port, or a metrics port of its own). */
export function metricsRoutes({ prisma, metrics, metricsToken }: Pick<OpsDeps, 'prisma' | 'metrics' | 'metricsToken'>) {
  const app = new Hono<HttpEnv>();
  if (metricsToken) app.use('/metrics', requireToken(metricsToken));
  app.get('/metrics', async (c) => {
    try {
      await refreshQueueGauges(prisma, metrics);
    } catch (err) {
      // The other metrics are still worth a scrape; the gauges keep their last values.
      c.get('log').warn({ err }, 'metrics: queue gauges could not be computed');
    }
    return c.body(await metrics.registry.metrics(), 200, { 'content-type': METRICS_CONTENT_TYPE });
  });
  return app;
}

export function opsRoutes({ prisma, service, metrics, serveMetrics = true, metricsToken }: OpsDeps) {
  const app = new Hono<HttpEnv>();
  let committed: Promise<string[]> | undefined;
  if (serveMetrics) app.route('/', metricsRoutes({ prisma, metrics, metricsToken }));

  app.get('/readyz', async (c) => {
    const checks: Record<string, Check> = {};
    try {
      await prisma.$queryRaw`SELECT 1`;
      checks.database = { ok: true };
    } catch (err) {
      c.get('log').error({ err }, 'readiness: database unreachable');
      checks.database = { ok: false, error: 'database unreachable' };
    }
    if (checks.database.ok) {
      try {
        committed ??= listMigrations().then((list) => list.map((m) => m.name));
        const names = await committed;
        const rows = await prisma.$queryRaw<{ migration_name: string }[]>`
          SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`;
        const applied = new Set(rows.map((r) => r.migration_name));
        const missing = names.filter((n) => !applied.has(n));
        checks.migrations = missing.length ? { ok: false, missing } : { ok: true, applied: names.length };
      } catch (err) {
        committed = undefined;
        c.get('log').error({ err }, 'readiness: migrations could not be compared');
        checks.migrations = { ok: false, error: 'migration state unreadable' };
      }
    } else {
      checks.migrations = { ok: false, error: 'database unreachable' };
    }
    const workers = service.workerStatus?.();
    if (!workers || !workers.enabled) checks.workers = { ok: true, enabled: false };
    else checks.workers = { ok: workers.running, enabled: true, stopping: workers.stopping, workers: workers.workers };

    const failing = Object.entries(checks).filter(([, v]) => !v.ok).map(([k]) => k);
    if (failing.length) return c.json({ status: 'unavailable', failing, checks }, 503);
    return c.json({ status: 'ready', checks });
  });

  return app;
}
