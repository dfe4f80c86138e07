// Ordering: a change older than what a link already holds (the CRM's modification time,
// CrmLink.remoteUpdatedAt) is never applied, whichever way it came — a webhook, an
// import page or a poll page read before a newer change was applied. Equal times are not
// older.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import type { SalesforceSandbox } from '../../sandboxes/salesforce/index.ts';
import { importAndWait } from '../helpers/import-scenario.ts';
import {
  connectHubSpot,
  connectSalesforce,
  hubspotMoves,
  salesforceMoves,
  settle as settleAll,
  startHubSpotFor,
  startSalesforceFor,
  startStack,
  type Stack,
} from '../helpers/stack.ts';

async function company(stack: Stack, email: string) {
  return (await stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email } })).company;
}

describe('Salesforce: an outbound message delivered after a newer one', () => {
  let stack: Stack;
  let sf: SalesforceSandbox;
  const settle = () => settleAll(stack, salesforceMoves(sf));

  beforeAll(async () => {
    stack = await startStack({ RETRY_BASE_MS: '50' });
    sf = await startSalesforceFor(stack);
    await connectSalesforce(stack, sf);
  });
  afterAll(async () => {
    await sf?.close();
    await stack?.stop();
  });

  // Salesforce, "Understanding Notifications": "Messages are retried independent of their
  // order in the queue. As a result, messages can be delivered out of order."
  it('never rolls the lead back with a message built before a newer change but delivered after it', async () => {
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 60_000;
    sf.controls.setClock(new Date(t0));
    const id = sf.controls.createLeadAsUser({ Email: 'stale-msg@example.com', LastName: 'Stale', Company: 'First Co' });
    await settle();
    sf.controls.setClock(new Date(t0 + 10_000));
    sf.controls.updateLeadAsUser(id, { Company: 'Second Co' });
    // The message of that change as Salesforce built it; this copy is held up on the way.
    const late = sf.controls.outbound.envelopeFor([id]);
    await settle();
    expect(await company(stack, 'stale-msg@example.com')).toBe('Second Co');

    sf.controls.setClock(new Date(t0 + 20_000));
    sf.controls.updateLeadAsUser(id, { Company: 'Third Co' });
    await settle();
    expect(await company(stack, 'stale-msg@example.com')).toBe('Third Co');
    sf.controls.setClock(null);

    // Delivered to the integration's endpoint URL (the bare path refuses every message).
    const res = await fetch(sf.controls.outbound.config.targetUrl!, {
      method: 'POST',
      headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' },
      body: late.body,
    });
    expect(res.status).toBe(200);
    await settle();
    expect(await company(stack, 'stale-msg@example.com')).toBe('Third Co');
    // The late message only names the Lead: what is read back is its current state, which
    // the lead already holds, so nothing is applied.
    const outcome = await stack.db.prisma.inboxEvent.findFirstOrThrow({ where: { dedupeKey: late.notificationIds[0] } });
    expect(outcome.status).toBe('done');
    expect(['skipped_stale', 'skipped_echo', 'unchanged']).toContain(outcome.outcome);
    expect(sf.controls.getLead(id)!.values.Company).toBe('Third Co');
  });

  it('applies a message stamped in the same second as the change the lead already holds (equal is not older)', async () => {
    const t = Math.floor(Date.now() / 1000) * 1000 - 30_000;
    sf.controls.setClock(new Date(t));
    const id = sf.controls.createLeadAsUser({ Email: 'same-second@example.com', LastName: 'Same', Company: 'One' });
    await settle();
    sf.controls.updateLeadAsUser(id, { Company: 'Two' });
    await settle();
    sf.controls.setClock(null);
    expect(await company(stack, 'same-second@example.com')).toBe('Two');
  });
});

describe('HubSpot: import and poll pages read before a newer change', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;
  let integrationId: string;
  const settle = () => settleAll(stack, hubspotMoves(hs));
  const target = () => `${stack.config.PUBLIC_BASE_URL}/api/v1/webhooks/hubspot`;

  beforeAll(async () => {
    stack = await startStack();
    hs = await startHubSpotFor(stack);
    integrationId = await connectHubSpot(stack, hs);
  });
  afterAll(async () => {
    await hs?.close();
    await stack?.stop();
  });

  /** A contact at 'A' on both sides, then 'B' in HubSpot only (its webhooks were lost). */
  async function contactAheadOfItsLead(email: string): Promise<string> {
    const id = hs.createContactAsUser({ email, company: 'A' });
    await settle();
    hs.setWebhookTarget(null);
    hs.updateContactAsUser(id, { company: 'B' });
    hs.setWebhookTarget(target());
    expect(await company(stack, email)).toBe('A');
    return id;
  }

  /** While the page holding 'B' is on its way, a person sets 'C' and its webhook is applied first. */
  function newerChangeDuringRead(id: string, match: { method: string; path: string }) {
    hs.controls.afterRequest(match, async () => {
      hs.updateContactAsUser(id, { company: 'C' });
      await hs.flushWebhooks();
      await stack.engine.drain();
    });
  }

  it('an import page never applies an older state than the one the lead holds', async () => {
    const id = await contactAheadOfItsLead('import-old@example.com');
    newerChangeDuringRead(id, { method: 'GET', path: '/crm/v3/objects/contacts' });
    const job = await importAndWait(stack, integrationId);
    expect(job.status).toBe('completed');
    await settle();
    expect(await company(stack, 'import-old@example.com')).toBe('C');
    expect(hs.getContact(id)!.properties.company).toBe('C');
  });

  it('a poll page never applies an older state than the one the lead holds', async () => {
    const id = await contactAheadOfItsLead('poll-old@example.com');
    newerChangeDuringRead(id, { method: 'POST', path: '/crm/v3/objects/contacts/search' });
    await stack.engine.pollNow();
    await settle();
    expect(await company(stack, 'poll-old@example.com')).toBe('C');
    expect(hs.getContact(id)!.properties.company).toBe('C');
  });
});
