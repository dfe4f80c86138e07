// The adapters kit on its own: the request limiter, chunking, cursors, constant-time
// compare, retry classification and the push results the three adapters share.
import { describe, expect, it } from 'vitest';
import { CrmError, type OutboundLead } from '../../../adapters/contract.ts';
import { chunk } from '../../../adapters/kit/chunk.ts';
import { safeEqual } from '../../../adapters/kit/compare.ts';
import { cursorCodec } from '../../../adapters/kit/cursor.ts';
import { withDeadline } from '../../../adapters/kit/deadline.ts';
import { isRate, RequestLimiter } from '../../../adapters/kit/limiter.ts';
import { PushResults } from '../../../adapters/kit/push-results.ts';
import { retryAfterHeaderMs, retryClass, stopsThePush } from '../../../adapters/kit/retry.ts';

describe('kit: request limiter', () => {
  it('admits at most `requests` starts per window, in arrival order', async () => {
    const limiter = new RequestLimiter({ rate: { requests: 3, perMs: 300 } });
    const t0 = Date.now();
    const admitted: { n: number; at: number }[] = [];
    await Promise.all(Array.from({ length: 7 }, (_, n) => limiter.acquire().then(() => admitted.push({ n, at: Date.now() - t0 }))));
    expect(admitted.map((a) => a.n)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // The 4th start waits for the first window to pass, the 7th for the second.
    expect(admitted[3]!.at).toBeGreaterThanOrEqual(300);
    expect(admitted[6]!.at).toBeGreaterThanOrEqual(600);
  });

  it('adds the margin after a window', async () => {
    const limiter = new RequestLimiter({ rate: { requests: 1, perMs: 100 }, marginMs: 150 });
    const t0 = Date.now();
    await limiter.acquire();
    await limiter.acquire();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  });

  it('caps the requests in flight', async () => {
    const limiter = new RequestLimiter({ maxConcurrent: 2 });
    let active = 0;
    let peak = 0;
    const job = () =>
      limiter.run(async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 20));
        active--;
        return 'done';
      });
    expect(await Promise.all(Array.from({ length: 6 }, job))).toEqual(Array(6).fill('done'));
    expect(peak).toBe(2);
  });

  it('frees the slot of a request that failed', async () => {
    const limiter = new RequestLimiter({ maxConcurrent: 1 });
    await expect(limiter.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(limiter.run(async () => 'next')).resolves.toBe('next');
  });

  it('tells how long a request starting now would wait, without counting one', async () => {
    const limiter = new RequestLimiter({ rate: { requests: 2, perMs: 1_000 }, marginMs: 50 });
    expect(limiter.waitMs()).toBe(0);
    await limiter.acquire();
    expect(limiter.waitMs()).toBe(0);
    const at = Date.now();
    await limiter.acquire();
    const wait = limiter.waitMs(at);
    expect(wait).toBeGreaterThan(900);
    expect(wait).toBeLessThanOrEqual(1_050);
    // Asking counted nothing: once the first start leaves the window, one more may go at once.
    expect(limiter.waitMs(at + 1_050)).toBe(0);
    expect(new RequestLimiter({}).waitMs()).toBe(0);
  });

  it('without a demand, paces a caller that can wait only while the window is full', async () => {
    const limiter = new RequestLimiter({ rate: { requests: 2, perMs: 1_000 } });
    await limiter.acquire();
    expect(limiter.paceMs()).toBe(0);
    await limiter.acquire();
    const now = Date.now();
    expect(limiter.paceMs(undefined, now)).toBe(limiter.waitMs(now));
    expect(limiter.waitMs(now)).toBeGreaterThan(500);
  });

  it('counts a request admitted with start() until a window after it ends, however long it takes', async () => {
    const limiter = new RequestLimiter({ rate: { requests: 1, perMs: 100 } });
    const t0 = Date.now();
    const done = await limiter.start();
    // The slow request is still running after its window would have passed from its start.
    await new Promise((r) => setTimeout(r, 150));
    expect(limiter.waitMs()).toBeGreaterThan(0);
    const next = limiter.acquire().then(() => Date.now() - t0);
    await new Promise((r) => setTimeout(r, 20));
    const endedAt = Date.now() - t0;
    done();
    // The next one starts a full window after the first ENDED, not after it started.
    expect(await next).toBeGreaterThanOrEqual(endedAt + 100);
  });

  it('refuses an unusable rate', () => {
    expect(() => new RequestLimiter({ rate: { requests: 0, perMs: 1000 } })).toThrow(RangeError);
    expect(isRate({ requests: 4, perMs: 1000 })).toBe(true);
    expect(isRate({ requests: 4 })).toBe(false);
    expect(isRate(null)).toBe(false);
  });
});

describe('kit: call deadline', () => {
  it('answers with the call when it is in time, with the timeout error when it is not', async () => {
    const late = () => new CrmError('NETWORK', 'no answer in time');
    await expect(withDeadline(Promise.resolve('ok'), 1000, late)).resolves.toBe('ok');
    await expect(withDeadline(Promise.reject(new CrmError('CONFLICT', 'exists')), 1000, late)).rejects.toMatchObject({ code: 'CONFLICT' });
    const hung = new Promise<string>(() => undefined);
    await expect(withDeadline(hung, 50, late)).rejects.toMatchObject({ code: 'NETWORK', message: 'no answer in time' });
  });
});

