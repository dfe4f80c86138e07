// Warming PGlite's code before the service takes traffic. V8 compiles WebAssembly twice:
// a quick baseline first, then its optimizing tier for the functions that turn out hot,
// in the background. A service just started would do that second compilation while it
// takes its first burst of webhooks, on the same cores: measured with a burst of 1,000
// events/s right after a start, acknowledgements' p99 was 520-590 ms against about 125 ms
// for a service that had been running. So a start first runs, in one transaction it rolls
// back, the kind of work the service does most: multi-row inserts with parameters into an
// indexed table with a jsonb column, claims (ordered updates of a batch) and reads.
// Nothing of it stays: the table is created and dropped inside the transaction.
import type { PGlite } from '@electric-sql/pglite';

/** Runs the warm-up; returns how long it took (ms). */
export async function warmPGlite(pg: Pick<PGlite, 'transaction'>, rounds = 40): Promise<number> {
  const t0 = performance.now();
  await pg.transaction(async (tx) => {
    await tx.exec(`CREATE TABLE crm_sync_warm_up (
      id text PRIMARY KEY, owner text NOT NULL, key text NOT NULL, kind text NOT NULL, at timestamp(3) NOT NULL,
      payload jsonb NOT NULL, status text NOT NULL DEFAULT 'pending', locked_by text, UNIQUE (owner, key))`);
    await tx.exec('CREATE INDEX ON crm_sync_warm_up (status, at)');
    for (let r = 0; r < rounds; r++) {
      const n = 100;
      const ids = Array.from({ length: n }, (_, i) => `w-${r}-${i}`);
      await tx.query(
        `INSERT INTO crm_sync_warm_up (id, owner, key, kind, at, payload)
         SELECT v.id, 'o', v.id, 'created', v.at::timestamp, v.payload::jsonb
         FROM unnest($1::text[], $2::text[], $3::text[]) AS v(id, at, payload)
         ON CONFLICT (owner, key) DO NOTHING RETURNING id`,
        [ids, ids.map((_, i) => new Date(Date.now() + i).toISOString().replace('T', ' ').replace('Z', '')), ids.map((id, i) => JSON.stringify({ id, n: i, name: `Person ${i}`, email: `p${i}@example.com` }))],
      );
      await tx.query(
        `UPDATE crm_sync_warm_up SET status = 'processing', locked_by = $1
         WHERE id IN (SELECT id FROM crm_sync_warm_up WHERE status = 'pending' ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING id`,
        ['warm', n],
      );
      await tx.query(`SELECT id, payload, payload->>'email' AS email FROM crm_sync_warm_up WHERE id = ANY($1::text[])`, [ids]);
      await tx.query(`UPDATE crm_sync_warm_up SET status = 'done', locked_by = NULL WHERE id = ANY($1::text[])`, [ids]);
    }
    await tx.rollback();
  });
  return performance.now() - t0;
}
