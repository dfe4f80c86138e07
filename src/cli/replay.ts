// `crm-sync replay-failed`: puts failed work back in the queues — failed CRM pushes
// (outbox, through the engine's retryFailedPushes) and failed inbound webhook events
// (inbox) — for the service's workers to process again.
import { CliError, optionalString, type Command } from './common.ts';

export const replayFailedCommand: Command = {
  path: ['replay-failed'],
  summary: 'put failed pushes and failed inbound events back in the queues',
  usage: `Usage: crm-sync replay-failed [--org ORG_ID] [--integration INTEGRATION_ID] [--json]

Puts failed CRM pushes (outbox) and failed inbound webhook events (inbox) back to
pending, attempts reset, for the running service's workers to process again. Without
--org or --integration, every organization's failed work is replayed.`,
  options: { org: { type: 'string' }, integration: { type: 'string' } },
  async run(ctx) {
    const orgFlag = optionalString(ctx, 'org');
    const integrationId = optionalString(ctx, 'integration');
    const config = ctx.config();
    const { createSyncEngine } = await import('../engine/index.ts');
    const { createAppPubSub } = await import('../pubsub.ts');
    const db = await ctx.openDb();
    const pubsub = createAppPubSub();
    const engine = createSyncEngine({ config, prisma: db.prisma, logger: (await ctx.logger(config)).child({ component: 'engine' }), pubsub });
    try {
      let orgIds: string[];
      if (integrationId) {
        const integration = await db.prisma.integration.findUnique({ where: { id: integrationId }, select: { organizationId: true } });
        if (!integration || (orgFlag && integration.organizationId !== orgFlag)) {
          throw new CliError(`Integration ${integrationId} not found${orgFlag ? ` in organization ${orgFlag}` : ''}`);
        }
        orgIds = [integration.organizationId];
      } else if (orgFlag) {
        if (!(await db.prisma.organization.findUnique({ where: { id: orgFlag }, select: { id: true } }))) {
          throw new CliError(`Organization ${orgFlag} not found`);
        }
        orgIds = [orgFlag];
      } else {
        orgIds = (await db.prisma.organization.findMany({ select: { id: true } })).map((o) => o.id);
      }

      let pushes = 0;
      for (const org of orgIds) pushes += await engine.retryFailedPushes(org, integrationId);
      const inbound = await db.prisma.inboxEvent.updateMany({
        where: {
          status: 'failed',
          ...(integrationId ? { integrationId } : { integration: { organizationId: { in: orgIds } } }),
        },
        data: { status: 'pending', attempts: 0, firstFailedAt: null, nextAttemptAt: new Date(), lockedBy: null, lockedUntil: null, processedAt: null },
      });

      ctx.out.json({ pushes, inboundEvents: inbound.count, organizations: orgIds.length });
      ctx.out.line(`Replayed ${pushes} failed push${pushes === 1 ? '' : 'es'} and ${inbound.count} failed inbound event${inbound.count === 1 ? '' : 's'}.`);
      if (pushes + inbound.count > 0) ctx.out.line('The running service picks them up on its next worker pass.');
    } finally {
      await engine.stop();
      await pubsub.close();
      await db.close();
    }
  },
};
