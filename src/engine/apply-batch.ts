// A page of CRM records (import, poll), applied with the same rules as one record
// (apply.ts), in bulk where nothing needs deciding: records already linked whose CRM
// values did not change cost no write, and new people are created in one transaction
// by the same function that creates one (from-crm.ts). Everything else (own-origin
// records, existing leads by email, real changes) goes through applyRecord.
import { hasOwnOrigin, type CrmRecord } from '../../adapters/contract.ts';
import type { Integration } from '../generated/prisma/client.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { applyRecord } from './apply.ts';
import { canonicalFields, fieldsHash } from './fields.ts';
import { createLeadsFromRecords, type ApplyDeps } from './from-crm.ts';
import { knownState } from './links.ts';
import type { ApplyOutcome, ApplyVia } from './outcomes.ts';

export async function applyRecords(
  deps: ApplyDeps,
  integration: Integration,
  records: CrmRecord[],
  via: ApplyVia,
): Promise<ApplyOutcome[]> {
  const { prisma } = deps;
  const outcomes: ApplyOutcome[] = new Array(records.length);
  const ids = records.map((r) => r.externalId);
  const emails = [...new Set(records.map((r) => canonicalFields(r.fields).email).filter((e): e is string => e !== null))];
  const [links, leads] = await Promise.all([
    prisma.crmLink.findMany({ where: { integrationId: integration.id, externalId: { in: ids } } }),
    emails.length ? prisma.lead.findMany({ where: { organizationId: integration.organizationId, email: { in: emails } }, select: { email: true } }) : [],
  ]);
  const linkById = new Map(links.map((l) => [l.externalId, l]));
  const knownEmails = new Set(leads.map((l) => l.email));
  const slow: number[] = [];
  const fresh: number[] = [];
  const seenEmails = new Set<string>();
  records.forEach((record, i) => {
    const link = linkById.get(record.externalId);
    const remote = canonicalFields(record.fields);
    if (link) {
      if (knownState(link, fieldsHash(remote))) outcomes[i] = 'unchanged';
      else slow.push(i);
      return;
    }
    const email = remote.email;
    if (!email || hasOwnOrigin(record, deps.platformTag) || knownEmails.has(email) || seenEmails.has(email)) {
      slow.push(i);
      return;
    }
    seenEmails.add(email);
    fresh.push(i);
  });

  if (fresh.length) {
    try {
      const created = await prisma.$transaction((tx) => createLeadsFromRecords(tx, integration, fresh.map((i) => records[i])));
      for (const i of fresh) outcomes[i] = 'created';
      deps.logger.info({ integrationId: integration.id, via, created: created.length }, `created ${created.length} lead(s) from ${integration.provider}`);
      for (const lead of created) await deps.pubsub.publish('lead.created', { organizationId: lead.organizationId, lead });
    } catch (e) {
      // Someone (a webhook, another instance) got there first: decide one by one.
      if (!isUniqueViolation(e)) throw e;
      slow.push(...fresh);
    }
  }
  for (const i of slow.sort((a, b) => a - b)) {
    outcomes[i] = (await applyRecord(deps, integration, records[i], via)).outcome;
  }
  return outcomes;
}
