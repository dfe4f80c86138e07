// The OpenAPI document of the REST shim cannot go stale: every route the app serves
// under /api/v1 is documented, every documented operation is served, and the document
// is public.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator } from '../../src/auth.ts';
import { restRoutes } from '../../src/http/rest.ts';
import { createLogger } from '../../src/logger.ts';
import { API_BASE } from '../../src/http/openapi.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

type Doc = {
  openapi: string;
  servers: { url: string }[];
  paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>;
  components: { securitySchemes: Record<string, { type: string; scheme: string }>; schemas: Record<string, any> };
};

async function fetchDoc(): Promise<{ status: number; doc: Doc }> {
  const res = await fetch(`${stack.url}${API_BASE}/openapi.json`);
  return { status: res.status, doc: (await res.json()) as Doc };
}

/** `METHOD /api/v1/path/{param}` for every operation of the document. */
function documented(doc: Doc): string[] {
  return Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)).sort();
}

describe('GET /api/v1/openapi.json', () => {
  it('is served without an API key as an OpenAPI 3.1 document with bearer security and the error envelope', async () => {
    const { status, doc } = await fetchDoc();
    expect(status).toBe(200);
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers).toEqual([{ url: stack.config.PUBLIC_BASE_URL }]);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.schemas.Error.properties.error.required).toEqual(['code', 'message']);
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(ops)) {
        if (p.includes('/webhooks/') || p.includes('/oauth/') || p.endsWith('/openapi.json')) expect(op.security, `${m} ${p}`).toEqual([]);
        else for (const code of ['401', '404', '413', '429']) expect(op.responses[code], `${m} ${p} ${code}`).toBeDefined();
      }
    }
  });

  it('documents exactly the routes the REST shim serves', async () => {
    const { doc } = await fetchDoc();
    const served = restRoutes({ config: stack.config, service: stack.engine, auth: createAuthenticator(stack.db.prisma, createLogger('silent')) })
      .routes // middleware (`use`) is registered as ALL on a wildcard path: not a route
      .filter((r) => !(r.method === 'ALL' && r.path.endsWith('*')))
      .map((r) => `${r.method} ${API_BASE}${r.path.replace(/:(\w+)/g, '{$1}')}`);
    expect([...new Set(served)].sort()).toEqual(documented(doc));
  });

  it('every documented operation answers on the running service, with the documented error envelope and codes', async () => {
    const { doc } = await fetchDoc();
    const codes: string[] = doc.components.schemas.Error.properties.error.properties.code.enum;
    for (const op of documented(doc)) {
      const [method, p] = op.split(' ');
      const url = `${stack.url}${p.replace('{provider}', 'hubspot').replace('{integrationId}', 'no-such-integration')}`;
      const res = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body: method === 'GET' ? undefined : '[]' });
      const text = await res.text();
      // Not the app's catch-all: the route exists.
      expect(text, op).not.toContain('No route for');
      expect(doc.paths[p][method.toLowerCase()].responses[String(res.status)], `${op} answered ${res.status}, which is not documented`).toBeDefined();
      // A page for a browser (the OAuth callback) where the document says so; JSON otherwise.
      if (doc.paths[p][method.toLowerCase()].responses[String(res.status)].content?.['text/html']) {
        expect(res.headers.get('content-type'), op).toMatch(/^text\/html/);
      } else if (res.status >= 400) {
        const body = JSON.parse(text) as { error: { code: string; message: string } };
        expect(codes, op).toContain(body.error.code);
        expect(typeof body.error.message).toBe('string');
      }
    }
  });
});
