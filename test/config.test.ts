import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

describe('config', () => {
  it('has working defaults', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(4000);
    expect(c.PLATFORM_SOURCE_TAG).toBe('jazzaam');
    expect(c.PUBLIC_BASE_URL).toBe('http://localhost:4000');
    expect(c.HUBSPOT_ALLOW_LEGACY_SIGNATURES).toBe(false);
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

  it('strips a trailing slash from the public URL', () => {
    expect(loadConfig({ PUBLIC_BASE_URL: 'https://sync.example.com/' }).PUBLIC_BASE_URL).toBe('https://sync.example.com');
  });
});
