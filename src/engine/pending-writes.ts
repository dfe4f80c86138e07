// Writes whose outcome is unknown, remembered per link until a read shows them.
//
// A write whose deadline passed (CRM_CALL_TIMEOUT_MS) or whose answer was lost may still
// be applied by the CRM afterwards: HubSpot stamps a property change when it applies it
// (`lastmodifieddate`), so a batch update held past our deadline and applied after a
// newer push of ours looks like the newest change of the record. Reading it back, the
// engine would take our own older value for a person's edit and roll the lead back.
// So the values of such a write are remembered on the link (`pendingWrites`); a read
// holding one of them on a field where the lead now holds another value is our stale
// write landing late: it is not applied, and the lead's value is pushed again.
import { randomUUID } from 'node:crypto';
import { SYNCED_FIELDS, type LeadFields } from '../../adapters/contract.ts';
import { Prisma, type CrmLink, type PrismaClient } from '../generated/prisma/client.ts';
import { canonicalFields, readSnapshot, toSnapshot } from './fields.ts';

/** How long an unanswered write is watched for: far longer than any CRM holds a request. */
export const PENDING_WRITE_TTL_MS = 15 * 60_000;
/** Most unanswered writes remembered per link (the oldest are forgotten first). */
const MAX_PENDING = 10;

export interface PendingWrite {
  /** Set for a write announced before its call (announceWrites): forgotten by id once answered. */
  id?: string;
  at: string;
  fields: Partial<LeadFields>;
}

export function readPendingWrites(json: unknown, now = Date.now()): PendingWrite[] {
  if (!Array.isArray(json)) return [];
  const out: PendingWrite[] = [];
  for (const e of json) {
    if (!e || typeof e !== 'object') continue;
    const at = (e as { at?: unknown }).at;
    const fields = readSnapshot((e as { fields?: unknown }).fields);
    if (typeof at !== 'string' || !fields || Object.keys(fields).length === 0) continue;
    if (now - Date.parse(at) > PENDING_WRITE_TTL_MS) continue;
    const id = (e as { id?: unknown }).id;
    out.push({ ...(typeof id === 'string' ? { id } : {}), at, fields });
  }
  return out;
}

/**
 * Write-ahead: before an update is sent, its values are remembered on each link, in one
 * statement. A process killed while the CRM holds the request (it may apply it minutes
 * later) leaves them behind, so the next process still knows the late write for ours.
 * Answered writes are forgotten again (forgetWrites); unanswered ones stay until seen or
 * expired. Returns the id of each lead's entry.
 */
export async function announceWrites(
  prisma: Pick<PrismaClient, '$executeRaw'>,
  integrationId: string,
  writes: { leadId: string; fields: Partial<LeadFields> }[],
): Promise<Map<string, string>> {
  const at = new Date().toISOString();
  const entries: { leadId: string; entry: PendingWrite }[] = [];
  for (const w of writes) {
    const fields = toSnapshot(w.fields);
    delete fields.email; // the email identifies the person: never a late-write question
    if (Object.keys(fields).length === 0) continue;
    entries.push({ leadId: w.leadId, entry: { id: randomUUID(), at, fields } });
  }
  if (entries.length === 0) return new Map();
  // Appends each entry, keeping the newest MAX_PENDING of the link.
  await prisma.$executeRaw`
    UPDATE "CrmLink" AS l
    SET "pendingWrites" = (
      SELECT jsonb_agg(e ORDER BY n)
      FROM jsonb_array_elements(
        COALESCE(CASE WHEN jsonb_typeof(l."pendingWrites") = 'array' THEN l."pendingWrites" END, '[]'::jsonb) || jsonb_build_array(v.value->'entry')
      ) WITH ORDINALITY AS t(e, n)
      WHERE n > jsonb_array_length(COALESCE(CASE WHEN jsonb_typeof(l."pendingWrites") = 'array' THEN l."pendingWrites" END, '[]'::jsonb)) + 1 - ${MAX_PENDING}
    )
    FROM jsonb_array_elements(${JSON.stringify(entries)}::jsonb) AS v
    WHERE l."integrationId" = ${integrationId} AND l."leadId" = v.value->>'leadId'`;
  return new Map(entries.map((e) => [e.leadId, e.entry.id!]));
}

/** Forgets announced writes whose answer came (applied, or refused for sure). */
export async function forgetWrites(prisma: Pick<PrismaClient, '$executeRaw'>, integrationId: string, writes: { leadId: string; id: string }[]): Promise<void> {
  if (writes.length === 0) return;
  const ids = writes.map((w) => w.id);
  const leadIds = writes.map((w) => w.leadId);
  await prisma.$executeRaw`
    UPDATE "CrmLink" AS l
    SET "pendingWrites" = (
      SELECT jsonb_agg(e) FROM jsonb_array_elements(l."pendingWrites") AS e
      WHERE NOT ((e->>'id') IS NOT NULL AND (e->>'id') IN (SELECT jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)))
    )
    WHERE l."integrationId" = ${integrationId} AND l."leadId" IN (SELECT jsonb_array_elements_text(${JSON.stringify(leadIds)}::jsonb))
      AND jsonb_typeof(l."pendingWrites") = 'array'
      AND EXISTS (
        SELECT 1 FROM jsonb_array_elements(l."pendingWrites") AS e
        WHERE (e->>'id') IN (SELECT jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))
      )`;
}

/**
 * The same write-ahead for leads not linked yet (their write links or creates the
 * record): announced on the lead's outbox items. Returns the id of each lead's entry.
 */
