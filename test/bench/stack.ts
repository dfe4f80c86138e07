// The service as the bench runs it: PGlite in `dataDir` (PostgreSQL when DATABASE_URL is given), workers on, logs silent, the
// sandboxes allowed (they listen on loopback over http), one organization with an API
// key. Used in the bench's own process (run.ts), in the service process (service.ts)
// and by the statement counter (statements.ts).
import { buildApp } from '../../src/app.ts';
import { createApiKey, createOrganization } from '../../src/auth.ts';
import { loadConfig } from '../../src/config.ts';
import { openDatabase } from '../../src/db/client.ts';
import { limitHeapGrowth } from '../../src/heap-growth.ts';
import { createSyncEngine } from '../../src/engine/index.ts';
import { createLogger } from '../../src/logger.ts';
import { createAppPubSub } from '../../src/pubsub.ts';
import { keyringFromConfig } from '../../src/secrets.ts';
import { freePort } from '../helpers/net.ts';

/** `startWorkers: false` leaves the engine's workers stopped until `engine.start()` (the scale-out section starts them together). */
export async function startBenchStack(dataDir: string, hubspotSecret: string, env: Record<string, string> = {}, startWorkers = true) {
  const port = await freePort();
  const config = loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    DATA_DIR: dataDir,
    HUBSPOT_CLIENT_SECRET: hubspotSecret,
    POLL_INTERVAL_MS: '0',
    LOG_LEVEL: 'silent',
    CRM_ALLOW_LOCAL_HOSTS: 'true',
    ...env,
  });
  limitHeapGrowth(config.HEAP_GROWTH_PERCENT); // as src/main.ts does
  const logger = createLogger('silent');
  const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir, pgliteSharedBuffers: config.PGLITE_SHARED_BUFFERS, pgliteIntakePriorityMs: config.PGLITE_INTAKE_PRIORITY_MS, warm: true });
  const pubsub = createAppPubSub();
  const engine = createSyncEngine({ config, prisma: db.prisma, logger, pubsub, idleMs: 100, keyring: keyringFromConfig(config, logger) });
  const app = buildApp({ config, db, logger, pubsub, service: engine });
  const { url } = await app.start(port);
  if (startWorkers) engine.start();
  const org = await createOrganization(db.prisma, 'Bench');
  const { key } = await createApiKey(db.prisma, org.id, 'bench');
  return {
    config,
    db,
    engine,
    url,
    orgId: org.id,
    apiKey: key,
    webhookUrl: (slug: string) => `${config.PUBLIC_BASE_URL}/api/v1/webhooks/${slug}`,
    async stop() {
      await app.stop();
      await engine.stop();
      await db.close();
    },
  };
}
