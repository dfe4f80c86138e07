// The ONE contract suite every CRM adapter runs against its sandbox.
//
//   runContractSuite('hubspot', makeHarness, { ...options })
//
// Each test gets a fresh harness (a fresh, empty sandbox) and provisions the origin
// field first, so tests never see each other's records. Behaviour checked here is what
// the sync engine relies on: origin tags, no duplicates on retry, linking by email,
// complete pagination, an incremental cursor that survives ties, webhook
// authenticity, and stable error codes.
//
// Conventions the suite pins down (adapters must follow them):
// - changesSince(cursor).nextCursor is where to resume next time. When nothing new is
//   found an adapter may return the cursor it was given (or null, which the suite and
//   the engine treat as "keep the previous cursor"); re-reading the same cursor later
//   must return only records changed since.
// - An injected fault may surface as a thrown CrmError or, for pushLeads, as a
//   per-input `{ ok: false, error }`; the code must be the same either way.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CrmError,
  hasOwnOrigin,
  isCrmError,
  normaliseEmail,
  type CrmErrorCode,
  type CrmRecord,
  type LeadFields,
  type OutboundLead,
  type ProvisionOptions,
  type WriteResult,
} from '../../adapters/contract.ts';
import type { ContractHarness } from './harness.ts';

export type FaultKind = 'rate_limit' | 'server_error' | 'auth_expired' | 'not_found';

export interface ContractSuiteOptions {
  /** Faults with no meaning for this provider: their tests are skipped. */
  unsupportedFaults?: FaultKind[];
  /** How many calls each injected fault covers; raise it when the SDK itself retries reads (default 1). */
  faultCount?: number;
  /** Webhook tampering the provider cannot detect (e.g. replay of an unsigned, untimed notification). */
  unsupportedTampering?: Array<'forged' | 'replayed'>;
  /** An origin value written by someone else; must be an allowed value of the field (default 'manual'). */
  foreignTag?: string;
  /** Values provision() is asked to make valid (default [platformTag, foreignTag]). */
  tagValues?: string[];
  /** Records created for the pagination test (default 250). */
  paginationRecords?: number;
}

const ERROR_FOR_FAULT: Record<FaultKind, CrmErrorCode> = {
  rate_limit: 'RATE_LIMITED',
  server_error: 'UPSTREAM',
  auth_expired: 'AUTH_EXPIRED',
  not_found: 'NOT_FOUND',
};

function fields(partial: Partial<LeadFields>): LeadFields {
  return { email: null, firstName: null, lastName: null, phone: null, company: null, status: null, ...partial };
}

function lead(localId: string, partial: Partial<LeadFields>, externalId: string | null = null): OutboundLead {
  return { localId, externalId, fields: fields({ lastName: 'Lead', company: 'Acme', ...partial }) };
}

function okResult(r: WriteResult | undefined): Extract<WriteResult, { ok: true }> {
  if (!r) throw new Error('missing write result');
  if (!r.ok) throw new Error(`write failed: ${r.error.code} ${r.error.message}`);
  return r;
}

/** Resolves to the CrmError the call threw; fails the test when it did not throw one. */
async function caught(p: Promise<unknown>): Promise<CrmError> {
  let value: unknown;
  try {
    value = await p;
  } catch (e) {
    if (!isCrmError(e)) throw new Error(`expected a CrmError, got ${String(e)}`, { cause: e });
    return e;
  }
  throw new Error(`expected a CrmError, the call succeeded with ${JSON.stringify(value)?.slice(0, 200)}`);
}

async function listAll(h: ContractHarness, pageSize = 100): Promise<{ records: CrmRecord[]; pages: number }> {
  const records: CrmRecord[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await h.client.listPage(cursor, pageSize);
    pages++;
    expect(page.records.length).toBeLessThanOrEqual(pageSize);
    records.push(...page.records);
    if (page.nextCursor !== null) expect(page.nextCursor).not.toBe(cursor);
    cursor = page.nextCursor;
    if (pages > 1000) throw new Error('listPage never reached the end');
  } while (cursor !== null);
  return { records, pages };
}

