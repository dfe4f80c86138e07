import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { CLAIM_PLAN, claim, claimRows, claimSql, releaseClaims } from '../../src/engine/queue.ts';

describe('lease-based claiming', () => {
  let db: TestDatabase;
  let integrationId: string;

  beforeAll(async () => {
    db = await freshDatabase();
    const org = await db.prisma.organization.create({ data: { name: 'Acme' } });
    integrationId = (
      await db.prisma.integration.create({
        data: { organizationId: org.id, provider: 'HUBSPOT', name: 'hs', accountId: '1', apiBaseUrl: 'http://x', credentials: '{}' },
      })
    ).id;
    await db.prisma.inboxEvent.createMany({
      data: Array.from({ length: 50 }, (_, i) => ({
        integrationId,
        dedupeKey: `k${i}`,
        kind: 'created',
        externalId: String(i),
        occurredAt: new Date(1_700_000_000_000 + i),
        payload: {},
      })),
    });
  });
  afterAll(() => db.destroy());

  it('never gives the same event to two workers claiming at once', async () => {
    const [a, b, c] = await Promise.all([
      claim(db.prisma, 'InboxEvent', 'worker-a', 20, 'occurredAt'),
      claim(db.prisma, 'InboxEvent', 'worker-b', 20, 'occurredAt'),
      claim(db.prisma, 'InboxEvent', 'worker-c', 20, 'occurredAt'),
    ]);
    const all = [...a, ...b, ...c];
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(50);
    expect(await claim(db.prisma, 'InboxEvent', 'worker-d', 20, 'occurredAt')).toEqual([]);
  });

  it('hands the work of a dead worker to another once its lease expires', async () => {
    await db.prisma.inboxEvent.updateMany({ where: { lockedBy: 'worker-a' }, data: { lockedUntil: new Date(Date.now() - 1000) } });
    const heldByA = await db.prisma.inboxEvent.count({ where: { lockedBy: 'worker-a' } });
    const taken = await claim(db.prisma, 'InboxEvent', 'worker-e', 100, 'occurredAt');
    expect(taken.length).toBe(heldByA);
    expect(await db.prisma.inboxEvent.count({ where: { lockedBy: 'worker-e' } })).toBe(heldByA);
  });

  it('leaves events that wait for a retry alone until they are due', async () => {
    await db.prisma.inboxEvent.updateMany({ data: { status: 'pending', nextAttemptAt: new Date(Date.now() + 60_000), lockedBy: null } });
    expect(await claim(db.prisma, 'InboxEvent', 'worker-f', 100, 'occurredAt')).toEqual([]);
    await db.prisma.inboxEvent.updateMany({ data: { nextAttemptAt: new Date(Date.now() - 1) } });
    expect((await claim(db.prisma, 'InboxEvent', 'worker-f', 100, 'occurredAt')).length).toBe(50);
  });
});

describe('claiming and failure bookkeeping', () => {
  let db: TestDatabase;
  let a: string;
  let b: string;

  beforeAll(async () => {
    db = await freshDatabase();
    const org = await db.prisma.organization.create({ data: { name: 'Acme' } });
    const make = async (accountId: string) =>
      (
        await db.prisma.integration.create({
          data: { organizationId: org.id, provider: 'HUBSPOT', name: accountId, accountId, apiBaseUrl: 'http://x', credentials: '{}' },
        })
      ).id;
    a = await make('a');
    b = await make('b');
    for (const integrationId of [a, b]) {
      await db.prisma.inboxEvent.createMany({
        data: Array.from({ length: 5 }, (_, i) => ({ integrationId, dedupeKey: `k${i}`, kind: 'created', externalId: String(i), occurredAt: new Date(), payload: {} })),
      });
    }
  });
  afterAll(() => db.destroy());
  const reset = () => db.prisma.inboxEvent.updateMany({ data: { status: 'pending', lockedBy: null, lockedUntil: null, nextAttemptAt: new Date(0) } });

  it('counts no attempt for a claim: work taken over after a lost lease has not been tried', async () => {
    await reset();
    await claim(db.prisma, 'InboxEvent', 'dead', 100, 'occurredAt');
    await db.prisma.inboxEvent.updateMany({ data: { lockedUntil: new Date(Date.now() - 1000) } });
    expect((await claim(db.prisma, 'InboxEvent', 'alive', 100, 'occurredAt')).length).toBe(10);
    expect(await db.prisma.inboxEvent.count({ where: { attempts: { not: 0 } } })).toBe(0);
  });

  it('leaves the work of an integration busy here, or whose circuit breaker is open, alone', async () => {
    await reset();
    const other = await claim(db.prisma, 'InboxEvent', 'w', 100, 'occurredAt', 60_000, [a]);
    expect(other.length).toBe(5);
    expect(await db.prisma.inboxEvent.count({ where: { id: { in: other }, integrationId: b } })).toBe(5);
    await reset();
    await db.prisma.integration.update({ where: { id: b }, data: { breakerState: 'open', breakerUntil: new Date(Date.now() + 60_000) } });
    const open = await claim(db.prisma, 'InboxEvent', 'w', 100, 'occurredAt');
    expect(await db.prisma.inboxEvent.count({ where: { id: { in: open }, integrationId: a } })).toBe(open.length);
    expect(open.length).toBe(5);
    // Once the cool-down is over its work is claimable again (for the probe).
    await db.prisma.integration.update({ where: { id: b }, data: { breakerUntil: new Date(Date.now() - 1) } });
    expect((await claim(db.prisma, 'InboxEvent', 'w', 100, 'occurredAt')).length).toBe(5);
  });

  it('at the start of a process that owns its database, releases every claim whoever held it', async () => {
    await reset();
    await claim(db.prisma, 'InboxEvent', 'old-life', 3, 'occurredAt', 3_600_000);
    await claim(db.prisma, 'InboxEvent', 'other-old-life', 3, 'occurredAt', 3_600_000);
    expect(await releaseClaims(db.prisma, null)).toMatchObject({ inbox: 6 });
    expect(await db.prisma.inboxEvent.count({ where: { status: 'processing' } })).toBe(0);
    expect((await claim(db.prisma, 'InboxEvent', 'new-life', 100, 'occurredAt')).length).toBe(10);
  });
});

