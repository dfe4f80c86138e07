// Set-based statements sent straight to the driver (src/db/direct-sql.ts), on the real
// embedded database and on a real PostgreSQL: the rows they answer are the rows Prisma
// would answer, a transaction's statements stay in the transaction, a refused write is
// recognised as what it is. (That they still let webhook intake go first on PGlite:
// test/db/priority.test.ts.)
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.ts';
import { directSql } from '../../src/db/direct-sql.ts';
import { isUniqueViolation } from '../../src/db/errors.ts';
import { freshDataDir } from '../helpers/db.ts';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../helpers/postgres.ts';

// Required in CI (.ci/run installs PostgreSQL); elsewhere run when it is installed.
const postgresRequired = process.env.CI === 'true' || postgresAvailable();

interface Opened {
  db: Database;
  done(): Promise<void>;
}

const databases: [string, boolean, () => Promise<Opened>][] = [
  [
    'PGlite',
    true,
    async () => {
      const dataDir = await freshDataDir();
      // Other statements may wait for intake longer than anything here takes.
      const db = await openDatabase({ dataDir, migrate: false, pgliteIntakePriorityMs: 10_000 });
      return { db, done: async () => (await db.close(), await rm(dataDir, { recursive: true, force: true })) };
    },
  ],
  [
    'PostgreSQL',
    postgresRequired,
    async () => {
      const cluster: PostgresCluster = await startPostgres();
      const db = await openDatabase({ databaseUrl: cluster.url, dataDir: '/nonexistent' });
      return { db, done: async () => (await db.close(), await cluster.stop()) };
    },
  ],
];

for (const [name, run, open] of databases) {
  describe.runIf(run)(`statements sent straight to ${name}`, () => {
    let opened: Opened;
    let db: Database;
    let organizationId: string;
    const tz = process.env.TZ;
    beforeAll(async () => {
      // Away from UTC: a timestamp read in the process's zone would be hours off.
      process.env.TZ = 'America/New_York';
      opened = await open();
      db = opened.db;
      organizationId = (await db.prisma.organization.create({ data: { name: `Acme ${name}` } })).id;
    });
    afterAll(async () => {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
      await opened?.done();
    });

    it('answers the rows Prisma answers: timestamps as the same instants, json parsed, arrays with their nulls', async () => {
      expect(new Date(2026, 0, 1).getTimezoneOffset()).not.toBe(0);
      const lead = await db.prisma.lead.create({
        data: { organizationId, email: 'tz@example.com', sourceSystem: 'hubspot', fieldsChangedAt: { email: '2026-01-01T00:00:00.000Z' }, crmDeletedAt: new Date('2026-03-04T05:06:07.089Z') },
      });
      const sql = `SELECT "createdAt", "crmDeletedAt", "fieldsChangedAt", $2::text[] AS list, $3::int AS n FROM "Lead" WHERE id = $1`;
      const params = [lead.id, ['a', null, 'c'], 7];
      const direct = await directSql(db.prisma)<Record<string, unknown>>(sql, params);
      const viaPrisma = await db.prisma.$queryRawUnsafe<Record<string, unknown>[]>(sql, ...params);
      expect(direct).toEqual(viaPrisma);
      expect(direct).toEqual([{ createdAt: lead.createdAt, crmDeletedAt: new Date('2026-03-04T05:06:07.089Z'), fieldsChangedAt: { email: '2026-01-01T00:00:00.000Z' }, list: ['a', null, 'c'], n: 7 }]);
    });

    it('writes null array elements as NULL, not as text', async () => {
      const id = `null-${name}`;
      await directSql(db.prisma)(
        `INSERT INTO "Lead" (id, "organizationId", email, "firstName", "sourceSystem", "updatedAt")
         SELECT v.id, $1, v.email, v.first_name, 'hubspot', now() FROM unnest($2::text[], $3::text[], $4::text[]) AS v(id, email, first_name)`,
        [organizationId, [id], [`${id}@example.com`], [null]],
      );
      const lead = await db.prisma.lead.findUniqueOrThrow({ where: { id } });
      expect(lead.firstName).toBeNull();
    });

    it('a refused write changes nothing and is recognised as a unique violation', async () => {
      const insert = (id: string) =>
        directSql(db.prisma)(`INSERT INTO "Lead" (id, "organizationId", email, "sourceSystem", "updatedAt") VALUES ($1, $2, 'twice@example.com', 'hubspot', now())`, [id, organizationId]);
      await insert(`first-${name}`);
      const error = await insert(`second-${name}`).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).not.toBeNull();
      expect(isUniqueViolation(error)).toBe(true);
      expect(await db.prisma.lead.count({ where: { organizationId, email: 'twice@example.com' } })).toBe(1);
      // Any other failure is not one.
      const other = await directSql(db.prisma)(`SELECT * FROM "NoSuchTable"`, []).then(
        () => null,
        (e: unknown) => e,
      );
      expect(other).not.toBeNull();
      expect(isUniqueViolation(other)).toBe(false);
    });

    it("a transaction's statements run in the transaction: rolled back with it, and never waiting for it", async () => {
      const id = `rolled-back-${name}`;
      const outcome = await db.prisma
        .$transaction(async (tx) => {
          await directSql(tx)(`INSERT INTO "Organization" (id, name) VALUES ($1, 'gone')`, [id]);
          // Seen inside the transaction.
          expect(await directSql(tx)<{ n: number }>(`SELECT count(*)::int AS n FROM "Organization" WHERE id = $1`, [id])).toEqual([{ n: 1 }]);
          throw new Error('roll back');
        })
        .catch((e: Error) => e.message);
      expect(outcome).toBe('roll back');
      expect(await db.prisma.organization.findUnique({ where: { id } })).toBeNull();
    });
  });
}
