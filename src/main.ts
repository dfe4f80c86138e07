// `npm start` (and `crm-sync serve`): configuration, database, bootstrap, sync engine,
// HTTP server; stops cleanly on SIGTERM/SIGINT.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from './app.ts';
import { ensureBootstrap } from './auth.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { openDatabase } from './db/client.ts';
import { limitHeapGrowth } from './heap-growth.ts';
import { createSyncEngine } from './engine/index.ts';
import { createLogger } from './logger.ts';
import { createAppPubSub } from './pubsub.ts';
import { keyringFromConfig } from './secrets.ts';

/** SIGTERM/SIGINT: the process exits within this time, finished or not. */
const SHUTDOWN_HARD_LIMIT_MS = 10_000;

/** Starts the whole service and stops it on SIGTERM/SIGINT (then exits the process). */
export async function serve(config: Config = loadConfig()): Promise<{ url: string }> {
  limitHeapGrowth(config.HEAP_GROWTH_PERCENT);
  const logger = createLogger(config.LOG_LEVEL);

  const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, pgliteSharedBuffers: config.PGLITE_SHARED_BUFFERS, pgliteIntakePriorityMs: config.PGLITE_INTAKE_PRIORITY_MS, warm: true });
  if (db.appliedMigrations.length) logger.info({ migrations: db.appliedMigrations }, 'database migrated');
  await ensureBootstrap(db.prisma, config.BOOTSTRAP_API_KEY, logger);

  const pubsub = createAppPubSub(config.REDIS_URL);
  const keyring = keyringFromConfig(config, logger);
  const engine = createSyncEngine({ config, prisma: db.prisma, logger: logger.child({ component: 'engine' }), pubsub, keyring });
  const app = buildApp({ config, db, logger, pubsub, service: engine });
  engine.start();
  const { url } = await app.start(config.PORT);
  logger.info({ url, graphql: `${url}/graphql`, database: db.kind }, `crm-sync listening on ${url}`);

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // Whatever happens below, the process is gone within the hard limit.
    const hardLimit = setTimeout(() => {
      logger.error({ limitMs: SHUTDOWN_HARD_LIMIT_MS }, 'shutdown took too long: exiting now');
      process.exit(1);
    }, SHUTDOWN_HARD_LIMIT_MS);
    hardLimit.unref();
    try {
      // The engine stops claiming at once (and /readyz turns 503) while the HTTP server
      // finishes its in-flight requests; the engine then releases what it could not finish.
      const engineStopped = engine.stop();
      await app.stop();
      await engineStopped;
      await pubsub.close();
      await db.close();
      logger.info('stopped');
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'error while shutting down');
      process.exit(1);
    }
  };
  process.on('SIGTERM', (s) => void shutdown(s));
  process.on('SIGINT', (s) => void shutdown(s));
  return { url };
}

/** Prints a start-up failure plainly (the logger may not exist yet) and exits. */
export function exitOnStartFailure(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`crm-sync failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}

// Run only when this file is the entry point (`tsx src/main.ts`), not when imported by the CLI.
const entry = process.argv[1] ? path.resolve(process.argv[1]) : '';
if (entry === fileURLToPath(import.meta.url)) {
  Promise.resolve()
    .then(() => serve())
    .catch(exitOnStartFailure);
}
