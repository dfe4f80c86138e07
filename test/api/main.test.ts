// `npm start` as an operator runs it: a real process, configured by its environment.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freshDataDir } from '../helpers/db.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('main', () => {
  it('starts on an empty database with the bootstrap key, serves, and stops cleanly on SIGTERM', async () => {
    const dataDir = await freshDataDir();
    const bootstrapKey = 'cs_bootstrap_for_main_test_0123';
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        DATA_DIR: dataDir,
        PORT: '0',
        HOST: '127.0.0.1',
        BOOTSTRAP_API_KEY: bootstrapKey,
        POLL_INTERVAL_MS: '0',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: Record<string, any>[] = [];
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = once(child, 'exit');
    try {
      const url = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).on('line', (line) => {
          let entry: Record<string, any>;
          try {
            entry = JSON.parse(line);
          } catch {
            entry = { text: line };
          }
          lines.push(entry);
          if (typeof entry.url === 'string') resolve(entry.url);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code} before listening: ${stderr}`)));
      });

      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${bootstrapKey}` },
        body: JSON.stringify({ query: 'mutation { createLead(input: { email: "first@boot.io" }) { email } }' }),
      });
      expect(await res.json()).toEqual({ data: { createLead: { email: 'first@boot.io' } } });
      expect(lines).toContainEqual(expect.objectContaining({ msg: 'bootstrap organization created' }));

      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
      expect(lines.at(-1)).toMatchObject({ msg: 'stopped' });
      expect(JSON.stringify(lines)).not.toContain(bootstrapKey);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 240_000); // a cold start compiles the TypeScript first
});
