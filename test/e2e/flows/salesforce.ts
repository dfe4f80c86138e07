// The Salesforce row of the flow suite: the real jsforce against the Salesforce sandbox
// org, whose Outbound Messages (SOAP) come back to the service.
import { expect, it } from 'vitest';
import { isAck, type SalesforceSandbox } from '../../../sandboxes/salesforce/index.ts';
import { connectSalesforce, salesforceMoves, settle, startSalesforceFor, type Connected, type Stack } from '../../helpers/stack.ts';
import { salesforceSuites, sfLeadsWithEmail, sfWrites } from './salesforce-suites.ts';
import { leadsByEmail, theLead, type FlowCrm, type FlowSandbox, type Person, type SeenRecord } from './table.ts';

const FIELDS: Record<Exclude<keyof Person, 'origin'>, string> = {
  email: 'Email',
  firstName: 'FirstName',
  lastName: 'LastName',
  company: 'Company',
  phone: 'Phone',
  status: 'Status',
};
const ORIGIN = 'Lead_Source_System__c';

function toFields(p: Person): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) if (v !== undefined) out[k === 'origin' ? ORIGIN : FIELDS[k as keyof typeof FIELDS]] = v;
  return out;
}

function seen(values: Record<string, unknown>): SeenRecord {
  const v = (k: string) => (values[k] === undefined || values[k] === null ? null : String(values[k]));
  return { id: String(values.Id), email: v('Email'), firstName: v('FirstName'), lastName: v('LastName'), company: v('Company'), phone: v('Phone'), status: v('Status'), origin: v(ORIGIN) };
}

/** The integration's endpoint URL (it ends with the integration's secret), on the stack's own address. */
const webhookUrl = (stack: Stack, conn: Connected) => `${stack.url}${new URL(conn.enabled.webhookUrl).pathname}`;

