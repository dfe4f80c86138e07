// Access control on every entry point. The root fields are read from the schema: a new
// query, mutation or subscription without an entry below (its scope and a cross-
// organization case) fails this suite, and so does a new REST integration route.
import { randomUUID } from 'node:crypto';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCOPES, createApiKey, revokeApiKey, type Scope } from '../../src/auth.ts';
import { writeCredentials } from '../../src/engine/connections.ts';
import { startHubSpotSandbox } from '../../sandboxes/hubspot/server.ts';
import { schema } from '../../src/graphql/schema.ts';
import { restRoutes } from '../../src/http/rest.ts';
import {
  CREATE_LEAD,
  firstEventWhileProducing,
  gql,
  newTenant,
  onlyError,
  rest,
  startApi,
  wsClient,
  type GqlResponse,
  type Tenant,
  type TestApi,
} from '../api/harness.ts';

type Kind = 'Query' | 'Mutation' | 'Subscription';
interface Op {
  query: string;
  variables?: Record<string, unknown>;
}

/** What the suite knows per root field: its scope, a call, and the cross-organization check. */
interface RootCase {
  scope: Scope;
  op: () => Op;
  crossOrg: () => Promise<void>;
}

let api: TestApi;
let a: Tenant;
let b: Tenant;
let leadA: { id: string; email: string };
let leadB: { id: string };
let integrationA: string;
let integrationB: string;
let jobA: string;
let resyncA: string;
let eventA: string;
let keyOfA: { id: string; key: string };
const missing = () => randomUUID();
const missingLead = () => encodeGlobalID('Lead', randomUUID());

async function seedIntegration(t: Tenant, accountId: string) {
  return (
    await api.db.prisma.integration.create({
      data: {
        organizationId: t.organizationId,
        provider: 'HUBSPOT',
        name: `${accountId} HubSpot`,
        accountId,
        apiBaseUrl: 'http://127.0.0.1:9',
        credentials: writeCredentials({ accessToken: `token-of-${accountId}` }, api.engine.connections.keyring),
        webhooksEnabled: true,
      },
    })
  ).id;
}

/** B's answer for A's id must be exactly its answer for an id that exists nowhere. */
async function sameAsMissing(query: string, theirs: Record<string, unknown>, nowhere: Record<string, unknown>): Promise<GqlResponse> {
  const forTheirs = await gql(api, b.key, query, theirs);
  const forMissing = await gql(api, b.key, query, nowhere);
  expect(onlyError(forTheirs).extensions?.code).toBe('NOT_FOUND');
  expect(forTheirs.status).toBe(forMissing.status);
  expect(forTheirs.body).toEqual(forMissing.body);
  return forTheirs;
}

/** The first result (or error) of a subscription over WebSockets. */
function subscribeOnce(key: string, op: Op): Promise<{ result?: any; error?: any }> {
  const client = wsClient(api, key);
  return new Promise((resolve) => {
    const stop = client.subscribe(
      { query: op.query, variables: op.variables },
      {
        next: (result) => {
          stop();
          // An error at subscribe time arrives as a result carrying only errors.
          resolve(result.errors?.length && !result.data ? { error: result.errors } : { result });
        },
        error: (error) => resolve({ error }),
        complete: () => resolve({}),
      },
    );
  }).finally(() => client.dispose()) as Promise<{ result?: any; error?: any }>;
}

/** A live subscription of `key`; resolves its first event. */
function firstEvent(key: string, op: Op) {
  const client = wsClient(api, key);
  const first = new Promise<any>((resolve, reject) => {
    const stop = client.subscribe(
      { query: op.query, variables: op.variables },
      {
        next: (r) => {
          stop();
          resolve(r);
        },
        error: reject,
        complete: () => reject(new Error('completed without an event')),
      },
    );
  }).finally(() => client.dispose());
  return first;
}

