// The service under test as a real operating-system process on PGlite (its own data
// directory), with its log in a file: started, SIGKILLed, restarted, stopped, and asked
// over HTTP how much work it still holds.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ServiceRig {
  url: string;
  /** Current process (null while down). */
  child: ChildProcess | null;
  /** Starts a process (again) on the same data directory and port; resolves once /healthz answers. */
  start(): Promise<void>;
  /** SIGKILL, and waits for the process to be gone. */
  kill(): Promise<void>;
  /** SIGTERM (graceful), and waits for the exit; SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
  /** Inbox and outbox rows pending or processing, from /metrics; null when it does not answer. */
  queueDepth(): Promise<{ inbox: number; outbox: number } | null>;
  starts: number;
}

export function serviceRig(opts: { dataDir: string; port: number; env: Record<string, string>; logDir: string; startTimeoutMs: number }): ServiceRig {
  const url = `http://127.0.0.1:${opts.port}`;
  let exited: Promise<number | null> = Promise.resolve(null);
  let log: WriteStream | null = null;
  const rig: ServiceRig = {
    url,
    child: null,
    starts: 0,
    async start() {
      rig.starts++;
      log = createWriteStream(path.join(opts.logDir, `service-${rig.starts}.log`));
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        cwd: ROOT,
        env: { ...process.env, ...opts.env, DATA_DIR: opts.dataDir, PORT: String(opts.port), HOST: '127.0.0.1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.pipe(log, { end: false });
      child.stderr!.pipe(log, { end: false });
      exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
      rig.child = child;
      const until = Date.now() + opts.startTimeoutMs;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode} while starting (log: ${opts.logDir}/service-${rig.starts}.log)`);
        const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false);
        if (ok) return;
        if (Date.now() > until) throw new Error(`service did not answer /healthz within ${opts.startTimeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async kill() {
      const child = rig.child;
      if (!child) return;
      rig.child = null;
      child.kill('SIGKILL');
      await exited;
    },
    async stop(graceMs = 15_000) {
      const child = rig.child;
      if (!child) return null;
      rig.child = null;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      log?.end();
      return code;
    },
    async queueDepth() {
      const text = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) }).then((r) => (r.ok ? r.text() : null), () => null);
      if (!text) return null;
      const depth = (q: string) => {
        const m = new RegExp(`^crm_sync_queue_depth\\{queue="${q}"\\} (\\d+)`, 'm').exec(text);
        return m ? Number(m[1]) : NaN;
      };
      const d = { inbox: depth('inbox'), outbox: depth('outbox') };
      return Number.isNaN(d.inbox) || Number.isNaN(d.outbox) ? null : d;
    },
  };
  return rig;
}