function postOutbound(stack: Stack, conn: Connected, body: string) {
  return fetch(webhookUrl(stack, conn), { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' }, body });
}

export interface SalesforceFlowSandbox extends FlowSandbox {
  sf: SalesforceSandbox;
  conn: Connected;
}

export const salesforceRow: FlowCrm<SalesforceFlowSandbox> = {
  name: 'Salesforce',
  provider: 'SALESFORCE',
  sourceSystem: 'salesforce',
  noun: 'lead',
  stackEnv: { RETRY_BASE_MS: '50' },
  async start(stack) {
    const sf = await startSalesforceFor(stack);
    const conn = await connectSalesforce(stack, sf);
    return {
      sf,
      conn,
      integrationId: conn.integrationId,
      enabled: conn.enabled,
      moves: salesforceMoves(sf),
      close: () => sf.close(),
      createAsUser: (p) => sf.controls.createLeadAsUser(toFields(p)),
      updateAsUser: (id, p) => sf.controls.updateLeadAsUser(id, toFields(p)),
      deleteAsUser: (id) => sf.controls.deleteLead(id),
      recordsWithEmail: (email) => sfLeadsWithEmail(sf, email).map((l) => seen(l.values)),
      record(id) {
        const l = sf.controls.getLead(id);
        return l && !l.deleted ? seen(l.values) : null;
      },
      writes: () => sfWrites(sf).length,
      // An Outbound Message names the Lead, not whether it was created or updated.
      notifications: () => sf.controls.outbound.deliveries.map((d) => ({ ids: d.leadIds, kinds: null, fields: null, accepted: d.status === 200 && d.acked })),
    };
  },
  provisioned: {
    title: 'enableWebhooks finds the origin and external id fields and tells the administrator which endpoint to call',
    check(stack, { conn }) {
      expect(conn.enabled.status.enabled).toBe(true);
      expect(conn.enabled.provision.originFieldReady).toBe(true);
      // The endpoint URL ends with the integration's secret: 256 random bits, base64url.
      expect(conn.enabled.webhookUrl).toMatch(new RegExp(`^${stack.config.PUBLIC_BASE_URL}/api/v1/webhooks/salesforce/[A-Za-z0-9_-]{43}$`));
      const outboundStep = conn.enabled.provision.manualSteps.find((s) => s.includes('Outbound Message'));
      expect(outboundStep).toBeDefined();
      expect(outboundStep).toContain(`Endpoint URL ${conn.enabled.webhookUrl}`);
      expect(outboundStep).toContain(ORIGIN);
    },
  },
  // Salesforce refuses an email with spaces around it (INVALID_EMAIL_ADDRESS).
  typedEmail: 'Grace@Navy.MIL',
  // A Lead created without a Status gets the org's default one.
  personStatus: { given: undefined, expected: 'Open - Not Contacted' },
  oneNotificationPerCreate: true,
  earlyEditReadsAsCreation: true,
  // Salesforce sends no outbound message for a deletion.
  notifiesDeletion: false,
  filledOnCreate: { status: 'Open - Not Contacted' },
  lastWriteWasOurs: (sb, id) => sb.sf.controls.getLead(id)!.lastModifiedByClient === 'crm-sync',
  pushedExtras(_stack, { sf }, rec, platformLeadId) {
    const lead = sf.controls.getLead(rec.id)!;
    expect(lead.values.Platform_Lead_Id__c).toBe(platformLeadId);
    expect(lead.createdByClient).toBe('crm-sync');
  },
  extraFlows(ctx) {
    it('applies a change Salesforce made to a Lead we created within the second of its creation', async () => {
      const { stack, sb } = ctx();
      const { sf } = sb;
      // One clock second for our create and the change after it: the outbound messages say
      // CreatedDate = LastModifiedDate, as for a Flow that edits a Lead when it is created.
      sf.controls.setClock(new Date());
      sf.controls.outbound.configure({ auto: false });
      try {
        await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: { email: 'flowed@example.com', lastName: 'Flowed' } });
        await stack.engine.drain();
        const [rec] = sfLeadsWithEmail(sf, 'flowed@example.com');
        const id = String(rec.values.Id);
        sf.controls.updateLeadAsUser(id, { Company: 'Assigned Co', Phone: '+1 555 0142' });
        await settle(stack, sb.moves);
        const sent = sf.controls.outbound.deliveries.filter((d) => d.leadIds.includes(id));
        expect(sent.length).toBeGreaterThan(0);
        const lead = await theLead(stack, 'flowed@example.com');
        expect(lead).toMatchObject({ company: 'Assigned Co', phone: '+1 555 0142', lastName: 'Flowed' });
        expect(lead.crmMetadata.lastSyncDirection).toBe('FROM_CRM');
      } finally {
        sf.controls.setClock(null);
        sf.controls.outbound.configure({ auto: true });
      }
    });

    it('makes one lead of one notification delivered many times, concurrently and again later', async () => {
      const { stack, sb } = ctx();
      const { sf, conn } = sb;
      // The Lead is created while the outbound message is off, so the only deliveries are these.
      const target = sf.controls.outbound.config.targetUrl;
      sf.controls.outbound.configure({ targetUrl: null });
      const id = sf.controls.createLeadAsUser({ Email: 'once@example.com', LastName: 'Once', Company: 'Acme' });
      sf.controls.outbound.configure({ targetUrl: target });
      const { body, notificationIds } = sf.controls.outbound.envelopeFor([id]);

      const concurrent = await Promise.all(Array.from({ length: 8 }, () => postOutbound(stack, conn, body)));
      for (const res of concurrent) {
        expect(res.status).toBe(200);
        expect(isAck(res.status, await res.text())).toBe(true);
      }
      await stack.engine.drain();
      for (let i = 0; i < 3; i++) {
        const res = await postOutbound(stack, conn, body);
        expect(isAck(res.status, await res.text())).toBe(true);
      }
      await settle(stack, sb.moves);
      expect((await leadsByEmail(stack, 'once@example.com')).totalCount).toBe(1);
      const rows = await stack.db.prisma.inboxEvent.findMany({ where: { integrationId: sb.integrationId, externalId: id } });
      expect(rows.map((r) => r.dedupeKey)).toEqual(notificationIds);
      expect(rows[0].outcome).toBe('created');
    });

    it('makes one lead each of outbound messages Salesforce sends twice', async () => {
      const { stack, sb } = ctx();
      const { sf } = sb;
      sf.controls.outbound.duplicateNext(3);
      const ids = [0, 1, 2].map((i) => sf.controls.createLeadAsUser({ Email: `twice${i}@example.com`, LastName: `T${i}`, Company: 'Acme' }));
      await settle(stack, sb.moves);
      const copies = sf.controls.outbound.deliveries.filter((d) => d.duplicate && d.leadIds.some((x) => ids.includes(x)));
      expect(copies.length).toBeGreaterThan(0);
      expect(copies.every((d) => d.acked)).toBe(true);
      for (let i = 0; i < 3; i++) expect((await leadsByEmail(stack, `twice${i}@example.com`)).totalCount).toBe(1);
    });

    it('rejects an outbound message from another organization with a SOAP fault (HTTP 500, as SOAP 1.1 requires), acknowledging nothing and storing nothing', async () => {
      const { stack, sb } = ctx();
      const { sf, conn, integrationId } = sb;
      const id = sf.controls.createLeadAsUser({ Email: 'intruder@example.com', LastName: 'Intruder', Company: 'Evil' });
      await settle(stack, sb.moves);
      const before = await stack.db.prisma.inboxEvent.count();
      const received = (await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationId } })).totalReceived;
      const { body } = sf.controls.outbound.envelopeFor([id], { organizationId: '00D5g000009Forg' });
      const res = await postOutbound(stack, conn, body);
      const text = await res.text();
      expect(res.status).toBe(500);
      expect(isAck(res.status, text)).toBe(false);
      // Refused in Salesforce's own protocol: a SOAP fault naming the stable code.
      expect(res.headers.get('content-type')).toMatch(/text\/xml/);
      expect(text).toMatch(/<soapenv:Fault><faultcode>soapenv:Client<\/faultcode><faultstring>UNAUTHENTICATED: /);
      expect(await stack.db.prisma.inboxEvent.count()).toBe(before);
      expect((await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationId } })).totalReceived).toBe(received);
    });

    it('answers malformed XML and a SOAP body that is not an outbound message with a SOAP fault (HTTP 500), storing nothing', async () => {
      const { stack, sb } = ctx();
      const { conn } = sb;
      const before = await stack.db.prisma.inboxEvent.count();
      const broken = await postOutbound(stack, conn, '<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notifications');
      expect(broken.status).toBe(500);
      const brokenText = await broken.text();
      expect(isAck(broken.status, brokenText)).toBe(false);
      expect(brokenText).toMatch(/<soapenv:Fault><faultcode>soapenv:Client<\/faultcode><faultstring>BAD_REQUEST: /);
      const notOutbound = await postOutbound(
        stack,
        conn,
        '<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><hello/></soapenv:Body></soapenv:Envelope>',
      );
      expect(notOutbound.status).toBe(500);
      const dtd = await postOutbound(stack, conn, '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>');
      expect(dtd.status).toBe(500);
      expect(await stack.db.prisma.inboxEvent.count()).toBe(before);
    });

    it('heals changes made while no outbound message was configured with the reconciling poll', async () => {
      const { stack, sb } = ctx();
      const { sf } = sb;
      const target = sf.controls.outbound.config.targetUrl;
      sf.controls.outbound.configure({ targetUrl: null });
      const deliveries = sf.controls.outbound.deliveries.length;
      const grace = (await theLead(stack, 'grace@navy.mil')).crmLinks[0].externalId as string;
      const polled = sf.controls.createLeadAsUser({ Email: 'polled@example.com', FirstName: 'Polly', LastName: 'Poll', Company: 'Quiet Ltd' });
      sf.controls.updateLeadAsUser(grace, { Company: 'Yale' });
      await settle(stack, sb.moves);
      expect(sf.controls.outbound.deliveries.length).toBe(deliveries);
      expect((await leadsByEmail(stack, 'polled@example.com')).totalCount).toBe(0);
      expect((await theLead(stack, 'grace@navy.mil')).company).toBe('US Navy');

      expect(await stack.engine.pollNow()).toBeGreaterThan(0);
      await settle(stack, sb.moves);
      const lead = await theLead(stack, 'polled@example.com');
      expect(lead).toMatchObject({ firstName: 'Polly', company: 'Quiet Ltd' });
      expect(lead.crmMetadata).toMatchObject({ sourceSystem: 'salesforce', lastSyncDirection: 'FROM_CRM', crmProvider: 'SALESFORCE' });
      expect(lead.crmLinks).toEqual([{ externalId: polled, provider: 'SALESFORCE' }]);
      expect((await theLead(stack, 'grace@navy.mil')).company).toBe('Yale');
      // Polling again finds nothing new to change.
      const leads = await stack.db.prisma.lead.findMany({ where: { organizationId: stack.orgId }, orderBy: { id: 'asc' } });
      await stack.engine.pollNow();
      await settle(stack, sb.moves);
      const again = await stack.db.prisma.lead.findMany({ where: { organizationId: stack.orgId }, orderBy: { id: 'asc' } });
      expect(again.map((l) => [l.id, l.syncVersion])).toEqual(leads.map((l) => [l.id, l.syncVersion]));
      sf.controls.outbound.configure({ targetUrl: target });
    });
  },
  extraSuites: salesforceSuites,
};
