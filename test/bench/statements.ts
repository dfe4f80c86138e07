// Counts the SQL statements the service runs per webhook request, the first thing to look
// at when intake is slow (PGlite runs every statement on the main thread, one at a time).
//   npx tsx test/bench/statements.ts                 intake only, 200 single-event requests
//   W=true C=8 N=400 npx tsx test/bench/statements.ts   workers on, 8 requests in flight
//   PER=100 ...                                        100 events per request
// Prints the wall time per request and, per statement, how many ran per request.
import { PGlite } from '@electric-sql/pglite';
const proto = PGlite.prototype as any;
const counts = new Map<string, number>();
let on = false;
for (const m of ['query', 'exec', 'transaction', 'execProtocol', 'execProtocolRaw']) {
  const orig = proto[m];
  if (!orig) continue;
  proto[m] = function (...args: any[]) {
    if (on) { const k = m + ' ' + (typeof args[0] === 'string' ? args[0].slice(0, 120).replace(/\s+/g, ' ') : ''); counts.set(k, (counts.get(k) ?? 0) + 1); }
    return orig.apply(this, args);
  };
}
const { mkdtemp } = await import('node:fs/promises');
const os = await import('node:os'); const path = await import('node:path');
const { buildApp } = await import('../../src/app.ts');
const { createOrganization } = await import('../../src/auth.ts');
const { loadConfig } = await import('../../src/config.ts');
const { openDatabase } = await import('../../src/db/client.ts');
const { createSyncEngine } = await import('../../src/engine/index.ts');
const { createLogger } = await import('../../src/logger.ts');
const { createAppPubSub } = await import('../../src/pubsub.ts');
const { keyringFromConfig } = await import('../../src/secrets.ts');
const { startHubSpotSandbox } = await import('../../sandboxes/hubspot/server.ts');
const { freePort } = await import('../../test/helpers/net.ts');
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'q-'));
const port = await freePort();
const config = loadConfig({ PORT: String(port), HOST: '127.0.0.1', PUBLIC_BASE_URL: `http://127.0.0.1:${port}`, DATA_DIR: dataDir, HUBSPOT_CLIENT_SECRET: 's', POLL_INTERVAL_MS: '0', LOG_LEVEL: 'silent', CRM_ALLOW_LOCAL_HOSTS: 'true', WORKERS: process.env.W ?? 'false' });
const logger = createLogger('silent');
const db = await openDatabase({ dataDir });
const pubsub = createAppPubSub();
const engine = createSyncEngine({ config, prisma: db.prisma, logger, pubsub, idleMs: 100, keyring: keyringFromConfig(config, logger) });
const app = buildApp({ config, db, logger, pubsub, service: engine });
await app.start(port);
engine.start();
const hs = await startHubSpotSandbox({ clientSecret: 's', portalId: 7000, webhookTargetUrl: null, rateLimit: null });
const org = await createOrganization(db.prisma, 'x');
const integ = await engine.createIntegration(org.id, { provider: 'HUBSPOT', name: 'i', accountId: '7000', apiBaseUrl: hs.url, accessToken: hs.accessToken, autoSync: false });
await engine.enableWebhooks(org.id, integ.id);
const url = `${config.PUBLIC_BASE_URL}/api/v1/webhooks/hubspot`;
let id = 1;
const send = async (n: number) => {
  const batch = Array.from({ length: n }, () => hs.makeEvent('contact.creation', String(5000000 + id), { eventId: id++ }));
  const req = hs.signedWebhook(batch, { url });
  const res = await fetch(url, { method: 'POST', headers: req.headers, body: req.body });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(String(res.status));
};
for (let i = 0; i < 20; i++) await send(1);
on = true;
const N = Number(process.env.N ?? 200);
const t = performance.now();
const C = Number(process.env.C ?? 1); let left = N;
await Promise.all(Array.from({ length: C }, async () => { while (left-- > 0) await send(Number(process.env.PER ?? 1)); }));
await engine.drain();
const ms = performance.now() - t;
on = false;
console.log(`${N} requests, ${C} in flight: ${(ms / N).toFixed(2)} ms per request`);
for (const [k, v] of [...counts].sort((a, b) => b[1] - a[1])) console.log((v / N).toFixed(2), k);
await app.stop(); await engine.stop(); await hs.close(); await db.close();
process.exit(0);
