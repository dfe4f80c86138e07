// The Zoho CrmClient against the sandbox over real HTTP: writes, reads, paging, the
// incremental cursor and error translation.
import { afterEach, describe, expect, it } from 'vitest';
import { CrmError, type CrmRecord, type WriteResult } from '../../../adapters/contract.ts';
import { lead, provisionOptions, setup, TAG, type Setup, type SetupOptions } from './helpers.ts';

function ok(r: WriteResult | undefined): Extract<WriteResult, { ok: true }> {
  if (!r) throw new Error('missing result');
  if (!r.ok) throw new Error(`write failed: ${r.error.code} ${r.error.message}`);
  return r;
}

async function thrown(p: Promise<unknown>): Promise<CrmError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CrmError) return e;
    throw e;
  }
  throw new Error('expected a CrmError');
}

let s: Setup | undefined;

async function provisioned(opts: SetupOptions = {}): Promise<Setup> {
  s = await setup(opts);
  await s.client.provision(provisionOptions());
  return s;
}

function apiCalls(x: Setup, method: string, path: string) {
  return x.sandbox.controls.requests.filter((r) => r.method === method && r.path === `/crm/v7${path}`);
}

afterEach(async () => {
  await s?.close();
  s = undefined;
});

describe('pushLeads: creating', () => {
  it('creates with our origin tag and "trigger": [], so a workflow rule does not run on our write', async () => {
    const x = await provisioned({ sandbox: { workflowOnCreate: { Lead_Status: 'Contacted' } } });
    const [r] = await x.client.pushLeads([lead('n1', { email: 'new@example.com', firstName: 'Nia', status: 'Not Contacted' })], TAG);
    const created = ok(r);
    expect(created.action).toBe('created');
    const stored = x.sandbox.controls.getLead(created.externalId)!;
    expect(stored[x.client.originField]).toBe(TAG);
    expect(stored.Lead_Status).toBe('Not Contacted'); // the workflow did not touch it
    expect(x.sandbox.controls.changes.map((c) => c.operation)).toEqual(['insert']);
    // A person's creation does run it: the rule is real.
    const human = x.sandbox.controls.createLeadAsUser({ Email: 'human@example.com', Last_Name: 'H', Lead_Status: 'Not Contacted' });
    expect(x.sandbox.controls.getLead(human)!.Lead_Status).toBe('Contacted');
  });

  it('creates a lead without last name under the documented default, and one without email too', async () => {
    const x = await provisioned();
    const [withEmail, withoutEmail] = (await x.client.pushLeads([lead('d1', { email: 'jane.doe@example.com' }), lead('d2', { company: 'Acme' })], TAG)).map(ok);
    expect(x.sandbox.controls.getLead(withEmail!.externalId)!.Last_Name).toBe('jane.doe');
    expect(x.sandbox.controls.getLead(withoutEmail!.externalId)!.Last_Name).toBe('Unknown');
  });

  it('writes one record for several inputs with the same email in one batch', async () => {
    const x = await provisioned();
    const results = (await x.client.pushLeads([lead('s1', { email: 'same@example.com', firstName: 'One' }), lead('s2', { email: ' SAME@example.com ', firstName: 'Two' })], TAG)).map(ok);
    expect(results.map((r) => r.action)).toEqual(['created', 'linked']);
    expect(results[1]!.externalId).toBe(results[0]!.externalId);
    expect(x.sandbox.controls.listLeads()).toHaveLength(1);
  });

  it('upserts twice into one record when Email is not unique in the org', async () => {
    const x = await provisioned({ sandbox: { emailUnique: false, searchLagMs: 3600_000 } });
    expect(x.client.currentSettings().emailUnique).toBe(false);
    const l = lead('u1', { email: 'twice@example.com', firstName: 'Tw' });
    const first = ok((await x.client.pushLeads([l], TAG))[0]);
    const second = ok((await x.client.pushLeads([l], TAG))[0]);
    expect(first.action).toBe('created');
    expect(second.externalId).toBe(first.externalId);
    expect(second.action).toBe('linked');
    expect(x.sandbox.controls.listLeads()).toHaveLength(1);
    expect(apiCalls(x, 'POST', '/Leads/upsert')[0]!.body).toMatchObject({ duplicate_check_fields: ['Email'], trigger: [] });
  });

  it('upserts even past the look-ups: a record neither search nor the recent scan sees is linked, not duplicated', async () => {
    const x = await provisioned({ sandbox: { emailUnique: false, searchLagMs: 3600_000 }, settings: { recentWindowMs: 1 } });
    // Created "long ago" (outside the recent window) and not yet in the search index.
    x.sandbox.controls.setClock(new Date(Date.now() - 3600_000));
    const old = x.sandbox.controls.createLeadAsUser({ Email: 'hidden@example.com', Last_Name: 'Hidden' });
    x.sandbox.controls.setClock(null);
    const r = ok((await x.client.pushLeads([lead('h1', { email: 'hidden@example.com' })], TAG))[0]);
    expect(r).toMatchObject({ externalId: old, action: 'linked' });
    expect(x.sandbox.controls.listLeads()).toHaveLength(1);
  });
});

