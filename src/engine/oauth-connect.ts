// Connecting a CRM through OAuth 2.0 (authorization code grant, RFC 6749 §4.1, with PKCE
// S256 where the CRM takes it, RFC 7636): connectCrm answers the CRM's consent screen URL
// with a state bound to the organization (oauth-state.ts); the callback takes the state,
// exchanges the code, and creates the integration, or reconnects the one this
// organization already has for that account. The engine names no CRM: the adapters know
// hosts, scopes and answers (CrmAdapter.oauth).
import { isCrmError, type CrmAdapter } from '../../adapters/contract.ts';
import { AppError, validationError } from '../errors.ts';
import type { Integration } from '../generated/prisma/client.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { checkedApiBase, writeCredentials } from './connections.ts';
import { CONNECTED, DISCONNECTED } from './connection-state.ts';
import type { EngineContext } from './context.ts';
import { issueState, OAuthStateError, pkcePair, takeState, type StateProblem } from './oauth-state.ts';
import { appFor, redirectUriFor } from './token-keeper.ts';
import type { CallbackAnswer, ConnectCrmInput, CrmConnector, Starter } from './types.ts';

export type OAuthDeps = Pick<EngineContext, 'config' | 'prisma' | 'logger' | 'connections' | 'wake'>;


/** The adapter of a provider that connects through OAuth, with its app configured. */
function oauthOf(deps: OAuthDeps, adapter: CrmAdapter) {
  const oauth = adapter.oauth;
  if (!oauth) throw new AppError('UNSUPPORTED', `${adapter.label} cannot be connected through OAuth; create the integration with its tokens`);
  const app = oauth.app(deps.config, redirectUriFor(deps.config.PUBLIC_BASE_URL, adapter));
  if (!app) throw new AppError('NOT_CONFIGURED', `OAuth for ${adapter.label} is not configured on this service (its client id and secret)`);
  return { oauth, app };
}

/** The CRMs of this build and how they connect. */
export function connectorsOf(deps: Pick<EngineContext, 'config' | 'connections'>): CrmConnector[] {
  return deps.connections.providers().map((provider) => {
    const adapter = deps.connections.adapter(provider);
    const app = adapter.oauth?.app(deps.config, redirectUriFor(deps.config.PUBLIC_BASE_URL, adapter)) ?? null;
    return { provider, label: adapter.label, oauth: app !== null, options: Object.keys(adapter.oauth?.connectOptions.shape ?? {}) };
  });
}

/** Starts a connection: the URL of the CRM's consent screen. Bad input: a clear error, nothing stored. */
export async function connectCrm(deps: OAuthDeps, who: Starter, input: ConnectCrmInput): Promise<{ authorizeUrl: string; expiresAt: Date }> {
  const adapter = deps.connections.find(input.provider);
  if (!adapter) throw new AppError('UNSUPPORTED', `No adapter for ${input.provider} in this build`);
  const name = (input.name ?? '').trim();
  const problems: { field: string; message: string }[] = [];
  if (name.length === 0) problems.push({ field: 'name', message: 'is required' });
  if (name.length > 200) problems.push({ field: 'name', message: 'must be at most 200 characters' });
  const { oauth, app } = oauthOf(deps, adapter);
  // The adapter's options (a login host, a data centre), validated; unknown keys refused.
  const parsed = oauth.connectOptions.strict().safeParse(input.options ?? {});
  if (!parsed.success) {
    for (const i of parsed.error.issues) {
      // An unknown option is named itself, not the options as a whole.
      const keys = i.code === 'unrecognized_keys' ? i.keys : [null];
      for (const k of keys) {
        const path = ['options', ...i.path.map(String), ...(k === null ? [] : [k])].join('.');
        problems.push({ field: path, message: k === null ? i.message : `is not an option of ${adapter.label}` });
      }
    }
  }
  if (problems.length) throw validationError(problems);
  const options = (parsed.data ?? {}) as Record<string, unknown>;
  const pkce = oauth.pkce ? pkcePair() : null;
  const { state, expiresAt } = await issueState(
    deps.prisma,
    deps.connections.keyring,
    { organizationId: who.organizationId, apiKeyId: who.apiKeyId, provider: adapter.provider, name, options, codeVerifier: pkce?.verifier ?? null },
    deps.config.OAUTH_STATE_TTL_MS,
  );
  const authorizeUrl = oauth.authorizeUrl({ env: deps.config, app, state, ...(pkce ? { codeChallenge: pkce.challenge } : {}), options });
  deps.logger.info({ organizationId: who.organizationId, provider: adapter.provider }, 'oauth connection started');
  return { authorizeUrl, expiresAt };
}


