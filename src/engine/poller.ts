// The reconciling poll: webhooks can be lost (the CRM gave up, the endpoint was down
// for a day). Every POLL_INTERVAL_MS each integration with webhooks enabled asks its
// CRM for records changed since its cursor and applies them by the same rules, so a
// missed webhook is healed and an echo is still recognised. A poll never overwrites
// fresher data (apply.ts compares modification times).
import type { Config } from '../config.ts';
import type { Integration, PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import type { PubSub } from '../pubsub.ts';
import { applyRecords } from './apply.ts';
import { recordApplied } from './history.ts';
import type { Connections } from './connections.ts';
import { asCrmError, errInfo } from './outbox.ts';

const POLL_PAGE = 100;
const POLL_MAX_PAGES = 20;

export interface PollDeps {
  config: Config;
  prisma: PrismaClient;
  logger: Logger;
  pubsub: PubSub;
  connections: Connections;
}

/** Polls every due integration once. Returns the number of records seen. */
export async function pollAll(deps: PollDeps, force = false): Promise<number> {
  const dueBefore = new Date(Date.now() - deps.config.POLL_INTERVAL_MS);
  const integrations = await deps.prisma.integration.findMany({
    where: { webhooksEnabled: true, ...(force ? {} : { OR: [{ lastPolledAt: null }, { lastPolledAt: { lt: dueBefore } }] }) },
  });
  let seen = 0;
  for (const integration of integrations) {
    // Claim the poll (another instance may be about to do the same).
    const claimed = await deps.prisma.integration.updateMany({
      where: { id: integration.id, lastPolledAt: integration.lastPolledAt },
      data: { lastPolledAt: new Date() },
    });
    if (claimed.count === 0) continue;
    seen += await pollOne(deps, integration);
  }
  return seen;
}

export async function pollOne(deps: PollDeps, integration: Integration): Promise<number> {
  const log = deps.logger.child({ integrationId: integration.id, provider: integration.provider });
  const applyDeps = { prisma: deps.prisma, logger: deps.logger, pubsub: deps.pubsub, platformTag: deps.config.PLATFORM_SOURCE_TAG };
  let cursor = integration.pollCursor;
  let seen = 0;
  const outcomes: Record<string, number> = {};
  try {
    for (let page = 0; page < POLL_MAX_PAGES; page++) {
      const result = await deps.connections.client(integration).changesSince(cursor, POLL_PAGE);
      const applied = await applyRecords(applyDeps, integration, result.records, 'poll');
      for (const outcome of applied) {
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        seen++;
      }
      await recordApplied(deps, integration, 'poll', result.records.map((r) => r.externalId), applied);
      if (result.nextCursor) cursor = result.nextCursor;
      await deps.prisma.integration.update({ where: { id: integration.id }, data: { pollCursor: cursor } });
      if (result.records.length < POLL_PAGE || !result.nextCursor) break;
    }
  } catch (err) {
    log.warn({ err: errInfo(asCrmError(err)) }, 'reconciling poll failed; next round retries');
  }
  if (seen) log.info({ seen, outcomes }, 'reconciling poll applied changes');
  return seen;
}
