// The sync engine: inbox (durable webhook intake), outbox (durable CRM pushes),
// matching, echo suppression, conflict rules, import and the reconciling poll.
import type { CrmAdapter } from '../../adapters/contract.ts';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import type { PubSub } from '../pubsub.ts';
import { keyringFromConfig, type Keyring } from '../secrets.ts';
import { createMetrics, type Metrics } from '../metrics.ts';
import { Connections } from './connections.ts';
import { TokenKeepers } from './token-keeper.ts';
import { completeConnection, connectCrm, connectorsOf } from './oauth-connect.ts';
import { disconnectCrm } from './disconnect.ts';
import { retryFailed, retrySyncEvent } from './history.ts';
import { Arrivals } from './arrivals.ts';
import { Dispatcher } from './dispatcher.ts';
import { inboxQueue, receiveWebhook } from './inbox.ts';
import { usesEndpointSecret } from './webhook-secrets.ts';
import { resumeAbandonedImports, startImport } from './importer.ts';
import { createIntegration, getIntegration, newInstanceId } from './integrations.ts';
import { disableWebhooks, enableWebhooks, renewExpiringWebhooks, rotateWebhookSecret, webhookStatus } from './webhook-lifecycle.ts';
import { createLead, updateLead } from './leads.ts';
import { CrmFieldCache, listCrmFields } from './crm-fields.ts';
import { resyncJob, setFieldMappings, startResync } from './field-mappings.ts';
import { requestBudgetOf, setRequestBudget } from './request-budget.ts';
import { outboxQueue } from './outbox.ts';
import { retryFailedOutbox } from './outbox-steps.ts';
import { pollAll } from './poller.ts';
import { releaseClaims, WorkerLoop } from './queue.ts';
import { defaultAdapters } from '../adapters.ts';
import type { SyncService, WorkerStatus } from './types.ts';
import type { EngineContext } from './context.ts';
import { WebhookRoutes } from './webhook-routes.ts';
import { IntakeWriter } from './inbox-store.ts';
import { IntakeFirst } from './intake-first.ts';
import { notFound } from '../errors.ts';

/** How long stop() lets the work in hand finish before releasing it. */
export const STOP_GRACE_MS = 4_000;

export interface EngineDeps {
  config: Config;
  prisma: PrismaClient;
  logger: Logger;
  pubsub: PubSub;
  /**
   * Encrypts CRM credentials at rest. Built from the configuration when absent
   * (ENCRYPTION_KEY, or the development key in DATA_DIR).
   */
  keyring?: Keyring;
  /** The CRMs this service speaks to; defaults to every adapter in adapters/. */
  adapters?: CrmAdapter[];
  /** Idle wake-up of the inbox and outbox workers (ms); they are also woken on new work. */
  idleMs?: number;
  /** Where the engine counts (webhooks, CRM calls, pushes); a new registry when absent. */
  metrics?: Metrics;
}

export interface SyncEngine extends SyncService {
  readonly instanceId: string;
  readonly connections: Connections;
  readonly metrics: Metrics;
  workerStatus(): WorkerStatus;
  /** Starts the inbox, outbox, import-resume and poll workers. */
  start(): void;
  /**
   * Stops claiming work, lets the passes in hand finish for up to graceMs, then releases
   * what this instance still holds (back to pending) so nobody waits for a lease to expire.
   */
  stop(graceMs?: number): Promise<void>;
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
  const metrics = deps.metrics ?? createMetrics();
  const keyring = deps.keyring ?? keyringFromConfig(config, logger);
  const network = { allowLocalHosts: config.CRM_ALLOW_LOCAL_HOSTS };
  if (network.allowLocalHosts) {
    logger.warn(
      { CRM_ALLOW_LOCAL_HOSTS: true },
      '!!! CRM_ALLOW_LOCAL_HOSTS is on: CRM connections may go to http and loopback hosts. For sandboxes, tests and demos only; never in production !!!',
    );
  }
  const connections = new Connections(deps.adapters ?? defaultAdapters(), prisma, logger, keyring, metrics, network, config.CRM_CALL_TIMEOUT_MS);
  // Every client renews its OAuth tokens through the service: one refresh per integration at a time.
  const keepers = new TokenKeepers({ config, prisma, logger, connections, instanceId, metrics });
  connections.useTokenKeeper((integrationId) => keepers.for(integrationId));
  const idleMs = deps.idleMs ?? 1_000;
  const routes = new WebhookRoutes(prisma, keyring, config.WEBHOOK_ROUTE_CACHE_MS);
  /** Runs a change of integrations, then forgets the cached webhook routes (this instance sees it at once). */
  const changing = async <T>(work: Promise<T>): Promise<T> => {
    try {
      return await work;
    } finally {
      routes.clear();
    }
  };
  let stopping = false;
  const inFlight = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const onError = (err: unknown, name: string) => logger.error({ err, worker: name }, `${name} worker pass failed`);

