// Bad invocations end with a non-zero exit code and the usage of what was meant; --help
// answers on stdout with exit code 0. None of these touch a database.
import { describe, expect, it } from 'vitest';
import { SCOPES } from '../../src/auth.ts';
import { crmSync } from './run.ts';

describe('crm-sync usage', () => {
  it('without a command: exit 2 and the list of commands', async () => {
    const r = await crmSync([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('No command given');
    expect(r.stderr).toContain('Usage: crm-sync <command>');
    expect(r.stderr).toContain('apikey create');
    expect(r.stdout).toBe('');
  });

  it('an unknown command, a missing subcommand, a missing or unknown flag: exit 2 with a usage message', async () => {
    const [unknown, group, missing, badFlag, extra, badScope] = await Promise.all([
      crmSync(['frobnicate']),
      crmSync(['apikey']),
      crmSync(['apikey', 'create', '--org', 'o1']),
      crmSync(['org', 'create', '--name', 'A', '--colour', 'red']),
      crmSync(['org', 'create', 'Acme']),
      crmSync(['apikey', 'create', '--org', 'o1', '--name', 'ci', '--scopes', 'leads:read,root']),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown command: frobnicate');
    expect(group.code).toBe(2);
    expect(group.stderr).toContain('Usage: crm-sync apikey <create|list|revoke>');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--name is required');
    expect(missing.stderr).toContain('Usage: crm-sync apikey create --org ORG_ID --name NAME');
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain("Unknown option '--colour'");
    expect(badFlag.stderr).toContain('Usage: crm-sync org create --name NAME');
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain('Unexpected argument: Acme');
    expect(badScope.code).toBe(2);
    expect(badScope.stderr).toContain('Unknown scope: root');
    expect(badScope.stderr).toContain(`valid scopes: ${SCOPES.join(', ')}`);
    for (const r of [unknown, group, missing, badFlag, extra, badScope]) {
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(r.stdout).toBe('');
    }
  });

  it('--help of the tool and of each command: exit 0, usage on stdout', async () => {
    const [all, imp, replay] = await Promise.all([crmSync(['--help']), crmSync(['import', '--help']), crmSync(['replay-failed', '-h'])]);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain('rotate-key');
    expect(imp.code).toBe(0);
    expect(imp.stdout).toContain('Usage: crm-sync import --integration INTEGRATION_ID');
    expect(imp.stdout).toContain('--json');
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain('Usage: crm-sync replay-failed [--org ORG_ID] [--integration INTEGRATION_ID]');
  });

  it('an invalid configuration: exit 2 with the problem, no stack trace', async () => {
    const r = await crmSync(['org', 'create', '--name', 'A'], { PLATFORM_SOURCE_TAG: 'Not Valid!' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Invalid configuration: PLATFORM_SOURCE_TAG');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