export async function announceUnlinkedWrites(
  prisma: Pick<PrismaClient, '$executeRaw'>,
  writes: { leadId: string; itemIds: string[]; fields: Partial<LeadFields> }[],
): Promise<Map<string, string>> {
  const at = new Date().toISOString();
  const rows: { itemId: string; entry: PendingWrite }[] = [];
  const ids = new Map<string, string>();
  for (const w of writes) {
    const fields = toSnapshot(w.fields);
    delete fields.email;
    if (Object.keys(fields).length === 0) continue;
    const entry: PendingWrite = { id: randomUUID(), at, fields };
    ids.set(w.leadId, entry.id!);
    for (const itemId of w.itemIds) rows.push({ itemId, entry });
  }
  if (rows.length === 0) return ids;
  await prisma.$executeRaw`
    UPDATE "OutboxItem" AS o
    SET "pendingWrites" = COALESCE(CASE WHEN jsonb_typeof(o."pendingWrites") = 'array' THEN o."pendingWrites" END, '[]'::jsonb) || jsonb_build_array(v.value->'entry')
    FROM jsonb_array_elements(${JSON.stringify(rows)}::jsonb) AS v
    WHERE o.id = v.value->>'itemId'`;
  return ids;
}

/** Forgets announced writes of unlinked leads whose answer came. */
export async function forgetUnlinkedWrites(prisma: Pick<PrismaClient, '$executeRaw'>, itemIds: string[], ids: string[]): Promise<void> {
  if (itemIds.length === 0 || ids.length === 0) return;
  await prisma.$executeRaw`
    UPDATE "OutboxItem" AS o
    SET "pendingWrites" = (
      SELECT jsonb_agg(e) FROM jsonb_array_elements(o."pendingWrites") AS e
      WHERE NOT ((e->>'id') IS NOT NULL AND (e->>'id') IN (SELECT jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)))
    )
    WHERE o.id IN (SELECT jsonb_array_elements_text(${JSON.stringify(itemIds)}::jsonb)) AND jsonb_typeof(o."pendingWrites") = 'array'`;
}

/** What a new link inherits from its lead's outbox items: their unanswered writes, oldest first, at most MAX_PENDING. */
export function inheritedWrites(items: { pendingWrites: unknown }[], answeredId?: string): PendingWrite[] {
  const seen = new Set<string>();
  const out: PendingWrite[] = [];
  for (const item of items) {
    for (const w of readPendingWrites(item.pendingWrites)) {
      if (!w.id || w.id === answeredId || seen.has(w.id)) continue;
      seen.add(w.id);
      out.push(w);
    }
  }
  return out.sort((a, b) => Date.parse(a.at) - Date.parse(b.at)).slice(-MAX_PENDING);
}

export interface StaleEchoes {
  /** Fields whose CRM value is one of our unanswered writes landing late (the lead holds another value). */
  stale: (keyof LeadFields)[];
  /** The pending writes left once what this read shows has been taken off. */
  remaining: PendingWrite[];
  /** True when the pending writes changed (something was seen). */
  changed: boolean;
}

/**
 * Sorts what the CRM changed (`crmChanged`, against the link's baseline) into our stale
 * writes and real changes. A stale write is taken off the list once seen (a request is
 * applied once). One the lead still holds is kept until it expires: seeing the value does
 * not tell whether the held request itself has landed or a retry of it did.
 */
export function staleEchoes(link: Pick<CrmLink, 'pendingWrites'>, lead: LeadFields, remote: LeadFields, crmChanged: Partial<LeadFields>): StaleEchoes {
  const pending = readPendingWrites(link.pendingWrites);
  if (pending.length === 0) return { stale: [], remaining: [], changed: Array.isArray(link.pendingWrites) && link.pendingWrites.length > 0 };
  const current = canonicalFields(lead);
  const stale = new Set<keyof LeadFields>();
  let changed = false;
  const remaining: PendingWrite[] = [];
  for (const w of pending) {
    const left: Partial<LeadFields> = { ...w.fields };
    for (const k of SYNCED_FIELDS) {
      if (!(k in left) || left[k] !== remote[k] || !(k in crmChanged) || current[k] === remote[k]) continue;
      delete left[k];
      changed = true;
      stale.add(k);
    }
    if (Object.keys(left).length > 0) remaining.push({ ...w, fields: left });
  }
  return { stale: [...stale], remaining, changed: changed || remaining.length !== pending.length };
}

/**
 * Records what a read showed about the pending writes of `link`. For stale fields the
 * link learns that the CRM holds our older value, and a push of the lead's current value
 * is queued (only the fields the CRM does not hold are written), so both sides end with
 * the platform's newer value.
 */
export async function settleLateWrites(
  prisma: PrismaClient,
  link: CrmLink,
  lead: { id: string; organizationId: string; syncVersion: number },
  integration: { id: string; autoSync: boolean },
  remote: LeadFields,
  seen: StaleEchoes,
): Promise<void> {
  const base = readSnapshot(link.remoteFields) ?? {};
  for (const k of seen.stale) (base as Record<string, string | null>)[k] = remote[k];
  await prisma.$transaction(async (tx) => {
    await tx.crmLink.update({
      where: { id: link.id },
      data: {
        pendingWrites: seen.remaining.length ? (seen.remaining as unknown as Prisma.InputJsonValue) : Prisma.DbNull,
        ...(seen.stale.length ? { remoteFields: base as Prisma.InputJsonValue, lastPushedHash: null } : {}),
      },
    });
    if (seen.stale.length && integration.autoSync) {
      await tx.outboxItem.create({ data: { organizationId: lead.organizationId, integrationId: integration.id, leadId: lead.id, leadVersion: lead.syncVersion } });
    }
  });
}
