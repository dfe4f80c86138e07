// Integrations: creation (credentials checked by the adapter's schema, the account proven
// with the CRM's own answer) and lookup. Webhook set-up and status: webhook-lifecycle.ts.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { CrmAdapter, CrmProvider } from '../../adapters/contract.ts';
import { AppError, notFound, validationError } from '../errors.ts';
import type { Integration, PrismaClient } from '../generated/prisma/client.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { writeCredentials, type Connections } from './connections.ts';
import { checkIntegrationUrls } from './integration-urls.ts';
import { apiErrorOf, refusesCredentials } from './crm-errors.ts';
import type { CreateIntegrationInput } from './types.ts';
import type { EngineContext } from './context.ts';

export type IntegrationDeps = Pick<EngineContext, 'config' | 'prisma' | 'logger' | 'connections' | 'platformTag'>;

/** What every integration takes, whatever its CRM: the credentials are its adapter's (CrmAdapter.credentials). */
function commonInput(providers: readonly CrmProvider[]) {
  return z.object({
    provider: z.enum(providers as [CrmProvider, ...CrmProvider[]]),
    name: z.string().trim().min(1, 'is required').max(200),
    /** Optional: the CRM names the account of the token (whoami); when given it must match. */
    accountId: z.string().trim().min(1, 'must not be empty').max(100).nullable().optional(),
    apiBaseUrl: z.string().trim().url('must be a URL').nullable().optional(),
    autoSync: z.boolean().nullable().optional(),
  });
}

type Issue = { field: string; message: string };
const issuesOf = (error: z.ZodError): Issue[] => error.issues.map((i) => ({ field: i.path.join('.') || 'input', message: i.message }));

/**
 * The input checked: the common fields, and the credentials by the provider's adapter
 * (fields it does not take are dropped). Every problem is named at once; nothing is stored.
 */
function parseInput(connections: Connections, input: CreateIntegrationInput) {
  const common = commonInput(connections.providers()).safeParse(input);
  const adapter = common.success ? connections.adapter(common.data.provider) : connections.find(input.provider);
  const credentials = adapter ? adapter.credentials.safeParse(input) : null;
  const issues = [...(common.success ? [] : issuesOf(common.error)), ...(credentials && !credentials.success ? issuesOf(credentials.error) : [])];
  if (!common.success || !adapter || !credentials?.success) {
    // In the order of the fields: the common ones, the credentials, autoSync last.
    const order = ['provider', 'name', 'accountId', 'apiBaseUrl', ...Object.keys(adapter?.credentials.shape ?? {}), 'autoSync'];
    const rank = (field: string) => {
      const i = order.indexOf(field.split('.')[0]);
      return i === -1 ? order.length : i;
    };
    throw validationError(issues.sort((a, b) => rank(a.field) - rank(b.field)));
  }
  return { ...common.data, adapter, credentials: credentials.data as Record<string, string | null | undefined> };
}

export async function createIntegration(deps: IntegrationDeps, organizationId: string, input: CreateIntegrationInput): Promise<Integration> {
  const v = parseInput(deps.connections, input);
  const adapter = v.adapter;
  // The network guard's verdict on the URLs, before anything is stored or asked.
  const urls = checkIntegrationUrls(
    adapter,
    deps.connections.network,
    { apiBaseUrl: v.apiBaseUrl, accountsUrl: v.credentials.accountsUrl },
    adapter.defaultApiBaseUrl(deps.config),
  );
  const credentials = Object.fromEntries(
    Object.entries({ ...v.credentials, accountsUrl: urls.accountsUrl }).filter(([, x]) => x != null),
  ) as Record<string, string>;
  // Prove the account: the CRM says whose token this is; a claimed account must match it.
  const accountId = await verifiedAccountId(deps, adapter, {
    baseUrl: urls.apiBaseUrl,
    credentials,
    claimed: v.accountId ?? null,
    organizationId,
  });
  try {
    const integration = await deps.prisma.integration.create({
      data: {
        organizationId,
        provider: v.provider,
        name: v.name,
        accountId,
        apiBaseUrl: urls.apiBaseUrl,
        credentials: writeCredentials(credentials, deps.connections.keyring),
        autoSync: v.autoSync ?? true,
      },
    });
    deps.logger.info({ integrationId: integration.id, organizationId, provider: v.provider }, 'integration created');
    return integration;
  } catch (e) {
    if (isUniqueViolation(e)) {
      // Another organization holds it (connected between the check and the insert): the
      // same answer as any failed verification, so nothing is learnt about other tenants.
      const mine = await deps.prisma.integration.findFirst({ where: { provider: v.provider, accountId, organizationId, connectionState: { not: 'disconnected' } }, select: { id: true } });
      if (mine) throw alreadyConnected(v.provider);
      throw accountNotVerified();
    }
    throw e;
  }
}

