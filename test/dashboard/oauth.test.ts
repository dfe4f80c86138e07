// Connecting HubSpot from the dashboard in headless Chromium, the whole dance against the
// sandbox: Connect (the sandbox's consent screen consents and redirects to the service's
// callback, which sends the browser back to the dashboard), the connection state after the
// customer uninstalled the app (needs reconnect), Reconnect, then Disconnect.
import type { Page } from 'playwright-core';
import { openHeadless, runBrowser, type Headless } from '../helpers/browser.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { eventually } from '../helpers/net.ts';
import type { Stack } from '../helpers/stack.ts';
import { startOAuthHubSpot } from '../e2e/oauth/dance.ts';

const UI_TIMEOUT = 20_000;

describe.skipIf(!runBrowser)('connecting a CRM from the dashboard (headless Chromium)', () => {
  let stack: Stack;
  let hs: HubSpotSandbox;
  let browser: Headless;
  let page: Page;

  beforeAll(async () => {
    ({ stack, hs } = await startOAuthHubSpot());
    browser = await openHeadless({ height: 860 });
    page = browser.page;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await hs?.close();
    await stack?.stop();
  });

  const row = () => page.locator('#integrations tr', { hasText: 'HubSpot' });

  it('Connect HubSpot goes through the consent screen and comes back connected', async () => {
    await page.goto(`${stack.url}/dashboard`);
    await page.fill('#key', stack.apiKey);
    await page.click('#key-form button[type=submit]');
    await page.locator('#connectors button', { hasText: 'Connect HubSpot' }).click({ timeout: UI_TIMEOUT });
    await page.getByRole('alert').filter({ hasText: 'HubSpot connected.' }).waitFor({ timeout: UI_TIMEOUT });
    // Back on the dashboard, the result taken out of the address; the key still in the tab's session.
    expect(page.url()).toBe(`${stack.url}/dashboard`);
    await row().locator('.conn-state', { hasText: 'connected' }).waitFor({ timeout: UI_TIMEOUT });
    const integration = await stack.db.prisma.integration.findFirstOrThrow({ where: { organizationId: stack.orgId } });
    expect(integration).toMatchObject({ accountId: String(hs.portalId), connectedVia: 'oauth' });
    expect(browser.errors).toEqual([]);
  });

  it('shows "needs reconnect" once HubSpot refuses the grant, and Reconnect restores the connection', async () => {
    hs.uninstallApp();
    await stack.gqlOk(`mutation { createLead(input: { email: "waiting@example.com", firstName: "Waiting" }) { id } }`);
    await eventually(async () => (await stack.db.prisma.integration.findFirstOrThrow({ where: { organizationId: stack.orgId } })).connectionState === 'needs_reconnect', 20_000, 'needs_reconnect');
    await page.reload();
    await row().locator('.conn-state', { hasText: 'needs reconnect (AUTH_REVOKED)' }).waitFor({ timeout: UI_TIMEOUT });
    await row().getByRole('button', { name: 'Reconnect' }).click();
    await page.getByRole('alert').filter({ hasText: 'HubSpot reconnected.' }).waitFor({ timeout: UI_TIMEOUT });
    await row().locator('.conn-state', { hasText: /^connected$/ }).waitFor({ timeout: UI_TIMEOUT });
    // The push held meanwhile goes through.
    await eventually(() => hs.findContactByEmail('waiting@example.com') ?? undefined, 20_000, 'held push delivered');
    expect(browser.errors).toEqual([]);
  });

  it('Disconnect asks once more, then disconnects: the refresh token is revoked at HubSpot', async () => {
    const integration = await stack.db.prisma.integration.findFirstOrThrow({ where: { organizationId: stack.orgId } });
    const refreshToken = stack.keyringCredentials(integration).refreshToken;
    const button = row().locator('button[data-disconnect]');
    await button.click();
    expect(await button.innerText()).toBe('Confirm disconnect');
    expect((await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: integration.id } })).connectionState).toBe('connected');
    await button.click();
    await row().locator('.conn-state', { hasText: 'disconnected' }).waitFor({ timeout: UI_TIMEOUT });
    expect(await row().getByRole('button', { name: 'Reconnect' }).count()).toBe(1);
    const introspect = await fetch(`${hs.url}/oauth/2026-03/token/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: hs.oauthClientId, client_secret: hs.clientSecret, token: refreshToken }).toString(),
    });
    expect(await introspect.json()).toEqual({ active: false });
    expect(browser.errors).toEqual([]);
  });
});
