// Zoho flows that need a stack of their own: a token refresh naming another api domain,
// channel renewal, the import, and tenant isolation of channels.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ZohoSandbox } from '../../../sandboxes/zoho/index.ts';
import { importTwiceScenario } from '../../helpers/import-scenario.ts';
import { startProxy } from '../../helpers/net.ts';
import { connectZoho, settle as settleAll, startStack, startZohoFor, type Stack, zohoMoves } from '../../helpers/stack.ts';
import { theLead } from './table.ts';

const WRITE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);
export const DAY = 24 * 3600_000;

/** Lets channel notifications and both queues run until nothing moves any more. */
export const settle = (stack: Stack, zs: ZohoSandbox) => settleAll(stack, zohoMoves(zs));

export const zohoLeadsWithEmail = (zs: ZohoSandbox, email: string) =>
  zs.controls.listLeads().filter((l) => String(l.Email ?? '').toLowerCase() === email.toLowerCase());

/** Record writes through the API (not settings, not the channel, not the token endpoint). */
export const leadWrites = (zs: ZohoSandbox) => zs.controls.requests.filter((r) => WRITE_METHODS.has(r.method) && r.path.includes('/Leads'));

export function postNotification(stack: Stack, rawBody: string) {
  return fetch(`${stack.url}/api/v1/webhooks/zoho`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: rawBody });
}

export async function integrationRow(stack: Stack, id: string) {
  return stack.db.prisma.integration.findUniqueOrThrow({ where: { id } });
}

