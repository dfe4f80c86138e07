import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../src/config.ts';
import { createLogger, type Logger } from '../../src/logger.ts';
import { createAppPubSub } from '../../src/pubsub.ts';
import { createSyncEngine, type EngineDeps } from '../../src/engine/index.ts';
import { keyringFromConfig } from '../../src/secrets.ts';

/** The credentials key of test configurations (tests never write a development key file). */
export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');
import type { TestDatabase } from './db.ts';

/** A logger whose JSON lines are kept in memory, for asserting on operator messages. */
export function memoryLogger(level = 'debug'): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return {
    logger: createLogger(level, stream),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

export function testConfig(env: Record<string, string> = {}): Config {
  // CRM_ALLOW_LOCAL_HOSTS: the sandboxes listen on loopback over http.
  return loadConfig({ WORKERS: 'false', POLL_INTERVAL_MS: '0', LOG_LEVEL: 'debug', ENCRYPTION_KEY: TEST_ENCRYPTION_KEY, CRM_ALLOW_LOCAL_HOSTS: 'true', ...env });
}

export function testEngine(db: TestDatabase, opts: Partial<EngineDeps> & { env?: Record<string, string> } = {}) {
  const config = opts.config ?? testConfig(opts.env);
  const mem = memoryLogger();
  const pubsub = createAppPubSub();
  const keyring = opts.keyring ?? keyringFromConfig(config);
  const engine = createSyncEngine({ config, prisma: db.prisma, logger: opts.logger ?? mem.logger, pubsub, adapters: opts.adapters, keyring });
  return { engine, config, pubsub, logs: mem.lines };
}
