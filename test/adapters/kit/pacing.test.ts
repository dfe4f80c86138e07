// The pacing decision of the kit limiter (paceFor), as a pure function of the window's
// state and the caller's demand: when a caller able to wait and gather (the inbox, reading
// the records of webhook events) should hold a partial batch. Budget as HubSpot documents
// it for a Free or Starter account ("API usage guidelines and limits": 100 requests per
// 10 seconds per app), with the adapter's 25 ms margin.
import { describe, expect, it } from 'vitest';
import { evenSpacingMs, paceFor, windowWaitMs, type Demand, type WindowState } from '../../../adapters/kit/limiter.ts';

const rate = { requests: 100, perMs: 10_000 };
const marginMs = 25;
const now = 1_000_000;
/** A window whose requests started every `everyMs` over the last `count` spacings (each ended 10 ms after it started). */
function window(count: number, everyMs: number): WindowState {
  const ends = Array.from({ length: count }, (_, j) => now - j * everyMs + 10 + rate.perMs + marginMs).sort((a, b) => a - b);
  return { rate, marginMs, now, ends };
}
/** `count` requests that all just ended: a burst that spent that much of the window. */
function burst(count: number): WindowState {
  return { rate, marginMs, now, ends: Array.from({ length: count }, () => now - 100 + rate.perMs + marginMs) };
}
const demand = (d: Partial<Demand>): Demand => ({ pending: 5, perRequest: 100, perSecond: 0, oldestAt: now, ...d });

describe('kit: pacing a caller that can wait and gather (paceFor)', () => {
  it('a trickle is never held: events arriving slower than the budget frees are read as they come', () => {
    // 5 events a second, one per webhook, with the last seconds' reads in the window.
    expect(paceFor(window(20, 200), demand({ pending: 1, perSecond: 5 }))).toBe(0);
    // A lone webhook on a quiet integration.
    expect(paceFor(window(0, 100), demand({ pending: 5, perSecond: 20 }))).toBe(0);
  });

  it('a trickle is not held either after a burst spent most of the window, while a place is free', () => {
    expect(paceFor(burst(90), demand({ pending: 1, perSecond: 0.5 }))).toBe(0);
  });

  it('a stream faster than the budget: a partial batch waits for the next events, until it is a share of the budget', () => {
    // 100 events a second in webhooks of 5 (HubSpot: 20 requests a second) against 10
    // reads a second: one read per webhook would spend the window in 5 s.
    const steady = window(50, 100);
    const held = paceFor(steady, demand({ pending: 5, perSecond: 100 }));
    // About the time the next webhook takes to arrive (50 ms), never a whole spacing.
    expect(held).toBeGreaterThanOrEqual(40);
    expect(held).toBeLessThanOrEqual(60);
    // Two webhooks in hand are (about) a share: read at once, or within a few ms.
    expect(paceFor(steady, demand({ pending: 10, perSecond: 100 }))).toBeLessThanOrEqual(5);
    expect(paceFor(steady, demand({ pending: 15, perSecond: 100 }))).toBe(0);
  });

  it('a hold that would end before the next arrival is expected is not made: it would only delay what is in hand', () => {
    // Webhooks of 5 every 200 ms (25 events a second) against a window near full: the share
    // is more than one webhook, but the next one comes after the hold would end.
    const nearFull = window(99, 100);
    const held = paceFor(nearFull, demand({ pending: 5, perSecond: 25 }));
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThan(200);
    expect(paceFor(nearFull, demand({ pending: 5, perSecond: 25, nextArrivalAt: now + 200 }))).toBe(windowWaitMs(nearFull));
    // At 100 events a second the next webhook is due within the hold: it is waited for.
    expect(paceFor(window(50, 100), demand({ pending: 5, perSecond: 100, nextArrivalAt: now + 45 }))).toBeGreaterThanOrEqual(45);
  });

  it('no event is held longer than one even spacing of the window after it arrived', () => {
    const steady = window(50, 100);
    const spacing = evenSpacingMs(steady);
    // The oldest event in hand arrived 90 ms ago: what is left of the spacing at most.
    const held = paceFor(steady, demand({ pending: 1, perSecond: 100, oldestAt: now - 90 }));
    expect(held).toBeLessThanOrEqual(Math.ceil(spacing - 90));
    // Its spacing has passed: read now.
    expect(paceFor(steady, demand({ pending: 1, perSecond: 100, oldestAt: now - spacing - 1 }))).toBe(0);
  });

  it('a backlog that would exceed the window is paced: after a burst, the places left are spread until the burst leaves the window', () => {
    const after = burst(90);
    // Ten places for the ~10 s until the burst's requests stop counting: about one a second.
    expect(evenSpacingMs(after)).toBeGreaterThan(900);
    const held = paceFor(after, demand({ pending: 5, perSecond: 100 }));
    expect(held).toBeGreaterThan(500);
    expect(held).toBeLessThanOrEqual(Math.ceil(evenSpacingMs(after)));
  });

  it('a full batch is never held by the pacing, only by a full window', () => {
    expect(paceFor(burst(90), demand({ pending: 100, perSecond: 1_000 }))).toBe(0);
    const full = burst(100);
    expect(paceFor(full, demand({ pending: 100, perSecond: 1_000 }))).toBe(windowWaitMs(full));
    expect(windowWaitMs(full)).toBeGreaterThan(9_000);
  });

  it('whatever the demand, nothing starts before the window has a place', () => {
    const full = burst(100);
    expect(paceFor(full, demand({ pending: 1, perSecond: 0.1 }))).toBe(windowWaitMs(full));
    expect(paceFor(full)).toBe(windowWaitMs(full));
  });

  it('spaces an empty or evenly used window at one window over its requests', () => {
    expect(evenSpacingMs(window(0, 100))).toBe(100.25);
    // Reads at about the budget's pace for 9 s: close to that pace still.
    expect(evenSpacingMs(window(90, 101))).toBeLessThan(110);
    // The same reads at twice the pace for the last 4.5 s: the places left are spread wider.
    expect(evenSpacingMs(window(90, 50))).toBeGreaterThan(150);
  });
});
