// An import is resumable: when the instance running it stops in the middle (pages read
// ahead of the one being applied included), another instance takes it over from the last
// page applied and finishes it, and every person ends up as exactly one lead.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSyncEngine, type SyncEngine } from '../../src/engine/index.ts';
import { createAppPubSub } from '../../src/pubsub.ts';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { memoryLogger } from '../helpers/engine.ts';
import { eventually } from '../helpers/net.ts';
import { startHubSpotFor, startStack, type Stack } from '../helpers/stack.ts';

const PEOPLE = 750; // 8 pages of at most 100

describe('import: an interrupted import resumes on another instance', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;
  let second: SyncEngine | null = null;
  beforeAll(async () => {
    stack = await startStack();
    hs = await startHubSpotFor(stack, { rateLimit: null });
  });
  afterAll(async () => {
    await second?.stop();
    await stack.stop();
    await hs.close();
  });

  it('finishes from the last page applied, with one lead per person and every page applied once', async () => {
    for (let i = 0; i < PEOPLE; i++) hs.createContactAsUser({ email: `resume${i}@example.com`, firstname: `R${i}` });
    const integration = await stack.engine.createIntegration(stack.orgId, {
      provider: 'HUBSPOT', name: 'resume', accountId: String(hs.portalId), apiBaseUrl: hs.url, accessToken: hs.accessToken, autoSync: false,
    });
    // A small budget (2 requests a second) so the import is still running when the instance stops.
    await stack.db.prisma.integration.update({ where: { id: integration.id }, data: { settings: { rateLimit: { requests: 2, perMs: 1000 } } } });
    const job = await stack.engine.importFromCrm(stack.orgId, integration.id);
    await eventually(async () => ((await stack.engine.importJob(stack.orgId, job.id)).pages >= 2 ? true : undefined), 30_000, 'two pages applied');
    await stack.engine.stop();
    const stopped = await stack.engine.importJob(stack.orgId, job.id);
    expect(stopped.status).toBe('running');
    expect(stopped.pages).toBeLessThan(8);
    const appliedBefore = await stack.db.prisma.lead.count({ where: { organizationId: stack.orgId } });
    expect(appliedBefore).toBe(stopped.pages * 100);

    // Another instance on the same database takes the job over (its lease was given up).
    second = createSyncEngine({ config: stack.config, prisma: stack.db.prisma, logger: memoryLogger().logger, pubsub: createAppPubSub(), idleMs: 200, keyring: stack.keyring });
    second.start();
    const done = await eventually(async () => {
      const j = await stack.engine.importJob(stack.orgId, job.id);
      return j.status === 'running' ? undefined : j;
    }, 60_000, 'the import to finish on the second instance');
    expect(done).toMatchObject({ status: 'completed', pages: 8, created: PEOPLE, failed: 0 });
    const leads = await stack.db.prisma.lead.findMany({ where: { organizationId: stack.orgId }, select: { email: true } });
    expect(leads).toHaveLength(PEOPLE);
    expect(new Set(leads.map((l) => l.email)).size).toBe(PEOPLE);
    expect(await stack.db.prisma.crmLink.count({ where: { integrationId: integration.id } })).toBe(PEOPLE);
    // The history names each person's creation once.
    expect(await stack.db.prisma.syncEvent.count({ where: { integrationId: integration.id, via: 'import', kind: 'created' } })).toBe(PEOPLE);
  });
});
