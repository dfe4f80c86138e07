// Setting an integration's field mappings (checked against the CRM's own field list),
// and the resync a changed mapping offers: a job that takes the CRM's values of the
// chosen fields for every linked lead (source crm), or writes the platform's values to
// every linked record (source platform).
import { type CrmRecord, type FieldValue, type LeadFields } from '../../adapters/contract.ts';
import { AppError, notFound, validationError } from '../errors.ts';
import type { FieldResyncJob, Integration, Prisma } from '../generated/prisma/client.ts';
import { requireConnected } from './connection-state.ts';
import type { EngineContext } from './context.ts';
import { listCrmFields, type CrmFieldCache } from './crm-fields.ts';
import { asCrmError, errInfo } from './crm-errors.ts';
import { canonicalFields, readSnapshot, stampFieldTimes } from './fields.ts';
import { getIntegration } from './integrations.ts';
import { fanOut } from './links.ts';
import { planFor, platformValue, readRemoteExtra, withAttributes } from './mapped-fields.ts';
import { attributeKey, fromCrmValue, isAttribute, mappingsOf, parseMappings, readsCrm, sameValue, writesCrm, type FieldMapping, type MappingInput, type ResyncSource, type SetMappingsResult } from './mappings.ts';
import { enableWebhooks } from './webhook-lifecycle.ts';

export type MappingDeps = Pick<EngineContext, 'config' | 'prisma' | 'logger' | 'pubsub' | 'connections' | 'platformTag' | 'instanceId' | 'track' | 'wake' | 'isStopping'>;

/** The mappings in force for an integration (the defaults when none were set). */
export function fieldMappingsOf(deps: Pick<MappingDeps, 'connections'>, integration: Pick<Integration, 'provider' | 'fieldMappings'>): FieldMapping[] {
  return mappingsOf(integration.fieldMappings, deps.connections.adapter(integration.provider).fieldNames);
}


/**
 * Replaces the integration's mappings. Each is checked against the CRM's fields (the
 * discovery cache, else the CRM): unknown field, a read-only field as a target, a type
 * mismatch, a value map naming an option the CRM lacks, duplicates and reserved fields
 * are refused (VALIDATION, a code per problem), and nothing changes.
 */
export async function setFieldMappings(deps: MappingDeps, cache: CrmFieldCache, organizationId: string, integrationId: string, input: readonly MappingInput[]): Promise<SetMappingsResult> {
  const integration = await getIntegration(deps.prisma, organizationId, integrationId);
  requireConnected(integration, 'change field mappings');
  const fields = await listCrmFields(deps, cache, organizationId, integrationId, false);
  const adapter = deps.connections.adapter(integration.provider);
  const reserved = [adapter.fieldNames.email, ...fields.filter((f) => f.reserved || f.synced === 'email').map((f) => f.name)];
  const mappings = parseMappings(input, fields, reserved);
  const before = new Map(fieldMappingsOf(deps, integration).map((m) => [m.platform, JSON.stringify({ ...m, crmType: undefined })]));
  const changed = mappings.filter((m) => before.get(m.platform) !== JSON.stringify({ ...m, crmType: undefined })).map((m) => m.platform);
  const updated = await deps.prisma.integration.update({ where: { id: integration.id }, data: { fieldMappings: mappings as unknown as Prisma.InputJsonValue } });
  deps.connections.forget(integration.id);
  deps.logger.info({ integrationId: integration.id, mappings: mappings.length, changed }, 'field mappings changed');
  // HubSpot notifies a property change only for subscribed properties: subscriptions follow the mappings.
  let manualSteps: string[] = [];
  if (updated.webhooksEnabled && planFor(adapter, updated).extraFields.length > 0) {
    try {
      manualSteps = (await enableWebhooks(deps, organizationId, integration.id)).provision.manualSteps;
    } catch (e) {
      deps.logger.warn({ integrationId: integration.id, err: errInfo(asCrmError(e)) }, 'webhook subscriptions could not follow the new mappings; the reconciling poll still reads the fields');
      manualSteps = ['The CRM refused to update the webhook subscriptions for the mapped fields: call enableWebhooks again, or rely on the reconciling poll for them.'];
    }
  }
  return { integration: await deps.prisma.integration.findUniqueOrThrow({ where: { id: integration.id } }), changed, manualSteps };
}

// ------------------------------------------------------------------ resync

const PAGE = 100;
const LEASE_MS = 60_000;

/** The source a resync of these mappings takes by default: the side whose value wins. */
export function defaultSource(mappings: FieldMapping[]): ResyncSource {
  if (mappings.every((m) => !readsCrm(m))) return 'platform';
  if (mappings.every((m) => !writesCrm(m) || m.conflict === 'crm_wins' || m.conflict === 'newest')) return 'crm';
  return 'platform';
}