export function runContractSuite(
  name: string,
  makeHarness: () => Promise<ContractHarness>,
  options: ContractSuiteOptions = {},
): void {
  const foreignTag = options.foreignTag ?? 'manual';
  const faultCount = options.faultCount ?? 1;
  const unsupportedFaults = new Set(options.unsupportedFaults ?? []);
  const unsupportedTampering = new Set(options.unsupportedTampering ?? []);

  describe(`CRM adapter contract: ${name}`, () => {
    let h: ContractHarness;
    let provisionOpts: ProvisionOptions;

    beforeEach(async () => {
      h = await makeHarness();
      provisionOpts = {
        webhookUrl: `http://127.0.0.1:9/api/v1/webhooks/${h.adapter.slug}`,
        tagValues: options.tagValues ?? [h.platformTag, foreignTag],
        // A CRM routing by channel gets one, made by its adapter as the service does.
        ...(h.adapter.routing.by === 'channel' ? { channel: h.adapter.routing.newChannel() } : {}),
      };
      await h.client.provision(provisionOpts);
    });

    afterEach(async () => {
      await h?.close();
    });

    describe('provisioning', () => {
      it('leaves the origin field ready and is safe to run again', async () => {
        const again = await h.client.provision(provisionOpts);
        expect(again.originFieldReady).toBe(true);
        expect(again.originFieldCreated).toBe(false);
        expect(h.client.originField).not.toBe('');
      });
    });

    describe('whoami', () => {
      it("names the account the credentials belong to, in the form webhooks name it", async () => {
        expect(await h.client.whoami()).toEqual({ accountId: h.accountId });
      });
    });

    describe('origin tag round-trip', () => {
      it('reads our own tag back and recognises it as ours', async () => {
        const id = await h.createRemote({ email: 'ours@example.com', lastName: 'Ours', company: 'Acme' }, h.platformTag);
        const [rec] = await h.client.readRecords([id]);
        expect(rec?.externalId).toBe(id);
        expect(rec?.originTag).toBe(h.platformTag);
        expect(hasOwnOrigin(rec!, h.platformTag)).toBe(true);
        expect(normaliseEmail(rec!.fields.email)).toBe('ours@example.com');
      });

      it('reads an empty tag as null (not ours)', async () => {
        const id = await h.createRemote({ email: 'untagged@example.com', lastName: 'None', company: 'Acme' }, null);
        const [rec] = await h.client.readRecords([id]);
        expect(rec?.originTag).toBeNull();
        expect(hasOwnOrigin(rec!, h.platformTag)).toBe(false);
      });

      it("reads someone else's tag as theirs (not ours)", async () => {
        const id = await h.createRemote({ email: 'theirs@example.com', lastName: 'Other', company: 'Acme' }, foreignTag);
        const [rec] = await h.client.readRecords([id]);
        expect(rec?.originTag).toBe(foreignTag);
        expect(hasOwnOrigin(rec!, h.platformTag)).toBe(false);
      });

      it('writes our tag on records it creates', async () => {
        const [r] = await h.client.pushLeads([lead('tag-1', { email: 'created@example.com', firstName: 'Cree' })], h.platformTag);
        const created = okResult(r);
        expect(created.action).toBe('created');
        const [rec] = await h.client.readRecords([created.externalId]);
        expect(rec?.originTag).toBe(h.platformTag);
        expect(rec?.fields.firstName).toBe('Cree');
      });

      it('never rewrites the origin tag when updating a linked record', async () => {
        const id = await h.createRemote({ email: 'keep@example.com', lastName: 'Keep', company: 'Acme' }, foreignTag);
        const [r] = await h.client.pushLeads([lead('keep-1', { email: 'keep@example.com', lastName: 'Kept' }, id)], h.platformTag);
        expect(okResult(r).action).toBe('updated');
        const [rec] = await h.client.readRecords([id]);
        expect(rec?.fields.lastName).toBe('Kept');
        expect(rec?.originTag).toBe(foreignTag);
      });

      it('leaves ids that do not exist out of readRecords', async () => {
        const id = await h.createRemote({ email: 'exists@example.com', lastName: 'Here', company: 'Acme' }, null);
        const recs = await h.client.readRecords([id]);
        expect(recs.map((r) => r.externalId)).toEqual([id]);
        expect(await h.client.readRecords([])).toEqual([]);
      });
    });

    describe('pushLeads', () => {
      it('is idempotent: the same push twice gives the same record, once', async () => {
        const l = lead('idem-1', { email: 'idem@example.com', firstName: 'Ida' });
        const first = okResult((await h.client.pushLeads([l], h.platformTag))[0]);
        const second = okResult((await h.client.pushLeads([l], h.platformTag))[0]);
        expect(second.externalId).toBe(first.externalId);
        expect(second.action).not.toBe('created');
        const { records } = await listAll(h);
        expect(records.filter((r) => normaliseEmail(r.fields.email) === 'idem@example.com')).toHaveLength(1);
      });

      it('does not duplicate when retried after a lost response (link unknown to the caller)', async () => {
        const batch = [
          lead('lost-1', { email: 'lost1@example.com' }),
          lead('lost-2', { email: 'lost2@example.com' }),
          lead('lost-3', { email: 'lost3@example.com' }),
        ];
        const first = (await h.client.pushLeads(batch, h.platformTag)).map(okResult);
        // The caller never saw `first` (connection dropped): it retries with the same unlinked leads.
        const retry = (await h.client.pushLeads(batch, h.platformTag)).map(okResult);
        expect(retry.map((r) => r.localId)).toEqual(['lost-1', 'lost-2', 'lost-3']);
        expect(retry.map((r) => r.externalId)).toEqual(first.map((r) => r.externalId));
        const { records } = await listAll(h);
        expect(records).toHaveLength(3);
      });

      it('links an existing record by email, ignoring case and spaces, and writes our fields', async () => {
        const id = await h.createRemote({ email: 'Jane.Doe@Example.com', firstName: 'Jane', lastName: 'Doe', company: 'Acme' }, foreignTag);
        const [r] = await h.client.pushLeads(
          [lead('jane', { email: '  jane.doe@EXAMPLE.com ', firstName: 'Janet', lastName: 'Doe' })],
          h.platformTag,
        );
        const linked = okResult(r);
        expect(linked.externalId).toBe(id);
        expect(linked.action).toBe('linked');
        const [rec] = await h.client.readRecords([id]);
        expect(rec?.fields.firstName).toBe('Janet');
        expect(rec?.originTag).toBe(foreignTag); // linking does not claim someone else's record
        const { records } = await listAll(h);
        expect(records).toHaveLength(1);
      });

      it('returns one result per input, in input order, mixing created, linked and updated', async () => {
        const existing = await h.createRemote({ email: 'mix-existing@example.com', lastName: 'Mix', company: 'Acme' }, null);
        const linkedBefore = await h.createRemote({ email: 'mix-linked@example.com', lastName: 'Mix', company: 'Acme' }, null);
        const results = await h.client.pushLeads(
          [
            lead('m-new', { email: 'mix-new@example.com' }),
            lead('m-upd', { email: 'mix-linked@example.com', phone: '+15550001' }, linkedBefore),
            lead('m-link', { email: 'mix-existing@example.com' }),
          ],
          h.platformTag,
        );
        const ok = results.map(okResult);
        expect(ok.map((r) => r.localId)).toEqual(['m-new', 'm-upd', 'm-link']);
        expect(ok.map((r) => r.action)).toEqual(['created', 'updated', 'linked']);
        expect(ok[1]!.externalId).toBe(linkedBefore);
        expect(ok[2]!.externalId).toBe(existing);
      });
    });

    describe('listPage', () => {
      it('pages through every record to the end, none twice', async () => {
        const n = options.paginationRecords ?? 250;
        const leads = Array.from({ length: n }, (_, i) => lead(`p-${i}`, { email: `page${i}@example.com` }));
        const pushed = (await h.client.pushLeads(leads, h.platformTag)).map(okResult);
        const { records, pages } = await listAll(h, 100);
        const ids = records.map((r) => r.externalId);
        expect(new Set(ids).size).toBe(ids.length);
        expect(new Set(ids)).toEqual(new Set(pushed.map((r) => r.externalId)));
        expect(pages).toBeGreaterThanOrEqual(Math.ceil(n / 100));
        expect(records.every((r) => r.originTag === h.platformTag)).toBe(true);
      });
    });

    describe('changesSince', () => {
      it('loses no record when several share one modification time, and never repeats forever', async () => {
        const tie = new Date(Math.floor(Date.now() / 1000) * 1000 - 120_000);
        h.setClock(tie);
        const ids: string[] = [];
        for (let i = 0; i < 7; i++) {
          ids.push(await h.createRemote({ email: `tie${i}@example.com`, lastName: `Tie${i}`, company: 'Acme' }, null));
        }
        h.setClock(null);

        const seen: string[] = [];
        let cursor: string | null = null;
        let lastTime = 0;
        for (let calls = 0; ; calls++) {
          if (calls > 20) throw new Error(`changesSince never ran dry; seen ${seen.length}`);
          const page = await h.client.changesSince(cursor, 3);
          expect(page.records.length).toBeLessThanOrEqual(3);
          for (const r of page.records) {
            seen.push(r.externalId);
            const t = r.updatedAt?.getTime() ?? 0;
            expect(t).toBeGreaterThanOrEqual(lastTime); // oldest first
            lastTime = t;
          }
          cursor = page.nextCursor ?? cursor;
          if (page.records.length === 0) break;
        }
        expect(seen.slice().sort()).toEqual(ids.slice().sort());
        expect(new Set(seen).size).toBe(seen.length);

        // A later change shows up from the saved cursor, and only it.
        await h.updateRemote(ids[3]!, { firstName: 'Changed' });
        const next = await h.client.changesSince(cursor, 3);
        expect(next.records.map((r) => r.externalId)).toEqual([ids[3]]);
        expect(next.records[0]?.fields.firstName).toBe('Changed');
      });

      it('tells the time a cursor stands at, and a cursor rewound from it reads that time again', async () => {
        const at = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
        h.setClock(at);
        const id = await h.createRemote({ email: 'rewind@example.com', lastName: 'Rewind', company: 'Acme' }, null);
        h.setClock(null);
        const page = await h.client.changesSince(h.client.cursorAt!(new Date(at.getTime() - 1000)), 1);
        expect(page.records.map((r) => r.externalId)).toEqual([id]);
        // Every record up to the one returned was read: the cursor stands at its time.
        expect(h.client.cursorTime!(page.nextCursor!).getTime()).toBe(at.getTime());
        const rewound = h.client.cursorAt!(new Date(h.client.cursorTime!(page.nextCursor!).getTime() - 5_000));
        const again = await h.client.changesSince(rewound, 50);
        expect(again.records.map((r) => r.externalId)).toContain(id);
        expect(() => h.client.cursorTime!('not-a-cursor')).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
      });
    });

    describe('webhooks', () => {
      it('accepts an authentic notification and parses the change', async () => {
        const id = await h.createRemote({ email: 'hook@example.com', lastName: 'Hook', company: 'Acme' }, null);
        const { req, held } = await h.webhookFor({ externalId: id, kind: 'created' }, 'none');
        const secrets = h.adapter.webhookSecrets(held);
        expect(() => h.adapter.codec.verify(req, secrets)).not.toThrow();
        const parsed = h.adapter.codec.parse(req);
        const ev = parsed.events.find((e) => e.externalId === id);
        expect(ev?.kind).toBe('created');
        expect(ev?.dedupeKey).toBeTruthy();
        // Routed the way the adapter declares: by the account it names, or (CRMs whose
        // notifications name none, e.g. Zoho) by the channel provision() was given.
        if (h.adapter.routing.by === 'channel') {
          expect(parsed.channelIds).toContain(provisionOpts.channel!.id);
          expect(ev!.channelId).toBe(provisionOpts.channel!.id);
        } else {
          expect(parsed.accountIds).toContain(h.accountId);
          expect(ev!.accountId).toBe(h.accountId);
        }
        const ack = h.adapter.codec.acknowledge();
        expect(ack.status).toBeGreaterThanOrEqual(200);
        expect(ack.status).toBeLessThan(300);
      });

      it.skipIf(unsupportedTampering.has('forged'))('rejects a forged notification with SIGNATURE_INVALID', async () => {
        const id = await h.createRemote({ email: 'forged@example.com', lastName: 'Forged', company: 'Acme' }, null);
        const { req, held } = await h.webhookFor({ externalId: id, kind: 'updated' }, 'forged');
        const err = await caught(Promise.resolve().then(() => h.adapter.codec.verify(req, h.adapter.webhookSecrets(held))));
        expect(err.code).toBe('SIGNATURE_INVALID');
      });

      it.skipIf(unsupportedTampering.has('replayed'))('rejects a replayed (stale) notification with SIGNATURE_INVALID', async () => {
        const id = await h.createRemote({ email: 'replay@example.com', lastName: 'Replay', company: 'Acme' }, null);
        const { req, held } = await h.webhookFor({ externalId: id, kind: 'updated' }, 'replayed');
        const err = await caught(Promise.resolve().then(() => h.adapter.codec.verify(req, h.adapter.webhookSecrets(held))));
        expect(err.code).toBe('SIGNATURE_INVALID');
      });

      it('rejects a body that is not a notification with VALIDATION', async () => {
        const id = await h.createRemote({ email: 'garbage@example.com', lastName: 'Garbage', company: 'Acme' }, null);
        const { req } = await h.webhookFor({ externalId: id, kind: 'created' }, 'none');
        const err = await caught(
          Promise.resolve().then(() => h.adapter.codec.parse({ ...req, rawBody: Buffer.from('{"not":"a notification"') })),
        );
        expect(err.code).toBe('VALIDATION');
      });
    });

    describe('error translation', () => {
      for (const kind of ['rate_limit', 'server_error', 'auth_expired'] as const) {
        it.skipIf(unsupportedFaults.has(kind))(`${kind} on a read becomes ${ERROR_FOR_FAULT[kind]}`, async () => {
          const id = await h.createRemote({ email: `fault-${kind}@example.com`, lastName: 'Fault', company: 'Acme' }, null);
          h.injectFault(kind, faultCount);
          const err = await caught(h.client.readRecords([id]));
          expect(err.code).toBe(ERROR_FOR_FAULT[kind]);
          expect(err.retryable).toBe(true);
          if (kind === 'rate_limit') {
            expect(typeof err.retryAfterMs).toBe('number');
            expect(err.retryAfterMs!).toBeGreaterThan(0);
          }
          // Once the fault has passed the same call works again.
          const [rec] = await h.client.readRecords([id]);
          expect(rec?.externalId).toBe(id);
        });
      }

      it.skipIf(unsupportedFaults.has('not_found'))('not_found on an update becomes NOT_FOUND', async () => {
        const id = await h.createRemote({ email: 'gone@example.com', lastName: 'Gone', company: 'Acme' }, null);
        h.injectFault('not_found', faultCount);
        let code: CrmErrorCode;
        try {
          const [r] = await h.client.pushLeads([lead('gone', { email: 'gone@example.com' }, id)], h.platformTag);
          if (!r || r.ok) throw new Error('expected the update to fail');
          code = r.error.code;
        } catch (e) {
          if (!isCrmError(e)) throw e;
          code = e.code;
        }
        expect(code).toBe('NOT_FOUND');
      });

      it('rate_limit on a write never duplicates once retried', async () => {
        if (unsupportedFaults.has('rate_limit')) return;
        const l = lead('rl-write', { email: 'rl-write@example.com' });
        h.injectFault('rate_limit', faultCount);
        let failed = false;
        try {
          const [r] = await h.client.pushLeads([l], h.platformTag);
          failed = !r?.ok;
          if (r && !r.ok) expect(r.error.code).toBe('RATE_LIMITED');
        } catch (e) {
          if (!isCrmError(e)) throw e;
          expect(e.code).toBe('RATE_LIMITED');
          failed = true;
        }
        expect(failed).toBe(true);
        okResult((await h.client.pushLeads([l], h.platformTag))[0]);
        okResult((await h.client.pushLeads([l], h.platformTag))[0]);
        const { records } = await listAll(h);
        expect(records).toHaveLength(1);
      });
    });
  });
}
