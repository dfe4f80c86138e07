// Runs the Zoho CRM sandbox on its own: `npx tsx sandboxes/zoho/main.ts [port]`.
// ZOHO_SANDBOX_OAUTH_REDIRECT registers the service's OAuth callback
// (<public base>/api/v1/oauth/zoho/callback), so ZOHO_ACCOUNTS_URL can point at the sandbox.
// Prints the URLs and a ready-to-use set of credentials, then serves until Ctrl-C.
import { startZohoSandbox } from './server.ts';

const port = Number(process.argv[2] ?? process.env.ZOHO_SANDBOX_PORT ?? 0);
const sandbox = await startZohoSandbox({
  port,
  searchLagMs: Number(process.env.ZOHO_SANDBOX_SEARCH_LAG_MS ?? 2000),
  redirectUris: process.env.ZOHO_SANDBOX_OAUTH_REDIRECT ? [process.env.ZOHO_SANDBOX_OAUTH_REDIRECT] : [],
});
const { accessToken, expiresAt } = sandbox.controls.issueAccessToken();
console.log(
  JSON.stringify(
    {
      apiDomain: sandbox.url,
      accountsUrl: sandbox.accountsUrl,
      credentials: {
        accessToken,
        expiresAt,
        refreshToken: sandbox.controls.refreshToken,
        clientId: sandbox.controls.clientId,
        clientSecret: sandbox.controls.clientSecret,
        accountsUrl: sandbox.accountsUrl,
      },
    },
    null,
    2,
  ),
);

const stop = async () => {
  await sandbox.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