describe('pushLeads: linking existing records', () => {
  it('links a record found by search (exact email only: Zoho search "equals" means contains)', async () => {
    const x = await provisioned();
    const decoy = x.sandbox.controls.createLeadAsUser({ Email: 'ann@example.com.au', Last_Name: 'Decoy' });
    const real = x.sandbox.controls.createLeadAsUser({ Email: 'Ann@Example.com', Last_Name: 'Ann', [x.client.originField]: 'manual' });
    const r = ok((await x.client.pushLeads([lead('ann', { email: 'ann@example.com', firstName: 'Annie' })], TAG))[0]);
    expect(r).toMatchObject({ externalId: real, action: 'linked' });
    expect(r.externalId).not.toBe(decoy);
    const stored = x.sandbox.controls.getLead(real)!;
    expect(stored.First_Name).toBe('Annie');
    expect(stored[x.client.originField]).toBe('manual');
    expect(apiCalls(x, 'GET', '/Leads/search')).toHaveLength(1);
    expect(apiCalls(x, 'POST', '/Leads')).toHaveLength(0);
  });

  it('handles search answering 204 right after a write: finds the record among recent ones, tag untouched', async () => {
    const x = await provisioned({ sandbox: { searchLagMs: 3600_000 } });
    const id = x.sandbox.controls.createLeadAsUser({ Email: 'fresh@example.com', Last_Name: 'Fresh', [x.client.originField]: 'zoho' });
    const r = ok((await x.client.pushLeads([lead('f', { email: 'fresh@example.com', lastName: 'Fresher' })], TAG))[0]);
    expect(r).toMatchObject({ externalId: id, action: 'linked' });
    expect(apiCalls(x, 'GET', '/Leads/search')[0]!.status).toBe(204);
    expect(x.sandbox.controls.getLead(id)).toMatchObject({ Last_Name: 'Fresher', [x.client.originField]: 'zoho' });
  });

  it('links the record named by DUPLICATE_DATA when no look-up could see it, without stamping our tag', async () => {
    // Unique Email (insert strategy); the record is unindexed and outside the recent window.
    const x = await provisioned({ sandbox: { searchLagMs: 3600_000 }, settings: { recentWindowMs: 1 } });
    x.sandbox.controls.setClock(new Date(Date.now() - 3600_000));
    const existing = x.sandbox.controls.createLeadAsUser({ Email: 'taken@example.com', Last_Name: 'Taken', [x.client.originField]: 'manual' });
    x.sandbox.controls.setClock(null);
    const results = await x.client.pushLeads([lead('t', { email: 'taken@example.com', firstName: 'Tak' }), lead('n', { email: 'free@example.com' })], TAG);
    expect(results.map((r) => (r.ok ? r.action : r.error.code))).toEqual(['linked', 'created']);
    expect(ok(results[0]).externalId).toBe(existing);
    const insert = apiCalls(x, 'POST', '/Leads')[0]!;
    expect(insert.status).toBe(207); // one record failed with DUPLICATE_DATA, one was created
    expect(x.sandbox.controls.getLead(existing)).toMatchObject({ First_Name: 'Tak', [x.client.originField]: 'manual' });
    expect(x.sandbox.controls.listLeads()).toHaveLength(2);
  });

  it('prefers, among several records with one email, the one carrying our tag', async () => {
    const x = await provisioned({ sandbox: { emailUnique: false } });
    x.sandbox.controls.createLeadAsUser({ Email: 'many@example.com', Last_Name: 'Human' });
    const ours = x.sandbox.controls.createLeadAsUser({ Email: 'many@example.com', Last_Name: 'Ours', [x.client.originField]: TAG });
    const r = ok((await x.client.pushLeads([lead('m', { email: 'many@example.com' })], TAG))[0]);
    expect(r).toMatchObject({ externalId: ours, action: 'linked' });
  });
});