export function zohoSuites(): void {
  describe('Zoho token refresh naming another api domain', () => {
    let stack: Stack;
    let zs: ZohoSandbox;
    let integrationId: string;
    /** The api domain the integration was created with; the refresh names the one to use now. */
    let oldDomain: Awaited<ReturnType<typeof startProxy>>;

    beforeAll(async () => {
      stack = await startStack({ RETRY_BASE_MS: '50' });
      zs = await startZohoFor(stack);
      oldDomain = await startProxy(zs.url);
      ({ integrationId } = await connectZoho(stack, zs, { apiBaseUrl: oldDomain.url }));
    });
    afterAll(async () => {
      await oldDomain?.close();
      await zs?.close();
      await stack?.stop();
    });

    it('follows the api domain of the token answer, also after a restart', async () => {
      zs.controls.expireAccessTokens();
      await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: { email: 'moved@example.com', lastName: 'Moved' } });
      await settle(stack, zs);
      expect(zohoLeadsWithEmail(zs, 'moved@example.com')).toHaveLength(1);
      const { integrations } = await stack.gqlOk(`{ integrations { id apiBaseUrl } }`);
      expect(integrations).toEqual([{ id: integrationId, apiBaseUrl: zs.url }]);

      await oldDomain.close();
      stack.engine.connections.forget(integrationId);
      await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: { email: 'after.move@example.com', lastName: 'After' } });
      await settle(stack, zs);
      expect(zohoLeadsWithEmail(zs, 'after.move@example.com')).toHaveLength(1);
      const item = await stack.db.prisma.outboxItem.findFirstOrThrow({ where: { lead: { email: 'after.move@example.com' } } });
      expect(item).toMatchObject({ status: 'done', attempts: 1 });
    });
  });

  describe('Zoho channel renewal', () => {
    let stack: Stack;
    let zs: ZohoSandbox;
    let integrationId: string;

    beforeAll(async () => {
      stack = await startStack();
      zs = await startZohoFor(stack);
      ({ integrationId } = await connectZoho(stack, zs));
    });
    afterEach(() => {
      vi.useRealTimers();
    });
    afterAll(async () => {
      vi.useRealTimers();
      await zs?.close();
      await stack?.stop();
    });

    const expiresAt = async () => {
      const s = await stack.gqlOk(`query($id: ID!) { webhookStatus(integrationId: $id) { expiresAt } }`, { id: integrationId });
      return new Date(s.webhookStatus.expiresAt).getTime();
    };

    it('leaves a channel with days to live alone', async () => {
      const before = await expiresAt();
      expect(await stack.engine.renewWebhooksNow()).toBe(0);
      expect(await expiresAt()).toBe(before);
    });

    it('extends a channel close to expiry, so notifications keep arriving', async () => {
      const first = await expiresAt();
      // Six and a half days later (for the service and for Zoho alike): less than a day to live.
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 6.5 * DAY });
      expect(first - Date.now()).toBeLessThan(DAY);
      expect(zs.controls.channels()[0].live).toBe(true);
      expect(await stack.engine.renewWebhooksNow()).toBe(1);
      const renewed = await expiresAt();
      expect(renewed - first).toBeGreaterThan(6 * DAY);
      const [channel] = zs.controls.channels();
      expect(channel.expiresAt.getTime()).toBe(renewed);
      expect(channel.channel_id).toBe(((await integrationRow(stack, integrationId)).settings as Record<string, string>).channelId);
      // Past the old expiry, the renewed channel still delivers.
      vi.setSystemTime(first + 3600_000);
      expect(zs.controls.channels()[0].live).toBe(true);
      vi.useRealTimers();
      const id = zs.controls.createLeadAsUser({ Email: 'after.renewal@example.com', Last_Name: 'Renewed' });
      await settle(stack, zs);
      const lead = await theLead(stack, 'after.renewal@example.com');
      expect(lead.crmLinks).toEqual([{ externalId: id, provider: 'ZOHO' }]);
    });
  });

  describe('import from Zoho', () => {
    let stack: Stack;
    let zs: ZohoSandbox;
    let integrationId: string;
    let originField: string;

    beforeAll(async () => {
      stack = await startStack();
      zs = await startZohoFor(stack);
      ({ integrationId } = await connectZoho(stack, zs, { autoSync: false }));
      originField = ((await integrationRow(stack, integrationId)).settings as Record<string, string>).originField;
      // Nobody listens to this channel during the import: it is about the import alone.
      await stack.gqlOk(`mutation($id: ID!) { disableWebhooks(integrationId: $id) { enabled } }`, { id: integrationId });
    });
    afterAll(async () => {
      await zs?.close();
      await stack?.stop();
    });

    it('creates or links a lead for every Zoho lead, and creates nothing the second time', () =>
      importTwiceScenario(stack, integrationId, {
        provider: 'ZOHO',
        createPerson: (p) =>
          zs.controls.createLeadAsUser({
            ...(p.email ? { Email: p.email } : {}),
            ...(p.firstName ? { First_Name: p.firstName } : {}),
            Last_Name: 'Imported',
            ...(p.company ? { Company: p.company } : {}),
            ...(p.originTag ? { [originField]: p.originTag } : {}),
          }),
        writes: () => leadWrites(zs).length,
      }));
  });

  describe('tenant isolation of Zoho channels', () => {
    let stack: Stack;
    let zsA: ZohoSandbox;
    let zsB: ZohoSandbox;
    let orgB: { orgId: string; apiKey: string };
    let channelA: string;

    beforeAll(async () => {
      stack = await startStack();
      zsA = await startZohoFor(stack, { orgId: '70000000001' });
      zsB = await startZohoFor(stack, { orgId: '70000000002' });
      orgB = await stack.newOrg('Globex');
      const a = await connectZoho(stack, zsA, { accountId: '70000000001' });
      await connectZoho(stack, zsB, { key: orgB.apiKey, accountId: '70000000002' });
      channelA = (await integrationRow(stack, a.integrationId)).channelId!;
    });
    afterAll(async () => {
      await zsA?.close();
      await zsB?.close();
      await stack?.stop();
    });

    it("routes each channel's notifications to its own organization only", async () => {
      zsA.controls.createLeadAsUser({ Email: 'same@example.com', First_Name: 'A', Last_Name: 'Alpha' });
      zsB.controls.createLeadAsUser({ Email: 'same@example.com', First_Name: 'B', Last_Name: 'Beta' });
      for (const zs of [zsA, zsB]) await settle(stack, zs);
      const a = await stack.db.prisma.lead.findMany({ where: { organizationId: stack.orgId } });
      const b = await stack.db.prisma.lead.findMany({ where: { organizationId: orgB.orgId } });
      expect(a.map((l) => l.firstName)).toEqual(['A']);
      expect(b.map((l) => l.firstName)).toEqual(['B']);
    });

    it("does not accept one channel's id with another channel's token", async () => {
      zsB.controls.holdNotifications();
      const id = zsB.controls.createLeadAsUser({ Email: 'crossed@example.com', Last_Name: 'Crossed' });
      const fromB = JSON.parse(zsB.controls.renderNotification(zsB.controls.channels()[0].channel_id, 'insert', [id]).rawBody) as Record<string, unknown>;
      const before = await stack.db.prisma.inboxEvent.count();
      const res = await postNotification(stack, JSON.stringify({ ...fromB, channel_id: channelA }));
      expect(res.status).toBe(401);
      expect(await stack.db.prisma.inboxEvent.count()).toBe(before);
      zsB.controls.releaseNotifications();
      await settle(stack, zsB);
      expect(await stack.db.prisma.lead.count({ where: { organizationId: stack.orgId, email: 'crossed@example.com' } })).toBe(0);
      expect(await stack.db.prisma.lead.count({ where: { organizationId: orgB.orgId, email: 'crossed@example.com' } })).toBe(1);
    });

    it("keeps routing A's notifications to A when another tenant connects a Zoho org whose id equals A's channel id", async () => {
      // Channel ids live in their own column and route alone: an account id, whatever its
      // digits, is never taken for one.
      const zsC = await startZohoFor(stack, { orgId: channelA });
      try {
        const orgC = await stack.newOrg('Initech');
        await connectZoho(stack, zsC, { key: orgC.apiKey, accountId: channelA });
        zsA.controls.createLeadAsUser({ Email: 'still-mine@example.com', First_Name: 'Mine', Last_Name: 'Alpha' });
        await settle(stack, zsA);
        expect(await stack.db.prisma.lead.count({ where: { organizationId: stack.orgId, email: 'still-mine@example.com' } })).toBe(1);
        expect(await stack.db.prisma.lead.count({ where: { organizationId: orgC.orgId } })).toBe(0);
        const accepted = zsA.controls.deliveries.filter((d) => d.status === 200).length;
        expect(accepted).toBeGreaterThan(0);
      } finally {
        await zsC.close();
      }
    });

    it('gives every integration a random numeric channel id of its own, not derived from the clock', async () => {
      const rows = await stack.db.prisma.integration.findMany({ where: { provider: 'ZOHO' }, select: { channelId: true, accountId: true } });
      const ids = rows.map((r) => r.channelId!);
      for (const id of ids) expect(id).toMatch(/^[1-9]\d{17}$/);
      expect(new Set(ids).size).toBe(ids.length);
      // Ids made seconds apart from the clock would be close; random ones are far apart
      // (two of them within 10^12 of each other: about one chance in 450,000).
      expect(ids.length).toBeGreaterThanOrEqual(2);
      for (const x of ids) for (const y of ids) if (x !== y) expect(BigInt(x) > BigInt(y) ? BigInt(x) - BigInt(y) : BigInt(y) - BigInt(x)).toBeGreaterThan(10n ** 12n);
    });
  });
}