  // The one context every part of the engine reads its slice of (context.ts).
  const ctx: EngineContext = {
    config,
    prisma,
    logger,
    pubsub,
    connections,
    metrics,
    instanceId,
    platformTag: config.PLATFORM_SOURCE_TAG,
    wake: { inbox: () => inbox.kick(), outbox: () => outbox.kick() },
    track,
    isStopping: () => stopping,
  };
  const fieldCache = new CrmFieldCache();
  const intake = { ...ctx, routes, writer: new IntakeWriter(prisma) };
  // Each integration's work runs as its own task (one per queue at a time, WORKER_CONCURRENCY
  // in all): a CRM that hangs holds its own integration only.
  // Intake first (intake-first.ts): while webhooks flood in, the workers' next claim waits
  // for the flood to pause, at most INTAKE_FIRST_MS.
  const intakeFirst = new IntakeFirst(config.INTAKE_FIRST_MS);
  const dispatch = { concurrency: config.WORKER_CONCURRENCY, idleMs, onError, before: () => intakeFirst.gap() };
  // Arrivals wake an inbox task holding a partial batch for the next events (inbox-gather.ts).
  const arrivals = new Arrivals();
  const inbox = new Dispatcher('inbox', inboxQueue({ ...ctx, arrivals }), dispatch);
  const outbox = new Dispatcher('outbox', outboxQueue(ctx), dispatch);
  // Periodic upkeep: the reconciling poll (when enabled) and renewal of expiring channels.
  const maintenance = new WorkerLoop(
    'maintenance',
    async () => {
      if (config.POLL_INTERVAL_MS > 0) await pollAll(ctx);
      await changing(renewExpiringWebhooks(ctx));
      return 0;
    },
    config.POLL_INTERVAL_MS > 0 ? Math.max(1_000, Math.min(config.POLL_INTERVAL_MS, 60_000)) : 60_000,
    onError,
  );
  let started = false;

  /**
   * Work claimed by a process that is gone resumes now, not when its lease expires. The
   * embedded database (PGlite) serves one process per data directory, so at start nothing
   * in it can belong to a live process: every claim is released. On PostgreSQL other
   * instances may be working: only this instance's own claims (a stable INSTANCE_ID from
   * its previous life) are released; leases cover the rest.
   */
  async function releaseAtStart() {
    const owner = config.DATABASE_URL ? config.INSTANCE_ID ?? null : null;
    if (config.DATABASE_URL && owner === null) return;
    const released = await releaseClaims(prisma, owner);
    if (released.inbox + released.outbox + released.imports > 0) {
      logger.info(released, 'released work claimed before a restart: resuming it now');
      inbox.kick();
      outbox.kick();
    }
  }

