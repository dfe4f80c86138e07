import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

describe('config', () => {
  it('has working defaults', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(4000);
    expect(c.PLATFORM_SOURCE_TAG).toBe('jazzaam');
    expect(c.PUBLIC_BASE_URL).toBe('http://localhost:4000');
    expect(c.HUBSPOT_ALLOW_LEGACY_SIGNATURES).toBe(false);
    expect(c.PGLITE_SHARED_BUFFERS).toBe('16MB');
  });

  it('takes PGLITE_SHARED_BUFFERS as a Postgres memory size only (it is passed to the database as a setting)', () => {
    expect(loadConfig({ PGLITE_SHARED_BUFFERS: '64MB' }).PGLITE_SHARED_BUFFERS).toBe('64MB');
    for (const bad of ['64', '64 MB', '64MB -c fsync=on', '0MB', 'lots']) {
      expect(() => loadConfig({ PGLITE_SHARED_BUFFERS: bad }), bad).toThrowError(/PGLITE_SHARED_BUFFERS/);
    }
  });

  it('PGLITE_INTAKE_PRIORITY_MS: 50 ms by default, 0 switches the priority off, more than a second refused', () => {
    expect(loadConfig({}).PGLITE_INTAKE_PRIORITY_MS).toBe(50);
    expect(loadConfig({ PGLITE_INTAKE_PRIORITY_MS: '0' }).PGLITE_INTAKE_PRIORITY_MS).toBe(0);
    for (const bad of ['-1', '1001', 'soon']) {
      expect(() => loadConfig({ PGLITE_INTAKE_PRIORITY_MS: bad }), bad).toThrowError(/PGLITE_INTAKE_PRIORITY_MS/);
    }
  });

  it('INTAKE_FIRST_MS: 250 ms by default, 0 lets the workers claim during a flood of webhooks, more than a second refused', () => {
    expect(loadConfig({}).INTAKE_FIRST_MS).toBe(250);
    expect(loadConfig({ INTAKE_FIRST_MS: '0' }).INTAKE_FIRST_MS).toBe(0);
    for (const bad of ['-1', '1001', 'soon']) {
      expect(() => loadConfig({ INTAKE_FIRST_MS: bad }), bad).toThrowError(/INTAKE_FIRST_MS/);
    }
  });

  it('HEAP_GROWTH_PERCENT: 20 by default, 0 leaves V8 its own rule, negative or above 300 refused', () => {
    expect(loadConfig({}).HEAP_GROWTH_PERCENT).toBe(20);
    expect(loadConfig({ HEAP_GROWTH_PERCENT: '0' }).HEAP_GROWTH_PERCENT).toBe(0);
    for (const bad of ['-1', '301', '2.5', 'small']) {
      expect(() => loadConfig({ HEAP_GROWTH_PERCENT: bad }), bad).toThrowError(/HEAP_GROWTH_PERCENT/);
    }
  });

  it('rejects bad values with every problem named', () => {
    expect(() => loadConfig({ PORT: 'abc', PLATFORM_SOURCE_TAG: 'Has Spaces' })).toThrowError(ConfigError);
    try {
      loadConfig({ PORT: 'abc', PLATFORM_SOURCE_TAG: 'Has Spaces' });
    } catch (e) {
      expect((e as Error).message).toMatch(/PORT/);
      expect((e as Error).message).toMatch(/PLATFORM_SOURCE_TAG/);
    }
  });

  it('keeps CRM connections off loopback unless CRM_ALLOW_LOCAL_HOSTS is set explicitly', () => {
    expect(loadConfig({}).CRM_ALLOW_LOCAL_HOSTS).toBe(false);
    expect(loadConfig({ CRM_ALLOW_LOCAL_HOSTS: 'true' }).CRM_ALLOW_LOCAL_HOSTS).toBe(true);
    expect(() => loadConfig({ CRM_ALLOW_LOCAL_HOSTS: 'maybe' })).toThrowError(/CRM_ALLOW_LOCAL_HOSTS/);
  });

  it("reads each CRM adapter's own settings with the rest, once: same names, defaults and errors", () => {
    const c = loadConfig({ HUBSPOT_CLIENT_SECRET: 'app-secret', HUBSPOT_ALLOW_LEGACY_SIGNATURES: 'yes' });
    expect(c.HUBSPOT_CLIENT_SECRET).toBe('app-secret');
    expect(c.HUBSPOT_ALLOW_LEGACY_SIGNATURES).toBe(true);
    expect(c.HUBSPOT_API_BASE_URL).toBe('https://api.hubapi.com');
    // A bad adapter setting is named in the same start-up error as a bad service setting.
    try {
      loadConfig({ HUBSPOT_API_BASE_URL: 'not a url', HUBSPOT_ALLOW_LEGACY_SIGNATURES: 'maybe', PORT: 'abc' });
      expect.unreachable('the configuration was accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      for (const name of ['PORT', 'HUBSPOT_API_BASE_URL', 'HUBSPOT_ALLOW_LEGACY_SIGNATURES']) expect((e as Error).message).toContain(name);
    }
  });

  it('strips a trailing slash from the public URL', () => {
    expect(loadConfig({ PUBLIC_BASE_URL: 'https://sync.example.com/' }).PUBLIC_BASE_URL).toBe('https://sync.example.com');
  });

  it('turns introspection, hints and GraphiQL off in production unless set, on otherwise', () => {
    const dev = loadConfig({});
    expect([dev.GRAPHQL_INTROSPECTION, dev.GRAPHQL_SUGGESTIONS, dev.GRAPHQL_GRAPHIQL]).toEqual([true, true, true]);
    const prod = loadConfig({ NODE_ENV: 'production' });
    expect([prod.GRAPHQL_INTROSPECTION, prod.GRAPHQL_SUGGESTIONS, prod.GRAPHQL_GRAPHIQL]).toEqual([false, false, false]);
    const chosen = loadConfig({ NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true', GRAPHQL_GRAPHIQL: 'yes' });
    expect([chosen.GRAPHQL_INTROSPECTION, chosen.GRAPHQL_SUGGESTIONS, chosen.GRAPHQL_GRAPHIQL]).toEqual([true, false, true]);
    expect(loadConfig({ GRAPHQL_INTROSPECTION: 'false' }).GRAPHQL_INTROSPECTION).toBe(false);
    expect(dev.GRAPHQL_MAX_ALIASES).toBe(50);
  });

  it('reads CORS_ORIGINS as a list of origins and refuses anything else', () => {
    expect(loadConfig({}).CORS_ORIGINS).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: 'https://app.example.com, http://localhost:5173/' }).CORS_ORIGINS).toEqual(['https://app.example.com', 'http://localhost:5173']);
    for (const bad of ['*', 'app.example.com', 'https://app.example.com/path', 'ftp://x.example.com']) {
      expect(() => loadConfig({ CORS_ORIGINS: bad }), bad).toThrowError(/CORS_ORIGINS/);
    }
  });

  it('requires a METRICS_TOKEN of at least 16 characters and a valid METRICS_PORT', () => {
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrowError(/METRICS_TOKEN/);
    expect(() => loadConfig({ METRICS_PORT: '70000' })).toThrowError(/METRICS_PORT/);
    expect(loadConfig({ METRICS_PORT: '9464' }).METRICS_PORT).toBe(9464);
  });
});
