// Manual import: pages through every record of the CRM (100 a page), creating or
// linking leads through the same rules as webhooks (so contacts carrying our own tag
// are linked, never duplicated), publishing progress after every page. The job holds
// its cursor and a lease: if the instance running it dies, another resumes it from
// the last finished page. Running it again creates nothing new.
import type { Page } from '../../adapters/contract.ts';
import { markNeedsReconnect, requireConnected, revokesGrant } from './connection-state.ts';
import type { ImportJob, Integration } from '../generated/prisma/client.ts';
import { outsideRequest } from '../logger.ts';
import { applyRecords } from './apply-batch.ts';
import { recordApplied } from './history.ts';
import { getIntegration } from './integrations.ts';
import { asCrmError, errInfo, storedError } from './crm-errors.ts';
import type { ApplyOutcome } from './outcomes.ts';
import { backoffMs } from './queue.ts';
import { pagesAhead } from './import-pages.ts';
import type { EngineContext } from './context.ts';

export const IMPORT_PAGE_SIZE = 100;
const IMPORT_LEASE_MS = 60_000;
const IMPORT_MAX_RETRIES = 6;
/** Pages read ahead of the one being applied (import-pages.ts). */
const IMPORT_READ_AHEAD = 2;

export type ImportDeps = Pick<EngineContext, 'config' | 'prisma' | 'logger' | 'pubsub' | 'connections' | 'instanceId' | 'platformTag' | 'track' | 'isStopping'>;

export async function startImport(deps: ImportDeps, organizationId: string, integrationId: string): Promise<ImportJob> {
  const integration = await getIntegration(deps.prisma, organizationId, integrationId);
  requireConnected(integration, 'import');
  // One import per integration at a time: starting again returns the running job.
  const running = await deps.prisma.importJob.findFirst({ where: { integrationId, status: 'running' } });
  if (running) return running;
  const job = await deps.prisma.importJob.create({
    data: {
      organizationId,
      integrationId,
      lockedBy: deps.instanceId,
      lockedUntil: new Date(Date.now() + IMPORT_LEASE_MS),
    },
  });
  deps.logger.info({ jobId: job.id, integrationId }, 'import started');
  // Background work: it logs its own context, not the request that started it.
  deps.track(outsideRequest(() => runImport(deps, integration, job)));
  return job;
}

/** Takes over running jobs whose lease expired (their instance died). */
export async function resumeAbandonedImports(deps: ImportDeps): Promise<number> {
  const now = new Date();
  const stale = await deps.prisma.importJob.findMany({
    where: { status: 'running', OR: [{ lockedUntil: null }, { lockedUntil: { lt: now } }] },
    include: { integration: true },
  });
  let resumed = 0;
  for (const job of stale) {
    const taken = await deps.prisma.importJob.updateMany({
      where: { id: job.id, status: 'running', OR: [{ lockedUntil: null }, { lockedUntil: { lt: now } }] },
      data: { lockedBy: deps.instanceId, lockedUntil: new Date(Date.now() + IMPORT_LEASE_MS) },
    });
    if (taken.count === 1) {
      deps.logger.info({ jobId: job.id, cursor: job.cursor }, 'resuming interrupted import');
      const { integration, ...row } = job;
      deps.track(runImport(deps, integration, row as ImportJob));
      resumed++;
    }
  }
  return resumed;
}

async function runImport(deps: ImportDeps, integration: Integration, start: ImportJob): Promise<void> {
  const { prisma } = deps;
  const log = deps.logger.child({ jobId: start.id, integrationId: integration.id, provider: integration.provider });
  let job = start;
  let cursor = start.cursor;
  const began = Date.now();
  const client = () => deps.connections.client(integration);
  /** One page, retried while the CRM's failures are transient (bounded). */
  const readPage = async (from: string | null): Promise<Page> => {
    for (let retries = 0; ; ) {
      try {
        return await client().listPage(from, IMPORT_PAGE_SIZE);
      } catch (err) {
        const error = asCrmError(err);
        if (!error.retryable || ++retries > IMPORT_MAX_RETRIES) throw error;
        const wait = Math.max(backoffMs(retries, 500, 30_000), error.retryAfterMs ?? 0);
        log.warn({ err: errInfo(error), wait }, 'import page failed, retrying');
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  };
  const pages = pagesAhead(readPage, cursor, IMPORT_READ_AHEAD);
  try {
    for (;;) {
      if (deps.isStopping()) {
        pages.drop();
        // Leave it running with its lease expiring: the next instance resumes it.
        await prisma.importJob.update({ where: { id: job.id }, data: { lockedUntil: new Date(0) } });
        return;
      }
      const page = (await pages.next()) ?? { records: [], nextCursor: null };
      const counts = { created: 0, linked: 0, updated: 0, skipped: 0, failed: 0 };
      // A record that fails fails alone (its result says so); the page goes on.
      const results = await applyRecords(deps, integration, page.records, 'import');
      const outcomes: (ApplyOutcome | 'failed')[] = results.map((r, i) => {
        if (r.outcome === 'failed') log.error({ err: r.error, externalId: page.records[i].externalId }, `import failed for ${page.records[i].externalId}`);
        return r.outcome;
      });
      for (const outcome of outcomes) {
        if (outcome === 'created') counts.created++;
        else if (outcome === 'linked') counts.linked++;
        else if (outcome === 'updated') counts.updated++;
        else if (outcome === 'failed') counts.failed++;
        else counts.skipped++;
      }
      await recordApplied(deps, integration, 'import', results.map((r, i) => ({ externalId: page.records[i].externalId, outcome: outcomes[i], leadId: r.leadId })));
      cursor = page.nextCursor;
      job = await prisma.importJob.update({
        where: { id: job.id },
        data: {
          pages: { increment: 1 },
          created: { increment: counts.created },
          linked: { increment: counts.linked },
          updated: { increment: counts.updated },
          skipped: { increment: counts.skipped },
          failed: { increment: counts.failed },
          cursor,
          lockedUntil: new Date(Date.now() + IMPORT_LEASE_MS),
          ...(cursor === null ? { status: 'completed', finishedAt: new Date(), lockedBy: null, lockedUntil: null } : {}),
        },
      });
      await deps.pubsub.publish('import.progress', job);
      if (cursor === null) break;
    }
    const seconds = (Date.now() - began) / 1000;
    log.info(
      { pages: job.pages, created: job.created, linked: job.linked, updated: job.updated, skipped: job.skipped, failed: job.failed, seconds },
      'import completed',
    );
  } catch (err) {
    pages.drop();
    const error = asCrmError(err);
    if (revokesGrant(error)) await markNeedsReconnect(deps, integration, error);
    job = await prisma.importJob.update({
      where: { id: job.id },
      data: { status: 'failed', error: `${error.code}: ${storedError(error)}`, finishedAt: new Date(), lockedBy: null, lockedUntil: null },
    });
    log.error({ err: errInfo(error) }, 'import failed');
    await deps.pubsub.publish('import.progress', job);
  }
}