describe('claim order and plan', () => {
  let db: TestDatabase;
  let a: string;
  let b: string;
  const base = 1_700_000_000_000;

  beforeAll(async () => {
    db = await freshDatabase();
    const org = await db.prisma.organization.create({ data: { name: 'Acme' } });
    const make = async (accountId: string) =>
      (await db.prisma.integration.create({ data: { organizationId: org.id, provider: 'HUBSPOT', name: accountId, accountId, apiBaseUrl: 'http://x', credentials: '{}' } })).id;
    a = await make('a');
    b = await make('b');
    // A backlog of 3,000 events, the two integrations' interleaved, stored newest first.
    await db.prisma.inboxEvent.createMany({
      data: Array.from({ length: 3000 }, (_, i) => ({
        integrationId: i % 2 ? a : b,
        dedupeKey: `k${i}`,
        kind: 'created',
        externalId: String(i),
        occurredAt: new Date(base + 3000 - i),
        payload: {},
      })),
    });
  });
  afterAll(() => db.destroy());
  const reset = () => db.prisma.inboxEvent.updateMany({ data: { status: 'pending', lockedBy: null, lockedUntil: null, nextAttemptAt: new Date(0) } });
  const timesOf = async (ids: string[]) =>
    (await db.prisma.inboxEvent.findMany({ where: { id: { in: ids } }, select: { occurredAt: true } })).map((r) => r.occurredAt.getTime()).sort((x, y) => x - y);

  it('takes the oldest events first, of every integration or of one', async () => {
    await reset();
    const first = await claimRows(db.prisma, 'InboxEvent', 'w', 10, 'occurredAt');
    expect(await timesOf(first.map((r) => r.id))).toEqual(Array.from({ length: 10 }, (_, i) => base + 1 + i));
    const ofA = await claimRows(db.prisma, 'InboxEvent', 'w', 10, 'occurredAt', 60_000, [], a);
    expect(ofA.every((r) => r.integrationId === a)).toBe(true);
    // a's oldest events not claimed yet: the first claim took 5 of them.
    const aTimes = await timesOf(ofA.map((r) => r.id));
    expect(aTimes).toHaveLength(10);
    expect(aTimes[0]).toBeGreaterThan(base + 10);
    expect(aTimes.every((t, i) => i === 0 || t - aTimes[i - 1] === 2)).toBe(true);
  });

  it('takes events under an expired lease before pending ones, even newer ones', async () => {
    await reset();
    const newest = await db.prisma.inboxEvent.findFirstOrThrow({ orderBy: { occurredAt: 'desc' } });
    await db.prisma.inboxEvent.update({ where: { id: newest.id }, data: { status: 'processing', lockedBy: 'dead', lockedUntil: new Date(Date.now() - 1000) } });
    const got = await claimRows(db.prisma, 'InboxEvent', 'w', 3, 'occurredAt');
    expect(got.map((r) => r.id)).toContain(newest.id);
    expect(got).toHaveLength(3);
    expect((await db.prisma.inboxEvent.findUniqueOrThrow({ where: { id: newest.id } })).lockedBy).toBe('w');
  });

  // PGlite runs no autovacuum, so these tables are never analyzed: the planner guesses
  // that 0.5% of the rows are pending, and without CLAIM_PLAN it reads and sorts the whole backlog.
  it.each([false, true])('walks the (status, occurredAt) index in order without sorting the backlog (one integration: %s)', async (only) => {
    await reset();
    const explain = (settings: string | null) =>
      db.prisma.$transaction([
        ...(settings ? [db.prisma.$executeRawUnsafe(settings)] : []),
        db.prisma.$queryRawUnsafe<{ 'QUERY PLAN': string }[]>(`EXPLAIN ${claimSql('InboxEvent', 'occurredAt', only)}`, 'w', '60000', 100, [], ...(only ? [a] : [])),
      ]);
    const plan = (await explain(CLAIM_PLAN)).at(-1) as { 'QUERY PLAN': string }[];
    const text = plan.map((r) => r['QUERY PLAN']).join('\n');
    expect(text).toContain('Index Scan using "InboxEvent_status_occurredAt_idx"');
    expect(text).not.toMatch(/\bSort\b/);
    // The setting is what makes the difference here (this test fails without it).
    const unset = ((await explain(null)).at(-1) as { 'QUERY PLAN': string }[]).map((r) => r['QUERY PLAN']).join('\n');
    expect(unset).toMatch(/\bSort\b/);
  });

  it('claims outbox items the same way, by their (status, createdAt) index', async () => {
    const plan = (await db.prisma.$transaction([
      db.prisma.$executeRawUnsafe(CLAIM_PLAN),
      db.prisma.$queryRawUnsafe<{ 'QUERY PLAN': string }[]>(`EXPLAIN ${claimSql('OutboxItem', 'createdAt', false)}`, 'w', '60000', 100, []),
    ])).at(-1) as { 'QUERY PLAN': string }[];
    const text = plan.map((r) => r['QUERY PLAN']).join('\n');
    expect(text).toContain('"OutboxItem_status_createdAt_idx"');
    expect(text).not.toMatch(/\bSort\b/);
  });
});
