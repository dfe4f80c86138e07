// The sync engine: inbox (durable webhook intake), outbox (durable CRM pushes),
// matching, echo suppression, conflict rules, import and the reconciling poll.
import type { CrmAdapter } from '../../adapters/contract.ts';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import type { PubSub } from '../pubsub.ts';
import { Connections } from './connections.ts';
import { processInbox, receiveWebhook } from './inbox.ts';
import { resumeAbandonedImports, startImport } from './importer.ts';
import { createIntegration, disableWebhooks, enableWebhooks, newInstanceId, renewExpiringWebhooks, webhookStatus } from './integrations.ts';
import { createLead, updateLead } from './leads.ts';
import { processOutbox, retryFailedOutbox } from './outbox.ts';
import { pollAll } from './poller.ts';
import { WorkerLoop } from './queue.ts';
import { defaultAdapters } from './registry.ts';
import type { SyncService } from './types.ts';
import { notFound } from '../errors.ts';

export interface EngineDeps {
  config: Config;
  prisma: PrismaClient;
  logger: Logger;
  pubsub: PubSub;
  /** The CRMs this service speaks to; defaults to every adapter in adapters/. */
  adapters?: CrmAdapter[];
  /** Idle wake-up of the inbox and outbox workers (ms); they are also woken on new work. */
  idleMs?: number;
}

export interface SyncEngine extends SyncService {
  readonly instanceId: string;
  readonly connections: Connections;
  /** Starts the inbox, outbox, import-resume and poll workers. */
  start(): void;
  /** Stops the workers after the work in hand; unfinished claims expire and are taken over. */
  stop(): Promise<void>;
  /** Wakes the workers and resolves when inbox and outbox have no due work left. */
  drain(): Promise<void>;
  /** Runs the reconciling poll now for every integration with webhooks enabled. */
  pollNow(): Promise<number>;
  /** Renews webhook channels expiring within a day, now. */
  renewWebhooksNow(): Promise<number>;
  /** Puts failed pushes back in the outbox. */
  retryFailedPushes(organizationId: string, integrationId?: string): Promise<number>;
}

export function createSyncEngine(deps: EngineDeps): SyncEngine {
  const { config, prisma, pubsub } = deps;
  const instanceId = config.INSTANCE_ID ?? newInstanceId();
  const logger = deps.logger.child({ instance: instanceId });
  const connections = new Connections(deps.adapters ?? defaultAdapters(), prisma, logger);
  const idleMs = deps.idleMs ?? 1_000;
  let stopping = false;
  const inFlight = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const onError = (err: unknown, name: string) => logger.error({ err, worker: name }, `${name} worker pass failed`);

  const queueDeps = { config, prisma, logger, pubsub, connections, instanceId, platformTag: config.PLATFORM_SOURCE_TAG };
  const inbox = new WorkerLoop('inbox', () => processInbox(queueDeps), idleMs, onError);
  const outbox = new WorkerLoop('outbox', () => processOutbox(queueDeps), idleMs, onError);
  const integrationDeps = { config, prisma, logger, connections };
  // Periodic upkeep: the reconciling poll (when enabled) and renewal of expiring channels.
  const maintenance = new WorkerLoop(
    'maintenance',
    async () => {
      if (config.POLL_INTERVAL_MS > 0) await pollAll(queueDeps);
      await renewExpiringWebhooks(integrationDeps);
      return 0;
    },
    config.POLL_INTERVAL_MS > 0 ? Math.max(1_000, Math.min(config.POLL_INTERVAL_MS, 60_000)) : 60_000,
    onError,
  );
  const importDeps = { ...queueDeps, track, isStopping: () => stopping };
  const leadDeps = { prisma, logger, pubsub, platformTag: config.PLATFORM_SOURCE_TAG, onQueued: () => outbox.kick() };
  let started = false;

  return {
    instanceId,
    connections,
    createLead: (org, input) => createLead(leadDeps, org, input),
    updateLead: (org, input) => updateLead(leadDeps, org, input),
    createIntegration: (org, input) => createIntegration(integrationDeps, org, input),
    enableWebhooks: (org, id) => enableWebhooks(integrationDeps, org, id),
    disableWebhooks: (org, id) => disableWebhooks(integrationDeps, org, id),
    webhookStatus: (org, id) => webhookStatus(prisma, org, id),
    importFromCrm: (org, id) => startImport(importDeps, org, id),
    async importJob(org, jobId) {
      const job = await prisma.importJob.findFirst({ where: { id: jobId, organizationId: org } });
      if (!job) throw notFound('Import job');
      return job;
    },
    async receiveWebhook(provider, req) {
      const adapter = connections.adapterForPath(provider);
      if (!adapter) throw new AppError('NOT_FOUND', `No webhook endpoint for ${provider}`);
      try {
        const { stored, ...response } = await receiveWebhook(queueDeps, adapter, req);
        if (stored) inbox.kick();
        return response;
      } catch (e) {
        // Refuse in the CRM's own protocol where it has one (Salesforce: a SOAP fault).
        if (e instanceof AppError && adapter.codec.fault) return adapter.codec.fault(e.httpStatus, e.code, e.message);
        throw e;
      }
    },
    retryFailedPushes: async (org, integrationId) => {
      const n = await retryFailedOutbox(prisma, org, integrationId);
      if (n) outbox.kick();
      return n;
    },
    pollNow: () => pollAll(queueDeps, true),
    renewWebhooksNow: () => renewExpiringWebhooks(integrationDeps),
    start() {
      if (started || config.WORKERS === false) return;
      started = true;
      inbox.start();
      outbox.start();
      maintenance.start();
      track(resumeAbandonedImports(importDeps).catch((err) => onError(err, 'import-resume')));
      logger.info('sync workers started');
    },
    async stop() {
      stopping = true;
      await Promise.all([inbox.stop(), outbox.stop(), maintenance.stop()]);
      await Promise.allSettled([...inFlight]);
      logger.info('sync workers stopped');
    },
    async drain() {
      // Alternate until neither queue produces work for the other.
      for (let i = 0; i < 10; i++) {
        await inbox.idle();
        await outbox.idle();
        const due = await prisma.$queryRaw<{ n: bigint }[]>`
          SELECT (SELECT count(*) FROM "InboxEvent" WHERE status = 'pending' AND "nextAttemptAt" <= (now() AT TIME ZONE 'UTC'))
               + (SELECT count(*) FROM "OutboxItem" WHERE status = 'pending' AND "nextAttemptAt" <= (now() AT TIME ZONE 'UTC')) AS n`;
        if (Number(due[0].n) === 0) return;
      }
    },
  };
}
