// `npm start` as an operator runs it: the service is compiled to JavaScript (build/) and
// runs on plain Node with the flags npm start gives it, with no TypeScript loader in the
// process. On a new data directory it creates the database (its child process runs
// compiled too), applies every migration, serves the dashboard's files and GraphQL, and
// stops cleanly on SIGTERM.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, freePort } from '../helpers/net.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const KEY = 'cs_compiled_start_bootstrap_key';

/** The processes of a process group, with their command lines. */
async function groupProcesses(pgid: number): Promise<{ pid: number; cmdline: string }[]> {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pgid) continue;
      found.push({ pid: Number(entry), cmdline: (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0').join(' ').trim() });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe.runIf(process.platform === 'linux')('npm start runs the compiled service', () => {
  let dataDir: string;
  let pgid: number | undefined;
  afterAll(async () => {
    if (pgid) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('builds, creates and migrates a new database, serves GraphQL and the dashboard without a TypeScript loader, and ends with exit code 0 on SIGTERM', async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'crm-sync-compiled-'));
    const port = await freePort();
    const child = spawn('npm', ['start', '--silent'], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', BOOTSTRAP_API_KEY: KEY, NODE_ENV: 'development' },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: npm, the shell it starts and the service get the signal together.
      detached: true,
    });
    pgid = child.pid!;
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const url = `http://127.0.0.1:${port}`;

    // A cold build (the compiler) and a new database (initdb in a child process) come first.
    let ready: { status: string; checks: { migrations: { ok: boolean; applied: number } } } | undefined;
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`npm start exited: ${out}`);
        const r = await fetch(`${url}/readyz`).catch(() => null);
        if (!r?.ok) return false;
        ready = (await r.json()) as typeof ready;
        return true;
      },
      170_000,
      'the compiled service to be ready',
    );
    const committed = (await readdir(path.join(ROOT, 'prisma', 'migrations'), { withFileTypes: true })).filter((e) => e.isDirectory()).length;
    expect(ready!.status).toBe('ready');
    expect(ready!.checks.migrations).toMatchObject({ ok: true, applied: committed });

    // The process serving is plain Node on the compiled entry, with the Node flags npm start
    // gives it (package.json's config.nodeFlags): no TypeScript loader anywhere in the group.
    const { config } = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { config: { nodeFlags: string } };
    expect(config.nodeFlags).toContain('--v8-pool-size=1');
    const processes = await groupProcesses(pgid);
    const service = processes.find((p) => p.cmdline.endsWith(' build/src/main.js') && !p.cmdline.startsWith('sh'));
    expect(service?.cmdline).toMatch(new RegExp(`^\\S*node ${config.nodeFlags} build/src/main\\.js$`));
    expect(processes.filter((p) => p.cmdline.includes('tsx'))).toEqual([]);

    const gql = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ query: '{ integrations { id } }' }),
    });
    expect(await gql.json()).toEqual({ data: { integrations: [] } });

    // The dashboard's static files were put beside the compiled code.
    const page = await fetch(`${url}/dashboard`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');
    const script = await fetch(`${url}/dashboard/dashboard.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toContain('text/javascript');

    // SIGTERM to the service (as an orchestrator stops it): npm start ends with its exit code.
    process.kill(service!.pid, 'SIGTERM');
    expect(await exited).toBe(0);
    pgid = undefined;
  }, 240_000);
});
