// Headless Chromium (Debian's `chromium`, driven by playwright-core) for the dashboard
// tests: a fresh profile per test file, page errors and console errors collected (CSP
// violations and failed module loads are reported on the console).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** Skipped only on a machine without Chromium outside CI; in CI a missing browser fails. */
export const runBrowser = existsSync(CHROMIUM) || process.env.CI === 'true';

export interface Headless {
  context: BrowserContext;
  page: Page;
  /** Page errors and console errors seen so far (those `ignore` matches left out). */
  errors: string[];
  close(): Promise<void>;
}

export async function openHeadless(opts: { height?: number; ignore?: RegExp } = {}): Promise<Headless> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'crm-sync-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1360, height: opts.height ?? 860 },
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !(opts.ignore && opts.ignore.test(msg.text()))) errors.push(`console: ${msg.text()}`);
  });
  return {
    context,
    page,
    errors,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