describe('pushLeads: updates and failures', () => {
  it('updates linked records in batches of at most 100 without sending the origin tag', async () => {
    const x = await provisioned();
    const ids = Array.from({ length: 120 }, (_, i) => x.sandbox.controls.createLeadAsUser({ Email: `b${i}@example.com`, Last_Name: 'B', [x.client.originField]: 'manual' }));
    const results = (await x.client.pushLeads(ids.map((id, i) => lead(`b${i}`, { email: `b${i}@example.com`, phone: `+1555${i}` }, id)), TAG)).map(ok);
    expect(results.every((r, i) => r.action === 'updated' && r.externalId === ids[i])).toBe(true);
    const puts = apiCalls(x, 'PUT', '/Leads');
    expect(puts.map((p) => (p.body as { data: unknown[] }).data.length)).toEqual([100, 20]);
    expect(puts.every((p) => (p.body as { data: Record<string, unknown>[] }).data.every((d) => !(x.client.originField in d)))).toBe(true);
    expect(x.sandbox.controls.getLead(ids[119]!)).toMatchObject({ Phone: '+1555119', [x.client.originField]: 'manual' });
  });

  it('returns per-record failures in input order while the rest succeed', async () => {
    const x = await provisioned();
    const gone = x.sandbox.controls.createLeadAsUser({ Email: 'gone@example.com', Last_Name: 'Gone' });
    x.sandbox.controls.deleteLead(gone);
    const results = await x.client.pushLeads(
      [lead('good', { email: 'good@example.com' }), lead('bad', { email: 'not-an-email' }), lead('gone', { email: 'gone@example.com' }, gone)],
      TAG,
    );
    expect(results.map((r) => r.localId)).toEqual(['good', 'bad', 'gone']);
    expect(results.map((r) => (r.ok ? r.action : r.error.code))).toEqual(['created', 'VALIDATION', 'NOT_FOUND']);
  });

  it('reports a conflicting email change as CONFLICT naming the record that holds it', async () => {
    const x = await provisioned();
    const holder = x.sandbox.controls.createLeadAsUser({ Email: 'held@example.com', Last_Name: 'Holder' });
    const mine = x.sandbox.controls.createLeadAsUser({ Email: 'mine@example.com', Last_Name: 'Mine' });
    const [r] = await x.client.pushLeads([lead('c', { email: 'held@example.com' }, mine)], TAG);
    expect(r?.ok).toBe(false);
    if (r && !r.ok) {
      expect(r.error.code).toBe('CONFLICT');
      expect(r.error.existingId).toBe(holder);
    }
  });

  it('fails the whole push with RATE_LIMITED (retry hint included) and makes no further call', async () => {
    const x = await provisioned();
    x.sandbox.controls.resetLog();
    x.sandbox.controls.injectFault('rate_limit');
    const results = await x.client.pushLeads([lead('r1', { email: 'r1@example.com' }), lead('r2', { email: 'r2@example.com' })], TAG);
    for (const r of results) {
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toBe('RATE_LIMITED');
        expect(r.error.retryAfterMs).toBeGreaterThan(0);
      }
    }
    expect(x.sandbox.controls.requests).toHaveLength(1);
    expect(x.sandbox.controls.listLeads()).toHaveLength(0);
  });
});

describe('pushLeads: whose failure is it', () => {
  it('charges a failed e-mail look-up to the unlinked lead; the linked lead it stopped is reported not attempted', async () => {
    const x = await provisioned();
    const linked = x.sandbox.controls.createLeadAsUser({ Email: 'linked@example.com', Last_Name: 'L' });
    x.sandbox.controls.resetLog();
    x.sandbox.controls.injectFault('server_error');
    const [fresh, known] = await x.client.pushLeads([lead('fresh', { email: 'fresh@example.com' }), lead('known', { email: 'linked@example.com', firstName: 'K' }, linked)], TAG);
    if (fresh.ok || known.ok) throw new Error('expected both to fail');
    expect(fresh.error.code).toBe('UPSTREAM');
    expect(fresh.attempted).toBeUndefined();
    expect(known.attempted).toBe(false);
    expect(x.sandbox.controls.requests).toHaveLength(1);
  });
});

describe('reading', () => {
  it('reads by ids in batches of 100, leaving unknown ids out, in the order asked', async () => {
    const x = await provisioned();
    const ids = Array.from({ length: 130 }, (_, i) => x.sandbox.controls.createLeadAsUser({ Email: `r${i}@example.com`, Last_Name: `R${i}` }));
    const asked = [...ids].reverse();
    asked.splice(5, 0, '5725767999999999999');
    const recs = await x.client.readRecords(asked);
    expect(recs.map((r) => r.externalId)).toEqual([...ids].reverse());
    expect(apiCalls(x, 'GET', '/Leads').map((r) => r.query.ids!.split(',').length)).toEqual([100, 31]);
  });

  it('translates 429 to RATE_LIMITED and 5xx to UPSTREAM, both retryable, and a dropped connection to NETWORK', async () => {
    const x = await provisioned();
    x.sandbox.controls.injectFault('rate_limit');
    const rl = await thrown(x.client.readRecords(['1']));
    expect([rl.code, rl.retryable, rl.status]).toEqual(['RATE_LIMITED', true, 429]);
    x.sandbox.controls.injectFault('server_error');
    const up = await thrown(x.client.readRecords(['1']));
    expect([up.code, up.retryable, up.status]).toEqual(['UPSTREAM', true, 500]);
    x.sandbox.controls.injectFault('network');
    const net = await thrown(x.client.readRecords(['1']));
    expect([net.code, net.retryable]).toEqual(['NETWORK', true]);
  });

  it('lists every record to the end with page tokens, none twice', async () => {
    const x = await provisioned();
    const ids = Array.from({ length: 45 }, (_, i) => x.sandbox.controls.createLeadAsUser({ Email: `l${i}@example.com`, Last_Name: 'L' }));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await x.client.listPage(cursor, 10);
      expect(page.records.length).toBeLessThanOrEqual(10);
      seen.push(...page.records.map((r) => r.externalId));
      cursor = page.nextCursor;
      // Records created while paging land after the cursor: they are not lost.
      if (pages === 1) ids.push(x.sandbox.controls.createLeadAsUser({ Email: 'late@example.com', Last_Name: 'Late' }));
      pages++;
    } while (cursor !== null && pages < 50);
    expect(cursor).toBeNull();
    expect(seen.slice().sort()).toEqual(ids.slice().sort());
    expect(new Set(seen).size).toBe(seen.length);
  });
});

