// The operator dashboard in a real browser: headless Chromium (Debian's `chromium`)
// driven by playwright-core, against the real service and the HubSpot sandbox. The page
// must show webhook status, leads arriving live (no reload), a failed push with its
// error, and a Retry button that makes the push go through.
// UPDATE_SCREENSHOT=1 also writes docs/dashboard.png (the README's screenshot).
import { mkdirSync } from 'node:fs';
import type { Locator, Page } from 'playwright-core';
import { openHeadless, runBrowser, type Headless } from '../helpers/browser.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { eventually } from '../helpers/net.ts';
import { connectHubSpot, startHubSpotFor, startStack, type Stack } from '../helpers/stack.ts';

const UI_TIMEOUT = 20_000;

async function settle(stack: Stack, hs: HubSpotSandbox) {
  for (let i = 0; i < 20; i++) {
    const deliveries = hs.deliveries.length;
    const calls = hs.controls.requests.length;
    await hs.flushWebhooks();
    await stack.engine.drain();
    await hs.flushWebhooks();
    if (hs.deliveries.length === deliveries && hs.controls.requests.length === calls) return;
  }
  throw new Error('sync did not settle');
}

const contactsWithEmail = (hs: HubSpotSandbox, email: string) =>
  hs.listContacts().filter((c) => (c.properties.email ?? '').toLowerCase() === email);

