// The set-based statements every page and batch pays for (matching records, inserting
// leads with their links and pushes, the history rows, webhook intake) go to the database
// driver itself, not through Prisma's raw query. Prisma's raw query turns every bound value
// into its own tagged form and back before the driver sees it: measured on PGlite, a
// statement binding 14 arrays of 100 values (an import page's lead insert) cost 3.0 ms of
// CPU through `$queryRawUnsafe` and 1.4 ms sent to PGlite; `SELECT 1` cost 0.44-0.65 ms
// against 0.14-0.19 ms.
//
// Only for a client opened by openDatabase, outside transactions. A transaction's client
// is not registered here, so its statements go through Prisma, inside the transaction (on
// PGlite a statement sent beside a running transaction waits until that transaction ends:
// sent from inside it, it would wait forever).
//
// Rows come back as Prisma's raw queries return them: json and jsonb parsed, arrays as
// arrays, and `timestamp` columns (Prisma's DateTime: UTC wall time, timestamp(3)) read as
// UTC. The drivers' own parsers would read those in the process's time zone.
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { PrismaClient } from '../generated/prisma/client.ts';

/** Runs one SQL statement with positional parameters ($1, ...) and returns its rows. */
export type SqlRunner = <T = Record<string, unknown>>(sql: string, params: unknown[]) => Promise<T[]>;

/** Postgres's type oid of `timestamp` (without time zone). */
const TIMESTAMP_OID = 1114;

/** A `timestamp` value as Postgres prints it ('2026-12-02 05:00:00.123'), read as UTC. */
export function utcTimestamp(text: string): Date {
  return new Date(`${text.replace(' ', 'T')}Z`);
}

const pgliteParsers = { [TIMESTAMP_OID]: utcTimestamp };

/** Statements sent straight to a PGlite instance (or to a gate in front of it: priority.ts). */
export function pgliteSql(db: Pick<PGlite, 'query'>): SqlRunner {
  return async <T>(sql: string, params: unknown[]) => (await db.query<T>(sql, params, { parsers: pgliteParsers })).rows;
}

const poolTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === TIMESTAMP_OID && format !== 'binary' ? utcTimestamp : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** Statements sent straight to a PostgreSQL pool (the one Prisma's adapter uses too). */
export function poolSql(pool: pg.Pool): SqlRunner {
  return async <T>(sql: string, params: unknown[]) =>
    (await pool.query<T & pg.QueryResultRow>({ text: sql, values: params, types: poolTypes })).rows as T[];
}

/** The driver's runners of a client opened by openDatabase. */
export interface DriverRunners {
  /** Statements sent straight to the driver (on PGlite: after webhook intake's, priority.ts). */
  direct: SqlRunner;
  /** PGlite only: webhook intake's, ahead of every other statement (priority.ts). */
  urgent?: SqlRunner;
}

const registered = new WeakMap<object, DriverRunners>();

/** Records the driver's runners of a client opened by openDatabase. */
export function registerDriverRunners(prisma: object, runners: DriverRunners): void {
  registered.set(prisma, runners);
}

/** The driver's runners of a client openDatabase opened; none for a transaction's client or a client made elsewhere. */
export function driverRunners(db: object): DriverRunners | undefined {
  return registered.get(db);
}

/**
 * How a set-based statement runs on this client: straight to the driver when it is a
 * client openDatabase opened, else (a transaction's client, a client made elsewhere)
 * through Prisma's raw query, inside the caller's transaction when it runs in one.
 */
export function directSql(db: Pick<PrismaClient, '$queryRawUnsafe'>): SqlRunner {
  return registered.get(db)?.direct ?? (async <T>(sql: string, params: unknown[]) => (await db.$queryRawUnsafe<T[]>(sql, ...params)) as T[]);
}
