// The Zoho row of the flow suite: the Zoho adapter's fetch client against the Zoho
// sandbox (API and accounts host), whose channel notifications come back to the service.
import { expect, it } from 'vitest';
import type { ZohoSandbox } from '../../../sandboxes/zoho/index.ts';
import { connectZoho, startZohoFor, type Connected, zohoMoves } from '../../helpers/stack.ts';
import { leadsByEmail, type FlowCrm, type FlowSandbox, type Person, type SeenRecord } from './table.ts';
import { DAY, integrationRow, leadWrites, postNotification, settle, zohoLeadsWithEmail, zohoSuites } from './zoho-suites.ts';

const FIELDS: Record<Exclude<keyof Person, 'origin'>, string> = {
  email: 'Email',
  firstName: 'First_Name',
  lastName: 'Last_Name',
  company: 'Company',
  phone: 'Phone',
  status: 'Lead_Status',
};

export interface ZohoFlowSandbox extends FlowSandbox {
  zs: ZohoSandbox;
  conn: Connected;
  /** The origin picklist's API name, as Zoho assigned it and provision read it back. */
  originField: string;
  channelId: string;
}

function toValues(p: Person, originField: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) if (v !== undefined) out[k === 'origin' ? originField : FIELDS[k as keyof typeof FIELDS]] = v;
  return out;
}

function seen(r: Record<string, unknown>, originField: string): SeenRecord {
  const v = (k: string) => (r[k] === undefined || r[k] === null ? null : String(r[k]));
  return { id: String(r.id), email: v('Email'), firstName: v('First_Name'), lastName: v('Last_Name'), company: v('Company'), phone: v('Phone'), status: v('Lead_Status'), origin: v(originField) };
}

const KIND: Record<string, 'created' | 'updated' | 'deleted'> = { insert: 'created', update: 'updated', delete: 'deleted' };

