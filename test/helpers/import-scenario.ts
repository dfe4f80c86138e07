// The import scenario every CRM must pass, written once: people only in the CRM are
// created, people without an email skipped, records carrying our tag linked to their
// existing leads (never duplicated), a person on both sides linked with blank fields
// filled and filled ones kept — and a second import creates, links and writes nothing.
import { expect } from 'vitest';
import type { CrmProvider } from '../../adapters/contract.ts';
import { eventually } from './net.ts';
import type { Stack } from './stack.ts';

/** What the scenario needs to do in one CRM, as a person working in it would. */
export interface ImportCrm {
  provider: CrmProvider;
  /** Creates a record; `email` null leaves it without one. Returns its id. */
  createPerson(p: { email: string | null; firstName?: string; company?: string; originTag?: string }): string;
  /** How many writes the CRM has received so far (imports must make none). */
  writes(): number;
}

const JOB = 'status pages created linked updated skipped failed';

/** Starts an import through GraphQL and waits for it to finish; returns the job. */
export async function importAndWait(stack: Stack, integrationId: string): Promise<Record<string, unknown>> {
  const started = await stack.gqlOk(`mutation($id: ID!) { importFromCrm(integrationId: $id) { id } }`, { id: integrationId });
  return eventually(async () => {
    const r = await stack.gqlOk(`query($id: ID!) { importJob(id: $id) { ${JOB} } }`, { id: started.importFromCrm.id });
    return r.importJob.status === 'running' ? undefined : r.importJob;
  }, 30_000, 'import to finish');
}

export async function importTwiceScenario(stack: Stack, integrationId: string, crm: ImportCrm) {
  const byEmail = (email: string) =>
    stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email }, include: { links: true } });
  for (let i = 0; i < 130; i++) crm.createPerson({ email: `imp${i}@example.com`, firstName: `I${i}` });
  for (let i = 0; i < 4; i++) crm.createPerson({ email: null, firstName: `No email ${i}` });
  // Records we created earlier (our tag) whose platform leads exist: linked, not duplicated.
  const ours: string[] = [];
  for (let i = 0; i < 3; i++) {
    await stack.engine.createLead(stack.orgId, { email: `ours${i}@example.com` });
    ours.push(crm.createPerson({ email: `ours${i}@example.com`, originTag: 'jazzaam' }));
  }
  // A person on both sides already.
  await stack.engine.createLead(stack.orgId, { email: 'both@example.com', firstName: 'Kept' });
  crm.createPerson({ email: 'BOTH@example.com', firstName: 'Other', company: 'Filled in' });
  const writesBefore = crm.writes();

  expect(await importAndWait(stack, integrationId)).toMatchObject({ status: 'completed', pages: 2, created: 130, linked: 4, skipped: 4, failed: 0 });
  const both = await byEmail('both@example.com');
  expect(both.firstName).toBe('Kept');
  expect(both.company).toBe('Filled in');
  for (let i = 0; i < 3; i++) expect((await byEmail(`ours${i}@example.com`)).links.map((l) => l.externalId)).toEqual([ours[i]]);
  const imported = await byEmail('imp7@example.com');
  expect(imported).toMatchObject({ sourceSystem: crm.provider.toLowerCase(), lastSyncDirection: 'from_crm', crmProvider: crm.provider });
  const leads = await stack.db.prisma.lead.count({ where: { organizationId: stack.orgId } });
  expect(leads).toBe(130 + 3 + 1);

  expect(await importAndWait(stack, integrationId)).toMatchObject({ status: 'completed', created: 0, linked: 0, updated: 0, failed: 0 });
  expect(await stack.db.prisma.lead.count({ where: { organizationId: stack.orgId } })).toBe(leads);
  expect((await byEmail('both@example.com')).firstName).toBe('Kept');
  // Importing reads: neither run wrote anything to the CRM.
  expect(crm.writes()).toBe(writesBefore);
}
