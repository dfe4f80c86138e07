// Runs the `crm-sync` CLI the way an operator does: the bin launcher in its own process.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'crm-sync.mjs');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `crm-sync ...args` with the test's environment plus `env`; never inherits DATA_DIR or DATABASE_URL. */
export function crmSync(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const { DATA_DIR: _d, DATABASE_URL: _u, LOG_LEVEL: _l, ...inherited } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      // CRM_ALLOW_LOCAL_HOSTS: the sandboxes listen on loopback over http.
      env: { ...inherited, POLL_INTERVAL_MS: '0', CRM_ALLOW_LOCAL_HOSTS: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs the CLI and fails with its output unless it exits with 0. */
export async function crmSyncOk(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const r = await crmSync(args, env);
  if (r.code !== 0) throw new Error(`crm-sync ${args.join(' ')} exited with ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}
