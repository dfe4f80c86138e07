// The HubSpot row of the flow suite: the real @hubspot/api-client against the HubSpot
// sandbox, whose signed v3 webhooks come back to the service.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../../sandboxes/hubspot/server.ts';
import { connectHubSpot, hubspotMoves, settle, startHubSpotFor, startStack, type Stack } from '../../helpers/stack.ts';
import { leadsByEmail, type FlowCrm, type FlowSandbox, type Person, type SeenRecord, type SentNotification } from './table.ts';

const PROPS: Record<Exclude<keyof Person, 'origin'>, string> = {
  email: 'email',
  firstName: 'firstname',
  lastName: 'lastname',
  company: 'company',
  phone: 'phone',
  status: 'lifecyclestage',
};
const ORIGIN = 'lead_source_system';
const FIELD_OF: Record<string, string> = Object.fromEntries(Object.entries(PROPS).map(([k, v]) => [v, k]));

/** HubSpot clears a property set to an empty string. */
function toProps(p: Person): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(p)) if (v !== undefined) out[k === 'origin' ? ORIGIN : PROPS[k as keyof typeof PROPS]] = v ?? '';
  return out;
}

function seen(c: { id: string; properties: Record<string, string | null> }): SeenRecord {
  const v = (k: string) => c.properties[k] || null;
  return { id: c.id, email: v('email'), firstName: v('firstname'), lastName: v('lastname'), company: v('company'), phone: v('phone'), status: v('lifecyclestage'), origin: v(ORIGIN) };
}

const KIND: Record<string, SentNotification['kinds'] & object> = {
  'contact.creation': ['created'],
  'contact.propertyChange': ['updated'],
  'contact.deletion': ['deleted'],
};

export interface HubSpotFlowSandbox extends FlowSandbox {
  hs: HubSpotSandbox;
}

const contactsWithEmail = (hs: HubSpotSandbox, email: string) =>
  hs.listContacts().filter((c) => (c.properties.email ?? '').toLowerCase() === email.toLowerCase());

export const hubspotRow: FlowCrm<HubSpotFlowSandbox> = {
  name: 'HubSpot',
  provider: 'HUBSPOT',
  sourceSystem: 'hubspot',
  noun: 'contact',
  async start(stack) {
    const hs = await startHubSpotFor(stack);
    const integrationId = await connectHubSpot(stack, hs);
    return {
      hs,
      integrationId,
      enabled: null,
      moves: hubspotMoves(hs),
      close: () => hs.close(),
      createAsUser: (p) => hs.createContactAsUser(toProps(p)),
      updateAsUser: (id, p) => hs.updateContactAsUser(id, toProps(p)),
      deleteAsUser: (id) => hs.deleteContact(id),
      recordsWithEmail: (email) => contactsWithEmail(hs, email).map(seen),
      record(id) {
        const c = hs.getContact(id);
        return c && !c.archived ? seen(c) : null;
      },
      writes: () => hs.controls.requests.filter((c) => c.method !== 'GET' && !c.path.includes('/read') && !c.path.includes('/search')).length,
      notifications: () =>
        hs.deliveries.flatMap((d) =>
          d.events.map((e) => ({
            ids: [String(e.objectId)],
            kinds: KIND[e.subscriptionType] ?? ['other'],
            fields: e.propertyName ? [FIELD_OF[e.propertyName] ?? e.propertyName] : null,
            accepted: d.status === 200,
          })),
        ),
    };
  },
  provisioned: {
    title: 'enabling webhooks provisioned the origin property with our tag, hubspot and manual',
    check(_stack, { hs }) {
      const prop = hs.getProperty(ORIGIN);
      expect(prop).not.toBeNull();
      expect(prop!.type).toBe('enumeration');
      expect(prop!.options.map((o) => o.value).sort()).toEqual(['hubspot', 'jazzaam', 'manual']);
    },
  },
  // HubSpot keeps an email as typed; the service trims and lowercases it.
  typedEmail: ' Grace@Navy.mil ',
  personStatus: { given: 'lead', expected: 'lead' },
  // contact.creation, and contact.propertyChange for each property set on creation.
  oneNotificationPerCreate: false,
  earlyEditReadsAsCreation: false,
  notifiesDeletion: true,
  filledOnCreate: {},
  extraFlows(ctx) {
    it("treats a contact tagged manual as a person's", async () => {
      const { stack, sb } = ctx();
      sb.hs.createContactAsUser({ email: 'manual@example.com', [ORIGIN]: 'manual' });
      await settle(stack, sb.moves);
      expect((await leadsByEmail(stack, 'manual@example.com')).totalCount).toBe(1);
    });

    it('takes a contact whose values hold NUL bytes (PostgreSQL text cannot) without failing: the NULs are dropped', async () => {
      const { stack, sb } = ctx();
      sb.hs.createContactAsUser({ email: 'nul@example.com', firstname: 'Nu\u0000ll', company: '\u0000Acme\u0000' });
      await settle(stack, sb.moves);
      const lead = await stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email: 'nul@example.com' } });
      expect(lead).toMatchObject({ firstName: 'Null', company: 'Acme' });
      expect(await stack.db.prisma.inboxEvent.count({ where: { status: 'failed' } })).toBe(0);
    });

    it('leaves one lead for one person when two contacts are merged in HubSpot', async () => {
      const { stack, sb } = ctx();
      const a = sb.hs.createContactAsUser({ email: 'merge-a@example.com', firstname: 'Marge' });
      const b = sb.hs.createContactAsUser({ email: 'merge-b@example.com', phone: '+1 555 0199' });
      await settle(stack, sb.moves);
      expect((await leadsByEmail(stack, 'merge-a@example.com')).totalCount).toBe(1);
      expect((await leadsByEmail(stack, 'merge-b@example.com')).totalCount).toBe(1);
      const survivor = sb.hs.mergeContacts(a, b);
      await settle(stack, sb.moves);
      const left = await stack.db.prisma.lead.findMany({
        where: { organizationId: stack.orgId, email: { in: ['merge-a@example.com', 'merge-b@example.com'] } },
        include: { links: true },
      });
      expect(left).toHaveLength(1);
      expect(left[0].links.map((l) => l.externalId)).toEqual([survivor]);
      expect(left[0].phone).toBe('+1 555 0199');
    });
  },
  extraSuites() {
    describe('HubSpot integration with auto-sync and webhooks never enabled', () => {
      let stack: Stack;
      let hs: HubSpotSandbox;

      beforeAll(async () => {
        stack = await startStack();
        hs = await startHubSpotFor(stack, { webhookTargetUrl: null });
      });
      afterAll(async () => {
        await hs?.close();
        await stack?.stop();
      });

      it('creates the origin property before its first push, then pushes with our tag', async () => {
        await stack.gqlOk(`mutation($i: CreateIntegrationInput!) { createIntegration(input: $i) { id } }`, {
          i: { provider: 'HUBSPOT', name: 'push only', accountId: String(hs.portalId), apiBaseUrl: hs.url, accessToken: hs.accessToken },
        });
        expect(hs.getProperty(ORIGIN)).toBeNull();
        await stack.gqlOk(`mutation { createLead(input: { email: "first@example.com" }) { id } }`);
        await stack.engine.drain();
        expect(hs.getProperty(ORIGIN)!.options.map((o) => o.value)).toContain('jazzaam');
        expect(contactsWithEmail(hs, 'first@example.com').map((c) => c.properties[ORIGIN])).toEqual(['jazzaam']);
      });
    });
  },
};
