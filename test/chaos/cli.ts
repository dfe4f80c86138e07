// `npm run chaos -- [--events N] [--kills K] [--fault-rate F] [--seed S] [--rate R] [--settle-timeout MS] [--keep]`
// Prints what the oracle found and exits 1 when anything was lost, duplicated, wrong or echoed.
import { parseArgs } from 'node:util';
import { failures, formatReport } from './report.ts';
import { DEFAULTS, runChaos } from './run.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string' },
    kills: { type: 'string' },
    'fault-rate': { type: 'string' },
    seed: { type: 'string' },
    rate: { type: 'string' },
    'settle-timeout': { type: 'string' },
    keep: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  process.stdout.write(
    `npm run chaos -- [options]\n  --events N          steps of generated activity (${DEFAULTS.events})\n  --kills K           SIGKILLs of the service at random steps (${DEFAULTS.kills})\n  --fault-rate F      share of CRM API calls that fail (${DEFAULTS.faultRate})\n  --seed S            seed of every random choice (${DEFAULTS.seed})\n  --rate R            steps per second at most (${DEFAULTS.rate})\n  --settle-timeout MS bound of the settle phase (${DEFAULTS.settleTimeoutMs})\n  --keep              keep the work directory (database, service logs)\n`,
  );
  process.exit(0);
}

function num(name: string, v: string | undefined, fallback: number, ok: (n: number) => boolean): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || !ok(n)) {
    process.stderr.write(`chaos: --${name} ${v} is not valid\n`);
    process.exit(2);
  }
  return n;
}

const opts = {
  events: num('events', values.events, DEFAULTS.events, (n) => Number.isInteger(n) && n > 0),
  kills: num('kills', values.kills, DEFAULTS.kills, (n) => Number.isInteger(n) && n >= 0),
  faultRate: num('fault-rate', values['fault-rate'], DEFAULTS.faultRate, (n) => n >= 0 && n < 1),
  seed: num('seed', values.seed, DEFAULTS.seed, (n) => Number.isInteger(n)),
  rate: num('rate', values.rate, DEFAULTS.rate, (n) => n > 0),
  settleTimeoutMs: num('settle-timeout', values['settle-timeout'], DEFAULTS.settleTimeoutMs, (n) => n >= 1_000),
  clientTimeoutMs: DEFAULTS.clientTimeoutMs,
  keep: values.keep ?? false,
  log: (line: string) => process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}\n`),
};

const started = Date.now();
const report = await runChaos(opts);
process.stdout.write(formatReport(report, Date.now() - started));
process.exit(failures(report) > 0 ? 1 : 0);
