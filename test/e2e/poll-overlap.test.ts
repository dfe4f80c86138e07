// The reconciling poll re-reads a window behind its cursor (POLL_OVERLAP_MS): a record
// stamped before the cursor that becomes visible only after the poll read that time is
// still found, and what the poll already knows costs no write. Notifications are off in
// every test here, so only the poll can bring the records in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import type { SalesforceSandbox } from '../../sandboxes/salesforce/index.ts';
import type { ZohoSandbox } from '../../sandboxes/zoho/index.ts';
import { connectHubSpot, connectSalesforce, connectZoho, startHubSpotFor, startSalesforceFor, startStack, startZohoFor, type Stack } from '../helpers/stack.ts';

async function emails(stack: Stack): Promise<string[]> {
  const leads = await stack.db.prisma.lead.findMany({ where: { organizationId: stack.orgId }, orderBy: { email: 'asc' } });
  return leads.map((l) => l.email);
}

/** Every link and lead row as stored: a poll that knows everything changes none of them. */
async function rows(stack: Stack) {
  const links = await stack.db.prisma.crmLink.findMany({ orderBy: { id: 'asc' } });
  const leads = await stack.db.prisma.lead.findMany({ orderBy: { id: 'asc' } });
  return { links: links.map((l) => [l.id, l.updatedAt.getTime()]), leads: leads.map((l) => [l.id, l.updatedAt.getTime(), l.syncVersion]) };
}

/** Polls twice around `commit` (the late record becoming visible), then once more with nothing new. */
async function lateRecordScenario(stack: Stack, commit: () => void) {
  await stack.engine.pollNow();
  expect(await emails(stack)).toEqual(['early@example.com']);
  const historyBefore = await stack.db.prisma.syncEvent.count();

  commit();
  await stack.engine.pollNow();
  expect(await emails(stack)).toEqual(['early@example.com', 'late@example.com']);
  // Only the late record made history; the one re-read in the window did not.
  expect(await stack.db.prisma.syncEvent.count()).toBe(historyBefore + 1);

  const before = await rows(stack);
  await stack.engine.pollNow();
  expect(await rows(stack)).toEqual(before);
}

const SECOND = 1000;
const wholeSecondAgo = (ms: number) => new Date(Math.floor((Date.now() - ms) / SECOND) * SECOND);

describe('Salesforce: a Lead committed after the poll read its second', () => {
  let stack: Stack;
  let sf: SalesforceSandbox;

  beforeAll(async () => {
    stack = await startStack({ RETRY_BASE_MS: '50' });
    sf = await startSalesforceFor(stack);
    await connectSalesforce(stack, sf);
    sf.controls.outbound.configure({ targetUrl: null });
  });
  afterAll(async () => {
    await sf?.close();
    await stack?.stop();
  });

  // SystemModstamp has whole-second resolution ("The API truncates the seconds portion of
  // dateTime values", Polling for Changes) and a record becomes visible to queries only when
  // its transaction commits: a lower Id stamped in the cursor's second can appear later.
  it('finds the lower Id stamped in the same second once it commits, and writes nothing for what it knew', async () => {
    sf.controls.setClock(wholeSecondAgo(10 * SECOND));
    const commit = sf.controls.commitLater(() => {
      sf.controls.createLeadAsUser({ Email: 'late@example.com', LastName: 'Late', Company: 'Late Co' });
    });
    sf.controls.createLeadAsUser({ Email: 'early@example.com', LastName: 'Early', Company: 'Early Co' });
    sf.controls.setClock(null);
    await lateRecordScenario(stack, commit);
  });
});

describe('Zoho: a record committed after the poll read its second', () => {
  let stack: Stack;
  let zs: ZohoSandbox;

  beforeAll(async () => {
    stack = await startStack({ RETRY_BASE_MS: '50' });
    zs = await startZohoFor(stack);
    await connectZoho(stack, zs);
    zs.controls.holdNotifications();
  });
  afterAll(async () => {
    await zs?.close();
    await stack?.stop();
  });

  // Zoho's Modified_Time has whole-second resolution (ISO 8601 with offset, no fraction) and
  // records are read with If-Modified-Since: a lower id stamped in the cursor's second that
  // commits after the poll read it is behind the cursor.
  it('finds the lower id stamped in the same second once it commits, and writes nothing for what it knew', async () => {
    zs.controls.setClock(wholeSecondAgo(10 * SECOND));
    const commit = zs.controls.commitLater(() => {
      zs.controls.createLeadAsUser({ Email: 'late@example.com', Last_Name: 'Late' });
    });
    zs.controls.createLeadAsUser({ Email: 'early@example.com', Last_Name: 'Early' });
    zs.controls.setClock(null);
    await lateRecordScenario(stack, commit);
  });
});

describe('HubSpot: a contact the search index shows only after the poll', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;

  beforeAll(async () => {
    stack = await startStack();
    hs = await startHubSpotFor(stack);
    await connectHubSpot(stack, hs);
    hs.setWebhookTarget(null);
  });
  afterAll(async () => {
    await hs?.close();
    await stack?.stop();
  });

  // HubSpot's search index lags writes by a few seconds: a contact modified before the
  // cursor's time can enter search results after the poll read that time.
  it('finds the contact once it is indexed, and writes nothing for what it knew', async () => {
    hs.controls.setClock(new Date(Date.now() - 10 * SECOND));
    hs.lagSearchIndex(() => {
      hs.createContactAsUser({ email: 'late@example.com', firstname: 'Late' });
    });
    hs.controls.setClock(new Date(Date.now() - 5 * SECOND));
    hs.createContactAsUser({ email: 'early@example.com', firstname: 'Early' });
    hs.controls.setClock(null);
    await lateRecordScenario(stack, () => hs.indexSearch());
  });
});
