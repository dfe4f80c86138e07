// The composition root of the CRMs: every adapter this build ships, and what the service
// derives from them (the provider list, the environment settings they read). This is the
// one file of src/ that names a CRM; everything else asks the adapter it is given.
import type { z } from 'zod';
import type { CrmAdapter, CrmProvider } from '../adapters/contract.ts';

/** How every yes/no setting is read, the service's and the adapters' alike. */
export { envFlag } from '../adapters/contract.ts';
import { hubspotAdapter } from '../adapters/hubspot/index.ts';
import { salesforceAdapter } from '../adapters/salesforce/index.ts';
import { zohoAdapter } from '../adapters/zoho/index.ts';

/** Every CRM adapter of this build, in the order they are listed to people. */
export const ADAPTERS = [hubspotAdapter, salesforceAdapter, zohoAdapter] as const;

/** A fresh list of the adapters (the engine's default). */
export function defaultAdapters(): CrmAdapter[] {
  return [...ADAPTERS];
}

/** The providers of the registered adapters, as a non-empty tuple (for zod and the API enums). */
export const PROVIDERS = ADAPTERS.map((a) => a.provider) as [CrmProvider, ...CrmProvider[]];

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
type EnvShape = UnionToIntersection<(typeof ADAPTERS)[number]['env']['shape']>;

/**
 * The environment settings every adapter reads, as one zod shape the service's
 * configuration extends. Two adapters reading the same variable is a build error.
 */
export function adapterEnvShape(): EnvShape {
  const shape: Record<string, z.ZodType> = {};
  for (const adapter of ADAPTERS) {
    for (const [name, rule] of Object.entries(adapter.env.shape as Record<string, z.ZodType>)) {
      if (name in shape) throw new Error(`${name} is read by two CRM adapters`);
      shape[name] = rule;
    }
  }
  return shape as EnvShape;
}

/** "A, B or C" / "A and B". */
function listOf(items: string[], last: 'or' | 'and'): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} ${last} ${items[items.length - 1]}`;
}

/** The account ids integrations take, for API documentation: "HubSpot portal id, Salesforce organization id or Zoho org id". */
export function accountIdNames(): string {
  return listOf(
    ADAPTERS.map((a) => `${a.label} ${a.accountIdName}`),
    'or',
  );
}

/**
 * What apiBaseUrl is per CRM, for API documentation: the CRMs whose adapter has a default
 * (with its environment's defaults) take it when absent, the others require one.
 */
export function apiBaseUrlNote(): string {
  const withDefault = ADAPTERS.filter((a) => {
    const env = a.env.safeParse({});
    return env.success && (a.defaultApiBaseUrl as (env: unknown) => string | null)(env.data) !== null;
  });
  const required = ADAPTERS.filter((a) => !withDefault.includes(a));
  const parts = [
    ...(withDefault.length ? [`${listOf(withDefault.map((a) => `${a.label}'s ${a.apiBaseUrlName}`), 'and')} when absent`] : []),
    ...(required.length ? [`required for ${listOf(required.map((a) => `${a.label} (${a.apiBaseUrlName})`), 'and')}`] : []),
  ];
  return parts.join('; ');
}
