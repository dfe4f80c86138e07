// The sync engine: inbox (durable webhook intake), outbox (durable CRM pushes),
// matching, echo suppression, conflict rules, import and the reconciling poll.
import type { CrmAdapter } from '../../adapters/contract.ts';
import type { Config } from '../config.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import type { PubSub } from '../pubsub.ts';
import type { SyncService } from './types.ts';

export interface EngineDeps {
  config: Config;
  prisma: PrismaClient;
  logger: Logger;
  pubsub: PubSub;
  /** The CRMs this service speaks to; defaults to every adapter in adapters/. */
  adapters?: CrmAdapter[];
}

export interface SyncEngine extends SyncService {
  /** Starts the inbox, outbox and poll workers. */
  start(): void;
  /** Stops the workers, releasing claimed work. */
  stop(): Promise<void>;
  /** Wakes the workers now (tests and after writes). Resolves when the queues are drained. */
  drain(): Promise<void>;
}

export function createSyncEngine(deps: EngineDeps): SyncEngine {
  void deps;
  throw new Error('sync engine: being written');
}
