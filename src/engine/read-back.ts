// Before a retried push: read the records back and apply what the CRM changed since.
//
// A push that failed transiently waits for its retry. Meanwhile a person may edit the
// same field in the CRM, and that change's notification may still be on its way (no
// inbox event waits for the record yet). HubSpot applies a batch update's properties as
// sent, with no conditional update ("Update a batch of contacts": the properties given
// replace the values), so the retry would put the platform's older value over the
// person's newer one. So a retried push first reads its linked records (one batched read
// per push) and applies each through the same rules as the reconciling poll: last writer
// wins by modification time, and a CRM change newer than the local change reaches the
// lead. The push then writes only what the CRM still lacks. First attempts are not read
// back: they cost no extra call.
import type { CrmRecord } from '../../adapters/contract.ts';
import type { CrmLink, Integration, Lead, OutboxItem } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import { applyRecord } from './apply.ts';
import type { HistoryBatch } from './history.ts';
import { inboundFromOutcome } from './outcomes.ts';
import type { EngineContext } from './context.ts';

type Item = OutboxItem & { lead: Lead & { links: CrmLink[] } };

export type ReadBackDeps = Pick<EngineContext, 'prisma' | 'logger' | 'pubsub' | 'connections' | 'platformTag'> & { history: HistoryBatch };

/** The linked, live record of each lead group whose push is a retry (and not held back by the inbox). */
export function retriedRecords<I extends Item>(integration: Integration, groups: I[][], waiting: Set<string>): Map<string, I[]> {
  const out = new Map<string, I[]>();
  if (!integration.autoSync) return out;
  for (const group of groups) {
    if (!group.some((i) => i.attempts > 0)) continue;
    const link = group[0]!.lead.links.find((l) => l.integrationId === integration.id);
    if (!link || link.remoteDeletedAt || waiting.has(link.externalId)) continue;
    out.set(link.externalId, group);
  }
  return out;
}

/**
 * Reads the records of retried pushes (one batched call), applies each to its lead, and
 * puts the lead as it is now (fields and links) back into its group, so the push is
 * decided on it. Throws the CRM's error when the read fails.
 */
export async function readBackRetried(deps: ReadBackDeps, integration: Integration, byRecord: Map<string, Item[]>, log: Logger): Promise<void> {
  if (byRecord.size === 0) return;
  const records: CrmRecord[] = await deps.connections.client(integration).readRecords([...byRecord.keys()]);
  for (const record of records) {
    const group = byRecord.get(record.externalId);
    if (!group) continue;
    const { outcome, leadId } = await applyRecord(deps, integration, record, 'push');
    if (outcome === 'updated') {
      log.info({ leadId, externalId: record.externalId }, `applied a newer ${integration.provider} change of ${record.externalId} before retrying its push`);
      deps.history.inbound(integration, { ...inboundFromOutcome(outcome), externalId: record.externalId, leadId, via: 'push' });
    }
  }
  const ids = [...new Set([...byRecord.values()].map((g) => g[0]!.leadId))];
  const fresh = new Map((await deps.prisma.lead.findMany({ where: { id: { in: ids } }, include: { links: true } })).map((l) => [l.id, l]));
  for (const group of byRecord.values()) {
    const lead = fresh.get(group[0]!.leadId);
    if (lead) for (const item of group) item.lead = lead;
  }
}
