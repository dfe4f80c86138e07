// The reconciling poll: webhooks can be lost (the CRM gave up, the endpoint was down
// for a day). Every POLL_INTERVAL_MS each integration with webhooks enabled asks its
// CRM for records changed since its cursor and applies them by the same rules, so a
// missed webhook is healed and an echo is still recognised. A poll never overwrites
// fresher data (apply.ts compares modification times).
import { markNeedsReconnect, revokesGrant } from './connection-state.ts';
import type { Integration } from '../generated/prisma/client.ts';
import { applyRecords, throwFirstFailure } from './apply-batch.ts';
import { recordApplied } from './history.ts';
import { asCrmError, errInfo } from './crm-errors.ts';
import type { EngineContext } from './context.ts';

const POLL_PAGE = 100;
const POLL_MAX_PAGES = 20;
/** Pages a poll spends at most re-reading the overlap window behind its cursor. */
const OVERLAP_MAX_PAGES = 5;

export type PollDeps = Pick<EngineContext, 'config' | 'prisma' | 'logger' | 'pubsub' | 'connections' | 'platformTag'>;

/** Polls every due integration once. Returns the number of records seen. */
export async function pollAll(deps: PollDeps, force = false): Promise<number> {
  const dueBefore = new Date(Date.now() - deps.config.POLL_INTERVAL_MS);
  const integrations = await deps.prisma.integration.findMany({
    where: { webhooksEnabled: true, connectionState: 'connected', ...(force ? {} : { OR: [{ lastPolledAt: null }, { lastPolledAt: { lt: dueBefore } }] }) },
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

/**
 * One poll of one integration. The stored cursor is the high-water mark: every record
 * stamped before it was read once. Records can still appear behind it later — Salesforce
 * and Zoho stamp a change when it starts but a query sees it only once its transaction
 * commits (and both stamp whole seconds), HubSpot's search index lags writes by seconds —
 * so each poll first re-reads POLL_OVERLAP_MS behind the mark. What it already knows costs
 * no write there (hash compare in applyRecords); the cursor never moves back.
 */
export async function pollOne(deps: PollDeps, integration: Integration): Promise<number> {
  const log = deps.logger.child({ integrationId: integration.id, provider: integration.provider });
  const mark = integration.pollCursor;
  let seen = 0;
  const outcomes: Record<string, number> = {};
  try {
    const client = deps.connections.client(integration);
    const markAt = mark !== null && client.cursorTime ? client.cursorTime(mark).getTime() : null;
    const overlapMs = deps.config.POLL_OVERLAP_MS;
    let cursor = mark;
    // True while re-reading the window behind the mark: nothing is stored then.
    let behind = false;
    if (mark !== null && markAt !== null && overlapMs > 0 && client.cursorAt) {
      cursor = client.cursorAt(new Date(markAt - overlapMs));
      behind = true;
    }
    for (let page = 0; page < POLL_MAX_PAGES; page++) {
      if (behind && page >= OVERLAP_MAX_PAGES) {
        // More changes in the window than a poll re-reads: go on from the mark, so a busy
        // account never keeps a poll from moving forward.
        log.warn({ overlapMs, pages: page }, 'poll overlap window holds more changes than one poll re-reads; continuing from the cursor');
        cursor = mark;
        behind = false;
      }
      const result = await client.changesSince(cursor, POLL_PAGE);
      const results = await applyRecords(deps, integration, result.records, 'poll');
      const applied = results.map((r) => r.outcome);
      for (const outcome of applied) {
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        seen++;
      }
      await recordApplied(deps, integration, 'poll', results.map((r, i) => ({ externalId: result.records[i].externalId, outcome: r.outcome, leadId: r.leadId })));
      // The cursor never moves past a record that failed: the next round reads it again.
      throwFirstFailure(results);
      if (result.nextCursor) cursor = result.nextCursor;
      if (behind && cursor !== null && markAt !== null && client.cursorTime!(cursor).getTime() >= markAt) behind = false;
      if (!behind && cursor !== integration.pollCursor) {
        await deps.prisma.integration.update({ where: { id: integration.id }, data: { pollCursor: cursor } });
        integration = { ...integration, pollCursor: cursor };
      }
      if (result.records.length < POLL_PAGE || !result.nextCursor) break;
    }
  } catch (err) {
    const error = asCrmError(err);
    if (revokesGrant(error)) await markNeedsReconnect(deps, integration, error);
    log.warn({ err: errInfo(error) }, 'reconciling poll failed; next round retries');
  }
  const changed = seen - (outcomes.unchanged ?? 0);
  if (changed) log.info({ seen, outcomes }, 'reconciling poll applied changes');
  return seen;
}
