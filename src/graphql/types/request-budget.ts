// An integration's request budget (src/engine/request-budget.ts): how many CRM calls its
// client makes in a window, the CRM's default unless an administrator names the account's own.
import type { RequestBudgetView } from '../../engine/types.ts';
import { builder } from '../builder.ts';
import { IntegrationType, integrationView } from './integration.ts';

const BudgetType = builder.objectRef<{ requests: number; perMs: number }>('RequestBudgetLimit').implement({
  description: 'At most `requests` CRM calls in any window of `perSeconds`.',
  fields: (t) => ({
    requests: t.exposeInt('requests'),
    perSeconds: t.float({ resolve: (b) => b.perMs / 1000 }),
  }),
});

const RequestBudgetType = builder.objectRef<RequestBudgetView>('RequestBudget').implement({
  description: "The request budget the integration's client spends: the CRM's default, or the one an administrator set (setRequestBudget).",
  fields: (t) => ({
    requests: t.exposeInt('requests'),
    perSeconds: t.float({ resolve: (b) => b.perMs / 1000 }),
    isDefault: t.exposeBoolean('isDefault', { description: "True: none was set, the budget every account of the CRM has applies." }),
    highest: t.field({ type: BudgetType, resolve: (b) => b.highest, description: 'The highest the CRM documents for any plan: a budget allowing more calls in that window is refused.' }),
    documented: t.exposeString('documented', { description: "The CRM's documented budgets by plan." }),
  }),
});

builder.objectField(IntegrationType, 'requestBudget', (t) =>
  t.field({
    type: RequestBudgetType,
    nullable: true,
    description: "The request budget in force; null when the CRM's limits are not set by plan here (its client follows the CRM's own limits).",
    resolve: (i, _args, ctx) => ctx.services.sync.requestBudget(ctx.organizationId, i.id),
  }),
);

const RequestBudgetInput = builder.inputType('RequestBudgetInput', {
  fields: (t) => ({
    requests: t.int({ required: true }),
    perSeconds: t.int({ required: true }),
  }),
});

builder.mutationFields((t) => ({
  setRequestBudget: t.field({
    type: IntegrationType,
    authScopes: { 'integrations:admin': true },
    description:
      "Sets how many CRM calls the integration's client makes in a window: the account's own budget, when its plan has a bigger one than " +
      "the CRM's default (HubSpot: 190 per 10 s on Professional and Enterprise). budget null: back to the default. VALIDATION with a code: " +
      'BUDGET_INVALID, BUDGET_ABOVE_DOCUMENTED (more than the CRM documents for any plan), BUDGET_NOT_ADJUSTABLE; nothing changes then.',
    args: {
      integrationId: t.arg.id({ required: true }),
      budget: t.arg({ type: RequestBudgetInput, required: false }),
    },
    resolve: async (_root, args, ctx) => integrationView(await ctx.services.sync.setRequestBudget(ctx.organizationId, String(args.integrationId), args.budget ?? null)),
  }),
}));
