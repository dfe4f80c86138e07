// CRM field discovery for the API: the fields of the CRM's lead/contact object, as the
// adapter lists them (CrmClient.listFields), kept in memory per integration for a while
// so a settings screen opened twice does not read the CRM's schema twice. Each instance
// keeps its own copy; `refresh` reads again.
import { isCrmError, type CrmField } from '../../adapters/contract.ts';
import { AppError } from '../errors.ts';
import { markNeedsReconnect, requireConnected, revokesGrant } from './connection-state.ts';
import { apiErrorOf, asCrmError, errInfo } from './crm-errors.ts';
import type { EngineContext } from './context.ts';
import { getIntegration } from './integrations.ts';

/** How long a listing of an integration's fields is answered from memory. */
export const CRM_FIELDS_TTL_MS = 10 * 60_000;

export type CrmFieldsDeps = Pick<EngineContext, 'prisma' | 'logger' | 'connections'>;

interface Entry {
  at: number;
  fields: CrmField[];
}

export class CrmFieldCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs = CRM_FIELDS_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  get(integrationId: string): CrmField[] | null {
    const e = this.entries.get(integrationId);
    if (!e) return null;
    if (this.now() - e.at >= this.ttlMs) {
      this.entries.delete(integrationId);
      return null;
    }
    return e.fields;
  }

  set(integrationId: string, fields: CrmField[]) {
    this.entries.set(integrationId, { at: this.now(), fields });
  }
}

/**
 * The lead/contact fields of an integration's CRM. Another organization's integration is
 * not found; one waiting for the customer to connect again (or disconnected) is refused
 * (CONFLICT) before any call; a CRM failure answers CRM_ERROR with the CRM's code.
 */
export async function listCrmFields(
  deps: CrmFieldsDeps,
  cache: CrmFieldCache,
  organizationId: string,
  integrationId: string,
  refresh: boolean,
): Promise<CrmField[]> {
  const integration = await getIntegration(deps.prisma, organizationId, integrationId);
  requireConnected(integration, 'list the CRM fields');
  if (!refresh) {
    const cached = cache.get(integration.id);
    if (cached) return cached;
  }
  const client = deps.connections.client(integration);
  if (!client.listFields) throw new AppError('UNSUPPORTED', `${integration.provider} field discovery is not available in this build`);
  let fields: CrmField[];
  try {
    fields = await client.listFields();
  } catch (e) {
    const error = asCrmError(e);
    // A failure that is not the CRM's (a defect of the adapter) is logged whole.
    deps.logger.warn(
      { integrationId: integration.id, provider: integration.provider, ...errInfo(error), ...(isCrmError(e) ? {} : { err: e }) },
      `failed to list ${integration.provider} fields`,
    );
    if (revokesGrant(error)) await markNeedsReconnect(deps, integration, error);
    throw apiErrorOf(error, `${integration.provider} could not list its fields`);
  }
  cache.set(integration.id, fields);
  return fields;
}
