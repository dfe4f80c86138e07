// An integration's request budget: how many CRM calls its client may make in a window.
// The client spends the budget every account of the CRM has unless an administrator names
// the account's own (a bigger plan, a limit increase): the adapter says where the CRM's
// plan sets a budget (CrmAdapter.requestBudget), its default and the highest it documents.
// A budget above what the CRM documents is refused: the calls it allowed would be answered
// with 429s. The client is rebuilt with the new budget on its next call (its key includes
// the settings), on every instance.
import type { RequestBudget, RequestBudgetSpec } from '../../adapters/contract.ts';
import { validationError, type FieldProblem } from '../errors.ts';
import type { Integration } from '../generated/prisma/client.ts';
import { settingsOf } from './connections.ts';
import type { EngineContext } from './context.ts';
import type { RequestBudgetInput, RequestBudgetView } from './types.ts';
import { getIntegration } from './integrations.ts';

type BudgetDeps = Pick<EngineContext, 'prisma' | 'connections' | 'logger'>;


/** The budget in force for an integration; null when its CRM has no adjustable budget. */
export function requestBudgetOf(deps: Pick<BudgetDeps, 'connections'>, integration: Pick<Integration, 'provider' | 'settings'>): RequestBudgetView | null {
  const spec = deps.connections.find(integration.provider)?.requestBudget;
  if (!spec) return null;
  const set = spec.read(settingsOf(integration));
  const b = set ?? spec.default;
  return { requests: b.requests, perMs: b.perMs, isDefault: set === null, highest: spec.highest, documented: spec.documented };
}

/** The most calls a budget allows within one of the CRM's own windows (a shorter window repeats inside it). */
function callsPerCrmWindow(b: RequestBudget, crmWindowMs: number): number {
  return b.perMs >= crmWindowMs ? b.requests : b.requests * Math.ceil(crmWindowMs / b.perMs);
}

/** The budget an administrator asks for, checked against what the CRM documents; the problems, or the budget. */
function parseBudget(spec: RequestBudgetSpec, input: RequestBudgetInput): RequestBudget {
  const problems: FieldProblem[] = [];
  if (!Number.isInteger(input.requests) || input.requests < 1) problems.push({ field: 'budget.requests', code: 'BUDGET_INVALID', message: 'must be a whole number of requests, at least 1' });
  if (!Number.isInteger(input.perSeconds) || input.perSeconds < 1 || input.perSeconds > 86_400) {
    problems.push({ field: 'budget.perSeconds', code: 'BUDGET_INVALID', message: 'must be a whole number of seconds from 1 to 86400' });
  }
  if (problems.length) throw validationError(problems);
  const budget = { requests: input.requests, perMs: input.perSeconds * 1000 };
  const allowed = callsPerCrmWindow(budget, spec.highest.perMs);
  if (allowed > spec.highest.requests) {
    throw validationError([
      {
        field: 'budget.requests',
        code: 'BUDGET_ABOVE_DOCUMENTED',
        message: `allows ${allowed} requests in ${spec.highest.perMs / 1000} s, more than the CRM documents for any plan (${spec.highest.requests}). ${spec.documented}`,
      },
    ]);
  }
  return budget;
}

/**
 * Sets the request budget of an integration (null: back to the CRM's default). Only the
 * budget's own settings entries change, in one statement, so a provision writing the
 * settings at the same time keeps its own entries and this one.
 */
export async function setRequestBudget(deps: BudgetDeps, organizationId: string, integrationId: string, input: RequestBudgetInput | null): Promise<Integration> {
  const integration = await getIntegration(deps.prisma, organizationId, integrationId);
  const adapter = deps.connections.adapter(integration.provider);
  const spec = adapter.requestBudget;
  if (!spec) throw validationError([{ field: 'integrationId', code: 'BUDGET_NOT_ADJUSTABLE', message: `${adapter.label} has no adjustable request budget: its client follows the CRM's own limits` }]);
  const budget = input === null ? null : parseBudget(spec, input);
  const entries = spec.write(budget);
  const removed = Object.keys(entries).filter((k) => entries[k] === undefined);
  const set = Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined));
  // The settings as they will be, checked against the adapter's schema (an adapter whose
  // write() answers what its own schema refuses is a defect: thrown, nothing stored).
  deps.connections.settingsToStore(integration.provider, { ...settingsOf(integration), ...set });
  await deps.prisma.$executeRaw`
    UPDATE "Integration"
       SET settings = (COALESCE(settings, '{}'::jsonb) - ${removed}::text[]) || ${JSON.stringify(set)}::jsonb
     WHERE id = ${integration.id}`;
  deps.connections.forget(integration.id);
  deps.logger.info({ integrationId: integration.id, budget: budget ?? 'default' }, 'request budget changed');
  return deps.prisma.integration.findUniqueOrThrow({ where: { id: integration.id } });
}
