// A person first seen in a CRM becomes the same lead whichever path brought the record:
// one webhook (applyRecord) or a page of an import or poll (applyRecords).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CrmRecord, LeadFields } from '../../adapters/contract.ts';
import { applyRecord } from '../../src/engine/apply.ts';
import { applyRecords } from '../../src/engine/apply-batch.ts';
import { insertLeadsFromRecords } from '../../src/engine/lead-store.ts';
import { isUniqueViolation } from '../../src/db/errors.ts';
import type { Integration } from '../../src/generated/prisma/client.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { memoryLogger } from '../helpers/engine.ts';
import { createAppPubSub } from '../../src/pubsub.ts';
import { defaultAdapters } from '../../src/adapters.ts';

const outcomes = (results: { outcome: string }[]) => results.map((r) => r.outcome);
const fields = (email: string, firstName: string): LeadFields => ({ email, firstName, lastName: 'Doe', phone: null, company: 'Acme', status: 'new' });

function record(externalId: string, f: LeadFields): CrmRecord {
  return {
    externalId,
    fields: f,
    originTag: null,
    createdAt: new Date('2026-01-01T10:00:00Z'),
    updatedAt: new Date('2026-01-02T10:00:00Z'),
    fieldUpdatedAt: { firstName: new Date('2026-01-01T12:00:00Z') },
  };
}

