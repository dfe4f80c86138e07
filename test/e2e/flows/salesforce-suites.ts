// Salesforce flows that need a stack of their own: a session refresh naming another
// instance, an organization id as Setup shows it, and the import.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SalesforceSandbox } from '../../../sandboxes/salesforce/index.ts';
import { importTwiceScenario } from '../../helpers/import-scenario.ts';
import { startProxy } from '../../helpers/net.ts';
import { connectSalesforce, salesforceMoves, settle as settleAll, startSalesforceFor, startStack, type Connected, type Stack } from '../../helpers/stack.ts';
import { theLead } from './table.ts';

const WRITE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

export const sfLeadsWithEmail = (sf: SalesforceSandbox, email: string) =>
  sf.controls.listLeads().filter((l) => String(l.values.Email ?? '').toLowerCase() === email.toLowerCase());

export const sfWrites = (sf: SalesforceSandbox) => sf.controls.requests.filter((r) => WRITE_METHODS.has(r.method));

const settle = (stack: Stack, sf: SalesforceSandbox) => settleAll(stack, salesforceMoves(sf));

export function salesforceSuites(): void {
  describe('Salesforce session refresh', () => {
    let stack: Stack;
    let sf: SalesforceSandbox;
    let integrationId: string;
    /** The instance the org was on when it was connected; the refresh names the one it is on now. */
    let oldInstance: Awaited<ReturnType<typeof startProxy>>;

    beforeAll(async () => {
      stack = await startStack({ RETRY_BASE_MS: '50' });
      sf = await startSalesforceFor(stack, { rotateRefreshTokens: true });
      oldInstance = await startProxy(sf.url);
      ({ integrationId } = await connectSalesforce(stack, sf, { apiBaseUrl: oldInstance.url }));
    });
    afterAll(async () => {
      await oldInstance?.close();
      await sf?.close();
      await stack?.stop();
    });

    const storedCredentials = async () =>
      stack.keyringCredentials(await stack.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationId } }));

    it('refreshes an expired access token during a push, pushes once, and stores the new tokens and instance', async () => {
      const old = await storedCredentials();
      sf.controls.expireAccessTokens();
      await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: { email: 'fresh@example.com', lastName: 'Fresh' } });
      await settle(stack, sf);
      expect(sfLeadsWithEmail(sf, 'fresh@example.com')).toHaveLength(1);
      expect(sf.controls.tokenRefreshes()).toBe(1);
      const stored = await storedCredentials();
      expect(stored.accessToken).toBe(sf.controls.credentials().accessToken);
      expect(stored.accessToken).not.toBe(old.accessToken);
      // The refresh token rotated: the stored one is the new one.
      expect(stored.refreshToken).toBe(sf.controls.credentials().refreshToken);
      expect(stored.refreshToken).not.toBe(old.refreshToken);
      const item = await stack.db.prisma.outboxItem.findFirstOrThrow({ where: { lead: { email: 'fresh@example.com' } } });
      expect(item.status).toBe('done');
      // The token answer named the org's instance URL: the integration follows it.
      const { integrations } = await stack.gqlOk(`{ integrations { id apiBaseUrl } }`);
      expect(integrations).toEqual([{ id: expect.any(String), apiBaseUrl: sf.url }]);
    });

    it('keeps working after a restart with the stored tokens, on the instance the org moved to', async () => {
      await oldInstance.close();
      // A fresh connection is built from the database row alone.
      stack.engine.connections.forget(integrationId);
      sf.controls.expireAccessTokens();
      await stack.gqlOk(`mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }`, { i: { email: 'again@example.com', lastName: 'Again' } });
      await settle(stack, sf);
      expect(sfLeadsWithEmail(sf, 'again@example.com')).toHaveLength(1);
      expect(sf.controls.tokenRefreshes()).toBe(2);
      expect((await storedCredentials()).refreshToken).toBe(sf.controls.credentials().refreshToken);
      const item = await stack.db.prisma.outboxItem.findFirstOrThrow({ where: { lead: { email: 'again@example.com' } } });
      expect(item).toMatchObject({ status: 'done', attempts: 1 });
    });
  });

  describe('Salesforce connected with the organization id as Setup shows it', () => {
    let stack: Stack;
    let sf: SalesforceSandbox;
    let conn: Connected;

    beforeAll(async () => {
      stack = await startStack();
      sf = await startSalesforceFor(stack);
      // Setup > Company Information shows the 15-character id; outbound messages carry the 18-character one.
      conn = await connectSalesforce(stack, sf, { accountId: sf.controls.organizationId.slice(0, 15) });
    });
    afterAll(async () => {
      await sf?.close();
      await stack?.stop();
    });

    it('accepts the outbound messages of that organization and syncs its Leads', async () => {
      const id = sf.controls.createLeadAsUser({ Email: 'setup@example.com', LastName: 'Setup', Company: 'Acme' });
      await settle(stack, sf);
      const sent = sf.controls.outbound.deliveries.filter((d) => d.leadIds.includes(id));
      expect(sent.length).toBeGreaterThan(0);
      expect(sent.every((d) => d.status === 200 && d.acked)).toBe(true);
      const lead = await theLead(stack, 'setup@example.com');
      expect(lead.crmLinks).toEqual([{ externalId: id, provider: 'SALESFORCE' }]);
    });

    it('refuses to connect the same organization again under its other id', async () => {
      const c = sf.controls.credentials();
      const r = await stack.gql(`mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { id } }`, {
        input: { provider: 'SALESFORCE', name: 'again', accountId: sf.controls.organizationId, apiBaseUrl: sf.url, accessToken: c.accessToken },
      });
      expect(r.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      expect(await stack.db.prisma.integration.count()).toBe(1);
      expect(conn.integrationId).toBeTruthy();
    });
  });

  describe('import from Salesforce', () => {
    let stack: Stack;
    let sf: SalesforceSandbox;
    let integrationId: string;

    beforeAll(async () => {
      stack = await startStack();
      sf = await startSalesforceFor(stack, { outbound: { targetUrl: null } });
      ({ integrationId } = await connectSalesforce(stack, sf, { autoSync: false }));
    });
    afterAll(async () => {
      await sf?.close();
      await stack?.stop();
    });

    it('creates or links a lead for every Lead, and creates nothing the second time', () =>
      importTwiceScenario(stack, integrationId, {
        provider: 'SALESFORCE',
        createPerson: (p) =>
          sf.controls.createLeadAsUser({
            ...(p.email ? { Email: p.email } : {}),
            ...(p.firstName ? { FirstName: p.firstName } : {}),
            LastName: 'Imported',
            Company: p.company ?? 'Acme',
            ...(p.originTag ? { Lead_Source_System__c: p.originTag } : {}),
          }),
        writes: () => sfWrites(sf).length,
      }));
  });
}