const STATE_MESSAGES: Record<StateProblem, string> = {
  missing: 'The link is incomplete: it carries no state. Start the connection again from the dashboard.',
  malformed: 'The link is not one this service made. Start the connection again from the dashboard.',
  forged: 'The link was not made by this service (its state does not verify). Nothing was connected.',
  expired: 'The link expired. Start the connection again from the dashboard.',
  replayed: 'The link was already used: each connection link works once. Start the connection again from the dashboard.',
  other_organization: 'The link belongs to another organization (or to an API key no longer valid). Nothing was connected.',
  wrong_provider: 'The link was made for another CRM. Nothing was connected.',
};

/** Where the browser goes back to, with the result in the query. */
function returnTo(deps: OAuthDeps, params: Record<string, string>): string {
  const url = new URL(deps.config.OAUTH_RETURN_URL);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.toString();
}

/**
 * Completes a connection: the CRM sent the browser back to `/api/v1/oauth/<slug>/callback`
 * with `query`. Never logs the code, the state or tokens.
 */
export async function completeConnection(deps: OAuthDeps & Pick<EngineContext, 'instanceId'>, slug: string, query: Record<string, string>): Promise<CallbackAnswer> {
  const page = (status: number, title: string, message: string): CallbackAnswer => ({ kind: 'page', status, title, message, returnUrl: deps.config.OAUTH_RETURN_URL });
  const adapter = deps.connections.adapterForPath(slug);
  if (!adapter?.oauth) return page(404, 'Unknown connection', 'This service connects no CRM at this address.');
  const log = deps.logger.child({ provider: adapter.provider });
  let taken;
  try {
    taken = await takeState(deps.prisma, deps.connections.keyring, query.state, adapter.provider);
    await checkStarter(deps, taken);
  } catch (e) {
    if (!(e instanceof OAuthStateError)) throw e;
    log.warn({ problem: e.problem }, 'oauth callback refused: state not valid');
    return page(400, 'Connection refused', STATE_MESSAGES[e.problem]);
  }
  const olog = log.child({ organizationId: taken.organizationId });
  if (query.error) {
    // RFC 6749 §4.1.2.1: the CRM sends the error back to the callback (access_denied when
    // the person declined). Only its code is shown, and only when it is a plain token.
    const code = /^[a-z_]{1,64}$/.test(query.error) ? query.error : 'unknown_error';
    olog.info({ error: code }, 'oauth connection not made: the CRM answered an error');
    const declined = code === 'access_denied';
    return page(400, declined ? 'Connection declined' : 'Connection failed', declined
      ? `Access was not granted in ${adapter.label}, so nothing was connected. You can start again from the dashboard.`
      : `${adapter.label} answered "${code}", so nothing was connected. You can start again from the dashboard.`);
  }
  if (!query.code) return page(400, 'Connection failed', `${adapter.label} sent no authorization code. Nothing was connected.`);
  const { oauth, app } = oauthOf(deps, adapter);
  let grant;
  try {
    grant = await oauth.exchange({
      env: deps.config,
      app,
      query,
      ...(taken.codeVerifier ? { codeVerifier: taken.codeVerifier } : {}),
      options: taken.options,
      network: deps.connections.network,
      callTimeoutMs: deps.config.CRM_CALL_TIMEOUT_MS,
      logger: olog,
    });
  } catch (e) {
    const code = isCrmError(e) ? e.code : 'UNEXPECTED';
    if (isCrmError(e)) olog.warn({ code }, 'oauth code exchange failed');
    else olog.error({ err: e }, 'oauth code exchange failed');
    return page(502, 'Connection failed', `${adapter.label} did not complete the connection (${code}). Nothing was connected; start again from the dashboard.`);
  }
  const baseUrl = checkedApiBase(adapter, grant.baseUrl, deps.connections.network);
  if (!baseUrl) {
    olog.warn('oauth connection refused: the CRM named an API host that is not one of its own');
    return page(502, 'Connection failed', `${adapter.label} named an API host this service does not call. Nothing was connected.`);
  }
  const normalise = (id: string) => adapter.normaliseAccountId?.(id) ?? id;
  const accountId = normalise(grant.accountId);
  const credentials = Object.fromEntries(Object.entries(grant.credentials).filter(([, v]) => v != null)) as Record<string, string>;
  // The account is proven as for pasted tokens (createIntegration): the CRM's API says
  // whose token this is (CrmClient.whoami), and it must be the one the exchange named.
  let proven: string;
  try {
    const client = adapter.connect({ baseUrl, accountId, credentials, settings: {}, logger: olog, network: deps.connections.network, callTimeoutMs: deps.config.CRM_CALL_TIMEOUT_MS });
    proven = normalise((await client.whoami()).accountId);
  } catch (e) {
    olog.warn({ code: isCrmError(e) ? e.code : 'UNEXPECTED' }, 'oauth connection refused: the account could not be confirmed');
    return page(502, 'Connection failed', `${adapter.label} did not confirm the account of the new connection. Nothing was connected; start again from the dashboard.`);
  }
  if (proven !== accountId) {
    olog.warn('oauth connection refused: the token answers for another account than the exchange named');
    return page(502, 'Connection failed', `${adapter.label} named two different accounts for the new connection. Nothing was connected.`);
  }
  const result = await saveConnection(deps, { adapter, organizationId: taken.organizationId, name: taken.name, accountId, baseUrl, credentials });
  if (result.kind === 'refused') {
    olog.warn('oauth connection refused: the account is connected to another organization');
    return page(409, 'Connection refused', `This ${adapter.label} account is already connected to another organization on this service. Nothing was changed.`);
  }
  olog.info({ integrationId: result.integration.id, result: result.kind }, `oauth connection ${result.kind}`);
  if (result.kind === 'reconnected') {
    // Held work resumes now (other instances see it at their next idle wake-up).
    deps.wake.inbox();
    deps.wake.outbox();
  }
  return { kind: 'redirect', location: returnTo(deps, { connected: adapter.slug, result: result.kind, integrationId: result.integration.id }) };
}