export async function startResync(deps: MappingDeps, organizationId: string, integrationId: string, fields: string[], source?: ResyncSource | null): Promise<FieldResyncJob> {
  const integration = await getIntegration(deps.prisma, organizationId, integrationId);
  requireConnected(integration, 'resync fields');
  const mappings = fieldMappingsOf(deps, integration);
  const chosen = fields.map((f) => mappings.find((m) => m.platform === f.trim()));
  const problems = fields.flatMap((f, i) => (chosen[i] ? [] : [{ field: `fields.${i}`, code: 'RESYNC_FIELD_NOT_MAPPED', message: `"${f}" is not mapped for this integration` }]));
  if (fields.length === 0) problems.push({ field: 'fields', code: 'RESYNC_FIELD_NOT_MAPPED', message: 'name at least one mapped field' });
  if (problems.length) throw validationError(problems);
  const picked = chosen as FieldMapping[];
  const from = source ?? defaultSource(picked);
  const wrong = picked.filter((m) => (from === 'crm' ? !readsCrm(m) : !writesCrm(m)));
  if (wrong.length) {
    throw validationError(wrong.map((m) => ({ field: 'source', code: 'RESYNC_AGAINST_DIRECTION', message: `${m.platform} is mapped ${m.direction}: it cannot be resynced from the ${from}` })));
  }
  const running = await deps.prisma.fieldResyncJob.findFirst({ where: { integrationId, status: 'running', lockedUntil: { gt: new Date() } } });
  if (running) throw new AppError('CONFLICT', `a resync of this integration is running (${running.id})`);
  const job = await deps.prisma.fieldResyncJob.create({
    data: { organizationId, integrationId, fields: picked.map((m) => m.platform), source: from, lockedBy: deps.instanceId, lockedUntil: new Date(Date.now() + LEASE_MS) },
  });
  deps.logger.info({ integrationId, jobId: job.id, fields: job.fields, source: from }, 'field resync started');
  deps.track(runResync(deps, job, picked).catch((err) => deps.logger.error({ err, jobId: job.id }, 'field resync failed unexpectedly')));
  return job;
}

export async function resyncJob(deps: Pick<MappingDeps, 'prisma'>, organizationId: string, id: string): Promise<FieldResyncJob> {
  const job = await deps.prisma.fieldResyncJob.findFirst({ where: { id, organizationId } });
  if (!job) throw notFound('Resync job');
  return job;
}

async function runResync(deps: MappingDeps, job: FieldResyncJob, mappings: FieldMapping[]): Promise<void> {
  try {
    if (job.source === 'platform') await resyncFromPlatform(deps, job, mappings);
    else await resyncFromCrm(deps, job, mappings);
    const done = await deps.prisma.fieldResyncJob.update({ where: { id: job.id }, data: { status: 'completed', finishedAt: new Date(), lockedBy: null, lockedUntil: null } });
    deps.logger.info({ jobId: job.id, processed: done.processed, changed: done.changed }, 'field resync completed');
  } catch (e) {
    const error = asCrmError(e);
    deps.logger.warn({ jobId: job.id, err: errInfo(error) }, 'field resync failed');
    await deps.prisma.fieldResyncJob.update({ where: { id: job.id }, data: { status: 'failed', error: error.message.slice(0, 500), finishedAt: new Date(), lockedBy: null, lockedUntil: null } });
  }
}

/** The platform's values go to every linked record: the CRM is no longer taken to hold them, and each lead is pushed. */
async function resyncFromPlatform(deps: MappingDeps, job: FieldResyncJob, mappings: FieldMapping[]) {
  const links = await deps.prisma.crmLink.findMany({ where: { integrationId: job.integrationId, remoteDeletedAt: null }, include: { lead: { select: { id: true, organizationId: true, syncVersion: true } } } });
  await deps.prisma.fieldResyncJob.update({ where: { id: job.id }, data: { total: links.length } });
  const extraNames = mappings.map((m) => m.crm);
  const fixedKeys = mappings.filter((m) => !isAttribute(m.platform)).map((m) => m.platform);
  for (let i = 0; i < links.length; i += PAGE) {
    const page = links.slice(i, i + PAGE);
    await deps.prisma.$transaction(async (tx) => {
      for (const link of page) {
        const extra = Object.fromEntries(Object.entries(readRemoteExtra(link.remoteExtra)).filter(([k]) => !extraNames.includes(k)));
        const snapshot = Object.fromEntries(Object.entries(readSnapshot(link.remoteFields) ?? {}).filter(([k]) => !fixedKeys.includes(k)));
        await tx.crmLink.update({ where: { id: link.id }, data: { remoteExtra: extra as Prisma.InputJsonValue, remoteFields: snapshot as Prisma.InputJsonValue, lastPushedHash: null } });
      }
      await tx.outboxItem.createMany({ data: page.map((l) => ({ organizationId: l.lead.organizationId, integrationId: job.integrationId, leadId: l.leadId, leadVersion: l.lead.syncVersion })) });
    });
    await deps.prisma.fieldResyncJob.update({ where: { id: job.id }, data: { processed: { increment: page.length }, changed: { increment: page.length }, lockedUntil: new Date(Date.now() + LEASE_MS) } });
  }
  deps.wake.outbox();
}