describe('changesSince', () => {
  function drain(x: Setup, start: string | null, limit: number) {
    return (async () => {
      const seen: CrmRecord[] = [];
      let cursor = start;
      for (let calls = 0; calls < 100; calls++) {
        const page = await x.client.changesSince(cursor, limit);
        seen.push(...page.records);
        cursor = page.nextCursor ?? cursor;
        if (page.records.length === 0) return { seen, cursor };
      }
      throw new Error('changesSince never ran dry');
    })();
  }

  it('loses nothing when 250 records share one Modified_Time across several Zoho pages', async () => {
    const x = await provisioned();
    const tie = new Date(Math.floor(Date.now() / 1000) * 1000 - 600_000);
    x.sandbox.controls.setClock(tie);
    const ids = Array.from({ length: 250 }, (_, i) => x.sandbox.controls.createLeadAsUser({ Email: `t${i}@example.com`, Last_Name: 'T' }));
    x.sandbox.controls.setClock(null);
    const { seen } = await drain(x, null, 40);
    expect(seen.map((r) => r.externalId).sort()).toEqual(ids.slice().sort());
    expect(new Set(seen.map((r) => r.externalId)).size).toBe(250);
    expect(seen.every((r) => r.updatedAt?.getTime() === tie.getTime())).toBe(true);
  });

  it('returns later changes only, oldest first, from a saved cursor or from cursorAt', async () => {
    const x = await provisioned();
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 300_000;
    x.sandbox.controls.setClock(new Date(t0));
    const a = x.sandbox.controls.createLeadAsUser({ Email: 'a@example.com', Last_Name: 'A' });
    x.sandbox.controls.setClock(new Date(t0 + 60_000));
    const b = x.sandbox.controls.createLeadAsUser({ Email: 'b@example.com', Last_Name: 'B' });
    const { cursor } = await drain(x, null, 10);
    x.sandbox.controls.setClock(new Date(t0 + 120_000));
    x.sandbox.controls.updateLeadAsUser(a, { First_Name: 'Again' });
    x.sandbox.controls.setClock(null);
    const after = await drain(x, cursor, 10);
    expect(after.seen.map((r) => [r.externalId, r.fields.firstName])).toEqual([[a, 'Again']]);
    // A cursor at a time includes changes of that very second and later only.
    const fromB = await drain(x, x.client.cursorAt(new Date(t0 + 60_000 + 999)), 10);
    expect(fromB.seen.map((r) => r.externalId)).toEqual([b, a]);
  });

  it('answers an empty page (304 Not Modified) without losing its place', async () => {
    const x = await provisioned();
    x.sandbox.controls.createLeadAsUser({ Email: 'only@example.com', Last_Name: 'Only' });
    const { cursor } = await drain(x, null, 5);
    const again = await x.client.changesSince(cursor, 5);
    expect(again.records).toEqual([]);
    expect(again.nextCursor).toBe(cursor);
    // Nothing at all modified since the cursor: Zoho answers 304 with no body.
    const later = x.client.cursorAt(new Date(Date.now() + 3600_000));
    const none = await x.client.changesSince(later, 5);
    expect(x.sandbox.controls.requests.at(-1)!.status).toBe(304);
    expect(none).toEqual({ records: [], nextCursor: later });
  });

  it('rejects a cursor it did not issue with VALIDATION', async () => {
    const x = await provisioned();
    expect((await thrown(x.client.changesSince('not-a-cursor', 5))).code).toBe('VALIDATION');
    expect((await thrown(x.client.listPage('bm90LWEtY3Vyc29y', 5))).code).toBe('VALIDATION');
  });
});
