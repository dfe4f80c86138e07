// `crm-sync`: operator commands over the same configuration and database as the service.
// One file per command group; this one dispatches, prints help and turns expected
// failures into a message and an exit code (0 done, 1 failed, 2 bad usage/configuration).
import { ConfigError } from '../config.ts';
import { isAppError } from '../errors.ts';
import { apikeyCreateCommand, apikeyListCommand, apikeyRevokeCommand } from './apikey.ts';
import { CliError, EXIT_FAILURE, EXIT_USAGE, GLOBAL_HELP, makeContext, parseCommandArgs, usageError, type Command } from './common.ts';
import { importCommand } from './import.ts';
import { migrateCommand } from './migrate.ts';
import { orgCreateCommand } from './org.ts';
import { replayFailedCommand } from './replay.ts';
import { rotateKeyCommand } from './rotate-key.ts';
import { serveCommand } from './serve.ts';

export const COMMANDS: Command[] = [
  serveCommand,
  migrateCommand,
  orgCreateCommand,
  apikeyCreateCommand,
  apikeyListCommand,
  apikeyRevokeCommand,
  importCommand,
  replayFailedCommand,
  rotateKeyCommand,
];

function mainHelp(commands = COMMANDS, title = 'Usage: crm-sync <command> [options]'): string {
  const names = commands.map((c) => c.path.join(' '));
  const width = Math.max(...names.map((n) => n.length));
  return `${title}

Commands:
${commands.map((c, i) => `  ${names[i].padEnd(width)}  ${c.summary}`).join('\n')}

Run \`crm-sync <command> --help\` for a command's options.

${GLOBAL_HELP}`;
}

/** Runs the CLI; resolves with the exit code (serve never resolves). */
export async function runCli(argv: string[]): Promise<number> {
  const words: string[] = [];
  for (const a of argv) {
    if (a.startsWith('-')) break;
    words.push(a);
  }
  const wantsHelp = argv.includes('--help') || argv.includes('-h');
  if (words.length === 0 || words[0] === 'help') {
    if (wantsHelp || words[0] === 'help') {
      process.stdout.write(`${mainHelp()}\n`);
      return 0;
    }
    throw usageError(argv.length ? `Unknown option ${argv[0]}` : 'No command given', mainHelp());
  }
  const cmd = COMMANDS.find((c) => c.path.every((w, i) => words[i] === w));
  if (!cmd) {
    const group = COMMANDS.filter((c) => c.path.length > 1 && c.path[0] === words[0]);
    if (group.length) {
      const groupHelp = mainHelp(group, `Usage: crm-sync ${words[0]} <${group.map((c) => c.path[1]).join('|')}> [options]`);
      if (words.length === 1 && wantsHelp) {
        process.stdout.write(`${groupHelp}\n`);
        return 0;
      }
      throw usageError(words.length === 1 ? `${words[0]}: a subcommand is required` : `Unknown command: ${words.slice(0, 2).join(' ')}`, groupHelp);
    }
    throw usageError(`Unknown command: ${words[0]}`, mainHelp());
  }
  if (wantsHelp) {
    process.stdout.write(`${cmd.usage}\n\n${GLOBAL_HELP}\n`);
    return 0;
  }
  const { values, positionals } = parseCommandArgs(cmd, argv.slice(cmd.path.length));
  if (positionals.length) throw usageError(`Unexpected argument: ${positionals[0]}`, cmd.usage);
  const code = await cmd.run(makeContext(cmd, values, positionals));
  return code ?? 0;
}

/** The message and exit code of a failure; expected failures carry no stack trace. */
export function describeFailure(err: unknown): { message: string; exitCode: number } {
  if (err instanceof CliError) return { message: err.hint ? `${err.message}\n\n${err.hint}` : err.message, exitCode: err.exitCode };
  if (err instanceof ConfigError) return { message: err.message, exitCode: EXIT_USAGE };
  if (isAppError(err)) return { message: `${err.message} (${err.code})`, exitCode: EXIT_FAILURE };
  const e = err as { name?: string; code?: unknown; message?: string } | null;
  if (e?.name === 'SecretError') return { message: e.message ?? 'encryption key problem', exitCode: EXIT_FAILURE };
  // Prisma: a table that does not exist means a database nobody migrated yet.
  if (e?.code === 'P2021') return { message: 'The database has no schema yet: run `crm-sync migrate` first.', exitCode: EXIT_FAILURE };
  return { message: `unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, exitCode: EXIT_FAILURE };
}

export async function main(argv = process.argv.slice(2)): Promise<never> {
  let code: number;
  try {
    code = await runCli(argv);
  } catch (err) {
    const { message, exitCode } = describeFailure(err);
    process.stderr.write(`crm-sync: ${message}\n`);
    code = exitCode;
  }
  // Connection pools and HTTP agents of the engine may linger: the command is done.
  process.exit(code);
}

void main();
