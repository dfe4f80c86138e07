// The printed verdict of a chaos run, and its failure count (the exit status).
import type { ChaosReport } from './run.ts';

export function failures(r: ChaosReport): number {
  const f = r.findings;
  return f.lost.length + f.duplicated.length + f.wrong.length + f.echoWrites.length + (r.settled ? 0 : 1);
}

export function formatReport(r: ChaosReport, totalMs: number): string {
  const f = r.findings;
  const lines = [
    `chaos run: seed ${r.options.seed}, ${r.options.events} steps, ${r.options.kills} kill(s), fault rate ${r.options.faultRate}`,
    `  steps: ${JSON.stringify(r.steps)}; people ${r.persons}`,
    `  API faults injected: ${JSON.stringify(r.faults)}`,
    `  webhooks: ${r.webhooks.deliveries} POSTs, ${r.webhooks.duplicates} duplicated, ${r.webhooks.lateBatches} late creation batches, ${r.webhooks.redelivered} re-sent after HubSpot gave up`,
    `  restarts after SIGKILL: ${r.restarts}; rows left failed: inbox ${r.failedRows.inbox}, outbox ${r.failedRows.outbox}`,
    `  activity ${(r.activityMs / 1000).toFixed(1)} s; settle ${r.settled ? `${(r.settleMs / 1000).toFixed(1)} s` : `NOT settled within ${(r.settleMs / 1000).toFixed(0)} s`}; total ${(totalMs / 1000).toFixed(1)} s`,
    `lost: ${f.lost.length}`,
    `duplicated: ${f.duplicated.length}`,
    `wrong values: ${f.wrong.length}${f.wrong.length ? ` (by last write: ${JSON.stringify(byCase(f.wrong))})` : ''}`,
    `echo writes: ${f.echoWrites.length}`,
  ];
  for (const [name, list] of [['lost', f.lost], ['duplicated', f.duplicated], ['wrong', f.wrong], ['echo', f.echoWrites]] as const) {
    for (const x of list.slice(0, 10)) lines.push(`  ${name}: ${x}`);
    if (list.length > 10) lines.push(`  ${name}: ... and ${list.length - 10} more`);
  }
  if (r.options.keep) lines.push(`work directory kept: ${r.workDir}`);
  return `${lines.join('\n')}\n`;
}

/** Wrong values counted by who wrote the field last (the tag the oracle puts on each). */
function byCase(wrong: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const w of wrong) {
    const m = /\[last write: ([a-z_]+) on (crm|platform) person\]/.exec(w);
    const k = m ? `${m[1]}/${m[2]}` : 'contested';
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}
