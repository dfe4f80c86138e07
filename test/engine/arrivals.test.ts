// Arrivals (src/engine/arrivals.ts): the recent arrival rate of an integration's events,
// and the signal that wakes an inbox task holding a partial batch when more of its
// integration's events are stored (so it never polls for them).
import { describe, expect, it } from 'vitest';
import { Arrivals, RATE_WINDOW_MS } from '../../src/engine/arrivals.ts';

describe('arrival rate of an integration', () => {
  it('counts the events of the last second, per integration', () => {
    const a = new Arrivals();
    const t = 1_000_000;
    for (let k = 0; k < 20; k++) a.record('hs', 5, t + k * 50);
    const now = t + 19 * 50;
    // 20 webhooks of 5 events over 950 ms.
    expect(a.perSecond('hs', now)).toBeGreaterThan(95);
    expect(a.perSecond('hs', now)).toBeLessThan(110);
    expect(a.perSecond('other', now)).toBe(0);
    // A second later without arrivals the rate is back to nothing.
    expect(a.perSecond('hs', now + RATE_WINDOW_MS + 1)).toBe(0);
  });

  it('expects the next arrival one mean gap after the latest', () => {
    const a = new Arrivals();
    expect(a.nextArrivalAt('hs', 1_000)).toBeUndefined();
    for (let k = 0; k < 20; k++) a.notify(['hs'], 10_000 + k * 50);
    const next = a.nextArrivalAt('hs', 10_000 + 19 * 50)!;
    expect(next).toBeGreaterThanOrEqual(10_000 + 19 * 50 + 45);
    expect(next).toBeLessThanOrEqual(10_000 + 19 * 50 + 55);
  });

  it('one webhook alone does not look like a flood: it counts over a quarter of a second at least', () => {
    const a = new Arrivals();
    a.record('hs', 5, 1_000);
    expect(a.perSecond('hs', 1_000)).toBe(20);
  });
});

describe('arrival signal', () => {
  it('wakes a task waiting for its integration, not one waiting for another', async () => {
    const a = new Arrivals();
    const since = a.signalCount('hs');
    const mine = a.wait('hs', 60_000, since);
    const other = a.wait('sf', 30, a.signalCount('sf'));
    a.notify(['hs']);
    expect(await mine).toBe('arrival');
    expect(await other).toBe('timeout');
  });

  it('a signal that came before the wait began is not missed', async () => {
    const a = new Arrivals();
    const since = a.signalCount('hs');
    a.notify(['hs']);
    expect(await a.wait('hs', 60_000, since)).toBe('arrival');
    // A snapshot taken before the signal tells the same.
    const before = new Arrivals();
    const snap = before.snapshot();
    before.notify(['hs']);
    expect(await before.wait('hs', 60_000, snap('hs'))).toBe('arrival');
  });

  it('stop wakes every waiting task, and later waits end at once', async () => {
    const a = new Arrivals();
    const waiting = a.wait('hs', 60_000, a.signalCount('hs'));
    a.stop();
    expect(await waiting).toBe('stop');
    expect(await a.wait('hs', 60_000, a.signalCount('hs'))).toBe('stop');
  });
});
