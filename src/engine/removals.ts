// A CRM record deleted or merged away. The platform owns its leads: a deletion keeps
// the lead (no longer pushed there); a merge folds the leads of the merged records into
// the survivor's, so one person never keeps two leads.
import type { Integration } from '../generated/prisma/client.ts';
import { BLANKABLE, type FieldPatch } from './fields.ts';
import { recordNoun, type ApplyDeps } from './from-crm.ts';
import type { ApplyResult } from './outcomes.ts';

/** A CRM record was deleted: the lead stays (the platform owns its data) but is no longer pushed there. */
export async function applyDeletion(deps: ApplyDeps, integration: Integration, externalId: string): Promise<ApplyResult> {
  const link = await deps.prisma.crmLink.findUnique({
    where: { integrationId_externalId: { integrationId: integration.id, externalId } },
  });
  if (!link) return { outcome: 'skipped_missing', leadId: null };
  if (link.remoteDeletedAt) return { outcome: 'unchanged', leadId: link.leadId };
  const now = new Date();
  const lead = await deps.prisma.$transaction(async (tx) => {
    await tx.crmLink.update({ where: { id: link.id }, data: { remoteDeletedAt: now } });
    return tx.lead.update({ where: { id: link.leadId }, data: { crmDeletedAt: now } });
  });
  deps.logger.info({ leadId: lead.id, externalId, integrationId: integration.id }, `${recordNoun(deps, integration)} ${externalId} deleted in the CRM: lead kept, no longer pushed`);
  await deps.pubsub.publish('lead.updated', { organizationId: lead.organizationId, lead });
  return { outcome: 'deleted', leadId: lead.id };
}

/**
 * CRM records were merged into `survivorId`. Leads linked to the merged-away records
 * are folded into the survivor's lead (blank fields filled, links moved), so one
 * person never keeps two leads. When no lead is linked to the survivor, the first
 * merged-away lead is re-linked to it instead.
 */
export async function applyMerge(
  deps: ApplyDeps,
  integration: Integration,
  survivorId: string,
  mergedIds: string[],
): Promise<ApplyResult> {
  const { prisma } = deps;
  const ids = [survivorId, ...mergedIds.filter((id) => id !== survivorId)];
  const links = await prisma.crmLink.findMany({
    where: { integrationId: integration.id, externalId: { in: ids } },
    include: { lead: true },
  });
  if (links.length === 0) return { outcome: 'skipped_missing', leadId: null };
  const survivorLink = links.find((l) => l.externalId === survivorId) ?? links[0];
  const keeper = survivorLink.lead;
  const losers = [...new Map(links.filter((l) => l.leadId !== keeper.id).map((l) => [l.leadId, l.lead])).values()];
  const result = await prisma.$transaction(async (tx) => {
    if (survivorLink.externalId !== survivorId) {
      await tx.crmLink.update({ where: { id: survivorLink.id }, data: { externalId: survivorId } });
    }
    const fill: FieldPatch = {};
    for (const loser of losers) {
      for (const k of BLANKABLE) {
        if (keeper[k] === null && fill[k] === undefined && loser[k] !== null) fill[k] = loser[k];
      }
      // Links the loser had to other CRMs move to the keeper where it has none.
      const otherLinks = await tx.crmLink.findMany({ where: { leadId: loser.id, integrationId: { not: integration.id } } });
      for (const ol of otherLinks) {
        const has = await tx.crmLink.count({ where: { leadId: keeper.id, integrationId: ol.integrationId } });
        if (!has) await tx.crmLink.update({ where: { id: ol.id }, data: { leadId: keeper.id } });
      }
      await tx.lead.delete({ where: { id: loser.id } });
    }
    await tx.crmLink.deleteMany({ where: { integrationId: integration.id, externalId: { in: mergedIds.filter((id) => id !== survivorId) } } });
    return tx.lead.update({ where: { id: keeper.id }, data: { ...fill, syncVersion: { increment: 1 } } });
  });
  deps.logger.info(
    { leadId: result.id, survivorId, mergedIds, removedLeads: losers.map((l) => l.id), integrationId: integration.id },
    `merged ${recordNoun(deps, integration)}s into ${survivorId}`,
  );
  await deps.pubsub.publish('lead.updated', { organizationId: result.organizationId, lead: result });
  return { outcome: 'merged', leadId: result.id };
}
