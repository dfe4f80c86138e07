// A CRM record no lead is linked to yet (apply.ts decides linked ones): our own create
// coming back, a record without email, a person the platform already has (linked,
// never duplicated: blank platform fields are filled from the CRM, filled ones kept),
// or a new person (created, linked, pushed to the other CRMs).
import type { LeadFields } from '../../adapters/contract.ts';
import { BLANKABLE, stampFieldTimes, type FieldPatch } from './fields.ts';
import { createLeadsFromRecords, recordNoun, type Arrival } from './from-crm.ts';
import { createLink, linkedTo } from './links.ts';
import { readAttributes } from './attributes.ts';
import { inboundFields, mappedFromCrm, noMappedChange, withAttributes } from './mapped-fields.ts';
import { recordUnmappable } from './mapping-warnings.ts';
import type { Unmappable } from './mappings.ts';
import type { ApplyResult, ApplyVia } from './outcomes.ts';

export async function applyUnlinked(arrival: Arrival, via: ApplyVia, ownOrigin: boolean): Promise<ApplyResult> {
  const { deps, integration, record, remote, log } = arrival;
  const { prisma } = deps;
  const email = remote.email;
  const existing = email
    ? await prisma.lead.findUnique({ where: { organizationId_email: { organizationId: integration.organizationId, email } } })
    : null;

  if (ownOrigin) {
    log.info({ externalId: record.externalId }, `skipping ${recordNoun(deps, integration)} ${record.externalId}, originated from our platform`);
    if (existing && !(await linkedTo(prisma, existing.id, integration.id))) {
      await createLink(prisma, existing.id, integration.id, record);
      return { outcome: via === 'import' ? 'linked' : 'skipped_own_origin', leadId: existing.id };
    }
    return { outcome: 'skipped_own_origin', leadId: existing?.id ?? null };
  }

  if (!email) {
    log.warn({ externalId: record.externalId }, `skipping ${recordNoun(deps, integration)} ${record.externalId}: no email`);
    return { outcome: 'skipped_no_email', leadId: null };
  }

  if (existing) {
    // The same person already exists on the platform: link, never duplicate. Blank
    // platform fields are filled from the CRM; filled ones are kept.
    const currentLink = await prisma.crmLink.findUnique({
      where: { leadId_integrationId: { leadId: existing.id, integrationId: integration.id } },
    });
    if (currentLink) {
      // Linked to another record of this CRM (two CRM records, one email): keep the
      // first link and do not create a second lead.
      log.warn({ leadId: existing.id, linkedTo: currentLink.externalId }, 'skipped: lead already linked to another record');
      return { outcome: 'unchanged', leadId: existing.id };
    }
    // What the mappings take from this CRM: fields not read from it are left alone,
    // fields and attributes mapped through other CRM fields fill blanks like the others.
    const { plan } = arrival;
    const mapped = plan.extra.length ? mappedFromCrm(plan, null, null, record, {}) : noMappedChange();
    const incoming = inboundFields(plan, remote, mapped);
    const fill: FieldPatch = {};
    for (const k of BLANKABLE) {
      if (incoming[k] !== null && existing[k] === null) fill[k] = incoming[k];
    }
    const held = readAttributes(existing.attributes);
    const attrs = Object.fromEntries(Object.entries(mapped.attributes).filter(([k, v]) => v !== null && !(k in held)));
    const stamped = [...Object.keys(fill), ...Object.keys(attrs).map((k) => `attributes.${k}`)];
    await prisma.$transaction(async (tx) => {
      await createLink(tx, existing.id, integration.id, record);
      if (stamped.length) {
        await tx.lead.update({
          where: { id: existing.id },
          data: {
            ...fill,
            ...(Object.keys(attrs).length ? { attributes: withAttributes(existing.attributes, attrs) } : {}),
            syncVersion: { increment: 1 },
            fieldsChangedAt: stampFieldTimes(existing.fieldsChangedAt, stamped, record.updatedAt ?? new Date(), { ...record.fieldUpdatedAt, ...mapped.times }),
          },
        });
      }
    });
    await recordUnmappable(deps, integration, 'inbound', via, existing.id, record.externalId, mapped.unmappable);
    log.info({ leadId: existing.id }, `linked ${recordNoun(deps, integration)} ${record.externalId} to existing lead`);
    return { outcome: 'linked', leadId: existing.id };
  }

  log.info({ externalId: record.externalId, email }, `creating lead from ${recordNoun(deps, integration)} ${record.externalId}`);
  const unmappable: Unmappable[][] = [];
  const [lead] = await createLeadsFromRecords(prisma, integration, [record], new Date(), { plan: arrival.plan, unmappable });
  await recordUnmappable(deps, integration, 'inbound', via, lead.id, record.externalId, unmappable[0] ?? []);
  log.info({ leadId: lead.id, email }, `created lead ${lead.id} from ${recordNoun(deps, integration)} ${record.externalId}`);
  await deps.pubsub.publish('lead.created', { organizationId: lead.organizationId, lead });
  return { outcome: 'created', leadId: lead.id };
}
