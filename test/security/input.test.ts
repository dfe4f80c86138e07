// Text input rules, checked centrally before anything runs: NUL and other control
// characters, lone surrogates, bidirectional overrides and oversized strings are refused
// in every GraphQL input (variables and literals, arguments and input objects, HTTP and
// WebSockets) with BAD_USER_INPUT naming the field, and in REST bodies and path ids with
// 400 VALIDATION. Nothing reaches PostgreSQL (which answers NUL with error 22021).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREATE_LEAD, gql, newTenant, onlyError, rest, startApi, wsClient, type GqlResponse, type Tenant, type TestApi } from '../api/harness.ts';

describe('text input', () => {
  let api: TestApi;
  let t: Tenant;
  beforeAll(async () => {
    api = await startApi({ env: { NODE_ENV: 'production' } });
    t = await newTenant(api, 'Acme');
  });
  afterAll(() => api?.close());

  const refusedField = (res: GqlResponse) => {
    const error = onlyError(res);
    expect(error.extensions?.code).toBe('BAD_USER_INPUT');
    return (error.extensions?.fields as { field: string; message: string }[]).map((f) => f.field);
  };

  it('refuses a NUL byte in a lead field, as a variable or a literal, naming the field and writing nothing', async () => {
    const viaVariable = await gql(api, t.key, CREATE_LEAD, { input: { email: 'nul@example.com', company: 'Acme\u0000Corp' } });
    expect(refusedField(viaVariable)).toEqual(['input.company']);
    expect(onlyError(viaVariable).message).toMatch(/input\.company must not contain control characters \(found U\+0000\)/);
    const viaLiteral = await gql(api, t.key, 'mutation { createLead(input: { email: "nul@example.com", lastName: "Null\\u0000" }) { id } }');
    expect(refusedField(viaLiteral)).toEqual(['input.lastName']);
    expect(await api.db.prisma.lead.count()).toBe(0);
    expect(await api.db.prisma.outboxItem.count()).toBe(0);
  });

  it('refuses control characters, line breaks in single-line fields, lone surrogates, bidi overrides and oversized text', async () => {
    const hostile: Record<string, string> = {
      firstName: 'Line\nBreak',
      lastName: 'Tab\there',
      phone: '+1\u001b[31m555',
      company: 'Bad\ud800Surrogate',
      status: 'evil\u202Egnp.exe',
    };
    const r = await gql(api, t.key, CREATE_LEAD, { input: { email: 'many@example.com', ...hostile } });
    expect(refusedField(r).sort()).toEqual(Object.keys(hostile).map((k) => `input.${k}`).sort());
    const long = await gql(api, t.key, CREATE_LEAD, { input: { email: 'long@example.com', company: 'x'.repeat(10_001) } });
    expect(refusedField(long)).toEqual(['input.company']);
    expect(onlyError(long).message).toMatch(/at most 10000 characters/);
    expect(await api.db.prisma.lead.count()).toBe(0);
  });

  it('accepts ordinary international text, emoji and right-to-left marks', async () => {
    const input = { email: 'zoe@example.com', firstName: 'Zoë 😀', lastName: '王', company: '\u200Fشركة', status: 'new' };
    const r = await gql(api, t.key, CREATE_LEAD, { input });
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data!.createLead).toMatchObject({ firstName: 'Zoë 😀', lastName: '王', company: '\u200Fشركة' });
  });

  it('checks ids, query arguments and input filters too', async () => {
    expect(refusedField(await gql(api, t.key, 'mutation ($i: UpdateLeadInput!) { updateLead(input: $i) { id } }', { i: { id: 'TGVhZDo\u0000', company: 'x' } }))).toEqual(['input.id']);
    expect(refusedField(await gql(api, t.key, 'query ($e: String) { leads(email: $e) { totalCount } }', { e: 'a\u0000@example.com' }))).toEqual(['email']);
    expect(refusedField(await gql(api, t.key, '{ integration(id: "\\u0000") { id } }'))).toEqual(['id']);
    expect(refusedField(await gql(api, t.key, 'query ($f: SyncEventFilter) { syncEvents(filter: $f) { totalCount } }', { f: { integrationId: '\u0007' } }))).toEqual([
      'filter.integrationId',
    ]);
    // Nested: a field's argument below the root.
    const nested = await gql(api, t.key, 'query ($id: ID!) { lead(id: $id) { id } integrations { id } }', { id: '\u0000' });
    expect(refusedField(nested)).toEqual(['id']);
  });

  it('checks subscription arguments over WebSockets', async () => {
    const client = wsClient(api, t.key);
    try {
      const first = await client.iterate({ query: 'subscription ($id: ID!) { importProgress(jobId: $id) { id } }', variables: { id: 'job\u0000' } }).next();
      expect(first.value).toEqual({
        errors: [expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT', fields: [{ field: 'jobId', message: expect.stringMatching(/U\+0000/) }] } })],
      });
    } finally {
      await client.dispose();
    }
  });

  it('REST: refuses such text in JSON bodies and path ids with 400 VALIDATION naming it', async () => {
    const body = await rest(api, t.key, 'POST', '/api/v1/crm-integration/import', { integrationId: 'abc\u0000' });
    expect(body.status).toBe(400);
    expect(body.json.error).toMatchObject({ code: 'VALIDATION', fields: [{ field: 'integrationId' }] });
    const nested = await rest(api, t.key, 'POST', '/api/v1/crm-integration/import', { integrationId: 'ok', extra: [{ deep: 'x\u202E' }] });
    expect(nested.status).toBe(400);
    expect(nested.json.error.fields).toEqual([{ field: 'extra[0].deep', message: expect.stringMatching(/bidirectional/) }]);
    for (const path of ['/api/v1/crm-integration/abc%00/webhook-status', '/api/v1/crm-integration/%1B/enable-webhooks']) {
      const r = await rest(api, t.key, path.endsWith('status') ? 'GET' : 'POST', path);
      expect(r.status, path).toBe(400);
      expect(r.json.error, path).toMatchObject({ code: 'VALIDATION', fields: [{ field: 'integrationId' }] });
    }
    expect(await api.db.prisma.importJob.count()).toBe(0);
  });
});
