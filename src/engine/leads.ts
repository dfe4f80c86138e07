// Platform-side lead changes. The lead row and its outbox rows are written in one
// transaction: once createLead/updateLead returns, the push to every auto-sync CRM
// of the organization is durable. Attributes (custom values) go to the CRMs whose field
// mappings write them: a change of attributes alone is pushed to those only (with a new
// syncVersion), and to none (no new syncVersion) when no mapping writes them.
import { SYNCED_FIELDS } from '../../adapters/contract.ts';
import { AppError, notFound } from '../errors.ts';
import { Prisma, type Lead, type PrismaClient } from '../generated/prisma/client.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { mergeAttributes, parseAttributeChange, readAttributes, sameAttributes } from './attributes.ts';
import { changedFields, parseCreateInput, parseUpdateInput, stampFieldTimes } from './fields.ts';
import { enqueueForOtherIntegrations } from './links.ts';
import type { CreateLeadInput, UpdateLeadInput } from './types.ts';
import type { EngineContext } from './context.ts';

export type LeadDeps = Pick<EngineContext, 'prisma' | 'logger' | 'pubsub' | 'platformTag' | 'wake'>;


export async function createLead(deps: LeadDeps, organizationId: string, input: CreateLeadInput): Promise<Lead> {
  const { attributes: attributesIn, ...rest } = input;
  const fields = parseCreateInput(rest);
  const attributes = attributesIn == null ? {} : mergeAttributes({}, parseAttributeChange(attributesIn));
  let queued = 0;
  let lead: Lead;
  try {
    lead = await deps.prisma.$transaction(async (tx) => {
      const created = await tx.lead.create({
        data: { organizationId, ...fields, attributes, sourceSystem: deps.platformTag, fieldsChangedAt: stampFieldTimes(null, [...SYNCED_FIELDS], new Date()) },
      });
      queued = await enqueueForOtherIntegrations(tx, created, null);
      return created;
    });
  } catch (e) {
    if (isUniqueViolation(e)) {
      throw new AppError('CONFLICT', 'A lead with this email already exists', { fields: [{ field: 'email', message: 'already exists' }] });
    }
    throw e;
  }
  deps.logger.info({ leadId: lead.id, organizationId, queued }, `lead ${lead.id} created on the platform`);
  await deps.pubsub.publish('lead.created', { organizationId, lead });
  if (queued) deps.wake.outbox();
  return lead;
}

export async function updateLead(deps: LeadDeps, organizationId: string, input: UpdateLeadInput): Promise<Lead> {
  const { id, attributes: attributesIn, ...rest } = input;
  if (typeof id !== 'string' || id === '') throw new AppError('VALIDATION', 'Invalid input: id is required', { fields: [{ field: 'id', message: 'is required' }] });
  const patch = parseUpdateInput(rest);
  const attributeChange = attributesIn == null ? null : parseAttributeChange(attributesIn);
  let queued = 0;
  let changed = false;
  let lead: Lead;
  try {
    lead = await deps.prisma.$transaction(async (tx) => {
      const current = await tx.lead.findFirst({ where: { id, organizationId } });
      if (!current) throw notFound('Lead');
      const diff = changedFields(current, { ...current, ...patch });
      const attributes = attributeChange ? mergeAttributes(current.attributes, attributeChange) : null;
      const attributesChanged = attributes !== null && !sameAttributes(readAttributes(current.attributes), attributes);
      if (Object.keys(diff).length === 0 && !attributesChanged) return current;
      changed = true;
      const changedAttrs = attributesChanged ? changedAttributeKeys(readAttributes(current.attributes), attributes!) : [];
      const attrTimes = changedAttrs.map((k) => `attributes.${k}`);
      if (Object.keys(diff).length === 0) {
        // Attributes alone: pushed only to the CRMs whose field mappings write one of them.
        const targets = await integrationsWriting(tx, organizationId, changedAttrs);
        if (targets.length === 0) return tx.lead.update({ where: { id }, data: { attributes: attributes!, fieldsChangedAt: stampFieldTimes(current.fieldsChangedAt, attrTimes, new Date()) } });
        const updated = await tx.lead.update({
          where: { id },
          data: { attributes: attributes!, syncVersion: { increment: 1 }, fieldsChangedAt: stampFieldTimes(current.fieldsChangedAt, attrTimes, new Date()) },
        });
        await tx.outboxItem.createMany({ data: targets.map((integrationId) => ({ organizationId, integrationId, leadId: id, leadVersion: updated.syncVersion })) });
        queued = targets.length;
        return updated;
      }
      const { email, ...others } = diff;
      const updated = await tx.lead.update({
        where: { id },
        data: {
          ...others,
          ...(email ? { email } : {}),
          ...(attributesChanged ? { attributes: attributes! } : {}),
          syncVersion: { increment: 1 },
          fieldsChangedAt: stampFieldTimes(current.fieldsChangedAt, [...Object.keys(diff), ...attrTimes], new Date()),
        },
      });
      queued = await enqueueForOtherIntegrations(tx, updated, null);
      return updated;
    });
  } catch (e) {
    if (isUniqueViolation(e)) {
      throw new AppError('CONFLICT', 'Another lead already has this email', { fields: [{ field: 'email', message: 'already exists' }] });
    }
    throw e;
  }
  if (changed) {
    deps.logger.info({ leadId: lead.id, organizationId, queued }, `lead ${lead.id} updated on the platform`);
    await deps.pubsub.publish('lead.updated', { organizationId, lead });
  }
  if (queued) deps.wake.outbox();
  return lead;
}

/** The attribute keys whose value differs between two sets of attributes. */
function changedAttributeKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => JSON.stringify(a[k] ?? null) !== JSON.stringify(b[k] ?? null));
}

/** The auto-sync integrations of the organization (not disconnected) whose field mappings write one of these attributes to the CRM. */
async function integrationsWriting(tx: Pick<PrismaClient, 'integration'>, organizationId: string, keys: string[]): Promise<string[]> {
  if (keys.length === 0) return [];
  const rows = await tx.integration.findMany({
    where: { organizationId, autoSync: true, connectionState: { not: 'disconnected' }, NOT: { fieldMappings: { equals: Prisma.AnyNull } } },
    select: { id: true, fieldMappings: true },
  });
  const wanted = new Set(keys.map((k) => `attributes.${k}`));
  return rows.filter((r) => Array.isArray(r.fieldMappings) && (r.fieldMappings as { platform?: unknown; direction?: unknown }[]).some((m) => wanted.has(String(m.platform)) && m.direction !== 'from_crm')).map((r) => r.id);
}
