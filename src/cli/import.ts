// `crm-sync import --integration ID`: runs a full import from the CRM in this process,
// with the real engine, showing the job's progress as it publishes it, then a summary.
import type { ImportJob } from '../generated/prisma/client.ts';
import { CliError, EXIT_FAILURE, requireString, type Command } from './common.ts';

const records = (j: ImportJob) => j.created + j.linked + j.updated + j.skipped + j.failed;

function countsText(j: ImportJob): string {
  return `created ${j.created}, linked ${j.linked}, updated ${j.updated}, skipped ${j.skipped}, failed ${j.failed}`;
}

/** Progress on stderr: a redrawn bar on a terminal, one plain line per page otherwise. */
function progressReporter(label: string, enabled: boolean) {
  const tty = Boolean(process.stderr.isTTY);
  const started = performance.now();
  let last: ImportJob | undefined;
  let frame = 0;
  let printedPages = -1;
  const width = 20;
  const draw = () => {
    if (!last) return;
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? Math.round(records(last) / seconds) : 0;
    // The CRM does not say how many records there are: the bar moves while pages arrive.
    const pos = frame % (2 * (width - 4));
    const at = pos < width - 4 ? pos : 2 * (width - 4) - pos;
    const bar = ' '.repeat(at) + '====' + ' '.repeat(width - 4 - at);
    process.stderr.write(`\r\x1b[2K${label} [${bar}] page ${last.pages}, ${records(last)} records (${countsText(last)}) ${rate}/s`);
  };
  const timer = enabled && tty ? setInterval(() => (frame++, draw()), 120) : undefined;
  return {
    update(job: ImportJob) {
      last = job;
      if (!enabled) return;
      if (tty) draw();
      else if (job.pages !== printedPages) {
        printedPages = job.pages;
        process.stderr.write(`progress: page ${job.pages}, ${records(job)} records (${countsText(job)})\n`);
      }
    },
    done() {
      if (timer) clearInterval(timer);
      if (enabled && tty) process.stderr.write('\r\x1b[2K');
    },
  };
}

export const importCommand: Command = {
  path: ['import'],
  summary: 'import every record of an integration’s CRM, with progress',
  usage: `Usage: crm-sync import --integration INTEGRATION_ID [--quiet] [--json]

Pages through every record of the integration's CRM in this process (same rules as
the service: matched by CRM link, then by email; records carrying our origin tag are
linked, never duplicated), shows progress on stderr, and prints a summary: pages,
created, linked, updated, skipped, failed, duration and rate. Running it again
creates nothing new. Exit code 1 when the import fails.`,
  options: { integration: { type: 'string' }, quiet: { type: 'boolean', short: 'q' } },
  async run(ctx) {
    const integrationId = requireString(ctx, 'integration');
    const config = ctx.config();
    const logger = await ctx.logger(config);
    const { createSyncEngine } = await import('../engine/index.ts');
    const { createAppPubSub } = await import('../pubsub.ts');
    const db = await ctx.openDb();
    // With REDIS_URL the service's subscribers see this import's progress too.
    const pubsub = createAppPubSub(config.REDIS_URL);
    const engine = createSyncEngine({ config, prisma: db.prisma, logger: logger.child({ component: 'engine' }), pubsub });
    let progress: ReturnType<typeof progressReporter> | undefined;
    try {
      const integration = await db.prisma.integration.findUnique({ where: { id: integrationId } });
      if (!integration) throw new CliError(`Integration ${integrationId} not found`);

      // Every published progress event wakes the loop below, which reads the job.
      let wake: (() => void) | undefined;
      const events = pubsub.subscribe('import.progress');
      void (async () => {
        for await (const job of events) if (job.integrationId === integrationId) wake?.();
      })();

      progress = progressReporter(`${integration.provider.toLowerCase()} "${integration.name}"`, !ctx.values.quiet);
      const began = performance.now();
      let job = await engine.importFromCrm(integration.organizationId, integration.id);
      if (job.lockedBy && job.lockedBy !== engine.instanceId) {
        process.stderr.write(`An import of this integration is already running (job ${job.id}, instance ${job.lockedBy}); following it.\n`);
      }
      while (job.status === 'running') {
        await new Promise<void>((resolve) => {
          wake = resolve;
          // Also look now and then: another instance's job publishes elsewhere.
          setTimeout(resolve, 500).unref();
        });
        wake = undefined;
        job = (await db.prisma.importJob.findUnique({ where: { id: job.id } })) ?? job;
        progress.update(job);
        if (job.status === 'running' && job.lockedBy !== engine.instanceId && job.lockedUntil && job.lockedUntil.getTime() < Date.now() - 5_000) {
          throw new CliError(`Import job ${job.id} belongs to instance ${job.lockedBy}, which stopped answering; a running service resumes it.`);
        }
      }
      progress.done();
      await events.return?.();

      const durationMs = job.finishedAt ? Math.max(0, job.finishedAt.getTime() - job.startedAt.getTime()) : performance.now() - began;
      const total = records(job);
      const rate = durationMs > 0 ? total / (durationMs / 1000) : 0;
      ctx.out.json({
        jobId: job.id,
        integrationId: job.integrationId,
        status: job.status,
        pages: job.pages,
        records: total,
        created: job.created,
        linked: job.linked,
        updated: job.updated,
        skipped: job.skipped,
        failed: job.failed,
        durationMs: Math.round(durationMs),
        recordsPerSecond: Math.round(rate * 10) / 10,
        error: job.error,
      });
      ctx.out.line(`Import ${job.status}: ${integration.provider.toLowerCase()} "${integration.name}" (job ${job.id})`);
      ctx.out.line(`  pages     ${job.pages}`);
      ctx.out.line(`  created   ${job.created}`);
      ctx.out.line(`  linked    ${job.linked}`);
      ctx.out.line(`  updated   ${job.updated}`);
      ctx.out.line(`  skipped   ${job.skipped}`);
      ctx.out.line(`  failed    ${job.failed}`);
      ctx.out.line(`  duration  ${(durationMs / 1000).toFixed(1)} s`);
      ctx.out.line(`  rate      ${Math.round(rate)} records/s (${total} records)`);
      if (job.status !== 'completed') {
        process.stderr.write(`crm-sync: import failed: ${job.error ?? job.status}\n`);
        return EXIT_FAILURE;
      }
    } finally {
      progress?.done();
      await engine.stop();
      await pubsub.close();
      await db.close();
    }
  },
};