/** The CRM's values of the fields are taken for every linked lead, page by page through the CRM's records. */
async function resyncFromCrm(deps: MappingDeps, job: FieldResyncJob, mappings: FieldMapping[]) {
  let cursor: string | null = job.cursor;
  for (;;) {
    if (deps.isStopping()) throw new AppError('CONFLICT', 'the service stopped during the resync; start it again');
    const integration = await deps.prisma.integration.findUniqueOrThrow({ where: { id: job.integrationId } });
    const page = await deps.connections.client(integration).listPage(cursor, PAGE);
    const changed = await applyPage(deps, integration, mappings, page.records);
    cursor = page.nextCursor;
    await deps.prisma.fieldResyncJob.update({
      where: { id: job.id },
      data: { processed: { increment: page.records.length }, changed: { increment: changed }, cursor, lockedUntil: new Date(Date.now() + LEASE_MS) },
    });
    if (!cursor) return;
  }
}

async function applyPage(deps: MappingDeps, integration: Integration, mappings: FieldMapping[], records: CrmRecord[]): Promise<number> {
  if (records.length === 0) return 0;
  const links = await deps.prisma.crmLink.findMany({ where: { integrationId: integration.id, externalId: { in: records.map((r) => r.externalId) } }, include: { lead: true } });
  const byId = new Map(links.map((l) => [l.externalId, l]));
  let changed = 0;
  for (const record of records) {
    const link = byId.get(record.externalId);
    if (!link || link.remoteDeletedAt) continue;
    const lead = link.lead;
    const fields: Partial<Omit<LeadFields, 'email'>> = {};
    const attrs: Record<string, FieldValue> = {};
    const extra = { ...readRemoteExtra(link.remoteExtra) };
    const snapshot = { ...(readSnapshot(link.remoteFields) ?? {}) };
    const remote = canonicalFields(record.fields);
    for (const m of mappings) {
      const fixed = !isAttribute(m.platform) && (record.extra === undefined || !(m.crm in record.extra));
      let value: FieldValue;
      if (fixed) {
        value = remote[m.platform as keyof LeadFields];
        (snapshot as Record<string, unknown>)[m.platform] = value;
      } else {
        if (!record.extra || !(m.crm in record.extra)) continue;
        extra[m.crm] = record.extra[m.crm] ?? null;
        const conv = fromCrmValue(m, record.extra[m.crm]);
        if (!conv.ok) continue;
        value = conv.value;
      }
      if (sameValue(platformValue(lead, m.platform), value)) continue;
      if (isAttribute(m.platform)) {
        attrs[attributeKey(m.platform)] = value;
      } else {
        (fields as Record<string, unknown>)[m.platform] = value === null ? null : String(value);
      }
    }
    const keys = [...Object.keys(fields), ...Object.keys(attrs).map((k) => `attributes.${k}`)];
    await deps.prisma.$transaction(async (tx) => {
      await tx.crmLink.update({ where: { id: link.id }, data: { remoteExtra: extra as Prisma.InputJsonValue, remoteFields: snapshot as Prisma.InputJsonValue } });
      if (keys.length === 0) return;
      const updated = await tx.lead.update({
        where: { id: lead.id },
        data: {
          ...fields,
          ...(Object.keys(attrs).length ? { attributes: withAttributes(lead.attributes, attrs as Record<string, never>) } : {}),
          syncVersion: { increment: 1 },
          fieldsChangedAt: stampFieldTimes(lead.fieldsChangedAt, keys, record.updatedAt ?? new Date()),
          lastSyncDirection: 'from_crm',
          lastSyncedAt: new Date(),
        },
      });
      await fanOut(tx, [updated], integration.id);
    });
    if (keys.length) changed++;
  }
  if (changed) deps.wake.outbox();
  return changed;
}
