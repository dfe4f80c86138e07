// `npx tsx test/bench/pacing-model.ts`: a deterministic model of one integration's inbox
// task loop (claim, hold or read, apply, record) against HubSpot's 100-per-10-s budget, to
// see what the pacing rule alone does to webhook -> lead latency, apart from the machine
// (section 6 of run.ts measures the real service, whose figures move with the machine's
// load). Fixed costs per step; arrivals as section 6 sends them (a webhook of `perRequest`
// events every `everyMs`). Two rules:
//   even: the previous rule: free until half the window is used, then one start per even
//         share of the window (perMs / requests) after the last one, or when the window frees;
//   demand: the kit limiter's paceFor (a partial batch waits until it is a fair share of
//         the budget at the rate events arrive; a trickle is never held).
import { paceFor, windowWaitMs, type WindowState } from '../../adapters/kit/limiter.ts';

const rate = { requests: 100, perMs: 10_000 };
const marginMs = 25;
const BATCH = 100;

interface Load {
  perRequest: number;
  everyMs: number;
  seconds: number;
  /** One CRM read, one batch apply, one SQL statement (ms). */
  readMs: number;
  applyMs: number;
  statementMs: number;
  /** Calls made just before the load (connecting, enabling webhooks). */
  setupCalls: number;
}

function simulate(rule: 'even' | 'demand', load: Load) {
  const arrivals: number[] = [];
  for (let t = 0; t < load.seconds * 1000; t += load.everyMs) arrivals.push(t);
  const ends: number[] = Array.from({ length: load.setupCalls }, (_, i) => -2_000 + i * 50 + rate.perMs + marginMs);
  const starts: number[] = [];
  const windowAt = (now: number): WindowState => ({ rate, marginMs, now, ends: ends.filter((e) => e > now).sort((a, b) => a - b) });
  const evenRule = (now: number) => {
    const w = windowAt(now);
    if (w.ends.length < rate.requests / 2) return 0;
    return Math.max(0, Math.ceil(Math.max(...starts) + rate.perMs / rate.requests - now), windowWaitMs(w));
  };
  const seen: [number, number][] = [];
  const perSecond = (now: number) => {
    const recent = seen.filter(([t]) => t >= now - 1_000);
    if (!recent.length) return 0;
    return (recent.reduce((n, [, c]) => n + c, 0) * 1_000) / Math.min(1_000, Math.max(250, now - recent[0]![0]));
  };
  let pending: { at: number; due: number }[] = [];
  let next = 0;
  const arrive = (until: number) => {
    for (; next < arrivals.length && arrivals[next]! <= until; next++) for (let k = 0; k < load.perRequest; k++) pending.push({ at: arrivals[next]!, due: arrivals[next]! });
  };
  const take = (now: number, max: number) => {
    const batch = pending.filter((p) => p.due <= now).slice(0, max);
    pending = pending.filter((p) => !batch.includes(p));
    return batch;
  };
  const latency: number[] = [];
  let now = 0;
  let reads = 0;
  while (next < arrivals.length || pending.length) {
    arrive(now);
    if (!pending.some((p) => p.due <= now)) {
      now = Math.max(now + 1, Math.min(arrivals[next] ?? Infinity, ...pending.map((p) => p.due)));
      continue;
    }
    const claimedAt = now;
    now += 2 * load.statementMs; // claim, load
    arrive(now);
    const batch = take(claimedAt, BATCH);
    if (rule === 'even') {
      const wait = batch.length < BATCH ? evenRule(now) : 0;
      if (wait > 0) {
        now += load.statementMs; // given back, due after the wait
        for (const p of batch) p.due = now + wait;
        pending.push(...batch);
        continue;
      }
    } else {
      seen.push([now, batch.length]);
      const firstAt = now;
      for (;;) {
        const recent = arrivals.slice(0, next).filter((t) => t >= now - 1_000);
        const gap = recent.length ? Math.min(1_000, Math.max(250, now - recent[0]!)) / recent.length : 0;
        const nextArrivalAt = recent.length ? recent[recent.length - 1]! + gap : undefined;
        const wait = paceFor(windowAt(now), { pending: batch.length, perRequest: BATCH, perSecond: perSecond(now), oldestAt: firstAt, nextArrivalAt });
        if (wait <= 0) break;
        const arrival = arrivals[next] ?? Infinity;
        if (arrival >= now + wait) {
          now += wait;
          break;
        }
        now = arrival + 2 * load.statementMs; // woken, claims what arrived
        arrive(now);
        const more = take(now, BATCH - batch.length);
        batch.push(...more);
        seen.push([now, more.length]);
      }
    }
    now += windowWaitMs(windowAt(now));
    starts.push(now);
    now += load.readMs;
    ends.push(now + rate.perMs + marginMs);
    reads++;
    now += load.applyMs; // the leads are published here
    for (const p of batch) latency.push(now - p.at);
    now += 3 * load.statementMs; // outcomes, history, breaker
  }
  latency.sort((a, b) => a - b);
  const pct = (p: number) => latency[Math.min(latency.length - 1, Math.floor((p / 100) * latency.length))]!.toFixed(0);
  return `p50 ${pct(50).padStart(4)} ms, p99 ${pct(99).padStart(4)} ms, ${reads} reads`;
}

const steady = { perRequest: 5, everyMs: 50, readMs: 10, applyMs: 15, statementMs: 3, setupCalls: 3 };
const loads: [string, Load][] = [
  ['100 events/s for 10 s', { ...steady, seconds: 10 }],
  ['100 events/s for 60 s', { ...steady, seconds: 60 }],
  ['100 events/s for 60 s, reads of 30 ms', { ...steady, seconds: 60, readMs: 30 }],
  ['50 events/s for 60 s', { ...steady, everyMs: 100, seconds: 60 }],
  ['1,000 events/s for 20 s', { perRequest: 50, everyMs: 50, seconds: 20, readMs: 30, applyMs: 60, statementMs: 3, setupCalls: 3 }],
];
for (const [label, load] of loads) {
  console.log(`${label.padEnd(40)} even: ${simulate('even', load)}   demand: ${simulate('demand', load)}`);
}
