// Webhook intake first on the embedded database. PGlite runs one statement at a time, on
// this process's main thread: a webhook's insert queued behind the workers' statements
// waits for all of them, and the CRM waits for its acknowledgement. Here the intake
// statement goes to PGlite directly (no ORM on the hottest path: Prisma's own work per
// query cost more than a single-event insert), and every statement Prisma starts outside a
// transaction waits while an intake statement is queued or running, for at most
// `maxWaitMs` (workers still advance under a flood of webhooks; one statement per
// maxWaitMs at worst). Statements inside a transaction never wait: the transaction holds
// the database, and holding it longer would only make the intake wait more.
//
// On PostgreSQL nothing of this applies (statements run in parallel on pooled connections):
// intakeSql() then sends the statement straight to the pool (direct-sql.ts).
import type { PGlite } from '@electric-sql/pglite';
import type { PrismaClient } from '../generated/prisma/client.ts';
import { directSql, driverRunners, pgliteSql, type SqlRunner } from './direct-sql.ts';

export type { SqlRunner };

/** Counts the urgent statements in flight; ordinary ones wait for none to be left (bounded). */
export class PriorityGate {
  private urgentInFlight = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly maxWaitMs: number) {}

  /** Runs an urgent statement: ordinary ones starting meanwhile wait for it. */
  async urgent<T>(run: () => Promise<T>): Promise<T> {
    this.urgentInFlight++;
    try {
      return await run();
    } finally {
      if (--this.urgentInFlight === 0) for (const w of this.waiters.splice(0)) w();
    }
  }

  /** Resolves at once when nothing urgent is in flight, else when none is left or after maxWaitMs. */
  clear(): Promise<void> | undefined {
    if (this.urgentInFlight === 0 || this.maxWaitMs <= 0) return undefined;
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        // Waited long enough: through, and no longer among the waiters.
        const at = this.waiters.indexOf(done);
        if (at >= 0) this.waiters.splice(at, 1);
        resolve();
      }, this.maxWaitMs);
      this.waiters.push(done);
    });
  }

  /** Urgent statements in flight (tests, metrics). */
  get inFlight(): number {
    return this.urgentInFlight;
  }

  /** Ordinary statements waiting (tests). */
  get waiting(): number {
    return this.waiters.length;
  }
}

/**
 * The PGlite instance as Prisma's adapter sees it: its statements outside transactions
 * (query, exec, transaction start) yield to the urgent ones. Everything else is PGlite's own.
 */
export function yieldingPGlite(pg: PGlite, gate: PriorityGate): PGlite {
  const gated = new Set<PropertyKey>(['query', 'exec', 'transaction']);
  return new Proxy(pg, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      const method = (value as (...args: unknown[]) => unknown).bind(target);
      if (!gated.has(prop)) return method;
      return async (...args: unknown[]) => {
        const wait = gate.clear();
        if (wait) await wait;
        return method(...args);
      };
    },
  });
}

/** The urgent runner of a PGlite database: straight to PGlite, ahead of what waits at the gate. */
export function urgentRunner(pg: PGlite, gate: PriorityGate): SqlRunner {
  const run = pgliteSql(pg);
  return async <T>(sql: string, params: unknown[]) => gate.urgent(() => run<T>(sql, params));
}

/**
 * How intake runs its statement on this client's database: PGlite's urgent runner, or
 * (PostgreSQL, or a client not opened by openDatabase) directSql's.
 */
export function intakeSql(prisma: Pick<PrismaClient, '$queryRawUnsafe'>): SqlRunner {
  return driverRunners(prisma)?.urgent ?? directSql(prisma);
}
