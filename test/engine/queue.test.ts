import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { claim } from '../../src/engine/queue.ts';

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
