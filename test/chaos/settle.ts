// The settle phase: lets HubSpot deliver (and retry) its webhooks and the service empty
// its queues, re-sends what HubSpot gave up on (it retries a failed delivery for up to
// 24 hours; the sandbox compresses that into minutes), and stops once nothing has moved
// for a few seconds — or at the bound.
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import type { ServiceRig } from './service.ts';

const QUIET_MS = 4_000;

export async function settle(service: ServiceRig, hs: HubSpotSandbox, timeoutMs: number, log: (s: string) => void): Promise<{ settled: boolean; ms: number; redelivered: number }> {
  const started = Date.now();
  const until = started + timeoutMs;
  const resent = new Set<string>();
  let redelivered = 0;
  let quietSince: number | null = null;
  let lastActivity = -1;
  let lastLog = 0;
  while (Date.now() < until) {
    await Promise.race([hs.flushWebhooks(), new Promise((r) => setTimeout(r, 2_000))]);
    // Batches every attempt of which failed: deliver them again, as HubSpot's later retries would.
    const ok = new Set(hs.deliveries.filter((d) => d.status !== null && d.status >= 200 && d.status < 300).map((d) => d.batchId));
    const idle = await Promise.race([hs.flushWebhooks().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10))]);
    if (idle) {
      const givenUp = new Map<string, (typeof hs.deliveries)[number]>();
      for (const d of hs.deliveries) if (!ok.has(d.batchId) && !resent.has(d.batchId)) givenUp.set(d.batchId, d);
      for (const [batchId, d] of givenUp) {
        resent.add(batchId);
        redelivered++;
        hs.emitEvents(d.events);
      }
    }
    const depth = await service.queueDepth();
    const activity = hs.deliveries.length + hs.controls.requests.length;
    const moving = !idle || depth === null || depth.inbox > 0 || depth.outbox > 0 || activity !== lastActivity;
    lastActivity = activity;
    if (Date.now() - lastLog > 15_000) {
      lastLog = Date.now();
      log(`settling: inbox ${depth?.inbox ?? '?'}, outbox ${depth?.outbox ?? '?'}, webhooks ${idle ? 'idle' : 'busy'}`);
    }
    if (moving) quietSince = null;
    else if (quietSince === null) quietSince = Date.now();
    else if (Date.now() - quietSince >= QUIET_MS) return { settled: true, ms: quietSince - started, redelivered };
    await new Promise((r) => setTimeout(r, 500));
  }
  return { settled: false, ms: Date.now() - started, redelivered };
}
