// The two-way sync flows, end to end, once per CRM: the real service (HTTP, GraphQL,
// engine, PGlite) and each adapter's real client talking to its CRM's sandbox, whose
// notifications (HubSpot's signed webhooks, Salesforce's Outbound Messages, Zoho's channel
// notifications) come back to the service over HTTP. The flows are written once; each
// CRM is a row (test/e2e/flows/*.ts) that says how a person works in it and where it
// really differs. Flows only one CRM has run from its row, on the same stack.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/net.ts';
import { settle as settleAll, startStack, type Stack } from '../helpers/stack.ts';
import { hubspotRow } from './flows/hubspot.ts';
import { salesforceRow } from './flows/salesforce.ts';
import { zohoRow } from './flows/zoho.ts';
import { LEAD_FIELDS, leadsByEmail, theLead, webhookStatus, type FlowCrm, type FlowSandbox } from './flows/table.ts';

const CRMS: FlowCrm<any>[] = [hubspotRow, salesforceRow, zohoRow];

for (const crm of CRMS) {
  describe(`${crm.name} two-way sync`, () => {
    let stack: Stack;
    let sb: FlowSandbox;
    let ws: Client;
    const settle = () => settleAll(stack, sb.moves);
    const inbox = (externalId: string, outcome: string) =>
      stack.db.prisma.inboxEvent.count({ where: { integrationId: sb.integrationId, externalId, outcome } });
    const logged = (text: string, level?: number) => stack.logs().some((l) => (level === undefined || l.level === level) && String(l.msg).includes(text));

    beforeAll(async () => {
      stack = await startStack(crm.stackEnv);
      sb = await crm.start(stack);
      ws = createClient({ url: stack.url.replace('http', 'ws') + '/graphql', webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${stack.apiKey}` } });
    });
    afterAll(async () => {
      await ws?.dispose();
      await sb?.close();
      await stack?.stop();
    });

    it(crm.provisioned.title, () => crm.provisioned.check(stack, sb));

    it(`pushes a platform lead to ${crm.name} with our tag, and skips the notification of that creation`, async () => {
      const created = await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { ${LEAD_FIELDS} } }`, {
        i: { email: 'Ada@Example.com', firstName: 'Ada', lastName: 'Lovelace', company: 'Engines Ltd' },
      });
      expect(created.createLead.crmMetadata.sourceSystem).toBe('jazzaam');
      await settle();

      const records = sb.recordsWithEmail('ada@example.com');
      expect(records).toHaveLength(1);
      const rec = records[0];
      expect(rec).toMatchObject({ origin: 'jazzaam', firstName: 'Ada', lastName: 'Lovelace', company: 'Engines Ltd' });
      const row = await stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email: 'ada@example.com' } });
      crm.pushedExtras?.(stack, sb, rec, row.id);
      // The CRM did notify the service of that creation, and the service accepted it.
      const aboutIt = sb.notifications().filter((n) => n.ids.includes(rec.id) && (n.kinds === null || n.kinds.includes('created')));
      expect(aboutIt.length).toBeGreaterThan(0);
      expect(sb.notifications().every((n) => n.accepted)).toBe(true);

      const lead = await theLead(stack, 'ada@example.com');
      expect(lead.crmLinks).toEqual([{ externalId: rec.id, provider: crm.provider }]);
      expect(lead.crmMetadata).toMatchObject({ lastSyncDirection: 'TO_CRM', crmProvider: crm.provider });
      expect(logged(`skipping ${crm.noun} ${rec.id}, originated from our platform`)).toBe(true);
      expect(await inbox(rec.id, 'skipped_own_origin')).toBeGreaterThan(0);
      const status = await webhookStatus(stack, sb.integrationId);
      expect(status).toMatchObject({ created: 0, failed: 0 });
      expect(status.skipped).toBeGreaterThan(0);
    });

    it(`creates a lead in real time for a record a person creates in ${crm.name}, tells subscribers, and writes nothing back`, async () => {
      const writesBefore = sb.writes();
      const received: any[] = [];
      const unsubscribe = ws.subscribe(
        { query: `subscription { leadCreated { ${LEAD_FIELDS} } }` },
        { next: (v) => received.push(v), error: (e) => received.push({ error: e }), complete: () => {} },
      );
      await new Promise((r) => setTimeout(r, 200)); // let the subscription register
      const id = sb.createAsUser({
        email: crm.typedEmail,
        firstName: 'Grace',
        lastName: 'Hopper',
        company: 'US Navy',
        phone: '+1 555 0100',
        ...(crm.personStatus.given ? { status: crm.personStatus.given } : {}),
      });
      const event = await eventually(() => received.find((r) => r.data?.leadCreated?.email === 'grace@navy.mil'), 15_000, 'leadCreated over graphql-ws');
      unsubscribe();
      const lead = event.data.leadCreated;
      expect(lead).toMatchObject({ firstName: 'Grace', lastName: 'Hopper', company: 'US Navy', phone: '+1 555 0100', status: crm.personStatus.expected });
      expect(lead.crmMetadata).toMatchObject({ sourceSystem: crm.sourceSystem, lastSyncDirection: 'FROM_CRM', crmProvider: crm.provider, syncVersion: 1 });
      expect(lead.crmLinks).toEqual([{ externalId: id, provider: crm.provider }]);
      await settle();
      // Nothing was written back to the CRM for a lead that came from it.
      expect(sb.writes()).toBe(writesBefore);
      expect(sb.recordsWithEmail('grace@navy.mil')).toHaveLength(1);
      expect(sb.record(id)!.origin ?? null).toBeNull();
      if (crm.lastWriteWasOurs) expect(crm.lastWriteWasOurs(sb, id)).toBe(false);
      expect((await leadsByEmail(stack, 'grace@navy.mil')).totalCount).toBe(1);
    });

    it(`skips a ${crm.name} record without an email and counts it`, async () => {
      const before = await webhookStatus(stack, sb.integrationId);
      const leadsBefore = await stack.db.prisma.lead.count({ where: { organizationId: stack.orgId } });
      const id = sb.createAsUser({ firstName: 'Nameless', lastName: 'Person', company: 'Nowhere' });
      await settle();
      expect(await stack.db.prisma.lead.count({ where: { organizationId: stack.orgId } })).toBe(leadsBefore);
      expect(logged(`skipping ${crm.noun} ${id}: no email`, 40)).toBe(true);
      const after = await webhookStatus(stack, sb.integrationId);
      if (crm.oneNotificationPerCreate) {
        expect(await inbox(id, 'skipped_no_email')).toBe(1);
        expect(after.skipped).toBe(before.skipped + 1);
      } else {
        expect(await inbox(id, 'skipped_no_email')).toBeGreaterThan(0);
        expect(after.skipped).toBeGreaterThan(before.skipped);
      }
    });

    it(`applies a ${crm.name} edit to the lead, and pushes a platform edit to ${crm.name} once, without ping-pong`, async () => {
      const id = sb.createAsUser({ email: 'linus@example.com', firstName: 'Linus', lastName: 'Torvalds', company: 'Helsinki' });
      await settle();

      sb.updateAsUser(id, { firstName: 'Linus B.', company: 'Kernel' });
      await settle();
      let lead = await theLead(stack, 'linus@example.com');
      expect(lead.firstName).toBe('Linus B.');
      expect(lead.company).toBe('Kernel');
      expect(lead.crmMetadata.lastSyncDirection).toBe('FROM_CRM');
      const versionAfterCrmEdit = lead.crmMetadata.syncVersion;

      const writesBefore = sb.writes();
      const notesBefore = sb.notifications().length;
      await stack.gqlOk(`mutation($i: UpdateLeadInput!) { updateLead(input: $i) { id } }`, { i: { id: lead.id, phone: '+46 70 000 00 00' } });
      await settle();
      expect(sb.record(id)!.phone).toBe('+46 70 000 00 00');
      if (crm.lastWriteWasOurs) expect(crm.lastWriteWasOurs(sb, id)).toBe(true);
      // Exactly one write went to the CRM; the notification it caused came back and was dropped.
      expect(sb.writes() - writesBefore).toBe(1);
      const echoes = sb
        .notifications()
        .slice(notesBefore)
        .filter((n) => n.ids.includes(id) && (n.kinds === null || n.kinds.includes('updated')) && (n.fields === null || n.fields.includes('phone')));
      expect(echoes.length).toBeGreaterThan(0);
      expect(echoes.every((n) => n.accepted)).toBe(true);
      lead = await theLead(stack, 'linus@example.com');
      expect(lead.phone).toBe('+46 70 000 00 00');
      expect(lead.crmMetadata.syncVersion).toBe(versionAfterCrmEdit + 1);
      expect(lead.crmMetadata.lastSyncDirection).toBe('TO_CRM');
      expect(await inbox(id, 'skipped_echo')).toBeGreaterThan(0);

      // A person then clears the phone in the CRM: a real change, applied.
      sb.updateAsUser(id, { phone: null });
      await settle();
      lead = await theLead(stack, 'linus@example.com');
      expect(lead.phone).toBeNull();
      expect(lead.crmMetadata.syncVersion).toBe(versionAfterCrmEdit + 2);
    });

    it('pushes an edit of a lead created on the platform with an email alone once, and drops its echo', async () => {
      const created = await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: { email: 'bare@example.com' } });
      await settle();
      const [rec] = sb.recordsWithEmail('bare@example.com');
      const id = rec.id;
      // The CRM filled in what it requires; none of it came back as a change of the lead.
      expect(rec).toMatchObject(crm.filledOnCreate);
      let lead = await theLead(stack, 'bare@example.com');
      expect(lead).toMatchObject({ lastName: null, company: null, status: null });
      const version = lead.crmMetadata.syncVersion;

      const writesBefore = sb.writes();
      const notesBefore = sb.notifications().length;
      await stack.gqlOk(`mutation($i: UpdateLeadInput!) { updateLead(input: $i) { id } }`, { i: { id: created.createLead.id, company: 'Bare Metal' } });
      await settle();
      expect(sb.record(id)!.company).toBe('Bare Metal');
      expect(sb.writes() - writesBefore).toBe(1);
      expect(sb.notifications().slice(notesBefore).filter((n) => n.ids.includes(id)).length).toBeGreaterThan(0);
      lead = await theLead(stack, 'bare@example.com');
      expect(lead).toMatchObject({ company: 'Bare Metal', lastName: null, status: null });
      expect(lead.crmMetadata.syncVersion).toBe(version + 1);
      expect(lead.crmMetadata.lastSyncDirection).toBe('TO_CRM');
      if (!crm.earlyEditReadsAsCreation) expect(await inbox(id, 'skipped_echo')).toBeGreaterThan(0);
      // Every notification of this record was recognised as ours (an update made in the
      // second of the creation still reads as a creation where the CRM stamps whole seconds).
      const outcomes = (await stack.db.prisma.inboxEvent.findMany({ where: { integrationId: sb.integrationId, externalId: id } })).map((r) => r.outcome);
      expect(outcomes.length).toBe(sb.notifications().filter((n) => n.ids.includes(id)).length);
      // Where a CRM sends one notification per property (HubSpot), several can announce the
      // same state of ours: the first is recognised as our echo, the rest as repeats
      // ('unchanged'). None may be applied.
      const ours = ['skipped_echo', 'skipped_own_origin', ...(crm.oneNotificationPerCreate ? [] : ['unchanged'])];
      expect(outcomes.filter((o) => !ours.includes(o ?? ''))).toEqual([]);
    });

    it(`keeps the lead when its record is deleted in ${crm.name}, and does not push it back`, async () => {
      const id = sb.createAsUser({ email: 'gone@example.com', firstName: 'Gone', lastName: 'Away', company: 'Acme' });
      await settle();
      const lead = await theLead(stack, 'gone@example.com');
      const update = (i: Record<string, unknown>) => stack.gqlOk(`mutation($i: UpdateLeadInput!) { updateLead(input: $i) { id } }`, { i: { id: lead.id, ...i } });
      sb.deleteAsUser(id);
      let writesBefore = sb.writes();
      if (crm.notifiesDeletion) {
        await settle();
        const row = await stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email: 'gone@example.com' } });
        expect(row.crmDeletedAt).not.toBeNull();
        expect(await inbox(id, 'deleted')).toBe(1);
      }
      // Without a notification (Salesforce sends none for a deletion) the next push finds out.
      await update({ company: 'Still here' });
      await settle();
      if (crm.notifiesDeletion) expect(sb.writes()).toBe(writesBefore);
      expect(sb.recordsWithEmail('gone@example.com')).toHaveLength(0);
      const row = await stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email: 'gone@example.com' } });
      expect(row.company).toBe('Still here');
      expect(row.crmDeletedAt).not.toBeNull();
      const items = await stack.db.prisma.outboxItem.findMany({ where: { leadId: row.id } });
      expect(items.every((i) => i.status === 'done')).toBe(true);
      // Later edits are not pushed to the deleted record, nor do they create a new one.
      writesBefore = sb.writes();
      await update({ phone: '+1 555 0177' });
      await settle();
      expect(sb.writes()).toBe(writesBefore);
      expect(sb.recordsWithEmail('gone@example.com')).toHaveLength(0);
      expect((await theLead(stack, 'gone@example.com')).company).toBe('Still here');
    });

    crm.extraFlows?.(() => ({ stack, sb }));
  });

  crm.extraSuites?.();
}
