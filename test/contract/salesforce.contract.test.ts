// The shared CRM contract suite, run against the Salesforce adapter and its sandbox org.
//
// Two Salesforce facts shape the options and the harness:
// - Outbound Messages carry no signature and no timestamp: a replayed message cannot be
//   told from a redelivery (Salesforce redelivers the same notification ids itself), so
//   'replayed' is not detectable by verify(); the inbox dedupes it by notification id.
// - The harness client connects with an access token only. With a refresh token, jsforce
//   refreshes on a 401 and replays the call, so an injected 'auth_expired' would never
//   surface as the suite expects; that refresh-and-replay path is covered by
//   test/adapters/salesforce/client.test.ts.
import { salesforceAdapter } from '../../adapters/salesforce/index.ts';
import { runFieldsContract } from './fields-suite.ts';
import type { LeadFields } from '../../adapters/contract.ts';
import { startSalesforceSandbox } from '../../sandboxes/salesforce/index.ts';
import type { ContractHarness } from './harness.ts';
import { runContractSuite } from './suite.ts';

const PLATFORM_TAG = 'jazzaam';
const FORGED_ORG = '00D5g000009Forg';
const SF_NAMES: Record<keyof LeadFields, string> = {
  email: 'Email',
  firstName: 'FirstName',
  lastName: 'LastName',
  phone: 'Phone',
  company: 'Company',
  status: 'Status',
};

function toSalesforce(fields: Partial<LeadFields>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v !== undefined) out[SF_NAMES[k as keyof LeadFields]] = v;
  }
  return out;
}

const ENDPOINT_SECRET = 'contract-suite-endpoint-secret-0123456789';

async function makeHarness(): Promise<ContractHarness> {
  const sandbox = await startSalesforceSandbox();
  const { controls } = sandbox;
  const client = salesforceAdapter.connect({
    baseUrl: sandbox.url,
    accountId: controls.organizationId,
    credentials: { accessToken: controls.credentials().accessToken },
    settings: {},
    network: { allowLocalHosts: true }, // the sandbox listens on loopback over http
  });
  return {
    provider: 'SALESFORCE',
    adapter: salesforceAdapter,
    client,
    platformTag: PLATFORM_TAG,
    accountId: controls.organizationId,
    async createRemote(fields, originTag) {
      return controls.createLeadAsUser({ ...toSalesforce(fields), Lead_Source_System__c: originTag });
    },
    async updateRemote(externalId, fields) {
      controls.updateLeadAsUser(externalId, toSalesforce(fields));
    },
    setClock(at) {
      controls.setClock(at);
    },
    injectFault(kind, count) {
      controls.injectFault(kind, count);
    },
    async webhookFor(change, tamper) {
      const { body } = controls.outbound.envelopeFor([change.externalId], {
        organizationId: tamper === 'forged' ? FORGED_ORG : undefined,
      });
      return {
        req: {
          method: 'POST',
          url: `https://sync.example.com/api/v1/webhooks/${salesforceAdapter.slug}/${ENDPOINT_SECRET}`,
          headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' },
          rawBody: Buffer.from(body),
          endpointSecret: ENDPOINT_SECRET,
        },
        // Outbound messages are authenticated by the secret endpoint URL and the organization.
        held: {
          credentials: { accessToken: controls.credentials().accessToken },
          settings: {},
          env: {},
          accountId: controls.organizationId,
          channel: null,
          endpointSecrets: [ENDPOINT_SECRET],
        },
      };
    },
    close: () => sandbox.close(),
  };
}

runContractSuite('salesforce', makeHarness, { unsupportedTampering: ['replayed'] });

runFieldsContract('salesforce', async () => {
  const sandbox = await startSalesforceSandbox();
  return {
    platformTag: PLATFORM_TAG,
    async connect(extraFields) {
      return salesforceAdapter.connect({
        baseUrl: sandbox.url,
        accountId: sandbox.controls.organizationId,
        credentials: { accessToken: sandbox.controls.credentials().accessToken },
        settings: {},
        network: { allowLocalHosts: true },
        extraFields,
      });
    },
    names: {
      text: 'Industry_Notes__c',
      number: 'Employee_Count__c',
      boolean: 'Newsletter_Opt_In__c',
      date: 'Renewal_Date__c',
      datetime: 'Last_Demo_At__c',
      picklist: 'Lead_Grade__c',
      multipicklist: 'Interests__c',
      readOnly: 'Engagement_Score__c',
    },
    close: () => sandbox.close(),
  };
});
