import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { testEngine } from '../helpers/engine.ts';
import { isAppError } from '../../src/errors.ts';

describe('platform leads', () => {
  let db: TestDatabase;
  let t: ReturnType<typeof testEngine>;
  let orgId: string;
  let otherOrgId: string;
  let hubspotId: string;

  beforeAll(async () => {
    db = await freshDatabase();
    t = testEngine(db);
    orgId = (await db.prisma.organization.create({ data: { name: 'Acme' } })).id;
    otherOrgId = (await db.prisma.organization.create({ data: { name: 'Globex' } })).id;
    const base = { accountId: '1', apiBaseUrl: 'http://127.0.0.1:9', credentials: '{}' };
    hubspotId = (await db.prisma.integration.create({ data: { ...base, organizationId: orgId, provider: 'HUBSPOT', name: 'hs', autoSync: true } })).id;
    await db.prisma.integration.create({ data: { ...base, accountId: '2', organizationId: orgId, provider: 'ZOHO', name: 'manual only', autoSync: false } });
    await db.prisma.integration.create({ data: { ...base, accountId: '3', organizationId: otherOrgId, provider: 'HUBSPOT', name: 'other org', autoSync: true } });
  });
  afterAll(() => db.destroy());

  it('creates a lead with normalised email and queues one push per auto-sync integration of its organization', async () => {
    const lead = await t.engine.createLead(orgId, { email: '  Ada@Example.COM ', firstName: ' Ada ', lastName: 'Lovelace' });
    expect(lead.email).toBe('ada@example.com');
    expect(lead.firstName).toBe('Ada');
    expect(lead.sourceSystem).toBe('jazzaam');
    const queued = await db.prisma.outboxItem.findMany({ where: { leadId: lead.id } });
    expect(queued.map((q) => q.integrationId)).toEqual([hubspotId]);
    expect(queued[0].status).toBe('pending');
  });

  it('treats case and surrounding spaces as the same person', async () => {
    await expect(t.engine.createLead(orgId, { email: 'ADA@example.com  ' })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await db.prisma.lead.count({ where: { organizationId: orgId } })).toBe(1);
  });

  it('allows the same email in another organization', async () => {
    const lead = await t.engine.createLead(otherOrgId, { email: 'ada@example.com' });
    expect(lead.organizationId).toBe(otherOrgId);
  });

  it('rejects invalid input with a typed error naming the field, and writes nothing', async () => {
    const leadsBefore = await db.prisma.lead.count();
    const outboxBefore = await db.prisma.outboxItem.count();
    for (const bad of [{ email: 'not-an-email' }, { email: '' }, { email: 'x@y.io', firstName: 'a'.repeat(500) }, { email: 'x@y.io', nope: 1 }]) {
      const err = await t.engine.createLead(orgId, bad as never).catch((e) => e);
      expect(isAppError(err)).toBe(true);
      expect(err.code).toBe('VALIDATION');
      expect(err.fields.length).toBeGreaterThan(0);
    }
    expect(await db.prisma.lead.count()).toBe(leadsBefore);
    expect(await db.prisma.outboxItem.count()).toBe(outboxBefore);
  });

  it('updates only what changed, bumps the sync version, and queues a push', async () => {
    const lead = await t.engine.createLead(orgId, { email: 'grace@example.com', firstName: 'Grace' });
    const same = await t.engine.updateLead(orgId, { id: lead.id, firstName: 'Grace' });
    expect(same.syncVersion).toBe(lead.syncVersion);
    const updated = await t.engine.updateLead(orgId, { id: lead.id, company: 'Navy', phone: '' });
    expect(updated.company).toBe('Navy');
    expect(updated.phone).toBeNull();
    expect(updated.syncVersion).toBe(lead.syncVersion + 1);
    expect(await db.prisma.outboxItem.count({ where: { leadId: lead.id } })).toBe(2);
  });

  it('never reveals or changes a lead of another organization', async () => {
    const theirs = await db.prisma.lead.findFirstOrThrow({ where: { organizationId: otherOrgId } });
    await expect(t.engine.updateLead(orgId, { id: theirs.id, firstName: 'Mallory' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(t.engine.updateLead(orgId, { id: 'no-such-id', firstName: 'Mallory' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await db.prisma.lead.findUniqueOrThrow({ where: { id: theirs.id } })).firstName).toBeNull();
  });

  it('refuses to clear the email or take another lead\'s email', async () => {
    const a = await t.engine.createLead(orgId, { email: 'a1@example.com' });
    await t.engine.createLead(orgId, { email: 'a2@example.com' });
    await expect(t.engine.updateLead(orgId, { id: a.id, email: null })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(t.engine.updateLead(orgId, { id: a.id, email: 'A2@example.com' })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await db.prisma.lead.findUniqueOrThrow({ where: { id: a.id } })).email).toBe('a1@example.com');
  });

  it('publishes leadCreated to subscribers', async () => {
    const it = t.pubsub.subscribe('lead.created')[Symbol.asyncIterator]();
    const next = it.next();
    const lead = await t.engine.createLead(orgId, { email: 'live@example.com' });
    const got = await next;
    expect(got.value.lead.id).toBe(lead.id);
    expect(got.value.organizationId).toBe(orgId);
    await it.return?.();
  });
});