const CASES: Record<string, RootCase> = {
  'Query.apiKeys': {
    scope: 'keys:admin',
    op: () => ({ query: '{ apiKeys { id prefix } }' }),
    async crossOrg() {
      const r = await gql(api, b.key, '{ apiKeys { id name prefix } }');
      const ids = r.body.data!.apiKeys.map((k: any) => k.id);
      expect(ids).toContain(b.apiKeyId);
      expect(ids).not.toContain(a.apiKeyId);
      expect(ids).not.toContain(keyOfA.id);
    },
  },
  'Query.importJob': {
    scope: 'integrations:admin',
    op: () => ({ query: 'query ($id: ID!) { importJob(id: $id) { id } }', variables: { id: missing() } }),
    crossOrg: async () => void (await sameAsMissing('query ($id: ID!) { importJob(id: $id) { id status } }', { id: jobA }, { id: missing() })),
  },
  'Query.integration': {
    scope: 'integrations:admin',
    op: () => ({ query: 'query ($id: ID!) { integration(id: $id) { id } }', variables: { id: missing() } }),
    crossOrg: async () => void (await sameAsMissing('query ($id: ID!) { integration(id: $id) { id name } }', { id: integrationA }, { id: missing() })),
  },
  'Query.integrations': {
    scope: 'integrations:admin',
    op: () => ({ query: '{ integrations { id } }' }),
    async crossOrg() {
      const r = await gql(api, b.key, '{ integrations { id } }');
      const ids = r.body.data!.integrations.map((i: any) => i.id);
      expect(ids).toContain(integrationB);
      expect(ids).not.toContain(integrationA);
    },
  },
  'Query.lead': {
    scope: 'leads:read',
    op: () => ({ query: 'query ($id: ID!) { lead(id: $id) { id } }', variables: { id: missingLead() } }),
    crossOrg: async () => void (await sameAsMissing('query ($id: ID!) { lead(id: $id) { id email } }', { id: leadA.id }, { id: missingLead() })),
  },
  'Query.leads': {
    scope: 'leads:read',
    op: () => ({ query: '{ leads { totalCount } }' }),
    async crossOrg() {
      const all = await gql(api, b.key, '{ leads(first: 100) { totalCount edges { node { id } } } }');
      const ids = all.body.data!.leads.edges.map((e: any) => e.node.id);
      expect(ids).toContain(leadB.id);
      expect(ids).not.toContain(leadA.id);
      expect(all.body.data!.leads.totalCount).toBe(ids.length);
      const byEmail = await gql(api, b.key, 'query ($e: String) { leads(email: $e) { edges { node { id } } } }', { e: leadA.email });
      expect(byEmail.body.data!.leads.edges.map((e: any) => e.node.id)).not.toContain(leadA.id);
    },
  },
  'Query.node': {
    scope: 'leads:read',
    op: () => ({ query: 'query ($id: ID!) { node(id: $id) { id } }', variables: { id: missingLead() } }),
    async crossOrg() {
      for (const id of [leadA.id, encodeGlobalID('SyncEvent', eventA)]) {
        const r = await gql(api, b.key, 'query ($id: ID!) { node(id: $id) { id } }', { id });
        expect(r.body).toEqual({ data: { node: null } });
      }
    },
  },
  'Query.nodes': {
    scope: 'leads:read',
    op: () => ({ query: 'query ($ids: [ID!]!) { nodes(ids: $ids) { id } }', variables: { ids: [missingLead()] } }),
    async crossOrg() {
      const r = await gql(api, b.key, 'query ($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: [leadA.id, encodeGlobalID('SyncEvent', eventA)] });
      expect(r.body).toEqual({ data: { nodes: [null, null] } });
    },
  },
  'Query.syncEvents': {
    scope: 'leads:read',
    op: () => ({ query: '{ syncEvents { totalCount } }' }),
    async crossOrg() {
      const r = await gql(api, b.key, 'query ($f: SyncEventFilter) { syncEvents(first: 100, filter: $f) { totalCount edges { node { id } } } }', {
        f: { integrationId: integrationA },
      });
      expect(r.body.data!.syncEvents).toEqual({ totalCount: 0, edges: [] });
      const all = await gql(api, b.key, '{ syncEvents(first: 100) { edges { node { id } } } }');
      expect(JSON.stringify(all.body)).not.toContain(encodeGlobalID('SyncEvent', eventA));
    },
  },
  'Query.webhookStatus': {
    scope: 'integrations:admin',
    op: () => ({ query: 'query ($id: ID!) { webhookStatus(integrationId: $id) { enabled } }', variables: { id: missing() } }),
    crossOrg: async () =>
      void (await sameAsMissing('query ($id: ID!) { webhookStatus(integrationId: $id) { enabled totalReceived } }', { id: integrationA }, { id: missing() })),
  },
  'Query.crmFields': {
    scope: 'integrations:admin',
    op: () => ({ query: 'query ($id: ID!) { crmFields(integrationId: $id) { name } }', variables: { id: missing() } }),
    crossOrg: async () =>
      void (await sameAsMissing('query ($id: ID!) { crmFields(integrationId: $id, refresh: true) { name type } }', { id: integrationA }, { id: missing() })),
  },
  'Query.fieldResyncJob': {
    scope: 'integrations:admin',
    op: () => ({ query: 'query ($id: ID!) { fieldResyncJob(id: $id) { id } }', variables: { id: missing() } }),
    crossOrg: async () => void (await sameAsMissing('query ($id: ID!) { fieldResyncJob(id: $id) { id status processed } }', { id: resyncA }, { id: missing() })),
  },
  'Mutation.setFieldMappings': {
    scope: 'integrations:admin',
    op: () => ({
      query: 'mutation ($id: ID!, $m: [FieldMappingInput!]!) { setFieldMappings(integrationId: $id, mappings: $m) { changed } }',
      variables: { id: missing(), m: [] },
    }),
    async crossOrg() {
      const q = 'mutation ($id: ID!, $m: [FieldMappingInput!]!) { setFieldMappings(integrationId: $id, mappings: $m) { changed } }';
      await sameAsMissing(q, { id: integrationA, m: [{ platform: 'attributes.x', crm: 'x' }] }, { id: missing(), m: [{ platform: 'attributes.x', crm: 'x' }] });
      expect((await api.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationA } })).fieldMappings).toBeNull();
    },
  },
  'Mutation.setRequestBudget': {
    scope: 'integrations:admin',
    op: () => ({
      query: 'mutation ($id: ID!) { setRequestBudget(integrationId: $id, budget: { requests: 150, perSeconds: 10 }) { id } }',
      variables: { id: missing() },
    }),
    async crossOrg() {
      const before = (await api.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationA } })).settings;
      const q = 'mutation ($id: ID!) { setRequestBudget(integrationId: $id, budget: { requests: 150, perSeconds: 10 }) { id } }';
      await sameAsMissing(q, { id: integrationA }, { id: missing() });
      expect((await api.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationA } })).settings).toEqual(before);
    },
  },
  'Mutation.resyncFields': {
    scope: 'integrations:admin',
    op: () => ({ query: 'mutation ($id: ID!) { resyncFields(integrationId: $id, fields: ["firstName"]) { id } }', variables: { id: missing() } }),
    async crossOrg() {
      const before = await api.db.prisma.fieldResyncJob.count();
      await sameAsMissing('mutation ($id: ID!) { resyncFields(integrationId: $id, fields: ["firstName"]) { id } }', { id: integrationA }, { id: missing() });
      expect(await api.db.prisma.fieldResyncJob.count()).toBe(before);
    },
  },
  'Mutation.createApiKey': {
    scope: 'keys:admin',
    op: () => ({
      query: 'mutation ($i: CreateApiKeyInput!) { createApiKey(input: $i) { key } }',
      variables: { i: { name: 'probe', scopes: ['KEYS_ADMIN'] } },
    }),
    async crossOrg() {
      // A key B creates belongs to B: it reads B's leads, never A's.
      const r = await gql(api, b.key, 'mutation ($i: CreateApiKeyInput!) { createApiKey(input: $i) { key apiKey { id } } }', {
        i: { name: 'b reader', scopes: ['LEADS_READ'] },
      });
      const created = r.body.data!.createApiKey;
      const row = await api.db.prisma.apiKey.findUniqueOrThrow({ where: { id: created.apiKey.id } });
      expect(row.organizationId).toBe(b.organizationId);
      const seen = await gql(api, created.key, '{ leads { edges { node { id } } } }');
      const seenIds = seen.body.data!.leads.edges.map((e: any) => e.node.id);
      expect(seenIds).toContain(leadB.id);
      expect(seenIds).not.toContain(leadA.id);
    },
  },
  'Mutation.createIntegration': {
    scope: 'integrations:admin',
    op: () => ({
      query: 'mutation ($i: CreateIntegrationInput!) { createIntegration(input: $i) { id } }',
      variables: { i: { provider: 'HUBSPOT', name: 'probe', accountId: String(Date.now()), accessToken: 'probe-token', apiBaseUrl: 'http://127.0.0.1:9' } },
    }),
    async crossOrg() {
      // A CRM account is connected once (webhooks are routed by it): B cannot take A's,
      // and the refusal names nothing of A. Even with a token HubSpot confirms for that
      // account, B gets exactly the answer of a made-up token.
      const hubspot = await startHubSpotSandbox({ portalId: 1001, accessTokens: ['real-token-of-1001'] });
      const create = (accessToken: string) =>
        gql(api, b.key, 'mutation ($i: CreateIntegrationInput!) { createIntegration(input: $i) { id } }', {
          i: { provider: 'HUBSPOT', name: 'squatter', accountId: '1001', accessToken, apiBaseUrl: hubspot.url },
        });
      const r = await create('real-token-of-1001');
      const madeUp = await create('squatter-token');
      await hubspot.close();
      const error = onlyError(r);
      expect(error.extensions?.code).toBe('ACCOUNT_NOT_VERIFIED');
      expect(madeUp.body).toEqual(r.body);
      expect(madeUp.status).toBe(r.status);
      expect(JSON.stringify(r.body)).not.toContain(integrationA);
      expect(JSON.stringify(r.body)).not.toContain(a.organizationId);
      expect(JSON.stringify(r.body)).not.toContain('1001 HubSpot');
      const stored = await api.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationA } });
      expect(stored.organizationId).toBe(a.organizationId);
    },
  },
  'Mutation.createLead': {
    scope: 'leads:write',
    op: () => ({ query: CREATE_LEAD, variables: { input: { email: `probe-${randomUUID()}@example.com` } } }),
    async crossOrg() {
      // The same email in B is B's own lead; A's lead is untouched.
      const r = await gql(api, b.key, CREATE_LEAD, { input: { email: leadA.email, firstName: 'Mallory' } });
      expect(r.body.data!.createLead.id).not.toBe(leadA.id);
      const stored = await api.db.prisma.lead.findFirstOrThrow({ where: { organizationId: a.organizationId, email: leadA.email } });
      expect(stored.firstName).toBe('Ada');
    },
  },
  'Mutation.updateLead': {
    scope: 'leads:write',
    op: () => ({ query: 'mutation ($i: UpdateLeadInput!) { updateLead(input: $i) { id } }', variables: { i: { id: missingLead(), firstName: 'x' } } }),
    async crossOrg() {
      const q = 'mutation ($i: UpdateLeadInput!) { updateLead(input: $i) { id firstName } }';
      await sameAsMissing(q, { i: { id: leadA.id, firstName: 'Mallory' } }, { i: { id: missingLead(), firstName: 'Mallory' } });
      const stored = await api.db.prisma.lead.findFirstOrThrow({ where: { organizationId: a.organizationId, email: leadA.email } });
      expect(stored.firstName).toBe('Ada');
    },
  },
  'Query.crmConnectors': {
    scope: 'integrations:admin',
    op: () => ({ query: '{ crmConnectors { provider oauth } }' }),
    async crossOrg() {
      // The CRMs of the service, the same for everyone: nothing of an organization in it.
      const mine = await gql(api, a.key, '{ crmConnectors { provider label oauth options } }');
      const theirs = await gql(api, b.key, '{ crmConnectors { provider label oauth options } }');
      expect(theirs.body).toEqual(mine.body);
    },
  },
  'Mutation.connectCrm': {
    scope: 'integrations:admin',
    op: () => ({ query: 'mutation { connectCrm(provider: HUBSPOT, name: "probe") { authorizeUrl } }' }),
    async crossOrg() {
      // A connection B starts is bound to B: its state names B's organization and key, never A's.
      const before = await api.db.prisma.oAuthState.count({ where: { organizationId: a.organizationId } });
      const r = await gql(api, b.key, 'mutation { connectCrm(provider: HUBSPOT, name: "mine") { authorizeUrl } }');
      const state = new URL(r.body.data!.connectCrm.authorizeUrl).searchParams.get('state')!;
      expect(state.split('.')[2]).toBe(b.organizationId);
      expect(await api.db.prisma.oAuthState.count({ where: { organizationId: a.organizationId } })).toBe(before);
    },
  },
  'Mutation.disconnectCrm': {
    scope: 'integrations:admin',
    op: () => ({ query: 'mutation ($id: ID!) { disconnectCrm(integrationId: $id) { id } }', variables: { id: missing() } }),
    async crossOrg() {
      await sameAsMissing('mutation ($id: ID!) { disconnectCrm(integrationId: $id) { id } }', { id: integrationA }, { id: missing() });
      expect((await api.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationA } })).connectionState).toBe('connected');
    },
  },
  'Mutation.disableWebhooks': {
    scope: 'integrations:admin',
    op: () => ({ query: 'mutation ($id: ID!) { disableWebhooks(integrationId: $id) { enabled } }', variables: { id: missing() } }),
    async crossOrg() {
      await sameAsMissing('mutation ($id: ID!) { disableWebhooks(integrationId: $id) { enabled } }', { id: integrationA }, { id: missing() });
      expect((await api.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationA } })).webhooksEnabled).toBe(true);
    },
  },
  'Mutation.rotateWebhookEndpoint': {
    scope: 'integrations:admin',
    op: () => ({ query: 'mutation ($id: ID!) { rotateWebhookEndpoint(integrationId: $id) { webhookUrl } }', variables: { id: missing() } }),
    async crossOrg() {
      const before = (await api.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationA } })).webhookSecrets;
      await sameAsMissing('mutation ($id: ID!) { rotateWebhookEndpoint(integrationId: $id) { webhookUrl } }', { id: integrationA }, { id: missing() });
      expect((await api.db.prisma.integration.findUniqueOrThrow({ where: { id: integrationA } })).webhookSecrets).toBe(before);
    },
  },
  'Mutation.enableWebhooks': {
    scope: 'integrations:admin',
    op: () => ({ query: 'mutation ($id: ID!) { enableWebhooks(integrationId: $id) { webhookUrl } }', variables: { id: missing() } }),
    crossOrg: async () => void (await sameAsMissing('mutation ($id: ID!) { enableWebhooks(integrationId: $id) { webhookUrl } }', { id: integrationA }, { id: missing() })),
  },
  'Mutation.importFromCrm': {
    scope: 'integrations:admin',
    op: () => ({ query: 'mutation ($id: ID!) { importFromCrm(integrationId: $id) { id } }', variables: { id: missing() } }),
    async crossOrg() {
      const before = await api.db.prisma.importJob.count();
      await sameAsMissing('mutation ($id: ID!) { importFromCrm(integrationId: $id) { id } }', { id: integrationA }, { id: missing() });
      expect(await api.db.prisma.importJob.count()).toBe(before);
    },
  },
  'Mutation.retryFailed': {
    scope: 'integrations:admin',
    op: () => ({ query: 'mutation ($id: ID) { retryFailed(integrationId: $id) }', variables: { id: missing() } }),
    async crossOrg() {
      const q = 'mutation ($id: ID) { retryFailed(integrationId: $id) }';
      const theirs = await gql(api, b.key, q, { id: integrationA });
      const nowhere = await gql(api, b.key, q, { id: missing() });
      expect(theirs.body).toEqual(nowhere.body);
      await gql(api, b.key, 'mutation { retryFailed }');
      const event = await api.db.prisma.syncEvent.findUniqueOrThrow({ where: { id: eventA } });
      expect(event.retriedAt).toBeNull();
    },
  },
  'Mutation.retrySyncEvent': {
    scope: 'integrations:admin',
    op: () => ({ query: 'mutation ($id: ID!) { retrySyncEvent(id: $id) { id } }', variables: { id: encodeGlobalID('SyncEvent', missing()) } }),
    async crossOrg() {
      await sameAsMissing(
        'mutation ($id: ID!) { retrySyncEvent(id: $id) { id } }',
        { id: encodeGlobalID('SyncEvent', eventA) },
        { id: encodeGlobalID('SyncEvent', missing()) },
      );
      expect((await api.db.prisma.syncEvent.findUniqueOrThrow({ where: { id: eventA } })).retriedAt).toBeNull();
    },
  },
  'Mutation.revokeApiKey': {
    scope: 'keys:admin',
    op: () => ({ query: 'mutation ($id: ID!) { revokeApiKey(id: $id) { id } }', variables: { id: missing() } }),
    async crossOrg() {
      await sameAsMissing('mutation ($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }', { id: keyOfA.id }, { id: missing() });
      expect((await gql(api, keyOfA.key, '{ leads { totalCount } }')).status).toBe(200);
    },
  },
  'Subscription.importProgress': {
    scope: 'integrations:admin',
    op: () => ({ query: 'subscription ($id: ID!) { importProgress(jobId: $id) { id } }', variables: { id: missing() } }),
    async crossOrg() {
      const q = 'subscription ($id: ID!) { importProgress(jobId: $id) { id status } }';
      const theirs = await subscribeOnce(b.key, { query: q, variables: { id: jobA } });
      const nowhere = await subscribeOnce(b.key, { query: q, variables: { id: missing() } });
      expect(theirs.result).toBeUndefined();
      expect(theirs.error[0].extensions.code).toBe('NOT_FOUND');
      expect(theirs.error).toEqual(nowhere.error);
    },
  },
  'Subscription.leadCreated': {
    scope: 'leads:read',
    op: () => ({ query: 'subscription { leadCreated { id } }' }),
    async crossOrg() {
      // A's creations are published before B's own in every round: B's first event
      // would be one of A's if they leaked.
      const first = firstEvent(b.key, { query: 'subscription { leadCreated { id email } }' });
      const { event } = await firstEventWhileProducing(first, async (round) => {
        await gql(api, a.key, CREATE_LEAD, { input: { email: `a-${round}-${randomUUID()}@acme.io` } });
        await gql(api, b.key, CREATE_LEAD, { input: { email: `b-${round}-${randomUUID()}@globex.io` } });
      });
      expect(event.data.leadCreated.email).toMatch(/@globex\.io$/);
    },
  },
  'Subscription.leadUpdated': {
    scope: 'leads:read',
    op: () => ({ query: 'subscription { leadUpdated { id } }' }),
    async crossOrg() {
      const q = 'mutation ($i: UpdateLeadInput!) { updateLead(input: $i) { id } }';
      const first = firstEvent(b.key, { query: 'subscription { leadUpdated { id } }' });
      const { event } = await firstEventWhileProducing(first, async (round) => {
        await gql(api, a.key, q, { i: { id: leadA.id, company: `Acme ${round}` } });
        await gql(api, b.key, q, { i: { id: leadB.id, company: `Globex ${round}` } });
      });
      expect(event.data.leadUpdated.id).toBe(leadB.id);
    },
  },
  'Subscription.syncActivity': {
    scope: 'leads:read',
    op: () => ({ query: 'subscription { syncActivity { id } }' }),
    async crossOrg() {
      const rowA = await api.db.prisma.syncEvent.findUniqueOrThrow({ where: { id: eventA } });
      const rowB = await api.db.prisma.syncEvent.create({
        data: { ...rowA, id: randomUUID(), organizationId: b.organizationId, integrationId: integrationB },
      });
      const first = firstEvent(b.key, { query: 'subscription { syncActivity { id } }' });
      const { event } = await firstEventWhileProducing(first, async () => {
        await api.pubsub.publish('sync.activity', rowA as never);
        await api.pubsub.publish('sync.activity', rowB as never);
      });
      expect(event.data.syncActivity.id).toBe(encodeGlobalID('SyncEvent', rowB.id));
    },
  },
};

