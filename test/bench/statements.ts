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
const { startBenchStack } = await import('./stack.ts');
const { startHubSpotSandbox } = await import('../../sandboxes/hubspot/server.ts');
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'crm-sync-statements-'));
const stack = await startBenchStack(dataDir, 's', { WORKERS: process.env.W ?? 'false' });
const { engine, orgId } = stack;
const hs = await startHubSpotSandbox({ clientSecret: 's', portalId: 7000, webhookTargetUrl: null, rateLimit: null });
const integ = await engine.createIntegration(orgId, { provider: 'HUBSPOT', name: 'i', accountId: '7000', apiBaseUrl: hs.url, accessToken: hs.accessToken, autoSync: false });
await engine.enableWebhooks(orgId, integ.id);
const url = stack.webhookUrl('hubspot');
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
await stack.stop();
await hs.close();
process.exit(0);
