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
import { SYNCED_FIELDS, type LeadFields } from '../../adapters/contract.ts';
import { Prisma, type CrmLink, type PrismaClient } from '../generated/prisma/client.ts';
import { canonicalFields, readSnapshot, toSnapshot } from './fields.ts';

/** How long an unanswered write is watched for: far longer than any CRM holds a request. */
export const PENDING_WRITE_TTL_MS = 15 * 60_000;
/** Most unanswered writes remembered per link (the oldest are forgotten first). */
const MAX_PENDING = 10;

export interface PendingWrite {
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
    out.push({ at, fields });
  }
  return out;
}

/** Remembers that `fields` were sent to the record of `linkId` without knowing whether they were applied. */
export async function rememberUnknownWrite(
  prisma: Pick<PrismaClient, 'crmLink'>,
  leadId: string,
  integrationId: string,
  fields: Partial<LeadFields>,
): Promise<void> {
  const snapshot = toSnapshot(fields);
  delete snapshot.email; // the email identifies the person: never a late-write question
  if (Object.keys(snapshot).length === 0) return;
  const link = await prisma.crmLink.findUnique({ where: { leadId_integrationId: { leadId, integrationId } } });
  if (!link) return;
  const list = [...readPendingWrites(link.pendingWrites), { at: new Date().toISOString(), fields: snapshot }].slice(-MAX_PENDING);
  await prisma.crmLink.update({ where: { id: link.id }, data: { pendingWrites: list as unknown as Prisma.InputJsonValue } });
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
    if (Object.keys(left).length > 0) remaining.push({ at: w.at, fields: left });
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