describe.skipIf(!runBrowser)('operator dashboard (headless Chromium)', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;
  let browser: Headless;
  let page: Page;

  beforeAll(async () => {
    stack = await startStack();
    hs = await startHubSpotFor(stack);
    await connectHubSpot(stack, hs);
    browser = await openHeadless({ height: 860, ignore: /status of 401/ });
    page = browser.page;
  });

  afterAll(async () => {
    await browser?.close();
    await hs?.close();
    await stack?.stop();
  });

  const integrationRow = () => page.locator('#integrations tr', { hasText: 'HubSpot sandbox' });
  const feedItem = (text: string) => page.locator('#feed li', { hasText: text });
  const failedRow = (text: string): Locator => page.locator('#failed tr', { hasText: text });

  it('serves the page with a strict content security policy, and refuses a wrong key', async () => {
    const res = await fetch(`${stack.url}/dashboard`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await res.text()).toContain('<script type="module" src="/dashboard/dashboard.js">');

    await page.goto(`${stack.url}/dashboard`);
    await expect(page.locator('#key-form').isVisible()).resolves.toBe(true);
    await expect(page.locator('#panels').isVisible()).resolves.toBe(false);

    await page.fill('#key', 'cs_not_a_real_key_0000000000');
    await page.click('#key-form button[type=submit]');
    await page.getByRole('alert').filter({ hasText: 'The API key was refused' }).waitFor({ timeout: UI_TIMEOUT });
    expect(await page.locator('#panels').isVisible()).toBe(false);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it('with the key pasted, shows the integration and its webhook status, and goes live', async () => {
    await page.fill('#key', stack.apiKey);
    await page.click('#key-form button[type=submit]');
    await page.locator('#conn', { hasText: 'live' }).waitFor({ timeout: UI_TIMEOUT });
    const row = integrationRow();
    await row.waitFor({ timeout: UI_TIMEOUT });
    expect(await row.locator('.pill').innerText()).toBe('enabled');
    expect(await row.innerText()).toContain(`HubSpot · ${hs.portalId}`);
    // The key stays in this tab's session storage: not in the URL, not in the service's logs.
    expect(page.url()).toBe(`${stack.url}/dashboard`);
    expect(await page.evaluate(() => sessionStorage.getItem('crm-sync.apiKey'))).toBe(stack.apiKey);
    expect(JSON.stringify(stack.logs())).not.toContain(stack.apiKey);
    // A reload keeps the session (sessionStorage) and reconnects by itself.
    await page.reload();
    await page.locator('#conn', { hasText: 'live' }).waitFor({ timeout: UI_TIMEOUT });
    await integrationRow().waitFor({ timeout: UI_TIMEOUT });
  });

  it('shows leads live, without a reload: one created on the platform, one a person creates in HubSpot (escaped)', async () => {
    // The subscriptions register on the server a moment after the socket is acknowledged;
    // a platform lead created before that would be missed, so probe until one shows.
    let probe = 0;
    await eventually(
      async () => {
        probe++;
        await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, {
          i: { email: `probe${probe}@example.com`, firstName: 'Platform', lastName: `Probe ${probe}`, attributes: { plan: 'pro', tags: ['b2b', 'emea'] } },
        });
        try {
          await feedItem('probe').first().waitFor({ timeout: 3_000 });
          return true;
        } catch {
          return false;
        }
      },
      UI_TIMEOUT,
      'a platform lead in the live feed',
    );
    await settle(stack, hs);
    const probeText = await feedItem(`probe${probe}@example.com`).filter({ hasText: 'new lead' }).first().innerText();
    expect(probeText).toContain('Platform Probe');
    // The lead's attributes are shown with it.
    expect(probeText).toContain('plan: pro · tags: b2b, emea');

    // A marker on this document: it is still there only if the page was not reloaded.
    await page.evaluate(() => Object.assign(window, { sameDocument: true }));
    const hostile = '<img src=x onerror="window.pwned=1">';
    hs.createContactAsUser({ email: 'grace@navy.mil', firstname: 'Grace', lastname: hostile, company: 'US Navy', lifecyclestage: 'lead' });
    const item = feedItem('grace@navy.mil').filter({ hasText: 'new lead' });
    await item.first().waitFor({ timeout: UI_TIMEOUT });
    const text = await item.first().innerText();
    expect(text).toContain(`Grace ${hostile}`);
    expect(text).toContain('from HubSpot');
    // Rendered as text: no element was made from the CRM's data, no script ran.
    expect(await page.locator('#feed img, #failed img').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    // Same document: it arrived over the WebSocket, not by reloading.
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    await settle(stack, hs);
    // The webhook counters move on the page too.
    await eventually(async () => Number(await integrationRow().locator('td').nth(3).innerText()) >= 1, UI_TIMEOUT, 'created counter');
  });

  it('shows a failed push with its error, and Retry pushes the lead to HubSpot', async () => {
    await settle(stack, hs);
    hs.controls.injectFault('forbidden', 1, { method: 'POST', path: '/crm/v3/objects/contacts/batch' });
    await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, {
      i: { email: 'rita@example.com', firstName: 'Rita', lastName: 'Retry', company: 'Second Chance Ltd' },
    });
    await settle(stack, hs);
    expect(contactsWithEmail(hs, 'rita@example.com')).toHaveLength(0);

    const row = failedRow('rita@example.com');
    await row.waitFor({ timeout: UI_TIMEOUT });
    expect(await row.locator('.state').innerText()).toBe('failed');
    expect(await row.locator('td.error').innerText()).toContain('PERMISSION');
    expect(await page.locator('#failed-count').innerText()).toBe('1');
    expect(await feedItem('rita@example.com').filter({ hasText: 'sync failed' }).count()).toBeGreaterThan(0);
    // The integration row counts the failed push beside the pushes waiting; calls to the CRM are fine.
    await eventually(async () => (await integrationRow().locator('td').nth(10).innerText()).includes('1 failed'), UI_TIMEOUT, 'failed push in the row');
    expect(await integrationRow().locator('td').nth(11).innerText()).toBe('ok');

    if (process.env.UPDATE_SCREENSHOT === '1') {
      mkdirSync(new URL('../../docs/', import.meta.url), { recursive: true });
      await page.screenshot({ path: new URL('../../docs/dashboard.png', import.meta.url).pathname, fullPage: true });
    }

    await row.getByRole('button', { name: 'Retry' }).click();
    await row.locator('.state', { hasText: 'succeeded' }).waitFor({ timeout: UI_TIMEOUT });
    await settle(stack, hs);
    const contacts = contactsWithEmail(hs, 'rita@example.com');
    expect(contacts).toHaveLength(1);
    expect(contacts[0].properties.firstname).toBe('Rita');
    expect(await page.locator('#failed-count').innerText()).toBe('0');
    expect(await row.getByRole('button', { name: 'Retry' }).isDisabled()).toBe(true);
  });

  it('raised no script error or content-security-policy violation on the page', () => {
    expect(browser.errors).toEqual([]);
  });
});
