// The queue gauges (depth, failed, oldest age), computed at scrape time.
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Metrics } from '../metrics.ts';

/** Sets the queue gauges: one cheap aggregate query per queue. */
export async function refreshQueueGauges(prisma: PrismaClient, metrics: Metrics): Promise<void> {
  type Row = { waiting: bigint; failed: bigint; oldest: number | null };
  const [inbox, outbox] = await Promise.all([
    prisma.$queryRaw<Row[]>`
      SELECT count(*) FILTER (WHERE status IN ('pending', 'processing')) AS waiting,
             count(*) FILTER (WHERE status = 'failed') AS failed,
             EXTRACT(EPOCH FROM ((now() AT TIME ZONE 'UTC') - min("receivedAt") FILTER (WHERE status IN ('pending', 'processing'))))::float8 AS oldest
      FROM "InboxEvent" WHERE status <> 'done'`,
    prisma.$queryRaw<Row[]>`
      SELECT count(*) FILTER (WHERE status IN ('pending', 'processing')) AS waiting,
             count(*) FILTER (WHERE status = 'failed') AS failed,
             EXTRACT(EPOCH FROM ((now() AT TIME ZONE 'UTC') - min("createdAt") FILTER (WHERE status IN ('pending', 'processing'))))::float8 AS oldest
      FROM "OutboxItem" WHERE status <> 'done'`,
  ]);
  for (const [queue, row] of [['inbox', inbox[0]], ['outbox', outbox[0]]] as const) {
    metrics.queueDepth.set({ queue }, Number(row?.waiting ?? 0));
    metrics.queueFailed.set({ queue }, Number(row?.failed ?? 0));
    metrics.queueOldestAge.set({ queue }, Math.max(0, Number(row?.oldest ?? 0)));
  }
}