describe('leads created from CRM records', () => {
  let db: TestDatabase;
  let hubspot: Integration;
  let zohoId: string;
  const pubsub = createAppPubSub();
  const mem = memoryLogger();
  let deps: Parameters<typeof applyRecord>[0];

  beforeAll(async () => {
    db = await freshDatabase();
    deps = { prisma: db.prisma, logger: mem.logger, pubsub, platformTag: 'jazzaam', connections: { noun: (p) => defaultAdapters().find((a) => a.provider === p)?.noun ?? 'record', adapter: (p) => defaultAdapters().find((a) => a.provider === p)! } };
    const orgId = (await db.prisma.organization.create({ data: { name: 'Acme' } })).id;
    const base = { apiBaseUrl: 'http://127.0.0.1:9', credentials: '{}', organizationId: orgId };
    hubspot = await db.prisma.integration.create({ data: { ...base, accountId: '1', provider: 'HUBSPOT', name: 'hs', autoSync: true } });
    zohoId = (await db.prisma.integration.create({ data: { ...base, accountId: '2', provider: 'ZOHO', name: 'zoho', autoSync: true } })).id;
    await db.prisma.integration.create({ data: { ...base, accountId: '3', provider: 'SALESFORCE', name: 'manual only', autoSync: false } });
  });
  afterAll(() => db.destroy());

  /** What a created lead holds, leaving out what differs by nature (ids, names, email, row times). */
  async function created(email: string) {
    const { id, email: _e, firstName: _f, createdAt: _c, updatedAt: _u, lastSyncedAt: _s, ...lead } = await db.prisma.lead.findFirstOrThrow({ where: { email } });
    const links = await db.prisma.crmLink.findMany({ where: { leadId: id } });
    const pushes = await db.prisma.outboxItem.findMany({ where: { leadId: id } });
    return {
      lead,
      links: links.map((l) => ({
        integrationId: l.integrationId,
        knows: { ...(l.remoteFields as Record<string, unknown>), email: undefined, firstName: undefined },
        pulledHash: l.lastPulledHash !== null,
        pushed: [l.lastPushedHash, l.lastPushedAt],
        remoteUpdatedAt: l.remoteUpdatedAt,
      })),
      pushes: pushes.map((o) => ({ integrationId: o.integrationId, status: o.status, leadVersion: o.leadVersion })),
    };
  }

  it('a webhook and an import page create alike: fields, per-field times, source, link, and a push to every other auto-sync CRM only', async () => {
    const one = await applyRecord(deps, hubspot, record('101', fields('one@example.com', 'One')), 'webhook');
    const page = outcomes(await applyRecords(deps, hubspot, [record('102', fields('two@example.com', 'Two')), record('103', fields('three@example.com', 'Three'))], 'import'));
    expect(one.outcome).toBe('created');
    expect(page).toEqual(['created', 'created']);

    const single = await created('one@example.com');
    expect(single.lead).toMatchObject({ sourceSystem: 'hubspot', crmProvider: 'HUBSPOT', lastName: 'Doe', company: 'Acme', status: 'new', lastSyncDirection: 'from_crm' });
    // firstName carries the CRM's own time of that field; the others the record's time.
    expect(single.lead.fieldsChangedAt).toMatchObject({ firstName: '2026-01-01T12:00:00.000Z', lastName: '2026-01-02T10:00:00.000Z', email: '2026-01-02T10:00:00.000Z' });
    expect(single.links).toEqual([
      { integrationId: hubspot.id, knows: { lastName: 'Doe', phone: null, company: 'Acme', status: 'new' }, pulledHash: true, pushed: [null, null], remoteUpdatedAt: new Date('2026-01-02T10:00:00Z') },
    ]);
    expect(single.pushes).toEqual([{ integrationId: zohoId, status: 'pending', leadVersion: single.lead.syncVersion }]);
    for (const email of ['two@example.com', 'three@example.com']) expect(await created(email)).toEqual(single);

    // The link knows what the CRM holds: reading the same records again changes nothing.
    expect(outcomes(await applyRecords(deps, hubspot, [record('101', fields('one@example.com', 'One')), record('102', fields('two@example.com', 'Two'))], 'poll'))).toEqual(['unchanged', 'unchanged']);
    expect(await db.prisma.outboxItem.count()).toBe(3);
  });

  it('one email twice in a page is one lead: the second record is not linked over the first', async () => {
    const results = await applyRecords(deps, hubspot, [record('201', fields('twin@example.com', 'A')), record('202', fields('TWIN@example.com', 'B'))], 'import');
    expect(outcomes(results)).toEqual(['created', 'unchanged']);
    const lead = await db.prisma.lead.findFirstOrThrow({ where: { email: 'twin@example.com' }, include: { links: true } });
    expect(lead.links.map((l) => l.externalId)).toEqual(['201']);
    expect(await db.prisma.lead.count({ where: { email: 'twin@example.com' } })).toBe(1);
  });

  it('a webhook task is one batch: new people created together, a record announced twice applied once, each event answered with its lead', async () => {
    const a = record('301', fields('batch-a@example.com', 'A'));
    const b = record('302', fields('batch-b@example.com', 'B'));
    const ev = (r: CrmRecord, kind: 'created' | 'updated', n: number) => ({ kind, externalId: r.externalId, accountId: '1', dedupeKey: `${r.externalId}-${n}`, occurredAt: new Date() });
    const results = await applyRecords(deps, hubspot, [{ record: a, event: ev(a, 'created', 1) }, { record: b, event: ev(b, 'created', 2) }, { record: a, event: ev(a, 'updated', 3) }], 'webhook');
    expect(outcomes(results)).toEqual(['created', 'created', 'unchanged']);
    const leadA = await db.prisma.lead.findFirstOrThrow({ where: { email: 'batch-a@example.com' } });
    expect(results[0].leadId).toBe(leadA.id);
    expect(results[2].leadId).toBe(leadA.id);
    expect(await db.prisma.lead.count({ where: { email: { startsWith: 'batch-' } } })).toBe(2);
    // The operator's lines stay one per lead on the webhook path.
    expect(mem.lines().some((l) => l.msg === `creating lead from contact 302`)).toBe(true);
    expect(mem.lines().some((l) => l.msg === `created lead ${leadA.id} from contact 301`)).toBe(true);
  });

  it('a webhook event of a linked record is decided one by one: our own write coming back is an echo, not "unchanged"', async () => {
    const a = record('301', fields('batch-a@example.com', 'A'));
    const [r] = await applyRecords(deps, hubspot, [{ record: a, event: { kind: 'updated', externalId: '301', accountId: '1', dedupeKey: 'own-1', occurredAt: new Date(), ownOrigin: true } }], 'webhook');
    expect(r.outcome).toBe('skipped_echo');
  });

  it('a record that fails fails alone: the others of its batch are created', async () => {
    const bad = { ...record('401', fields('bad@example.com', 'Bad')), updatedAt: new Date('not a time') };
    const results = await applyRecords(deps, hubspot, [record('400', fields('good-1@example.com', 'G1')), bad, record('402', fields('good-2@example.com', 'G2'))], 'import');
    expect(outcomes(results)).toEqual(['created', 'failed', 'created']);
    expect(await db.prisma.lead.count({ where: { email: { in: ['good-1@example.com', 'good-2@example.com'] } } })).toBe(2);
    expect(await db.prisma.lead.count({ where: { email: 'bad@example.com' } })).toBe(0);
  });

  it('creating a page of new people is all or nothing: one email someone created first writes none of them, and says so as a unique violation', async () => {
    await applyRecord(deps, hubspot, record('500', fields('first@example.com', 'First')), 'webhook');
    const before = { leads: await db.prisma.lead.count(), links: await db.prisma.crmLink.count(), pushes: await db.prisma.outboxItem.count() };
    const err = await insertLeadsFromRecords(db.prisma, hubspot, [record('501', fields('late-a@example.com', 'A')), record('502', fields('first@example.com', 'Again'))]).catch((e) => e);
    expect(isUniqueViolation(err)).toBe(true);
    expect({ leads: await db.prisma.lead.count(), links: await db.prisma.crmLink.count(), pushes: await db.prisma.outboxItem.count() }).toEqual(before);
    // The batch apply then decides one by one: the new person is created, the known one linked.
    const results = await applyRecords(deps, hubspot, [record('501', fields('late-a@example.com', 'A'))], 'import');
    expect(outcomes(results)).toEqual(['created']);
  });
});
