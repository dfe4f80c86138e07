// The field-mapping acceptance scenarios, run against each CRM's sandbox (mapping-crms.ts)
// through the GraphQL API and the engine: a custom field both ways, one-way fields, each
// conflict rule with a real conflict, echo suppression, refusals, import and poll, resync.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { settle as settleAll, startStack, type Stack } from '../../helpers/stack.ts';
import type { MappingCrm } from './mapping-crms.ts';

const SET = `mutation($id: ID!, $m: [FieldMappingInput!]!) {
  setFieldMappings(integrationId: $id, mappings: $m) { changed integration { fieldMappings { platform crm direction conflict } } }
}`;
const RESYNC = `mutation($id: ID!, $f: [String!]!, $s: ResyncSource) { resyncFields(integrationId: $id, fields: $f, source: $s) { id status } }`;
const JOB = `query($id: ID!) { fieldResyncJob(id: $id) { status processed changed total error } }`;

type Mapping = { platform: string; crm: string; direction?: string; conflict?: string; valueMap?: { platform: string; crm: string }[] };
type Problem = { field: string; code: string; message: string };

export function mappingScenarios(start: (stack: Stack) => Promise<MappingCrm>) {
  let stack: Stack;
  let crm: MappingCrm;
  let defaults: Mapping[];
  const f = () => crm.fields;
  /**
   * Settles, then waits for work put off a little and settles again: a push waits while
   * its record's change is still in the inbox, and webhook reads wait for the CRM's
   * request budget (this file spends a lot of HubSpot's 100 per 10 s). Work put off after
   * a failure (a retry's backoff) is settleAll2's.
   */
  async function settle() {
    for (let i = 0; i < 20; i++) {
      await settleAll(stack, crm.moves);
      const now = new Date();
      const soon = { status: 'pending' as const, attempts: 0, nextAttemptAt: { gt: now, lte: new Date(now.getTime() + 12_000) } };
      const [inbox, outbox] = await Promise.all([
        stack.db.prisma.inboxEvent.findFirst({ where: soon, orderBy: { nextAttemptAt: 'asc' }, select: { nextAttemptAt: true } }),
        stack.db.prisma.outboxItem.findFirst({ where: soon, orderBy: { nextAttemptAt: 'asc' }, select: { nextAttemptAt: true } }),
      ]);
      const next = [inbox, outbox].flatMap((r) => (r ? [r.nextAttemptAt.getTime()] : []));
      if (next.length === 0) return;
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(...next) - Date.now()) + 20));
    }
    throw new Error('work kept being put off');
  }
  const lead = (email: string) => stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email } });
  const attrs = async (email: string) => (await lead(email)).attributes as Record<string, unknown>;
  const create = (email: string, attributes: Record<string, unknown>) => stack.engine.createLead(stack.orgId, { email, lastName: 'Mapped', company: 'Maps Inc', attributes });
  const update = async (email: string, attributes: Record<string, unknown>) => stack.engine.updateLead(stack.orgId, { id: (await lead(email)).id, attributes });
  /** The five synced fields as they are, plus `extra`. */
  const setMappings = (extra: Mapping[]) => stack.gqlOk(SET, { id: crm.integrationId, m: [...defaults, ...extra] });

  /** Settles, also through pushes waiting for their retry (a failed write is retried after a backoff). */
  async function settleAll2() {
    for (let i = 0; i < 50; i++) {
      await settle();
      const waiting = await stack.db.prisma.outboxItem.count({ where: { integrationId: crm.integrationId, status: { in: ['pending', 'processing'] } } });
      if (waiting === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('pushes still waiting after 50 rounds');
  }

  beforeAll(async () => {
    stack = await startStack({ RETRY_BASE_MS: '50' });
    crm = await start(stack);
    const data = await stack.gqlOk<{ integration: { fieldMappings: Mapping[] } }>('query($id: ID!) { integration(id: $id) { fieldMappings { platform crm } } }', { id: crm.integrationId });
    defaults = data.integration.fieldMappings.map((m) => ({ platform: m.platform, crm: m.crm }));
  }, 60_000);
  afterAll(async () => {
    await crm?.close();
    await stack?.stop();
  });

  it('syncs custom fields both ways: text, number and multi-select go to the CRM in its terms, and a person’s edit in the CRM comes back', async () => {
    await setMappings([
      { platform: 'attributes.notes', crm: f().text },
      { platform: 'attributes.size', crm: f().number },
      { platform: 'attributes.interests', crm: f().interests },
    ]);
    const [sports, music, travel] = f().interestOptions;
    await create('both@example.com', { notes: 'Retail', size: 12, interests: [music, sports] });
    await settle();
    expect(crm.value('both@example.com', f().text)).toBe('Retail');
    expect(Number(crm.value('both@example.com', f().number))).toBe(12);
    expect(crm.list('both@example.com', f().interests)).toEqual([music, sports].sort());

    crm.editAsUser('both@example.com', { [f().text]: 'Wholesale', [f().number]: 40, [f().interests]: [sports, music, travel] });
    await settle();
    const a = await attrs('both@example.com');
    expect(a.notes).toBe('Wholesale');
    expect(a.size).toBe(40);
    expect([...(a.interests as string[])].sort()).toEqual([sports, music, travel].sort());
  });

  it('to_crm: a person’s edit of the field in the CRM is not applied to the lead', async () => {
    await setMappings([{ platform: 'attributes.segment', crm: f().text, direction: 'TO_CRM' }]);
    await create('tocrm@example.com', { segment: 'Enterprise' });
    await settle();
    expect(crm.value('tocrm@example.com', f().text)).toBe('Enterprise');
    const before = await lead('tocrm@example.com');
    crm.editAsUser('tocrm@example.com', { [f().text]: 'Edited in the CRM' });
    await settle();
    const after = await lead('tocrm@example.com');
    expect(after.attributes).toEqual({ segment: 'Enterprise' });
    expect(after.syncVersion).toBe(before.syncVersion);
  });

  it('from_crm: the CRM’s value reaches the lead, and a platform edit of it is never written to the CRM (no write call)', async () => {
    await setMappings([{ platform: 'attributes.headcount', crm: f().number, direction: 'FROM_CRM' }]);
    await create('fromcrm@example.com', { headcount: 5 });
    await settle();
    // Not written to the CRM, even on create.
    expect(crm.value('fromcrm@example.com', f().number) ?? null).toBeNull();
    crm.editAsUser('fromcrm@example.com', { [f().number]: 42 });
    await settle();
    expect((await attrs('fromcrm@example.com')).headcount).toBe(42);

    const writes = crm.writes();
    await update('fromcrm@example.com', { headcount: 7 });
    await settle();
    expect(Number(crm.value('fromcrm@example.com', f().number))).toBe(42);
    expect(crm.writes()).toBe(writes);
    expect((await attrs('fromcrm@example.com')).headcount).toBe(7);
  });

  // A real conflict: a person edits the field in the CRM (its notification held back), then
  // the platform changes it; the push fails once, and its retry reads the record back first
  // (read-back.ts), where both changes meet. Then the held notification arrives.
  const conflict = async (rule: string, email: string, opts: { crmLater?: boolean } = {}) => {
    await setMappings([{ platform: 'attributes.notes', crm: f().text, conflict: rule }]);
    await create(email, { notes: 'before' });
    await settle();
    expect(crm.value(email, f().text)).toBe('before');
    crm.hold();
    // The CRM's modification time of the person's edit: later than the platform's change.
    if (opts.crmLater) crm.setClock(new Date(Date.now() + 60_000));
    crm.editAsUser(email, { [f().text]: 'crm edit' });
    crm.setClock(null);
    crm.failNextWrite();
    const changed = await update(email, { notes: 'platform edit' });
    // The push runs while the person's edit is still held back by the CRM, and fails (503):
    // its retry reads the record back and meets the edit. The retry's backoff here is
    // 25-50 ms, so the running workers may have done it already by the time this looks
    // (a success clears the error and counts the attempt): what must hold is that the
    // first attempt failed before anything was released.
    await stack.engine.drain();
    const push = await stack.db.prisma.outboxItem.findFirstOrThrow({ where: { leadId: changed.id, integrationId: crm.integrationId, leadVersion: changed.syncVersion } });
    const failedFirst = push.status === 'done' ? push.attempts >= 2 : push.lastError !== null;
    expect({ status: push.status, attempts: push.attempts, lastError: push.lastError, failedFirst }).toMatchObject({ failedFirst: true });
    await settleAll2();
    return { lead: (await attrs(email)).notes, crm: crm.value(email, f().text) };
  };

  it('conflict rule crm_wins: the person’s CRM value is taken by the lead and stays in the CRM', async () => {
    expect(await conflict('CRM_WINS', 'crmwins@example.com')).toEqual({ lead: 'crm edit', crm: 'crm edit' });
  });

  it('conflict rule platform_wins: the lead keeps its value and it is written back over the person’s CRM edit', async () => {
    expect(await conflict('PLATFORM_WINS', 'platformwins@example.com')).toEqual({ lead: 'platform edit', crm: 'platform edit' });
  });

  it('conflict rule newest: the platform’s later change wins on both sides', async () => {
    expect(await conflict('NEWEST', 'newest-platform@example.com')).toEqual({ lead: 'platform edit', crm: 'platform edit' });
  });

  it('conflict rule newest: the CRM’s later change (by its modification time) wins on both sides', async () => {
    expect(await conflict('NEWEST', 'newest-crm@example.com', { crmLater: true })).toEqual({ lead: 'crm edit', crm: 'crm edit' });
  });

  it('echo suppression: the notification of our own write of a custom field changes nothing and writes nothing back', async () => {
    await setMappings([{ platform: 'attributes.notes', crm: f().text }, { platform: 'attributes.grade', crm: f().grade, valueMap: ['A', 'B', 'C'].map((g, i) => ({ platform: g, crm: f().gradeOptions[i] })) }]);
    await create('echo@example.com', { notes: 'first' });
    await settle();
    const writes = crm.writes();
    const since = new Date();
    // The change of mapped attributes is a new version of the lead, pushed once.
    const before = await update('echo@example.com', { notes: 'second', grade: 'B' });
    await settle();
    expect(crm.value('echo@example.com', f().text)).toBe('second');
    expect(crm.value('echo@example.com', f().grade)).toBe(f().gradeOptions[1]);
    expect(crm.writes()).toBe(writes + 1);
    const after = await lead('echo@example.com');
    expect(after.syncVersion).toBe(before.syncVersion);
    expect(after.attributes).toEqual({ notes: 'second', grade: 'B' });
    const inbound = await stack.db.prisma.syncEvent.findMany({ where: { leadId: after.id, direction: 'inbound', createdAt: { gte: since } } });
    // The CRM notified our write, and applying it changed nothing.
    expect(inbound.length).toBeGreaterThan(0);
    for (const e of inbound) expect(['skipped_echo', 'unchanged', 'skipped_own_origin']).toContain(e.reason);
    // Quiet afterwards: another round moves nothing.
    await settle();
    expect(crm.writes()).toBe(writes + 1);
    expect((await lead('echo@example.com')).syncVersion).toBe(before.syncVersion);
  });

  it('refuses a read-only target and a value map naming an option the CRM lacks, with the reason, and keeps the mappings', async () => {
    const row = async () => (await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: crm.integrationId } })).fieldMappings;
    const kept = await row();
    const r = await stack.gql(SET, {
      id: crm.integrationId,
      m: [...defaults, { platform: 'attributes.score', crm: f().readOnly }, { platform: 'attributes.grade', crm: f().grade, valueMap: [{ platform: 'Gold', crm: 'Platinum' }] }],
    });
    expect(r.errors?.[0]?.extensions?.code).toBe('VALIDATION');
    const problems = r.errors![0].extensions!.fields as Problem[];
    expect(problems.map((p) => `${p.field} ${p.code}`)).toEqual([`mappings.${defaults.length}.crm MAPPING_READ_ONLY_TARGET`, `mappings.${defaults.length + 1}.valueMap.0.crm MAPPING_VALUE_MAP_UNKNOWN_OPTION`]);
    expect(problems[0].message).toContain(f().readOnly);
    expect(problems[1].message).toContain('"Platinum"');
    expect(await row()).toEqual(kept);
    // Read from the CRM only, the computed field is accepted.
    await setMappings([{ platform: 'attributes.score', crm: f().readOnly, direction: 'FROM_CRM' }]);
  });

  it('import and the reconciling poll take mapped custom fields into new leads’ attributes (value map read back)', async () => {
    const grades = ['Gold', 'Silver', 'Bronze'].map((g, i) => ({ platform: g, crm: f().gradeOptions[i] }));
    await setMappings([{ platform: 'attributes.notes', crm: f().text }, { platform: 'attributes.tier', crm: f().grade, valueMap: grades }, { platform: 'attributes.interests', crm: f().interests }]);
    const [, music] = f().interestOptions;
    crm.hold();
    crm.createAsUser({ ...personFields(crm.name, 'imported@example.com'), [f().text]: 'from import', [f().grade]: f().gradeOptions[1], [f().interests]: [music] });
    const job = await stack.gqlOk<{ importFromCrm: { id: string } }>('mutation($id: ID!) { importFromCrm(integrationId: $id) { id } }', { id: crm.integrationId });
    await waitFor(async () => (await stack.gqlOk<{ importJob: { status: string } }>('query($id: ID!) { importJob(id: $id) { status } }', { id: job.importFromCrm.id })).importJob.status !== 'running');
    expect(await attrs('imported@example.com')).toEqual({ notes: 'from import', tier: 'Silver', interests: [music] });

    crm.hold();
    crm.createAsUser({ ...personFields(crm.name, 'polled@example.com'), [f().text]: 'from poll', [f().grade]: f().gradeOptions[2] });
    await stack.engine.pollNow();
    expect(await attrs('polled@example.com')).toEqual({ notes: 'from poll', tier: 'Bronze' });
    const versions = await Promise.all(['imported@example.com', 'polled@example.com'].map(async (e) => (await lead(e)).syncVersion));
    await settle(); // the held notifications: nothing new
    expect(await Promise.all(['imported@example.com', 'polled@example.com'].map(async (e) => (await lead(e)).syncVersion))).toEqual(versions);
  });

  it('resync after adding a mapping: from the CRM fills the attribute of every linked lead, from the platform writes every value to the CRM', async () => {
    await setMappings([]);
    const emails = ['rs1@example.com', 'rs2@example.com', 'rs3@example.com'];
    for (const [i, e] of emails.entries()) await create(e, { region: `region-${i}` });
    await settle();
    for (const [i, e] of emails.entries()) crm.editAsUser(e, { [f().number]: (i + 1) * 10 });
    await settle();
    for (const e of emails) expect((await attrs(e)).headcount).toBeUndefined();

    await setMappings([{ platform: 'attributes.headcount', crm: f().number }, { platform: 'attributes.region', crm: f().text, direction: 'TO_CRM' }]);
    // Every linked lead whose record holds a number other than its attribute changes (earlier tests' leads too).
    const links = await stack.db.prisma.crmLink.findMany({ where: { integrationId: crm.integrationId, remoteDeletedAt: null }, include: { lead: true } });
    const differing = links.filter((l) => {
      const v = crm.value(l.lead.email, f().number);
      return v !== undefined && v !== null && v !== '' && Number(v) !== (l.lead.attributes as Record<string, unknown>).headcount;
    }).length;
    expect(differing).toBeGreaterThanOrEqual(emails.length);
    const fromCrm = await runResync(['attributes.headcount'], 'CRM');
    expect(fromCrm).toMatchObject({ status: 'completed', changed: differing, error: null });
    expect(fromCrm.processed).toBeGreaterThanOrEqual(emails.length);
    for (const [i, e] of emails.entries()) expect((await attrs(e)).headcount).toBe((i + 1) * 10);

    const linked = await stack.db.prisma.crmLink.count({ where: { integrationId: crm.integrationId, remoteDeletedAt: null } });
    const fromPlatform = await runResync(['attributes.region'], 'PLATFORM');
    expect(fromPlatform).toMatchObject({ status: 'completed', processed: linked, total: linked, error: null });
    await settle();
    for (const [i, e] of emails.entries()) expect(crm.value(e, f().text)).toBe(`region-${i}`);
  });

  async function runResync(fields: string[], source: string) {
    const started = await stack.gqlOk<{ resyncFields: { id: string } }>(RESYNC, { id: crm.integrationId, f: fields, s: source });
    let job: { status: string; processed: number; changed: number; total: number | null; error: string | null } | null = null;
    await waitFor(async () => {
      job = (await stack.gqlOk<{ fieldResyncJob: NonNullable<typeof job> }>(JOB, { id: started.resyncFields.id })).fieldResyncJob;
      return job.status !== 'running';
    });
    return job!;
  }
}

/** The fields each CRM needs to create a person (Salesforce and Zoho require a last name; Salesforce a company). */
function personFields(crm: string, email: string): Record<string, unknown> {
  if (crm === 'HubSpot') return { email, lastname: 'Person' };
  if (crm === 'Salesforce') return { Email: email, LastName: 'Person', Company: 'People Inc' };
  return { Email: email, Last_Name: 'Person' };
}

async function waitFor(done: () => Promise<boolean>, ms = 20_000) {
  const until = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
