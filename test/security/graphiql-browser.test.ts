// GraphiQL in a real browser (headless Chromium, as the dashboard test) under its content
// security policy: it renders its editors, runs a query against the service, and the
// browser reports no CSP violation and requests nothing from another origin.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTenant, startApi, type Tenant, type TestApi } from '../api/harness.ts';

const CHROMIUM = '/usr/bin/chromium';
const runBrowser = existsSync(CHROMIUM) || process.env.CI === 'true';

describe.skipIf(!runBrowser)('GraphiQL in a browser (headless Chromium)', () => {
  let api: TestApi;
  let t: Tenant;
  let context: BrowserContext;
  let userDataDir: string;
  beforeAll(async () => {
    api = await startApi();
    t = await newTenant(api, 'Acme');
    userDataDir = mkdtempSync(join(tmpdir(), 'crm-sync-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await context?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    await api?.close();
  });

  it('renders and runs a query with no CSP violation and no request to another origin', async () => {
    const page = context.pages()[0] ?? (await context.newPage());
    const problems: string[] = [];
    const foreign: string[] = [];
    const origin = new URL(api.url).origin;
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' || /Content Security Policy/i.test(msg.text())) problems.push(`console: ${msg.text()}`);
    });
    page.on('request', (req) => {
      const u = req.url();
      if (!u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:')) foreign.push(u);
    });
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
    });
    const res = await page.goto(`${api.url}/graphql`);
    expect(res?.status()).toBe(200);
    await page.locator('.graphiql-container').first().waitFor({ timeout: 30_000 });
    // Run a query with the key in the headers (GraphiQL's fetcher, same origin).
    const answer = await page.evaluate(async (key) => {
      const r = await fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query: '{ __typename }' }) });
      return r.json();
    }, t.key);
    expect(answer).toEqual({ data: { __typename: 'Query' } });
    await page.waitForTimeout(500); // lets late violations (workers) be reported
    expect(problems.filter((p) => !/status of 401/.test(p))).toEqual([]);
    expect(foreign).toEqual([]);
  }, 120_000);
});
