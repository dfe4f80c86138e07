// "A crash loses nothing that was acknowledged": the service process is killed with
// SIGKILL right after it answered HubSpot's webhooks and before it could process
// them; a new process on the same data directory processes every one of them, at once:
// the work the dead process had claimed does not wait for its (long) lease to expire.
import { afterAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { eventually } from '../helpers/net.ts';
import { connectHubSpotSandbox, gqlClient, hubspotProcessRig, type HubSpotProcessRig, type ServiceProcess } from '../helpers/service-process.ts';

const SECRET = 'crash-test-client-secret';
const KEY = 'cs_crash_recovery_bootstrap_key';

describe('crash after acknowledgement', () => {
  let hs: HubSpotSandbox;
  let service: ServiceProcess | undefined;
  let rig: HubSpotProcessRig | undefined;
  let release: () => void = () => {};
  const hung = new Promise<void>((resolve) => (release = resolve));

  afterAll(async () => {
    release();
    service?.child.kill('SIGKILL');
    await rig?.close();
  });

  it('processes every acknowledged event after a SIGKILL and restart, once, without waiting for the lease', async () => {
    // A lease far longer than the test: only releasing the dead process's claims at
    // start lets the new process take them.
    rig = await hubspotProcessRig({ secret: SECRET, key: KEY, leaseMs: 3_600_000, webhookRetryDelaysMs: [200] });
    hs = rig.hs;
    service = await rig.start();
    const gql = gqlClient(() => service!.url, KEY);
    await connectHubSpotSandbox(gql, hs);

    // Reading the contacts hangs, so the worker cannot finish before the kill: the events
    // it claimed are still claimed (for an hour) when it dies.
    let readStarted = false;
    hs.controls.beforeRequest({ method: 'POST', path: '/crm/v3/objects/contacts/batch/read' }, () => {
      readStarted = true;
      return hung;
    });
    const emails = Array.from({ length: 5 }, (_, i) => `crash${i}@example.com`);
    for (const email of emails) hs.createContactAsUser({ email, firstname: 'Crash' });
    await hs.flushWebhooks();
    await eventually(() => readStarted, 60_000, 'the worker to claim events and start reading');
    const creations = hs.deliveries.filter((d) => d.events.some((e) => e.subscriptionType === 'contact.creation'));
    expect(creations.length).toBeGreaterThan(0);
    expect(creations.every((d) => d.status === 200)).toBe(true);
    // Nothing was processed yet: no contact read has been answered.
    expect(hs.controls.requests.filter((c) => c.path === '/crm/v3/objects/contacts/batch/read')).toEqual([]);

    service.child.kill('SIGKILL');
    await service.exited;
    release();
    const deliveriesAtKill = hs.deliveries.length;

    service = await rig.start();
    const leads = await eventually(async () => {
      const d = await gql(`{ leads(first: 50) { totalCount edges { node { email crmMetadata { sourceSystem } } } } }`);
      return d.leads.totalCount >= emails.length ? d.leads : undefined;
    }, 120_000, 'leads after restart');
    expect(leads.totalCount).toBe(emails.length);
    expect(leads.edges.map((e: any) => e.node.email).sort()).toEqual(emails);
    // HubSpot was not asked to resend anything: the events came from our own inbox.
    expect(hs.deliveries.length).toBe(deliveriesAtKill);
    // Nothing is left waiting or failed.
    const status = await gql(`{ integrations { id } }`);
    const ws = await gql(`query($id: ID!) { webhookStatus(integrationId: $id) { pending failed breaker { state } } }`, { id: status.integrations[0].id });
    expect(ws.webhookStatus).toMatchObject({ pending: 0, failed: 0, breaker: { state: 'CLOSED' } });
    expect(service.output()).toContain('released work claimed before a restart');
  }, 400_000); // two cold process starts
});