export const zohoRow: FlowCrm<ZohoFlowSandbox> = {
  name: 'Zoho',
  provider: 'ZOHO',
  sourceSystem: 'zoho',
  noun: 'lead',
  stackEnv: { RETRY_BASE_MS: '50' },
  async start(stack) {
    // Zoho names new custom fields itself; the service must use whatever name it got.
    const zs = await startZohoFor(stack, { customFieldApiName: (label) => `${label.replace(/\s+/g, '_')}_1` });
    const conn = await connectZoho(stack, zs);
    const settings = (await integrationRow(stack, conn.integrationId)).settings as Record<string, string>;
    const originField = settings.originField;
    return {
      zs,
      conn,
      originField,
      channelId: settings.channelId,
      integrationId: conn.integrationId,
      enabled: conn.enabled,
      moves: zohoMoves(zs),
      close: () => zs.close(),
      createAsUser: (p) => zs.controls.createLeadAsUser(toValues(p, originField)),
      updateAsUser: (id, p) => zs.controls.updateLeadAsUser(id, toValues(p, originField)),
      deleteAsUser: (id) => zs.controls.deleteLead(id),
      recordsWithEmail: (email) => zohoLeadsWithEmail(zs, email).map((r) => seen(r, originField)),
      record(id) {
        const r = zs.controls.getLead(id);
        return r ? seen(r, originField) : null;
      },
      writes: () => leadWrites(zs).length,
      notifications: () =>
        zs.controls.deliveries.map((d) => ({
          ids: (d.body.ids as string[]) ?? [],
          kinds: [KIND[String(d.body.operation)] ?? 'other'],
          fields: null,
          accepted: d.status === 200,
        })),
    };
  },
  provisioned: {
    title: 'enableWebhooks creates the origin picklist and registers a channel aimed at the service, with its expiry',
    async check(stack, { zs, conn, originField, channelId, integrationId }) {
      expect(originField).toBe('Lead_Source_System_1');
      const field = zs.controls.fields().find((f) => f.api_name === originField)!;
      expect(field.data_type).toBe('picklist');
      expect(field.pick_list_values).toEqual(expect.arrayContaining(['jazzaam', 'zoho', 'manual']));
      expect(conn.enabled.provision).toMatchObject({ originFieldReady: true, originFieldCreated: true, subscriptionId: channelId });

      const [channel] = zs.controls.channels();
      expect(channel).toMatchObject({ channel_id: channelId, notify_url: `${stack.config.PUBLIC_BASE_URL}/api/v1/webhooks/zoho`, live: true });
      expect(channel.events).toEqual(expect.arrayContaining(['Leads.create', 'Leads.edit', 'Leads.delete']));
      const status = await stack.gqlOk(`query($id: ID!) { webhookStatus(integrationId: $id) { enabled expiresAt subscriptionId } }`, { id: integrationId });
      expect(status.webhookStatus.enabled).toBe(true);
      expect(status.webhookStatus.subscriptionId).toBe(channelId);
      expect(new Date(status.webhookStatus.expiresAt).getTime()).toBe(channel.expiresAt.getTime());
      // Zoho channels live at most a week: the service asked for nearly all of it.
      expect(channel.expiresAt.getTime() - Date.now()).toBeGreaterThan(6 * DAY);
    },
  },
  typedEmail: 'Grace@Navy.MIL',
  personStatus: { given: 'Contacted', expected: 'Contacted' },
  oneNotificationPerCreate: true,
  earlyEditReadsAsCreation: false,
  notifiesDeletion: true,
  filledOnCreate: {},
  extraFlows(ctx) {
    it('makes one lead of one notification delivered many times, concurrently and again later', async () => {
      const { stack, sb } = ctx();
      const { zs, channelId, integrationId } = sb;
      zs.controls.holdNotifications();
      const id = zs.controls.createLeadAsUser({ Email: 'once@example.com', Last_Name: 'Once' });
      const { rawBody } = zs.controls.renderNotification(channelId, 'insert', [id]);
      const concurrent = await Promise.all(Array.from({ length: 8 }, () => postNotification(stack, rawBody)));
      expect(concurrent.map((r) => r.status)).toEqual(Array(8).fill(200));
      await stack.engine.drain();
      for (let i = 0; i < 3; i++) expect((await postNotification(stack, rawBody)).status).toBe(200);
      // Zoho's own notification of the insert arrives too, twice.
      zs.controls.duplicateNextNotifications(1);
      zs.controls.releaseNotifications();
      await settle(stack, zs);
      expect((await leadsByEmail(stack, 'once@example.com')).totalCount).toBe(1);
      const rows = await stack.db.prisma.inboxEvent.findMany({ where: { integrationId, externalId: id } });
      expect(new Set(rows.map((r) => r.dedupeKey)).size).toBe(rows.length);
      expect(rows.filter((r) => r.outcome === 'created')).toHaveLength(1);
    });

    it('makes one lead each of notifications Zoho sends twice', async () => {
      const { stack, sb } = ctx();
      const { zs, channelId, integrationId } = sb;
      zs.controls.duplicateNextNotifications(3);
      const ids = [0, 1, 2].map((i) => zs.controls.createLeadAsUser({ Email: `twice${i}@example.com`, Last_Name: `T${i}` }));
      await settle(stack, zs);
      const copies = zs.controls.deliveries.filter((d) => d.attempt === 2 && (d.body.ids as string[]).some((x) => ids.includes(x)));
      expect(copies).toHaveLength(3);
      expect(copies.every((d) => d.status === 200)).toBe(true);
      for (let i = 0; i < 3; i++) expect((await leadsByEmail(stack, `twice${i}@example.com`)).totalCount).toBe(1);
    });

    it('rejects a notification with the wrong token or an unknown channel with 401 and stores nothing', async () => {
      const { stack, sb } = ctx();
      const { zs, channelId, integrationId } = sb;
      zs.controls.holdNotifications();
      const id = zs.controls.createLeadAsUser({ Email: 'forged@example.com', Last_Name: 'Forged' });
      const genuine = zs.controls.renderNotification(channelId, 'insert', [id]);
      const body = JSON.parse(genuine.rawBody) as Record<string, unknown>;
      const before = await stack.db.prisma.inboxEvent.count();
      const received = (await integrationRow(stack, integrationId)).totalReceived;

      const wrongToken = await postNotification(stack, JSON.stringify({ ...body, token: 'not-the-channel-token' }));
      expect(wrongToken.status).toBe(401);
      const noToken = await postNotification(stack, JSON.stringify({ ...body, token: null }));
      expect(noToken.status).toBe(401);
      const otherChannel = await postNotification(stack, JSON.stringify({ ...body, channel_id: '4242424242424242' }));
      expect(otherChannel.status).toBe(401);
      const malformed = await postNotification(stack, '{"channel_id": 1, "ids": [');
      expect(malformed.status).toBe(400);
      expect(await stack.db.prisma.inboxEvent.count()).toBe(before);
      expect((await integrationRow(stack, integrationId)).totalReceived).toBe(received);
      expect((await leadsByEmail(stack, 'forged@example.com')).totalCount).toBe(0);

      // The genuine notification is accepted.
      zs.controls.releaseNotifications();
      await settle(stack, zs);
      expect((await leadsByEmail(stack, 'forged@example.com')).totalCount).toBe(1);
    });

    it('refreshes an expired access token at the accounts host and stores the new one', async () => {
      const { stack, sb } = ctx();
      const { zs, channelId, integrationId } = sb;
      const old = stack.keyringCredentials(await integrationRow(stack, integrationId));
      const tokenCalls = zs.controls.tokenCalls;
      zs.controls.expireAccessTokens();
      await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: { email: 'fresh@example.com', lastName: 'Fresh' } });
      await settle(stack, zs);
      expect(zohoLeadsWithEmail(zs, 'fresh@example.com')).toHaveLength(1);
      expect(zs.controls.tokenCalls).toBe(tokenCalls + 1);
      const stored = stack.keyringCredentials(await integrationRow(stack, integrationId));
      expect(stored.accessToken).not.toBe(old.accessToken);
      expect(stored.refreshToken).toBe(zs.controls.refreshToken);
      expect(Date.parse(stored.expiresAt)).toBeGreaterThan(Date.now());
    });
  },
  extraSuites: zohoSuites,
};