function rootFields(): string[] {
  const names: string[] = [];
  for (const kind of ['Query', 'Mutation', 'Subscription'] as Kind[]) {
    const type = kind === 'Query' ? schema.getQueryType() : kind === 'Mutation' ? schema.getMutationType() : schema.getSubscriptionType();
    for (const name of Object.keys(type?.getFields() ?? {})) names.push(`${kind}.${name}`);
  }
  return names.sort();
}

/** The operation of a case run with `key`: its error code (null when it passed the scope check). */
async function codeFor(field: string, key: string): Promise<string | null> {
  const c = CASES[field];
  if (field.startsWith('Subscription.')) {
    const r = await subscribeOnce(key, c.op());
    if (Array.isArray(r.error)) return r.error[0]?.extensions?.code ?? 'UNKNOWN';
    if (r.error) return `closed:${r.error.code}`;
    return null;
  }
  const r = await gql(api, key, c.op().query, c.op().variables);
  if (r.status === 401) return onlyError(r).extensions?.code;
  return r.body.errors?.[0]?.extensions?.code ?? null;
}

describe('access control on every root field', () => {
  const keys = {} as Record<'none' | 'revoked', string> & Record<string, string>;

  beforeAll(async () => {
    // An OAuth app for HubSpot, so connectCrm answers (its client secret is the test configuration's).
    api = await startApi({ env: { HUBSPOT_CLIENT_ID: 'access-test-client', HUBSPOT_CLIENT_SECRET: 'access-test-secret' } });
    a = await newTenant(api, 'Acme');
    b = await newTenant(api, 'Globex');
    leadA = (await gql(api, a.key, CREATE_LEAD, { input: { email: 'ada@acme.io', firstName: 'Ada' } })).body.data!.createLead;
    leadB = (await gql(api, b.key, CREATE_LEAD, { input: { email: 'bob@globex.io', firstName: 'Bob' } })).body.data!.createLead;
    integrationA = await seedIntegration(a, '1001');
    integrationB = await seedIntegration(b, '2002');
    jobA = (await api.db.prisma.importJob.create({ data: { organizationId: a.organizationId, integrationId: integrationA } })).id;
    resyncA = (await api.db.prisma.fieldResyncJob.create({ data: { organizationId: a.organizationId, integrationId: integrationA, fields: ['attributes.grade'], source: 'crm', status: 'completed' } })).id;
    eventA = (
      await api.db.prisma.syncEvent.create({
        data: {
          organizationId: a.organizationId,
          integrationId: integrationA,
          provider: 'HUBSPOT',
          direction: 'outbound',
          kind: 'failed',
          status: 'failed',
          errorCode: 'UPSTREAM',
          via: 'push',
        },
      })
    ).id;
    keyOfA = await createApiKey(api.db.prisma, a.organizationId, 'second key of A');
    keys.none = (await createApiKey(api.db.prisma, b.organizationId, 'no scopes', [])).key;
    for (const scope of SCOPES) {
      keys[`only:${scope}`] = (await createApiKey(api.db.prisma, b.organizationId, `only ${scope}`, [scope])).key;
      keys[`all but:${scope}`] = (await createApiKey(api.db.prisma, b.organizationId, `all but ${scope}`, SCOPES.filter((s) => s !== scope))).key;
    }
    const revoked = await createApiKey(api.db.prisma, b.organizationId, 'revoked');
    await revokeApiKey(api.db.prisma, b.organizationId, revoked.id);
    keys.revoked = revoked.key;
  });
  afterAll(() => api?.close());

  it('has a scope and a cross-organization case for every root field of the schema', () => {
    expect(Object.keys(CASES).sort()).toEqual(rootFields());
  });

  for (const field of rootFields()) {
    describe(field, () => {
      it('is refused with FORBIDDEN to a key without scopes and to a key lacking its scope, and allowed with only that scope', async () => {
        const c = CASES[field];
        expect(await codeFor(field, keys.none)).toBe('FORBIDDEN');
        expect(await codeFor(field, keys[`all but:${c.scope}`])).toBe('FORBIDDEN');
        if (!field.startsWith('Subscription.') || field === 'Subscription.importProgress') {
          expect(await codeFor(field, keys[`only:${c.scope}`])).not.toBe('FORBIDDEN');
        }
      });

      it('is refused to a revoked key', async () => {
        const code = await codeFor(field, keys.revoked);
        expect(code).toBe(field.startsWith('Subscription.') ? 'closed:4403' : 'UNAUTHENTICATED');
      });

      it('never reaches another organization’s data', async () => {
        await CASES[field].crossOrg();
      });
    });
  }
});

