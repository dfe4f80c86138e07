import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Dispatcher, type DispatchQueue } from '../../src/engine/dispatcher.ts';
import { IntakeFirst } from '../../src/engine/intake-first.ts';

/** A webhook whose receiving ends when `done()` is called. */
function webhook(gate: IntakeFirst) {
  let done!: () => void;
  const finished = gate.receiving(() => new Promise<void>((r) => (done = r)));
  return { done: async () => (done(), finished) };
}

describe('intake first: the workers wait while webhooks flood in', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const clock = () => Date.now();

  it('a steady stream (webhooks one after another, an overlap now and then) holds no claim', async () => {
    const gate = new IntakeFirst(250, 3, 100, clock);
    for (let i = 0; i < 20; i++) {
      const w = webhook(gate);
      await vi.advanceTimersByTimeAsync(10);
      await w.done();
      await vi.advanceTimersByTimeAsync(40);
    }
    // Two overlapping pairs within 100 ms: still not a flood.
    const x = webhook(gate);
    const y = webhook(gate);
    await x.done();
    await y.done();
    const z = webhook(gate);
    const t = webhook(gate);
    await z.done();
    await t.done();
    expect(gate.flooding).toBe(false);
    expect(gate.gap()).toBeUndefined();
  });

  it('three overlaps within 100 ms are a flood: a claim waits until 100 ms after the last one', async () => {
    const gate = new IntakeFirst(250, 3, 100, clock);
    const hand = [webhook(gate), webhook(gate), webhook(gate), webhook(gate)];
    for (const w of hand) await w.done();
    expect(gate.flooding).toBe(true);
    let claimed = false;
    void gate.gap()!.then(() => (claimed = true));
    await vi.advanceTimersByTimeAsync(99);
    expect(claimed).toBe(false);
    await vi.advanceTimersByTimeAsync(2);
    expect(claimed).toBe(true);
    expect(gate.gap()).toBeUndefined();
  });

  it('a flood that goes on holds a claim for maxWaitMs at most: processing still advances', async () => {
    const gate = new IntakeFirst(250, 3, 100, clock);
    let stop = false;
    // Four senders, each sending again as soon as answered, every 5 ms.
    const senders = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const w = webhook(gate);
        await vi.advanceTimersByTimeAsync(5);
        await w.done();
      }
    });
    await vi.advanceTimersByTimeAsync(20);
    expect(gate.flooding).toBe(true);
    const start = Date.now();
    let waited = -1;
    void gate.gap()!.then(() => (waited = Date.now() - start));
    await vi.advanceTimersByTimeAsync(300);
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(waited).toBeLessThan(260);
    stop = true;
    await vi.advanceTimersByTimeAsync(10);
    await Promise.all(senders);
  });

  it('INTAKE_FIRST_MS 0: claims never wait', async () => {
    const gate = new IntakeFirst(0, 3, 100, clock);
    const hand = [webhook(gate), webhook(gate), webhook(gate), webhook(gate)];
    expect(gate.gap()).toBeUndefined();
    for (const w of hand) await w.done();
  });

  it('a failing webhook still counts as ended', async () => {
    const gate = new IntakeFirst(250, 3, 100, clock);
    await expect(gate.receiving(() => Promise.reject(new Error('bad signature')))).rejects.toThrow('bad signature');
    // Were it still counted in hand, each of these would overlap it: three overlaps, a flood.
    for (let i = 0; i < 3; i++) await webhook(gate).done();
    expect(gate.flooding).toBe(false);
  });
});

describe('the dispatcher awaits its `before` hook ahead of every claim', () => {
  it('claims nothing while the hook holds it, then claims and runs the work', async () => {
    let release!: () => void;
    let holding: Promise<void> | undefined = new Promise<void>((r) => (release = r));
    const claims: number[] = [];
    const ran: string[] = [];
    let left = ['e1', 'e2'];
    const queue: DispatchQueue = {
      async claim() {
        claims.push(Date.now());
        const ids = left;
        left = [];
        return ids.length ? new Map([['i1', ids]]) : new Map();
      },
      async run(_id, ids) {
        ran.push(...ids);
      },
      async release() {},
    };
    const d = new Dispatcher('inbox', queue, { concurrency: 2, idleMs: 10, onError: (e) => { throw e; }, before: () => holding });
    d.start();
    await new Promise((r) => setTimeout(r, 30));
    expect(claims).toHaveLength(0);
    holding = undefined;
    release();
    const idle = d.idle();
    await idle;
    expect(ran).toEqual(['e1', 'e2']);
    expect(claims.length).toBeGreaterThan(0);
    await d.stop();
  });
});
