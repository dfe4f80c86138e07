// Starts test/bench/service.ts as a child process and drives it: GraphQL with its API
// key, and the stdin commands it answers (drain, rss, stop).
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

export interface BenchService {
  url: string;
  apiKey: string;
  webhookUrl(slug: string): string;
  gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<T>;
  drained(): Promise<void>;
  /** The highest RSS since the last call, with the JavaScript heap and the memory outside it (WebAssembly, buffers) then; MB. */
  /** Starts the workers of a service started with BENCH_START_WORKERS=later. */
  startWorkers(): Promise<void>;
  peakMemory(): Promise<{ rss: number; heap: number; external: number; cpu: number }>;
  /** Sends one stdin command (service.ts lists them) and returns the line it answers. */
  command(line: string): Promise<string>;
  /** Merges `settings` into the integration's settings (e.g. a HubSpot client budget). */
  setSettings(integrationId: string, settings: Record<string, unknown>): Promise<void>;
  stop(): Promise<void>;
}

/** True when the service process runs from the TypeScript sources (BENCH_SERVICE_FROM_SOURCES=1), not compiled. */
export const serviceFromSources = process.env.BENCH_SERVICE_FROM_SOURCES === '1';

let built = false;
/**
 * The service process's entry and loader arguments. By default the compiled JavaScript in
 * build/ (built once per bench run by `npm run build`'s script) with the Node flags
 * `npm start` gives it, as `npm start` runs the service; with BENCH_SERVICE_FROM_SOURCES=1
 * the TypeScript sources through tsx, with Node's defaults (to compare).
 */
function serviceEntry(): { nodeArgs: string[]; script: string } {
  if (serviceFromSources) return { nodeArgs: ['--import', 'tsx'], script: path.join(import.meta.dirname, 'service.ts') };
  const root = path.resolve(import.meta.dirname, '../..');
  if (!built) {
    const build = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
    if (build.status !== 0) throw new Error('bench: npm run build failed');
    built = true;
  }
  return { nodeArgs: startNodeFlags(), script: path.join(root, 'build', 'test', 'bench', 'service.js') };
}

/** The Node flags `npm start` gives the service (package.json's config.nodeFlags). */
export function startNodeFlags(): string[] {
  const root = path.resolve(import.meta.dirname, '../..');
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { config?: { nodeFlags?: string } };
  return (pkg.config?.nodeFlags ?? '').split(/\s+/).filter(Boolean);
}

/** `env`: settings of this service process (DATABASE_URL, WORKERS, ENCRYPTION_KEY, BENCH_START_WORKERS, ...). */
export async function startBenchService(secret: string, profile: boolean, env: Record<string, string> = {}): Promise<BenchService> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crm-sync-bench-service-'));
  // BENCH_SERVICE_NODE_FLAGS: Node/V8 flags of the service process, to compare (e.g. --liftoff-only).
  const flags = (process.env.BENCH_SERVICE_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const { nodeArgs, script } = serviceEntry();
  // The bench's own flags come after npm start's: the last one given wins.
  const args = [...nodeArgs, ...flags, ...(profile ? ['--cpu-prof', '--cpu-prof-dir', 'bench-profiles'] : []), script, dir, secret];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => {
    const r = await lines.next();
    if (r.done) throw new Error('bench: the service process ended');
    return r.value as string;
  };
  const { url, apiKey } = JSON.parse(await next()) as { url: string; apiKey: string };
  const ask = async (command: string) => {
    child.stdin!.write(`${command}\n`);
    return next();
  };
  return {
    url,
    apiKey,
    webhookUrl: (slug) => `${url}/api/v1/webhooks/${slug}`,
    async gql(query, variables) {
      const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` }, body: JSON.stringify({ query, variables }) });
      const body = (await res.json()) as { data?: any; errors?: unknown[] };
      if (body.errors) throw new Error(`bench: GraphQL error ${JSON.stringify(body.errors)}`);
      return body.data;
    },
    async startWorkers() {
      const answer = await ask('start');
      if (answer !== 'started') throw new Error(`bench: the service answered ${answer} to start`);
    },
    async drained() {
      const answer = await ask('drain');
      if (answer !== 'drained') throw new Error(`bench: the service answered ${answer} to drain`);
    },
    command: (line) => ask(line),
    async setSettings(integrationId, settings) {
      const answer = await ask(`settings ${integrationId} ${JSON.stringify(settings)}`);
      if (answer !== 'set') throw new Error(`bench: the service answered ${answer} to settings`);
    },
    async peakMemory() {
      return JSON.parse(await ask('rss'));
    },
    async stop() {
      child.stdin!.write('stop\n');
      await once(child, 'exit');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
