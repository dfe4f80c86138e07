// ImportJob: a bulk import of a CRM's records into leads, and its progress.
import { Repeater } from 'graphql-yoga';
import type { ImportJob } from '../../generated/prisma/client.ts';
import { builder, type GraphQLContext } from '../builder.ts';

/** An import job as it may arrive: from Prisma, or through Redis with ISO-string dates. */
type ImportJobShape = Omit<ImportJob, 'startedAt' | 'finishedAt'> & {
  startedAt: Date | string;
  finishedAt: Date | string | null;
};

export const ImportJobType = builder.objectRef<ImportJobShape>('ImportJob').implement({
  description: "An import of an integration's CRM records into leads.",
  fields: (t) => ({
    id: t.exposeID('id'),
    integrationId: t.exposeID('integrationId'),
    status: t.exposeString('status', { description: 'running, completed or failed.' }),
    pages: t.exposeInt('pages'),
    created: t.exposeInt('created'),
    linked: t.exposeInt('linked', { description: 'CRM records matched to existing leads.' }),
    updated: t.exposeInt('updated'),
    skipped: t.exposeInt('skipped'),
    failed: t.exposeInt('failed'),
    error: t.exposeString('error', { nullable: true }),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
  }),
});

builder.queryFields((t) => ({
  importJob: t.field({
    type: ImportJobType,
    authScopes: { 'integrations:admin': true },
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.sync.importJob(ctx.organizationId, String(args.id)),
  }),
}));

builder.mutationFields((t) => ({
  importFromCrm: t.field({
    type: ImportJobType,
    authScopes: { 'integrations:admin': true },
    description: 'Starts importing every record of the CRM; returns the job at once.',
    args: { integrationId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.sync.importFromCrm(ctx.organizationId, String(args.integrationId)),
  }),
}));

/**
 * The job as it is now, then every change, ending once the job has finished. Listens
 * before reading the current state so that no change between the two is lost; the read
 * happens before the stream is returned, so an unknown job is a plain NOT_FOUND error.
 */
async function importProgress(ctx: GraphQLContext, jobId: string): Promise<AsyncIterable<ImportJobShape>> {
  const updates = ctx.services.pubsub.subscribe('import.progress')[Symbol.asyncIterator]();
  // The pub/sub starts listening on the first next(): ask for it now, consume it later.
  let pending: Promise<IteratorResult<ImportJobShape>> | null = updates.next();
  let current: ImportJob;
  try {
    current = await ctx.services.sync.importJob(ctx.organizationId, jobId);
  } catch (err) {
    await updates.return?.();
    throw err;
  }
  return new Repeater<ImportJobShape>(async (push, stop) => {
    // A client going away stops the repeater; ending the pub/sub iterator ends the loop.
    void stop.then(() => updates.return?.());
    try {
      await push(current);
      let finished = Boolean(current.finishedAt);
      while (!finished) {
        const next = await (pending ?? updates.next());
        pending = null;
        if (next.done) break;
        if (next.value.id !== jobId) continue;
        await push(next.value);
        finished = Boolean(next.value.finishedAt);
      }
      stop();
    } catch (err) {
      stop(err);
    } finally {
      await updates.return?.();
    }
  });
}

builder.subscriptionFields((t) => ({
  importProgress: t.field({
    type: ImportJobType,
    authScopes: { 'integrations:admin': true },
    description: 'The import job now, then each progress update until it finishes.',
    args: { jobId: t.arg.id({ required: true }) },
    subscribe: (_root, args, ctx) => importProgress(ctx, String(args.jobId)),
    resolve: (job: ImportJobShape) => job,
  }),
}));
