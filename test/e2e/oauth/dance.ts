// The OAuth dance as a browser does it, over real HTTP: connectCrm over GraphQL, the CRM's
// consent screen (the sandbox consents at once and redirects), the service's callback.
import { startHubSpotSandbox, type HubSpotSandbox } from '../../../sandboxes/hubspot/server.ts';
import { HUBSPOT_SECRET, startStack, type Stack } from '../../helpers/stack.ts';

export const CONNECT = `mutation($provider: CrmProvider!, $name: String!, $options: [ConnectOptionInput!]) {
  connectCrm(provider: $provider, name: $name, options: $options) { authorizeUrl expiresAt } }`;

/** A stack whose HubSpot OAuth app is the sandbox's, and the sandbox with the stack's callback registered. */
export async function startOAuthHubSpot(env: Record<string, string> = {}): Promise<{ stack: Stack; hs: HubSpotSandbox }> {
  // The callback URL is known once the stack listens: the app's redirect URL list is
  // filled in then (the sandbox reads the same list at every consent request).
  const redirectUris: string[] = [];
  const hs = await startHubSpotSandbox({ clientSecret: HUBSPOT_SECRET, oauth: { redirectUris }, subscriptions: 'default', webhookRetryDelaysMs: [200, 400, 800], webhookBatchWindowMs: 20 });
  const stack = await startStack({ HUBSPOT_CLIENT_ID: hs.oauthClientId, HUBSPOT_AUTHORIZE_URL: hs.url, HUBSPOT_API_BASE_URL: hs.url, ...env });
  redirectUris.push(`${stack.config.PUBLIC_BASE_URL}/api/v1/oauth/hubspot/callback`);
  hs.setWebhookTarget(`${stack.config.PUBLIC_BASE_URL}/api/v1/webhooks/hubspot`);
  return { stack, hs };
}

/** connectCrm, then the consent screen: answers the callback URL the CRM sent the browser to (not followed yet). */
export async function consent(stack: Stack, provider: string, opts: { key?: string; name?: string; options?: { name: string; value: string }[] } = {}): Promise<URL> {
  const r = await stack.gqlOk<{ connectCrm: { authorizeUrl: string } }>(CONNECT, { provider, name: opts.name ?? `${provider} via OAuth`, options: opts.options ?? null }, opts.key);
  const res = await fetch(r.connectCrm.authorizeUrl, { redirect: 'manual' });
  if (res.status !== 302) throw new Error(`the consent screen answered ${res.status}: ${await res.text()}`);
  return new URL(res.headers.get('location')!);
}

/** The browser arriving at the callback: the status, where it is sent, and the page's text. */
export async function callback(url: URL | string): Promise<{ status: number; location: URL | null; text: string; contentType: string | null; csp: string | null }> {
  const res = await fetch(url, { redirect: 'manual' });
  const location = res.headers.get('location');
  return {
    status: res.status,
    location: location ? new URL(location) : null,
    text: await res.text(),
    contentType: res.headers.get('content-type'),
    csp: res.headers.get('content-security-policy'),
  };
}

/** The whole dance; answers the integration id the return page was given. */
export async function connectThroughOAuth(stack: Stack, provider: string, opts: { key?: string; name?: string; options?: { name: string; value: string }[] } = {}) {
  const back = await callback(await consent(stack, provider, opts));
  if (back.status !== 303 || !back.location) throw new Error(`the callback answered ${back.status}: ${back.text}`);
  return { integrationId: back.location.searchParams.get('integrationId')!, result: back.location.searchParams.get('result'), location: back.location };
}
