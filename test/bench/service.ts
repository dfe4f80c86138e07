// The service under bench, in its own process (as it runs in production, and as the raw
// ceiling runs): no load generator or CRM stand-in shares its event loop, and its memory
// is its own. Started by `npm run bench` as `tsx test/bench/service.ts DATA_DIR HUBSPOT_SECRET`;
// prints one JSON line ({ url, apiKey }) once it listens, then is driven like any client
// (GraphQL with the API key, signed webhooks) and answers lines on stdin:
//   "drain"  -> waits until the inbox and outbox have nothing due, prints "drained"
//   "rss"    -> prints the highest resident set size seen (MB, sampled every 100 ms), then resets it
//   "stop"   -> stops and exits (a --cpu-prof profile is written then)
import { createInterface } from 'node:readline';
import { buildApp } from '../../src/app.ts';
import { createApiKey, createOrganization } from '../../src/auth.ts';
import { loadConfig } from '../../src/config.ts';
import { openDatabase } from '../../src/db/client.ts';
import { createSyncEngine } from '../../src/engine/index.ts';
import { createLogger } from '../../src/logger.ts';
import { createAppPubSub } from '../../src/pubsub.ts';
import { keyringFromConfig } from '../../src/secrets.ts';
import { freePort } from '../helpers/net.ts';

const [dataDir, secret] = process.argv.slice(2);
const port = await freePort();
const config = loadConfig({
  PORT: String(port),
  HOST: '127.0.0.1',
  PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
  DATA_DIR: dataDir,
  HUBSPOT_CLIENT_SECRET: secret,
  POLL_INTERVAL_MS: '0',
  LOG_LEVEL: 'silent',
  CRM_ALLOW_LOCAL_HOSTS: 'true', // the sandboxes listen on loopback over http
  API_RATE_LIMIT_PER_MINUTE: '0', // the bench is one client sending a lot
});
const logger = createLogger('silent');
const db = await openDatabase({ dataDir });
const pubsub = createAppPubSub();
const engine = createSyncEngine({ config, prisma: db.prisma, logger, pubsub, idleMs: 100, keyring: keyringFromConfig(config, logger) });
const app = buildApp({ config, db, logger, pubsub, service: engine });
await app.start(port);
engine.start();
const org = await createOrganization(db.prisma, 'Bench');
const { key } = await createApiKey(db.prisma, org.id, 'bench');
let peakRss = 0;
setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100).unref();
process.stdout.write(`${JSON.stringify({ url: config.PUBLIC_BASE_URL, apiKey: key })}\n`);

for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'drain') {
    for (;;) {
      await engine.drain();
      const open = await db.prisma.inboxEvent.count({ where: { status: { in: ['pending', 'processing'] } } });
      if (open === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    process.stdout.write('drained\n');
  } else if (line === 'rss') {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    process.stdout.write(`${(peakRss / 2 ** 20).toFixed(0)}\n`);
    peakRss = 0;
  } else if (line === 'stop') {
    await app.stop();
    await engine.stop();
    await db.close();
    process.exit(0);
  }
}
