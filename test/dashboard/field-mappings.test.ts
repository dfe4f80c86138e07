// The field-mapping editor of the dashboard in headless Chromium (Debian's `chromium`,
// driven by playwright-core) against the real service and the HubSpot sandbox. HubSpot's
// properties API lists each contact property with its label, type, `options` (value and
// label) for enumerations, and `modificationMetadata.readOnlyValue` for properties the API
// cannot write, such as calculated ones (developers.hubspot.com/docs/api-reference/
// crm-properties-v3/guide): the sandbox seeds `lead_grade` (enumeration a/b/c),
// `employee_count` (number), `industry_notes` (text) and `engagement_score` (calculated).
// UPDATE_SCREENSHOT=1 also writes docs/dashboard-mappings.png (the editor after a resync).
import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { openHeadless, runBrowser, type Headless } from '../helpers/browser.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { connectHubSpot, hubspotMoves, settle as settleAll, startHubSpotFor, startStack, type Stack } from '../helpers/stack.ts';

const UI_TIMEOUT = 20_000;

type Mapping = { platform: string; crm: string; direction: string; conflict: string; valueMap: { platform: string; crm: string }[] };

describe.skipIf(!runBrowser)('field-mapping editor in the dashboard (headless Chromium)', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;
  let integrationId: string;
  let browser: Headless;
  let page: Page;
  const settle = () => settleAll(stack, hubspotMoves(hs));
  const stored = async () => (await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationId } })).fieldMappings;
  const lead = (email: string) => stack.db.prisma.lead.findFirstOrThrow({ where: { organizationId: stack.orgId, email } });

  beforeAll(async () => {
    stack = await startStack();
    hs = await startHubSpotFor(stack);
    // With the app's developer key the service subscribes the mapped properties itself.
    integrationId = await connectHubSpot(stack, hs, { app: true });
    // A contact a person graded in HubSpot before any mapping: it arrives without a grade.
    hs.createContactAsUser({ email: 'cora@example.com', firstname: 'Cora', lastname: 'Graded', lead_grade: 'c' });
    await settle();
    browser = await openHeadless({ height: 900 });
    page = browser.page;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await hs?.close();
    await stack?.stop();
  });

  const editor = () => page.locator('#mappings');
  const rows = () => page.locator('#mapping-rows tbody.mapping');
  const row = (n: number) => rows().nth(n - 1);
  const optionTexts = (label: string) => page.getByLabel(label, { exact: true }).locator('option').allInnerTexts();

  it("opens an integration's mappings and lists the fields HubSpot discovers, with label, API name and type", async () => {
    await page.goto(`${stack.url}/dashboard`);
    await page.fill('#key', stack.apiKey);
    await page.click('#key-form button[type=submit]');
    await page.locator('#integrations tr', { hasText: 'HubSpot sandbox' }).getByRole('button', { name: 'Field mappings' }).click({ timeout: UI_TIMEOUT });
    await editor().getByRole('heading', { name: /Field mappings · HubSpot sandbox/ }).waitFor({ timeout: UI_TIMEOUT });
    await row(1).waitFor({ timeout: UI_TIMEOUT });

    // The defaults: the five synced fields to HubSpot's own properties, both ways, newest wins.
    const platforms = await rows().locator('input.platform').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));
    expect(platforms).toEqual(['firstName', 'lastName', 'phone', 'company', 'status']);
    expect(await page.getByLabel('CRM field, row 5', { exact: true }).inputValue()).toBe('lifecyclestage');
    expect(await page.getByLabel('Direction, row 1', { exact: true }).inputValue()).toBe('BOTH');
    expect(await page.getByLabel('Conflict rule, row 1', { exact: true }).inputValue()).toBe('NEWEST');

    // Every field crmFields lists is a choice (plus the prompt), shown as "label (name) · type".
    const api = await stack.gqlOk<{ crmFields: { name: string }[] }>('query($id: ID!) { crmFields(integrationId: $id) { name } }', { id: integrationId });
    const choices = await optionTexts('CRM field, row 1');
    expect(choices).toHaveLength(api.crmFields.length + 1);
    expect(choices).toEqual(
      expect.arrayContaining(['Lead grade (lead_grade) · picklist', 'Employee count (employee_count) · number', 'Engagement score (engagement_score) · number · read-only']),
    );
  });

  it("choosing lead_grade shows its options in the value map; a read-only field can only be mapped from the CRM", async () => {
    await editor().getByRole('button', { name: 'Add row' }).click();
    await page.getByLabel('Platform field, row 6', { exact: true }).fill('attributes.grade');
    await page.getByLabel('CRM field, row 6', { exact: true }).selectOption('lead_grade');
    await expect(row(6).locator('td.value-map').innerText()).resolves.toContain('Options: A, B, C');
    for (const [i, [platform, crm]] of [['A', 'a'], ['B', 'b'], ['C', 'c']].entries()) {
      await page.getByRole('button', { name: 'Add a value, row 6' }).click();
      if (i === 0) expect(await optionTexts('CRM option for value 1, row 6')).toEqual(['choose…', 'A (a)', 'B (b)', 'C (c)']);
      await page.getByLabel(`Platform value ${i + 1}, row 6`, { exact: true }).fill(platform);
      await page.getByLabel(`CRM option for value ${i + 1}, row 6`, { exact: true }).selectOption(crm);
    }
    // A text field has no value map.
    expect(await row(3).locator('td.value-map').innerText()).toBe('—');

    await editor().getByRole('button', { name: 'Add row' }).click();
    await page.getByLabel('Platform field, row 7', { exact: true }).fill('attributes.score');
    const direction = page.getByLabel('Direction, row 7', { exact: true });
    expect(await direction.inputValue()).toBe('BOTH');
    await page.getByLabel('CRM field, row 7', { exact: true }).selectOption('engagement_score');
    expect(await direction.inputValue()).toBe('FROM_CRM');
    const disabled = await direction.locator('option').evaluateAll((os) => os.filter((o) => (o as HTMLOptionElement).disabled).map((o) => (o as HTMLOptionElement).value));
    expect(disabled).toEqual(['BOTH', 'TO_CRM']);
  });

  it('saving invalid mappings shows each refusal beside its row and stores nothing', async () => {
    // company is text; employee_count holds numbers. And an attribute key with a space.
    await page.getByLabel('CRM field, row 4', { exact: true }).selectOption('employee_count');
    await editor().getByRole('button', { name: 'Add row' }).click();
    await page.getByLabel('Platform field, row 8', { exact: true }).fill('attributes.Bad Key');
    await page.getByLabel('CRM field, row 8', { exact: true }).selectOption('industry_notes');
    await editor().getByRole('button', { name: 'Save mappings' }).click();

    await page.locator('#mapping-result').getByRole('alert').filter({ hasText: 'Not saved: 2 problems' }).waitFor({ timeout: UI_TIMEOUT });
    expect(await row(4).locator('ul.problems li').allInnerTexts()).toEqual([expect.stringMatching(/^MAPPING_TYPE_MISMATCH company is text; "employee_count" holds number values/)]);
    expect(await row(8).locator('ul.problems li').allInnerTexts()).toEqual([expect.stringMatching(/^MAPPING_PLATFORM_FIELD_INVALID "attributes\.Bad Key" is not a platform field/)]);
    expect(await page.getByLabel('CRM field, row 4', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByLabel('Platform field, row 8', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    for (const n of [1, 2, 3, 5, 6, 7]) expect(await row(n).locator('ul.problems li').count()).toBe(0);
    expect(await stored()).toBeNull();
  });

  it('saving valid mappings stores them with the value map, and a platform lead\'s grade reaches the HubSpot contact mapped', async () => {
    await page.getByLabel('CRM field, row 4', { exact: true }).selectOption('company');
    await page.getByRole('button', { name: 'Remove row 8' }).click();
    await editor().getByRole('button', { name: 'Save mappings' }).click();
    await page.locator('#mapping-result').getByRole('status').filter({ hasText: 'Saved.' }).waitFor({ timeout: UI_TIMEOUT });
    expect(await rows().count()).toBe(7);
    expect(await row(4).locator('ul.problems li').count()).toBe(0);
    const changed = await page.locator('#mapping-result .changed li code').allInnerTexts();
    expect(changed).toEqual(['attributes.grade', 'attributes.score']);

    const mappings = (await stack.gqlOk<{ integration: { fieldMappings: Mapping[] } }>(
      'query($id: ID!) { integration(id: $id) { fieldMappings { platform crm direction conflict valueMap { platform crm } } } }',
      { id: integrationId },
    )).integration.fieldMappings;
    expect(mappings.find((m) => m.platform === 'attributes.grade')).toEqual({
      platform: 'attributes.grade',
      crm: 'lead_grade',
      direction: 'BOTH',
      conflict: 'NEWEST',
      valueMap: [{ platform: 'A', crm: 'a' }, { platform: 'B', crm: 'b' }, { platform: 'C', crm: 'c' }],
    });
    expect(mappings.find((m) => m.platform === 'attributes.score')).toMatchObject({ crm: 'engagement_score', direction: 'FROM_CRM' });
    expect(JSON.stringify(await stored())).toContain('lead_grade');

    await stack.gqlOk('mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }', {
      i: { email: 'bea@example.com', firstName: 'Bea', lastName: 'Mapped', attributes: { grade: 'B' } },
    });
    await settle();
    expect(hs.findContactByEmail('bea@example.com')?.properties).toMatchObject({ firstname: 'Bea', lead_grade: 'b' });
  });

  it('Resync runs a job over the linked leads to completion, its progress shown; the graded contact reaches its lead', async () => {
    expect(((await lead('cora@example.com')).attributes as Record<string, unknown> | null)?.grade).toBeUndefined();
    await page.getByRole('button', { name: 'Resync attributes.grade' }).click();
    const progress = page.locator('#mapping-result .resync-progress');
    await progress.filter({ hasText: /^completed: / }).waitFor({ timeout: UI_TIMEOUT });
    const job = await stack.db.prisma.fieldResyncJob.findFirstOrThrow({ where: { integrationId } });
    expect(job).toMatchObject({ status: 'completed', source: 'crm', fields: ['attributes.grade'], changed: 1 });
    expect(job.processed).toBe(hs.listContacts().length);
    expect(await progress.innerText()).toBe(`completed: ${job.processed} processed · 1 changed (attributes.grade from the CRM)`);
    expect(await progress.getAttribute('class')).toContain('ok');
    expect(((await lead('cora@example.com')).attributes as Record<string, unknown>).grade).toBe('C');
    expect(((await lead('bea@example.com')).attributes as Record<string, unknown>).grade).toBe('B');
    expect(await page.getByRole('button', { name: 'Resync attributes.grade' }).isDisabled()).toBe(false);

    if (process.env.UPDATE_SCREENSHOT === '1') {
      mkdirSync(new URL('../../docs/', import.meta.url), { recursive: true });
      await editor().screenshot({ path: new URL('../../docs/dashboard-mappings.png', import.meta.url).pathname });
    }
  });

  it('a resync the mapping\'s direction forbids is refused with the reason, and starts no job', async () => {
    await page.getByLabel('Take the values from', { exact: true }).selectOption('PLATFORM');
    await page.getByRole('button', { name: 'Resync attributes.score' }).click();
    const progress = page.locator('#mapping-result .resync-progress');
    await progress.filter({ hasText: 'Resync not started' }).waitFor({ timeout: UI_TIMEOUT });
    expect(await progress.innerText()).toBe('Resync not started: attributes.score is mapped from_crm: it cannot be resynced from the platform');
    expect(await progress.getAttribute('class')).toContain('bad');
    expect(await stack.db.prisma.fieldResyncJob.count({ where: { integrationId } })).toBe(1);
  });

  it('reopened, the editor shows the mappings as stored, value map included', async () => {
    await editor().getByRole('button', { name: 'Close' }).click();
    expect(await editor().isVisible()).toBe(false);
    await page.locator('#integrations tr', { hasText: 'HubSpot sandbox' }).getByRole('button', { name: 'Field mappings' }).click();
    await row(7).waitFor({ timeout: UI_TIMEOUT });
    expect(await rows().count()).toBe(7);
    expect(await page.getByLabel('Platform field, row 6', { exact: true }).inputValue()).toBe('attributes.grade');
    expect(await page.getByLabel('CRM field, row 6', { exact: true }).inputValue()).toBe('lead_grade');
    const values = [];
    for (const j of [1, 2, 3]) {
      values.push(`${await page.getByLabel(`Platform value ${j}, row 6`, { exact: true }).inputValue()}->${await page.getByLabel(`CRM option for value ${j}, row 6`, { exact: true }).inputValue()}`);
    }
    expect(values).toEqual(['A->a', 'B->b', 'C->c']);
    expect(await page.getByLabel('Direction, row 7', { exact: true }).inputValue()).toBe('FROM_CRM');
  });

  it('raised no script error or content-security-policy violation on the page', () => {
    expect(browser.errors).toEqual([]);
  });
});