/** The API key that started the connection is still valid and of the same organization. */
async function checkStarter(deps: OAuthDeps, taken: { organizationId: string; apiKeyId: string | null }) {
  if (taken.apiKeyId === null) return;
  const key = await deps.prisma.apiKey.findUnique({ where: { id: taken.apiKeyId }, select: { organizationId: true, revokedAt: true } });
  if (!key || key.revokedAt || key.organizationId !== taken.organizationId) throw new OAuthStateError('other_organization');
}

type Saved = { kind: 'created' | 'reconnected'; integration: Integration } | { kind: 'refused' };

/**
 * Stores a connection: the organization's live integration for the account gets the new
 * tokens (reconnected, held work resumes); else its disconnected one comes back; else a
 * new integration. An account another organization holds is refused.
 */
async function saveConnection(
  deps: OAuthDeps,
  c: { adapter: CrmAdapter; organizationId: string; name: string; accountId: string; baseUrl: string; credentials: Record<string, string> },
): Promise<Saved> {
  const { prisma, connections } = deps;
  const provider = c.adapter.provider;
  const live = await prisma.integration.findFirst({ where: { provider, accountId: c.accountId, connectionState: { not: DISCONNECTED } } });
  if (live && live.organizationId !== c.organizationId) return { kind: 'refused' };
  const stored = {
    apiBaseUrl: c.baseUrl,
    credentials: writeCredentials(c.credentials, connections.keyring),
    connectedVia: 'oauth',
    connectionState: CONNECTED,
    connectionError: null,
    connectionChangedAt: new Date(),
    refreshLeaseBy: null,
    refreshLeaseUntil: null,
  };
  const earlier =
    live ??
    (await prisma.integration.findFirst({
      where: { provider, accountId: c.accountId, organizationId: c.organizationId, connectionState: DISCONNECTED },
      orderBy: { updatedAt: 'desc' },
    }));
  try {
    if (earlier) {
      const integration = await prisma.integration.update({ where: { id: earlier.id }, data: stored });
      connections.forget(integration.id);
      return { kind: 'reconnected', integration };
    }
    const integration = await prisma.integration.create({
      data: { organizationId: c.organizationId, provider, name: c.name, accountId: c.accountId, ...stored },
    });
    return { kind: 'created', integration };
  } catch (e) {
    // Another organization connected the account between the look-up and the write.
    if (isUniqueViolation(e)) return { kind: 'refused' };
    throw e;
  }
}

