// Runs the HubSpot sandbox on its own (for `npm run demo` and manual poking):
//   npx tsx sandboxes/hubspot/main.ts [--port 4010] [--webhook-target URL]
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
});

console.log(
  JSON.stringify({
    url: sandbox.url,
    accessToken: sandbox.accessToken,
    portalId: sandbox.portalId,
    appId: sandbox.appId,
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
