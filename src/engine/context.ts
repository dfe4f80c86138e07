// The engine's one context: what every part of the engine may use, built once by
// createSyncEngine (index.ts). Each part names the slice it reads (a Pick of this), so a
// test can build a part with no more than it needs, and nothing is threaded twice.
import type { Config } from '../config.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { PubSub } from '../pubsub.ts';
import type { Connections } from './connections.ts';

export interface EngineContext {
  readonly config: Config;
  readonly prisma: PrismaClient;
  readonly logger: Logger;
  readonly pubsub: PubSub;
  /** The adapters and a client per integration. */
  readonly connections: Connections;
  readonly metrics: Metrics;
  /** This process, as it signs the claims it takes. */
  readonly instanceId: string;
  /** The origin tag every record we write carries (PLATFORM_SOURCE_TAG). */
  readonly platformTag: string;
  /** Wakes the workers of new work (they also wake on their own, every idle period). */
  readonly wake: { inbox(): void; outbox(): void };
  /** Keeps long-running work (imports) visible to stop(). */
  track(work: Promise<unknown>): void;
  /** True once stop() was called: long-running work stops at its next step. */
  isStopping(): boolean;
}
