// `npm start`: configuration, database, bootstrap, sync engine, HTTP server; stops
// cleanly on SIGTERM/SIGINT.
import { buildApp } from './app.ts';
import { ensureBootstrap } from './auth.ts';
import { ConfigError, loadConfig } from './config.ts';
import { openDatabase } from './db/client.ts';
import { createSyncEngine } from './engine/index.ts';
import { createLogger } from './logger.ts';
import { createAppPubSub } from './pubsub.ts';

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.LOG_LEVEL);

  const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  if (db.appliedMigrations.length) logger.info({ migrations: db.appliedMigrations }, 'database migrated');
  await ensureBootstrap(db.prisma, config.BOOTSTRAP_API_KEY, logger);

  const pubsub = createAppPubSub(config.REDIS_URL);
  const engine = createSyncEngine({ config, prisma: db.prisma, logger: logger.child({ component: 'engine' }), pubsub });
  const app = buildApp({ config, db, logger, pubsub, service: engine });
  engine.start();
  const { url } = await app.start(config.PORT);
  logger.info({ url, graphql: `${url}/graphql`, database: db.kind }, `crm-sync listening on ${url}`);

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    try {
      await app.stop();
      await engine.stop();
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
}

main().catch((err) => {
  // The logger may not exist yet: write the failure plainly.
  process.stderr.write(`crm-sync failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
