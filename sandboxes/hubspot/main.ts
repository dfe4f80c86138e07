// Runs the HubSpot sandbox on its own (for `npm run demo` and manual poking):
//   npx tsx sandboxes/hubspot/main.ts [--port 4010] [--webhook-target URL] [--oauth-redirect URL]
// --oauth-redirect registers the service's OAuth callback (<public base>/api/v1/oauth/hubspot/callback)
// with the sandbox's app, so HUBSPOT_AUTHORIZE_URL and HUBSPOT_API_BASE_URL can point at it.
// Prints its URL and credentials, then serves until interrupted.
import { startHubSpotSandbox } from './server.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : process.env[`HUBSPOT_SANDBOX_${name.toUpperCase().replace(/-/g, '_')}`];
}

const sandbox = await startHubSpotSandbox({
  port: Number(arg('port') ?? 0),
  webhookTargetUrl: arg('webhook-target') ?? null,
  subscriptions: 'default',
  oauth: { redirectUris: arg('oauth-redirect') ? [arg('oauth-redirect')!] : [] },
});

console.log(
  JSON.stringify({
    url: sandbox.url,
    accessToken: sandbox.accessToken,
    portalId: sandbox.portalId,
    appId: sandbox.appId,
    oauthClientId: sandbox.oauthClientId,
    clientSecret: sandbox.clientSecret,
    developerApiKey: sandbox.developerApiKey,
  }),
);
console.log(`HubSpot sandbox listening on ${sandbox.url}`);

const stop = () => {
  void sandbox.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
