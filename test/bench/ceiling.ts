// The raw ceiling of durable webhook intake on this machine: a bare node:http server
// that verifies HubSpot's v3 signature and stores each request's events with ONE
// multi-row INSERT into PGlite, answering after the insert. Nothing else: no routing,
// no framework, no ORM, no processing. `npm run bench` sends the same signed load to it
// and to the service, side by side in one run, and prints the ratio.
//
// The signature check is written out here on purpose rather than imported from the
// adapter: the ceiling must not share code (or bugs) with what it is a baseline for.
// HubSpot v3 (developers.hubspot.com, "Validating requests"): HMAC-SHA256 over
// method + URI + body + X-HubSpot-Request-Timestamp, base64, keyed by the app secret.
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { PGlite } from '@electric-sql/pglite';

export interface Ceiling {
  url: string;
  stored(): Promise<number>;
  close(): Promise<void>;
}

export async function startCeiling(dataDir: string, secret: string): Promise<Ceiling> {
  const db = new PGlite(dataDir);
  await db.exec(`CREATE TABLE inbox (
    integration_id text NOT NULL, dedupe_key text NOT NULL, kind text NOT NULL,
    external_id text NOT NULL, occurred_at timestamptz NOT NULL, payload jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending', received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, dedupe_key))`);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const ts = String(req.headers['x-hubspot-request-timestamp'] ?? '');
        const given = Buffer.from(String(req.headers['x-hubspot-signature-v3'] ?? ''), 'base64');
        const uri = `http://${req.headers.host}${req.url}`;
        const expected = createHmac('sha256', secret).update(`${req.method}${uri}`).update(body).update(ts).digest();
        if (given.length !== expected.length || !timingSafeEqual(given, expected) || Date.now() - Number(ts) > 300_000) {
          res.writeHead(401).end();
          return;
        }
        const events = JSON.parse(body.toString('utf8')) as { eventId: number; subscriptionType: string; objectId: number; occurredAt: number; propertyName?: string }[];
        const params: unknown[] = [];
        const values = events.map((e, i) => {
          params.push(`${e.subscriptionType}:${e.eventId}:${e.objectId}:${e.propertyName ?? ''}`, e.subscriptionType, String(e.objectId), new Date(e.occurredAt), JSON.stringify(e));
          const b = i * 5;
          return `('ceiling', $${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5})`;
        });
        await db.query(`INSERT INTO inbox (integration_id, dedupe_key, kind, external_id, occurred_at, payload) VALUES ${values.join(',')} ON CONFLICT DO NOTHING`, params);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      })().catch((e: unknown) => {
        res.writeHead(500).end(String(e));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    async stored() {
      const r = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM inbox');
      return r.rows[0].n;
    },
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await db.close();
    },
  };
}

// Run as its own process (`tsx test/bench/ceiling.ts DATA_DIR SECRET`), so that the
// ceiling shares no event loop with the load generator or the service: prints its URL.
if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir, secret] = process.argv.slice(2);
  const c = await startCeiling(dir, secret);
  process.stdout.write(`${JSON.stringify({ url: c.url })}\n`);
  process.on('SIGTERM', () => {
    void c.stored().then(async (n) => {
      process.stderr.write(`ceiling stored ${n} rows\n`);
      await c.close();
      process.exit(0);
    });
  });
}
