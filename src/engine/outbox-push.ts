// One push call of an outbox pass: the CRM is made ready for writes (once), the leads
// are written in one call, and each lead's answer is settled: deleted in the CRM, retried
// or failed on its own; the written ones recorded together (outbox-settle.ts).
import { CrmError } from '../../adapters/contract.ts';
import { Prisma, type Integration } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import { isTransient, recordFailure, recordSuccess } from './breaker.ts';
import { settingsOf, tagValuesFor } from './connections.ts';
import { asCrmError, errInfo } from './crm-errors.ts';
import { settleWritten, type Written } from './outbox-settle.ts';
import { finish, recordPush, retryOrFail, type OutboxDeps, type PassDeps, type ToPush } from './outbox-steps.ts';
import { inheritedWrites } from './pending-writes.ts';
import { applyDeletion } from './removals.ts';

export type { ToPush } from './outbox-steps.ts';

export async function pushAnnounced(
  deps: PassDeps,
  integration: Integration,
  toPush: ToPush[],
  answer: (p: { lead: { id: string } }, error?: CrmError) => void,
  log: Logger,
  /** The entry announced for each unlinked lead's write in this call (answered: not inherited). */
  announcedUnlinked: Map<string, string> = new Map(),
) {
  const { prisma } = deps;
  let results;
  try {
    const client = deps.connections.client(await prepared(deps, integration));
    log.info({ count: toPush.length }, `pushing ${toPush.length} lead(s) to ${integration.provider}`);
    results = await client.pushLeads(toPush.map((p) => p.outbound), deps.platformTag);
  } catch (err) {
    const error = asCrmError(err);
    log.warn({ err: errInfo(error), count: toPush.length }, 'push to CRM failed');
    if (isTransient(error)) await recordFailure(prisma, integration.id, error, deps.config, log);
    else await recordSuccess(prisma, integration.id, log);
    for (const p of toPush) {
      answer(p, error);
      await retryOrFail(deps, p.items, error, log);
    }
    return;
  }
  // The breaker follows the CRM's answers: any write that went through, or only
  // permanent refusals, means it is up; only transient failures mean it is not.
  const tried = results.flatMap((r) => (r.ok ? [] : r.attempted === false ? [] : [r.error]));
  const transient = tried.find(isTransient);
  if (transient && !results.some((r) => r.ok)) await recordFailure(prisma, integration.id, transient, deps.config, log);
  else if (results.some((r) => r.ok) || tried.length > 0) await recordSuccess(prisma, integration.id, log);
  // Unanswered writes of leads not linked yet, announced on any of their outbox items for
  // this CRM (an earlier item may still wait out its backoff): one query for the call.
  const unlinkedIds = toPush.filter((p) => !p.outbound.externalId).map((p) => p.lead.id);
  const announcedRows = unlinkedIds.length
    ? await prisma.outboxItem.findMany({
        where: { leadId: { in: unlinkedIds }, integrationId: integration.id, NOT: { pendingWrites: { equals: Prisma.AnyNull } } },
        select: { leadId: true, pendingWrites: true },
      })
    : [];
  const written: Written[] = [];
  for (let i = 0; i < toPush.length; i++) {
    const p = toPush[i];
    const r = results[i];
    if (!r || r.localId !== p.lead.id) {
      await retryOrFail(deps, p.items, new CrmError('UPSTREAM', 'adapter returned no result for this lead', { retryable: true }), log);
      continue;
    }
    answer(p, r.ok ? undefined : r.error);
    if (!r.ok && r.attempted === false) {
      // Not tried: another lead's call failed first and the adapter stopped there.
      await retryOrFail(deps, p.items, r.error, log, false);
      continue;
    }
    if (!r.ok && r.error.code === 'NOT_FOUND' && p.outbound.externalId) {
      // The linked record is gone: deleted in the CRM without a notification reaching us
      // (some CRMs send none for deletions). Same rule as a deletion webhook: the lead
      // stays, and is no longer pushed there.
      await applyDeletion(deps, integration, p.outbound.externalId);
      await finish(prisma, p.items, 'done', 'skipped: record deleted in the CRM');
      recordPush(deps, integration, p.items, { kind: 'skipped', status: 'skipped', reason: 'crm_record_deleted' });
      continue;
    }
    if (!r.ok) {
      log.warn({ leadId: p.lead.id, err: errInfo(r.error) }, `failed to push lead ${p.lead.id}`);
      await retryOrFail(deps, p.items, r.error, log);
      continue;
    }
    // Written: recorded with the call's other written leads once all answers are sorted.
    const link = p.lead.links.find((l) => l.integrationId === integration.id);
    // A new link inherits the lead's unanswered writes (the current one is answered).
    const inherited = link ? [] : inheritedWrites(announcedRows.filter((row) => row.leadId === p.lead.id), announcedUnlinked.get(p.lead.id));
    written.push({ p, r, link, inherited });
  }
  await settleWritten(deps, integration, written, log);
}

/**
 * Before the first push to a CRM, make sure its origin field exists (without touching
 * webhooks). A CRM that cannot be made ready fails the push with the steps an
 * administrator must take; the failed pushes can be retried afterwards.
 */
async function prepared(deps: OutboxDeps, integration: Integration): Promise<Integration> {
  const settings = settingsOf(integration);
  if (settings.prepared === true) return integration;
  const report = await deps.connections.client(integration).prepare(tagValuesFor(integration.provider, deps.platformTag));
  if (!report.originFieldReady) {
    throw new CrmError('VALIDATION', `${integration.provider} is not ready for writes: ${report.manualSteps.join(' ')}`, { retryable: false });
  }
  const updated = await deps.prisma.integration.update({
    where: { id: integration.id },
    data: { settings: deps.connections.settingsToStore(integration.provider, { ...settings, ...report.settings, prepared: true }) },
  });
  deps.logger.info({ integrationId: integration.id, originFieldCreated: report.originFieldCreated }, 'CRM prepared for writes (origin field ready)');
  return updated;
}
