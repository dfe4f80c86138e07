// /readyz: ready only when the database answers, every committed migration is applied and
// the workers run; otherwise 503 naming the failing checks. /healthz stays a liveness check.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { listMigrations } from '../../src/db/migrate.ts';
import { createSyncEngine } from '../../src/engine/index.ts';
import { createAppPubSub } from '../../src/pubsub.ts';
import { freshDatabase } from '../helpers/db.ts';
import { memoryLogger, testConfig } from '../helpers/engine.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

type Ready = { status: string; failing?: string[]; checks: Record<string, { ok: boolean; [k: string]: unknown }> };

describe('/readyz', () => {
  let stack: Stack;
  const readyz = async () => {
    const res = await fetch(`${stack.url}/readyz`);
    return { status: res.status, body: (await res.json()) as Ready };
  };

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('is ready with the database up, every migration applied and the workers running', async () => {
    const { status, body } = await readyz();
    expect(status).toBe(200);
    expect(body.status).toBe('ready');
    expect(body.checks.database.ok).toBe(true);
    expect(body.checks.migrations).toEqual({ ok: true, applied: (await listMigrations()).length });
    expect(body.checks.workers).toMatchObject({ ok: true, enabled: true, stopping: false });
  });

  it('answers 503 naming a committed migration the database has not applied', async () => {
    const [latest] = (await listMigrations()).slice(-1);
    const rows = await stack.db.prisma.$queryRawUnsafe<Record<string, unknown>[]>(`SELECT * FROM _prisma_migrations WHERE migration_name = $1`, latest.name);
    expect(rows).toHaveLength(1);
    await stack.db.prisma.$executeRawUnsafe(`UPDATE _prisma_migrations SET migration_name = migration_name || '_gone' WHERE migration_name = $1`, latest.name);
    try {
      const { status, body } = await readyz();
      expect(status).toBe(503);
      expect(body.failing).toEqual(['migrations']);
      expect(body.checks.migrations).toEqual({ ok: false, missing: [latest.name] });
    } finally {
      await stack.db.prisma.$executeRawUnsafe(`UPDATE _prisma_migrations SET migration_name = $1 WHERE migration_name = $2`, latest.name, `${latest.name}_gone`);
    }
    expect((await readyz()).status).toBe(200);
  });

  it('answers 503 once the workers have stopped, while /healthz stays 200', async () => {
    await stack.engine.stop();
    const { status, body } = await readyz();
    expect(status).toBe(503);
    expect(body.failing).toEqual(['workers']);
    expect(body.checks.workers).toMatchObject({ ok: false, enabled: true, stopping: true });
    expect((await fetch(`${stack.url}/healthz`)).status).toBe(200);
  });

  it('answers 503 naming the database when it cannot be reached', async () => {
    const db = await freshDatabase();
    const mem = memoryLogger();
    const config = testConfig();
    const pubsub = createAppPubSub();
    const engine = createSyncEngine({ config, prisma: db.prisma, logger: mem.logger, pubsub });
    const app = buildApp({ config, db, logger: mem.logger, pubsub, service: engine });
    expect((await app.fetch(new Request('http://127.0.0.1/readyz'))).status).toBe(200);
    await db.destroy();
    const res = await app.fetch(new Request('http://127.0.0.1/readyz'));
    expect(res.status).toBe(503);
    const body = (await res.json()) as Ready;
    expect(body.failing).toEqual(expect.arrayContaining(['database']));
    expect(body.checks.database.ok).toBe(false);
    // WORKERS=false: this instance runs no workers, which is not a failure.
    expect(body.checks.workers).toEqual({ ok: true, enabled: false });
  });
});
