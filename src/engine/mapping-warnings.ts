// Values a field mapping could not carry, recorded as warnings in the sync history
// (status warning, errorCode VALUE_NOT_MAPPED): never dropped silently.
import type { Integration } from '../generated/prisma/client.ts';
import { HistoryBatch, type HistoryDeps } from './history.ts';
import type { Unmappable } from './mappings.ts';
import type { ApplyVia } from './outcomes.ts';

/** Records values a mapping could not carry as warnings in the sync history. */
export async function recordUnmappable(
  deps: HistoryDeps,
  integration: Pick<Integration, 'id' | 'organizationId' | 'provider'>,
  direction: 'inbound' | 'outbound',
  via: ApplyVia,
  leadId: string | null,
  externalId: string | null,
  unmappable: Unmappable[],
  outboxItemId?: string,
): Promise<void> {
  if (unmappable.length === 0) return;
  const batch = new HistoryBatch(deps);
  for (const u of unmappable) {
    const what = direction === 'outbound' ? `not written to ${u.mapping.crm}` : `not applied to ${u.mapping.platform}`;
    const row = { kind: 'skipped', status: 'warning' as const, reason: 'value_not_mapped', errorCode: 'VALUE_NOT_MAPPED', error: `${what}: ${u.reason}`, externalId, leadId, outboxItemId: outboxItemId ?? null };
    if (direction === 'outbound') batch.outbound(integration, row);
    else batch.inbound(integration, { ...row, via });
  }
  deps.logger.warn({ integrationId: integration.id, leadId, externalId, fields: unmappable.map((u) => u.mapping.platform) }, 'a mapped value could not be carried: recorded as a warning');
  await batch.flush();
}
