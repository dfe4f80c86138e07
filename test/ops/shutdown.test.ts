// Graceful shutdown as an operating-system process: SIGTERM while the worker is stuck on
// a CRM call and webhooks are still arriving. The process exits 0 within its hard limit,
// gives back the events it had claimed (their lease is far longer than the test waits),
// and a new process on the same data directory applies every acknowledged event, once.
import { afterAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { eventually } from '../helpers/net.ts';
import { connectHubSpotSandbox, gqlClient, hubspotProcessRig, type HubSpotProcessRig, type ServiceProcess } from '../helpers/service-process.ts';

const SECRET = 'shutdown-test-client-secret';
const KEY = 'cs_shutdown_test_bootstrap_key';
/** The process promises to be gone within 10 s of SIGTERM; a little slack for the OS. */
const EXIT_BOUND_MS = 12_000;

describe('graceful shutdown', () => {
  let hs: HubSpotSandbox;
  let service: ServiceProcess | undefined;
  let rig: HubSpotProcessRig | undefined;

  afterAll(async () => {
    service?.child.kill('SIGKILL');
    await rig?.close();
  });

  it('exits 0 within the bound on SIGTERM, releases its claims, and loses no acknowledged event', async () => {
    // A lease far longer than the test waits: only a released claim can be taken up in time.
    rig = await hubspotProcessRig({ secret: SECRET, key: KEY, leaseMs: 600_000, webhookRetryDelaysMs: [300, 600, 1_200, 2_400, 4_800, 9_600, 19_200] });
    hs = rig.hs;
    service = await rig.start();
    const gql = gqlClient(() => service!.url, KEY);
    await connectHubSpotSandbox(gql, hs);

    // Reading contacts hangs: the worker is in the middle of a pass, holding its claims.
    hs.controls.injectFault({ kind: 'latency', ms: 60_000 }, 100, { path: '/crm/v3/objects/contacts/batch/read' });
    let reading = false;
    hs.controls.beforeRequest({ path: '/crm/v3/objects/contacts/batch/read' }, () => {
      reading = true;
    });
    const first = Array.from({ length: 5 }, (_, i) => `term${i}@example.com`);
    for (const email of first) hs.createContactAsUser({ email, firstname: 'Term' });
    await hs.flushWebhooks();
    await eventually(() => reading || undefined, 15_000, 'the worker to be stuck reading');

    // More contacts whose webhooks are on their way while the signal lands.
    const second = Array.from({ length: 5 }, (_, i) => `late${i}@example.com`);
    for (const email of second) hs.createContactAsUser({ email, firstname: 'Late' });
    service.child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      service.exited,
      new Promise<'still running'>((resolve) => {
        timer = setTimeout(() => resolve('still running'), EXIT_BOUND_MS);
      }),
    ]);
    clearTimeout(timer);
    expect(code).toBe(0);
    const out = service.output();
    expect(out).toContain('released claimed work');
    expect(out).toContain('"msg":"stopped"');
    hs.controls.clearFaults();

    service = await rig.start();
    await hs.flushWebhooks();
    // Every creation HubSpot saw acknowledged (2xx) must become exactly one lead.
    const contactEmail = new Map(hs.listContacts().map((c) => [c.id, c.properties.email]));
    const acknowledged = new Set(
      hs.deliveries
        .filter((d) => d.status === 200)
        .flatMap((d) => d.events)
        .filter((e) => e.subscriptionType === 'contact.creation')
        .map((e) => contactEmail.get(String(e.objectId))),
    );
    for (const email of first) expect(acknowledged.has(email)).toBe(true);
    const leads = await eventually(async () => {
      const d = await gql(`{ leads(first: 50) { totalCount edges { node { email } } } }`);
      const emails = new Set<string>(d.leads.edges.map((e: any) => e.node.email));
      return [...acknowledged].every((e) => emails.has(e!)) ? d.leads : undefined;
    }, 30_000, 'every acknowledged event applied after restart');
    const emails = leads.edges.map((e: any) => e.node.email);
    expect(new Set(emails).size).toBe(emails.length);
    expect(emails.every((e: string) => first.includes(e) || second.includes(e))).toBe(true);
  }, 120_000);
});