/** One answer for every failed proof of an account: wrong token, another account, or an account another organization holds. */
export function accountNotVerified(): AppError {
  return new AppError('ACCOUNT_NOT_VERIFIED', 'The CRM did not confirm that these credentials belong to an account this organization can connect.', {
    fields: [{ field: 'accessToken', message: 'not verified for this account' }],
  });
}

function alreadyConnected(provider: CrmProvider): AppError {
  return new AppError('CONFLICT', `This ${provider} account is already connected to this organization`, {
    fields: [{ field: 'accountId', message: 'already connected' }],
  });
}

/**
 * Asks the CRM whose token this is (CrmClient.whoami) and answers the account id to store:
 * the CRM's, which a claimed id must equal (in the form webhooks name it). A token the CRM
 * refuses, another account, or an account another organization has connected all answer
 * the same ACCOUNT_NOT_VERIFIED; a CRM that cannot be reached answers CRM_ERROR (retry).
 */
export async function verifiedAccountId(
  deps: IntegrationDeps,
  adapter: CrmAdapter,
  opts: { baseUrl: string; credentials: Record<string, string>; claimed: string | null; organizationId: string; integrationId?: string },
): Promise<string> {
  const normalise = (id: string) => adapter.normaliseAccountId?.(id) ?? id;
  const log = deps.logger.child({ provider: adapter.provider, organizationId: opts.organizationId });
  let actual: string;
  try {
    const client = adapter.connect({ baseUrl: opts.baseUrl, accountId: opts.claimed ?? '', credentials: opts.credentials, settings: {}, logger: log, network: deps.connections.network });
    actual = normalise((await client.whoami()).accountId);
  } catch (e) {
    if (refusesCredentials(e)) {
      log.warn({ code: e.code }, 'account verification failed: the CRM refused the credentials');
      throw accountNotVerified();
    }
    throw apiErrorOf(e, `${adapter.provider} could not be asked whose credentials these are`);
  }
  if (opts.claimed !== null && normalise(opts.claimed) !== actual) {
    log.warn('account verification failed: the credentials belong to another account than the one named');
    throw accountNotVerified();
  }
  // A disconnected integration holds its account no more (disconnectCrm).
  const holder = await deps.prisma.integration.findFirst({
    where: { provider: adapter.provider, accountId: actual, connectionState: { not: 'disconnected' }, ...(opts.integrationId ? { id: { not: opts.integrationId } } : {}) },
    select: { organizationId: true },
  });
  if (holder && holder.organizationId !== opts.organizationId) {
    log.warn('account verification failed: the account is connected to another organization');
    throw accountNotVerified();
  }
  if (holder) throw alreadyConnected(adapter.provider);
  return actual;
}

export async function getIntegration(prisma: PrismaClient, organizationId: string, integrationId: string): Promise<Integration> {
  const integration = await prisma.integration.findFirst({ where: { id: integrationId, organizationId } });
  if (!integration) throw notFound('Integration');
  return integration;
}

export const newInstanceId = () => `i-${randomUUID().slice(0, 8)}`;