describe('access control on every REST integration route', () => {
  const ROUTES: Record<string, (id: string) => { method: string; path: string; body?: Record<string, unknown> }> = {
    'POST /crm-integration/import': (id) => ({ method: 'POST', path: '/api/v1/crm-integration/import', body: { integrationId: id } }),
    'POST /crm-integration/:integrationId/enable-webhooks': (id) => ({ method: 'POST', path: `/api/v1/crm-integration/${id}/enable-webhooks` }),
    'GET /crm-integration/:integrationId/webhook-status': (id) => ({ method: 'GET', path: `/api/v1/crm-integration/${id}/webhook-status` }),
    'POST /crm-integration/:integrationId/disable-webhooks': (id) => ({ method: 'POST', path: `/api/v1/crm-integration/${id}/disable-webhooks` }),
    'POST /crm-integration/:integrationId/disconnect': (id) => ({ method: 'POST', path: `/api/v1/crm-integration/${id}/disconnect`, body: { keepLinks: true } }),
  };
  let restApi: TestApi;
  let ra: Tenant;
  let rb: Tenant;
  let rbLeadsOnly: Tenant;
  let rbRevoked: string;
  let integration: string;

  beforeAll(async () => {
    restApi = await startApi();
    api = restApi;
    ra = await newTenant(restApi, 'Acme');
    rb = await newTenant(restApi, 'Globex');
    rbLeadsOnly = { ...rb, key: (await createApiKey(restApi.db.prisma, rb.organizationId, 'leads', ['leads:read', 'leads:write', 'keys:admin'])).key };
    const revoked = await createApiKey(restApi.db.prisma, rb.organizationId, 'revoked');
    await revokeApiKey(restApi.db.prisma, rb.organizationId, revoked.id);
    rbRevoked = revoked.key;
    integration = await seedIntegration(ra, '3003');
  });
  afterAll(() => restApi?.close());

  it('knows every authenticated route the REST shim serves', () => {
    const app = restRoutes({ config: restApi.config, service: restApi.engine, auth: { authenticate: async () => null } });
    const served = [...new Set(app.routes.filter((r) => r.path.startsWith('/crm-integration/') && r.method !== 'ALL').map((r) => `${r.method} ${r.path}`))];
    expect(served.sort()).toEqual(Object.keys(ROUTES).sort());
  });

  for (const [name, route] of Object.entries(ROUTES)) {
    it(`${name}: 403 without integrations:admin, 401 revoked, 404 for another organization exactly like a missing id`, async () => {
      const r = route(integration);
      const forbidden = await rest(restApi, rbLeadsOnly.key, r.method, r.path, r.body);
      expect(forbidden.status).toBe(403);
      expect(forbidden.json.error.code).toBe('FORBIDDEN');
      const revoked = await rest(restApi, rbRevoked, r.method, r.path, r.body);
      expect(revoked.status).toBe(401);
      const theirs = await rest(restApi, rb.key, r.method, r.path, r.body);
      const m = route(missing());
      const nowhere = await rest(restApi, rb.key, m.method, m.path, m.body);
      expect(theirs.status).toBe(404);
      expect(theirs.json).toEqual(nowhere.json);
      const stored = await restApi.db.prisma.integration.findUniqueOrThrow({ where: { id: integration } });
      expect(stored.webhooksEnabled).toBe(true);
      expect(stored.connectionState).toBe('connected');
      expect(await restApi.db.prisma.importJob.count()).toBe(0);
    });
  }
});
