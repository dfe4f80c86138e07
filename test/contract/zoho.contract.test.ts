// The shared adapter contract, run against the Zoho adapter and the Zoho sandbox.
//
// The sandbox runs with a search index that never catches up during a test (lag of
// one hour), the hardest case: every "link by email" must work without search.
import type { LeadFields } from '../../adapters/contract.ts';
import { zohoAdapter } from '../../adapters/zoho/index.ts';
import { startZohoSandbox } from '../../sandboxes/zoho/index.ts';
import type { ContractHarness } from './harness.ts';
import { runFieldsContract } from './fields-suite.ts';
import { runContractSuite } from './suite.ts';

const FIELD_API_NAMES: Record<keyof LeadFields, string> = {
  email: 'Email',
  firstName: 'First_Name',
  lastName: 'Last_Name',
  phone: 'Phone',
  company: 'Company',
  status: 'Lead_Status',
};

function toZoho(fields: Partial<LeadFields>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[FIELD_API_NAMES[k as keyof LeadFields]] = v ?? null;
  return out;
}

const OPERATION = { created: 'insert', updated: 'update', deleted: 'delete' } as const;

async function makeHarness(): Promise<ContractHarness> {
  const sandbox = await startZohoSandbox({ searchLagMs: 3600_000, separateAccounts: true });
  const { accessToken, expiresAt } = sandbox.controls.issueAccessToken();
  const client = zohoAdapter.connect({
    baseUrl: sandbox.url,
    accountId: '60000000001',
    credentials: {
      accessToken,
      expiresAt,
      refreshToken: sandbox.controls.refreshToken,
      clientId: sandbox.controls.clientId,
      clientSecret: sandbox.controls.clientSecret,
      accountsUrl: sandbox.accountsUrl,
    },
    settings: {},
    network: { allowLocalHosts: true }, // the sandbox listens on loopback over http
  });
  return {
    provider: 'ZOHO',
    adapter: zohoAdapter,
    client,
    platformTag: 'jazzaam',
    accountId: sandbox.controls.orgId,
    async createRemote(fields, originTag) {
      return sandbox.controls.createLeadAsUser({ ...toZoho(fields), [client.originField]: originTag });
    },
    async updateRemote(externalId, fields) {
      sandbox.controls.updateLeadAsUser(externalId, toZoho(fields));
    },
    setClock: (at) => sandbox.controls.setClock(at),
    injectFault(kind, count) {
      switch (kind) {
        case 'rate_limit':
          return sandbox.controls.injectFault('rate_limit', count);
        case 'server_error':
          return sandbox.controls.injectFault('server_error', count);
        case 'not_found':
          return sandbox.controls.injectFault('not_found', count);
        case 'auth_expired':
          // The adapter answers a 401 by refreshing the token and retrying once: an
          // expiry that surfaces as AUTH_EXPIRED is one the refresh does not cure.
          return sandbox.controls.injectFault('auth_expired', count * 2);
      }
    },
    async webhookFor(change, tamper) {
      const live = sandbox.controls.channels().filter((c) => c.live);
      const channel = live[live.length - 1];
      if (!channel) throw new Error('no notification channel registered (provision first)');
      if (change.kind !== 'created' && change.kind !== 'updated' && change.kind !== 'deleted') {
        throw new Error(`Zoho sends no ${change.kind} notifications`);
      }
      const sent = sandbox.controls.renderNotification(channel.channel_id, OPERATION[change.kind], [change.externalId]);
      let rawBody = sent.rawBody;
      if (tamper === 'forged') {
        const body = JSON.parse(rawBody) as Record<string, unknown>;
        body.token = 'x'.repeat(String(body.token ?? '').length || 20);
        rawBody = JSON.stringify(body);
      }
      return {
        req: { method: 'POST', url: sent.url, headers: sent.headers, rawBody: Buffer.from(rawBody), now: new Date() },
        // The channel the service opened (the one provision() registered).
        held: {
          credentials: { accessToken },
          settings: {},
          env: {},
          accountId: sandbox.controls.orgId,
          channel: { id: channel.channel_id, token: channel.token ?? '' },
          endpointSecrets: [],
        },
      };
    },
    close: () => sandbox.close(),
  };
}

// Zoho notifications carry neither a signature nor a signed time: a captured body can be
// replayed and cannot be told from Zoho's own redelivery. Replays are absorbed by the
// dedupe key instead (covered in test/adapters/zoho/webhooks.test.ts).
runContractSuite('Zoho', makeHarness, { unsupportedTampering: ['replayed'] });

runFieldsContract('Zoho', async () => {
  const sandbox = await startZohoSandbox({ separateAccounts: true });
  return {
    platformTag: 'jazzaam',
    async connect(extraFields) {
      const { accessToken, expiresAt } = sandbox.controls.issueAccessToken();
      const client = zohoAdapter.connect({
        baseUrl: sandbox.url,
        accountId: '60000000001',
        credentials: { accessToken, expiresAt, accountsUrl: sandbox.accountsUrl },
        settings: {},
        network: { allowLocalHosts: true },
        extraFields,
      });
      await client.prepare(['jazzaam']);
      return client;
    },
    names: {
      text: 'Industry_Notes',
      number: 'Employee_Count',
      boolean: 'Newsletter_Opt_In',
      date: 'Renewal_Date',
      datetime: 'Last_Demo_At',
      picklist: 'Lead_Grade',
      multipicklist: 'Interests',
      readOnly: 'Engagement_Score',
    },
    close: () => sandbox.close(),
  };
});