  return {
    instanceId,
    connections,
    metrics,
    workerStatus() {
      const loops = [inbox, outbox, maintenance];
      const workers = loops.map((l) => ({ name: l.name, running: l.isRunning }));
      return { enabled: config.WORKERS !== false, running: started && !stopping && workers.every((w) => w.running), stopping, workers };
    },
    createLead: (org, input) => createLead(ctx, org, input),
    updateLead: (org, input) => updateLead(ctx, org, input),
    createIntegration: (org, input) => changing(createIntegration(ctx, org, input)),
    connectors: () => connectorsOf(ctx),
    connectCrm: (who, input) => connectCrm(ctx, who, input),
    completeOAuth: (slug, query) => changing(completeConnection(ctx, slug, query)),
    disconnectCrm: (org, id, opts) => changing(disconnectCrm(ctx, org, id, opts?.keepLinks ?? true)),
    enableWebhooks: (org, id) => changing(enableWebhooks(ctx, org, id)),
    disableWebhooks: (org, id) => changing(disableWebhooks(ctx, org, id)),
    rotateWebhookSecret: (org, id, opts) => changing(rotateWebhookSecret(ctx, org, id, opts)),
    webhookStatus: (org, id) => webhookStatus(prisma, org, id),
    importFromCrm: (org, id) => startImport(ctx, org, id),
    crmFields: (org, id, opts) => listCrmFields(ctx, fieldCache, org, id, opts?.refresh ?? false),
    setFieldMappings: (org, id, mappings) => changing(setFieldMappings(ctx, fieldCache, org, id, mappings)),
    resyncFields: (org, id, fields, source) => startResync(ctx, org, id, fields, source),
    setRequestBudget: (org, id, budget) => changing(setRequestBudget(ctx, org, id, budget)),
    requestBudget: async (org, id) => requestBudgetOf(ctx, await getIntegration(prisma, org, id)),
    fieldResyncJob: (org, id) => resyncJob(ctx, org, id),
    async importJob(org, jobId) {
      const job = await prisma.importJob.findFirst({ where: { id: jobId, organizationId: org } });
      if (!job) throw notFound('Import job');
      return job;
    },
    async receiveWebhook(provider, req) {
      const adapter = connections.adapterForPath(provider);
      if (!adapter) throw new AppError('NOT_FOUND', `No webhook endpoint for ${provider}`);
      // Only CRMs authenticated by a secret endpoint URL have one (Salesforce).
      if (req.endpointSecret && !usesEndpointSecret(adapter)) throw new AppError('NOT_FOUND', `No webhook endpoint for ${provider} below this path`);
      try {
        const { stored, integrationIds, ...response } = await intakeFirst.receiving(() => receiveWebhook(intake, adapter, req));
        if (stored) {
          arrivals.notify(integrationIds);
          inbox.kick(integrationIds);
        }
        return response;
      } catch (e) {
        // Refuse in the CRM's own protocol where it has one (Salesforce: a SOAP fault).
        if (e instanceof AppError && adapter.codec.fault) return adapter.codec.fault(e.httpStatus, e.code, e.message);
        throw e;
      }
    },
    async retrySyncEvent(org, syncEventId) {
      const { event, inbox: i, outbox: o } = await retrySyncEvent(prisma, org, syncEventId);
      if (i) inbox.kick();
      if (o) outbox.kick();
      return event;
    },
    async retryFailed(org, integrationId) {
      const n = await retryFailed(prisma, org, integrationId);
      if (n.inbox) inbox.kick();
      if (n.outbox) outbox.kick();
      return n.inbox + n.outbox;
    },
    retryFailedPushes: async (org, integrationId) => {
      const n = await retryFailedOutbox(prisma, org, integrationId);
      if (n) outbox.kick();
      return n;
    },
    pollNow: () => pollAll(ctx, true),
    renewWebhooksNow: () => changing(renewExpiringWebhooks(ctx)),
    start() {
      if (started || config.WORKERS === false) return;
      started = true;
      maintenance.start();
      // Claims left by a previous life are released before this process claims anything.
      track(
        releaseAtStart()
          .catch((err) => logger.warn({ err }, 'could not release work claimed before the restart; its leases will expire'))
          .then(() => {
            if (stopping) return;
            inbox.start();
            outbox.start();
            logger.info('sync workers started');
            return resumeAbandonedImports(ctx);
          })
          .catch((err) => onError(err, 'import-resume')),
      );
    },
    async stop(graceMs = STOP_GRACE_MS) {
      stopping = true;
      arrivals.stop();
      // No new claims from here; the passes in hand get graceMs to finish.
      const finished = Promise.all([inbox.stop(), outbox.stop(), maintenance.stop()]).then(() => Promise.allSettled([...inFlight]));
      let timer: NodeJS.Timeout | undefined;
      const late = await Promise.race([
        finished.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), graceMs);
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
      if (late) logger.warn({ graceMs }, 'sync workers did not finish in time; releasing their claims');
      // What this instance still holds goes back to pending now, so another instance (or
      // the next start) need not wait for the leases to expire.
      try {
        const released = await releaseClaims(prisma, instanceId);
        if (released.inbox + released.outbox + released.imports > 0) logger.info(released, 'released claimed work');
      } catch (err) {
        logger.warn({ err }, 'could not release claimed work; its leases will expire');
      }
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