describe('kit: chunk', () => {
  it('splits in order into slices of at most the size', () => {
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunk([], 3)).toEqual([]);
    expect(() => chunk([1], 0)).toThrow(RangeError);
  });
});

describe('kit: cursor codec', () => {
  const codec = cursorCodec<{ t: number; id: string }>({
    toJson: (c) => ({ v: 1, t: c.t, id: c.id }),
    fromJson: (o) => (o.v === 1 && typeof o.t === 'number' && typeof o.id === 'string' ? { t: o.t, id: o.id } : null),
    invalid: (raw, cause) => new CrmError('VALIDATION', `bad cursor ${raw.slice(0, 10)}`, { retryable: false, cause }),
  });

  it('round-trips as an opaque URL-safe string', () => {
    const s = codec.encode({ t: 1700000000000, id: '42' });
    expect(s).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(codec.decode(s)).toEqual({ t: 1700000000000, id: '42' });
  });

  it('refuses garbage, other shapes and non-objects with the adapter error', () => {
    const other = Buffer.from(JSON.stringify({ v: 2, t: 1, id: '1' })).toString('base64url');
    const array = Buffer.from(JSON.stringify([1, 2])).toString('base64url');
    for (const raw of ['not a cursor', other, array, '']) {
      expect(() => codec.decode(raw)).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    }
  });
});

describe('kit: constant-time compare', () => {
  it('is true for equal secrets only, whatever their lengths', () => {
    expect(safeEqual('s3cret', 's3cret')).toBe(true);
    expect(safeEqual(Buffer.from('abc'), Buffer.from('abc'))).toBe(true);
    expect(safeEqual('s3cret', 's3cre')).toBe(false);
    expect(safeEqual('s3cret', 's3creT')).toBe(false);
    expect(safeEqual('', 'x')).toBe(false);
    expect(safeEqual('é', Buffer.from('é', 'utf8'))).toBe(true);
  });
});

describe('kit: retry classification', () => {
  it('tells transient from permanent errors as CrmError.retryable does', () => {
    expect(retryClass(new CrmError('RATE_LIMITED', 'x'))).toBe('transient');
    expect(retryClass(new CrmError('UPSTREAM', 'x'))).toBe('transient');
    expect(retryClass(new CrmError('VALIDATION', 'x'))).toBe('permanent');
    expect(retryClass(new CrmError('UPSTREAM', 'x', { retryable: false }))).toBe('permanent');
  });

  it('stops a push on call-level failures only', () => {
    for (const code of ['RATE_LIMITED', 'AUTH_EXPIRED', 'PERMISSION', 'NETWORK', 'UPSTREAM'] as const) {
      expect(stopsThePush(new CrmError(code, 'x'))).toBe(true);
    }
    for (const code of ['VALIDATION', 'CONFLICT', 'NOT_FOUND'] as const) {
      expect(stopsThePush(new CrmError(code, 'x'))).toBe(false);
    }
  });

  it('reads Retry-After as seconds or an HTTP date, never below the minimum', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterHeaderMs('3', now, 1000)).toBe(3000);
    expect(retryAfterHeaderMs('0', now, 1000)).toBe(1000);
    expect(retryAfterHeaderMs('Thu, 01 Jan 2026 00:00:20 GMT', now, 1)).toBe(20_000);
    expect(retryAfterHeaderMs('soon', now, 1)).toBeNull();
    expect(retryAfterHeaderMs(undefined, now, 1)).toBeNull();
  });
});

describe('kit: push results', () => {
  const leads: OutboundLead[] = ['a', 'b', 'c', 'd'].map((localId) => ({
    localId,
    externalId: null,
    fields: { email: `${localId}@example.com`, firstName: null, lastName: null, phone: null, company: null, status: null },
  }));

  it('keeps the first failure, lets a success win, and reports unsent writes as not attempted', () => {
    const push = new PushResults(leads);
    const bad = new CrmError('VALIDATION', 'bad email');
    const limited = new CrmError('RATE_LIMITED', 'slow down');
    push.fail(0, bad);
    push.fail(0, limited);
    push.succeed(1, { externalId: '11', action: 'created' });
    expect(push.haltOn(bad)).toBe(bad);
    expect(push.halted()).toBeNull();
    push.haltOn(limited);
    expect(push.halted()).toBe(limited);
    push.skip([2], push.halted()!);
    const out = push.finish((lead) => ({ localId: lead.localId, ok: false, error: new CrmError('UPSTREAM', 'not processed') }));
    expect(out.map((r) => r.localId)).toEqual(['a', 'b', 'c', 'd']);
    expect(out[0]).toMatchObject({ ok: false, error: bad });
    expect(out[0]).not.toHaveProperty('attempted');
    expect(out[1]).toMatchObject({ ok: true, externalId: '11', action: 'created' });
    expect(out[2]).toMatchObject({ ok: false, error: limited, attempted: false });
    expect(out[3]).toMatchObject({ ok: false, error: { code: 'UPSTREAM' } });
  });
});
