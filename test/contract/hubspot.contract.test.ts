// The shared adapter contract, run against the HubSpot adapter and the HubSpot sandbox.
import { hubspotAdapter } from '../../adapters/hubspot/index.ts';
import { ORIGIN_PROPERTY } from '../../adapters/hubspot/mappers.ts';
import type { LeadFields } from '../../adapters/contract.ts';
import { startHubSpotSandbox, type HubSpotSandbox } from '../../sandboxes/hubspot/index.ts';
import type { ContractHarness } from './harness.ts';
import { runFieldsContract } from './fields-suite.ts';
import { runContractSuite } from './suite.ts';

const PUBLIC_WEBHOOK_URL = `https://sync.example.com/api/v1/webhooks/${hubspotAdapter.slug}`;

function toProps(fields: Partial<LeadFields>): Record<string, string | null> {
  const map: Record<keyof LeadFields, string> = {
    email: 'email',
    firstName: 'firstname',
    lastName: 'lastname',
    phone: 'phone',
    company: 'company',
    status: 'lifecyclestage',
  };
  const out: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(fields)) out[map[k as keyof LeadFields]] = v ?? null;
  return out;
}

const SUBSCRIPTION_TYPE = {
  created: 'contact.creation',
  updated: 'contact.propertyChange',
  deleted: 'contact.deletion',
  merged: 'contact.merge',
  restored: 'contact.restore',
} as const;

async function makeHarness(): Promise<ContractHarness> {
  const sandbox: HubSpotSandbox = await startHubSpotSandbox();
  const client = hubspotAdapter.connect({
    baseUrl: sandbox.url,
    accountId: String(sandbox.portalId),
    credentials: { accessToken: sandbox.accessToken },
    settings: {},
    network: { allowLocalHosts: true }, // the sandbox listens on loopback over http
  });
  return {
    provider: 'HUBSPOT',
    adapter: hubspotAdapter,
    client,
    platformTag: 'jazzaam',
    accountId: String(sandbox.portalId),
    async createRemote(fields, originTag) {
      return sandbox.createContactAsUser({ ...toProps(fields), ...(originTag ? { [ORIGIN_PROPERTY]: originTag } : {}) });
    },
    async updateRemote(externalId, fields) {
      sandbox.updateContactAsUser(externalId, toProps(fields));
    },
    setClock: (at) => sandbox.controls.setClock(at),
    injectFault: (kind, count) => sandbox.controls.injectFault(kind, count),
    async webhookFor(change, tamper) {
      const event = sandbox.makeEvent(SUBSCRIPTION_TYPE[change.kind], change.externalId, {
        occurredAt: Date.now(),
        ...(change.kind === 'updated' ? { propertyName: 'firstname', propertyValue: 'Changed' } : {}),
        ...(change.kind === 'merged'
          ? { primaryObjectId: Number(change.externalId), mergedObjectIds: [1], newObjectId: Number(change.externalId), numberOfPropertiesMoved: 0 }
          : {}),
      });
      const now = Date.now();
      const signed = sandbox.signedWebhook([event], {
        url: PUBLIC_WEBHOOK_URL,
        timestampMs: tamper === 'replayed' ? now - 10 * 60 * 1000 : now,
        clientSecret: tamper === 'forged' ? 'not-the-client-secret' : sandbox.clientSecret,
      });
      return {
        req: { method: signed.method, url: signed.url, headers: signed.headers, rawBody: Buffer.from(signed.body), now: new Date(now) },
        // The integration's own client secret; no service-wide one, no legacy signatures.
        held: {
          credentials: { accessToken: sandbox.accessToken, clientSecret: sandbox.clientSecret },
          settings: {},
          env: hubspotAdapter.env.parse({}),
          accountId: String(sandbox.portalId),
          channel: null,
          endpointSecrets: [],
        },
      };
    },
    close: () => sandbox.close(),
  };
}

runContractSuite('HubSpot', makeHarness);

runFieldsContract('HubSpot', async () => {
  const sandbox = await startHubSpotSandbox();
  return {
    platformTag: 'jazzaam',
    async connect(extraFields) {
      const client = hubspotAdapter.connect({
        baseUrl: sandbox.url,
        accountId: String(sandbox.portalId),
        credentials: { accessToken: sandbox.accessToken },
        settings: {},
        network: { allowLocalHosts: true },
        extraFields,
      });
      await client.prepare(['jazzaam']);
      return client;
    },
    names: {
      text: 'industry_notes',
      number: 'employee_count',
      boolean: 'newsletter_opt_in',
      date: 'renewal_date',
      datetime: 'last_demo_at',
      picklist: 'lead_grade',
      multipicklist: 'interests',
      readOnly: 'engagement_score',
    },
    close: () => sandbox.close(),
  };
});
