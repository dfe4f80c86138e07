// Shared by the operations tests: reading /metrics, letting sync settle.
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import type { Stack } from '../helpers/stack.ts';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (the lines that are samples). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** GETs /metrics; checks it is the Prometheus text format. */
export async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(`${url}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  if (!(res.headers.get('content-type') ?? '').startsWith('text/plain')) throw new Error(`/metrics content-type ${res.headers.get('content-type')}`);
  return parseMetrics(await res.text());
}

/** The value of one series (0 when absent: a counter never incremented). */
export function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const matching = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return matching.reduce((sum, s) => sum + s.value, 0);
}

/** Lets webhooks and both queues run until nothing moves any more. */
export async function settle(stack: Stack, hs: HubSpotSandbox) {
  for (let i = 0; i < 20; i++) {
    const before = hs.deliveries.length;
    const calls = hs.controls.requests.length;
    await hs.flushWebhooks();
    await stack.engine.drain();
    await hs.flushWebhooks();
    if (hs.deliveries.length === before && hs.controls.requests.length === calls) return;
  }
  throw new Error('sync did not settle');
}
