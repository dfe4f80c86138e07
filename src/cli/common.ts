// Shared by every CLI command: argument parsing (node:util parseArgs), the service's
// configuration and database, output (human text or --json), and errors that end the
// process with a clear message instead of a stack trace.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig, type Config } from '../config.ts';
import type { Database } from '../db/client.ts';
import type { Logger } from '../logger.ts';

/** Exit codes: 0 done, 1 the operation failed, 2 bad usage or configuration. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** An expected failure: printed as `crm-sync: <message>`, no stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = EXIT_FAILURE,
    /** Printed after the message (e.g. the command's usage). */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function usageError(message: string, usage: string): CliError {
  return new CliError(message, EXIT_USAGE, usage);
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Flags every command accepts. */
export const GLOBAL_OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  'data-dir': { type: 'string' },
  'database-url': { type: 'string' },
} as const satisfies Options;

export const GLOBAL_HELP = `Global options:
  --json                 machine-readable output (one JSON document on stdout)
  --data-dir DIR         embedded database directory (default: $DATA_DIR, ./.data)
  --database-url URL     PostgreSQL URL (default: $DATABASE_URL; PGlite when unset)
  -h, --help             this help

Configuration comes from the same environment variables as the service (see README).`;

export interface Command {
  /** Words after `crm-sync` that select the command, e.g. ['apikey', 'create']. */
  path: string[];
  summary: string;
  usage: string;
  options: Options;
  run(ctx: CommandContext): Promise<number | void>;
}

export interface CommandContext {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  json: boolean;
  out: Output;
  /** The service's configuration, with --data-dir / --database-url applied. */
  config(overrides?: Record<string, string>): Config;
  /** Opens the configured database without migrating it (use `migrate` for that). */
  openDb(opts?: { migrate?: boolean }): Promise<Database>;
  logger(config: Config): Promise<Logger>;
  usage: string;
}

export interface Output {
  /** Human output line (suppressed with --json). */
  line(text: string): void;
  /** The JSON document (with --json) or nothing. */
  json(value: unknown): void;
  /** stdout is a terminal. */
  isTTY: boolean;
}

export function parseCommandArgs(cmd: Command, argv: string[]) {
  try {
    return parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...cmd.options }, allowPositionals: true, strict: true });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) throw usageError((err as Error).message, cmd.usage);
    throw err;
  }
}

export function makeContext(cmd: Command, values: Record<string, string | boolean | undefined>, positionals: string[]): CommandContext {
  const json = values.json === true;
  const out: Output = {
    line: (text) => {
      if (!json) process.stdout.write(`${text}\n`);
    },
    json: (value) => {
      if (json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
    isTTY: Boolean(process.stdout.isTTY),
  };
  const config = (overrides: Record<string, string> = {}) =>
    loadConfig({
      // Operators read the CLI's own output; the engine's log lines go to stderr from warn up.
      LOG_LEVEL: 'warn',
      ...process.env,
      ...(typeof values['data-dir'] === 'string' ? { DATA_DIR: values['data-dir'] } : {}),
      ...(typeof values['database-url'] === 'string' ? { DATABASE_URL: values['database-url'] } : {}),
      ...overrides,
    });
  return {
    values,
    positionals,
    json,
    out,
    usage: cmd.usage,
    config,
    async openDb(opts = {}) {
      const c = config();
      if (!c.DATABASE_URL) refuseOpenEmbeddedDatabase(c.DATA_DIR);
      // Loaded on demand: `--help` and usage errors should not pay for Prisma and PGlite.
      const { openDatabase } = await import('../db/client.ts');
      // A command that opens the database may do the service's work in this process (an
      // import, a replay): its heap is held like the service's (heap-growth.ts).
      const { limitHeapGrowth } = await import('../heap-growth.ts');
      limitHeapGrowth(c.HEAP_GROWTH_PERCENT);
      return openDatabase({
        databaseUrl: c.DATABASE_URL,
        dataDir: c.DATA_DIR,
        pgliteSharedBuffers: c.PGLITE_SHARED_BUFFERS,
        migrate: opts.migrate ?? false,
      });
    },
    logger: async (c) => (await import('../logger.ts')).createLogger(c.LOG_LEVEL, process.stderr),
  };
}

/**
 * The embedded database (PGlite) serves one process at a time: a second process opening
 * the same directory corrupts it. PGlite keeps postmaster.pid in the directory while it
 * is open (and removes it on a clean close), so its presence means a service (or another
 * command) holds it.
 */
function refuseOpenEmbeddedDatabase(dataDir: string): void {
  const pidFile = path.join(dataDir, 'pglite', 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  throw new CliError(
    `The embedded database in ${dataDir} is open in another process (a running service?). ` +
      'Stop it first, or run the service and the CLI on PostgreSQL (DATABASE_URL). ' +
      `If no process uses it (after a crash), delete ${pidFile}.`,
  );
}

/** A required string flag; a usage error when absent or blank. */
export function requireString(ctx: CommandContext, name: string): string {
  const v = ctx.values[name];
  if (typeof v !== 'string' || v.trim() === '') throw usageError(`--${name} is required`, ctx.usage);
  return v.trim();
}

export function optionalString(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.trim() === '') throw usageError(`--${name} needs a value`, ctx.usage);
  return v.trim();
}

/** Runs `fn` with the database open, closing it afterwards whatever happens. */
export async function withDb<T>(ctx: CommandContext, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await ctx.openDb();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

export function formatTable(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')).join('\n');
}
