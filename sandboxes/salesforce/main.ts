// Runs the Salesforce sandbox standalone:
//   npx tsx sandboxes/salesforce/main.ts [--port 0] [--outbound http://127.0.0.1:4000/api/v1/webhooks/salesforce] [--duplicate-rule]
//     [--oauth-redirect http://127.0.0.1:4000/api/v1/oauth/salesforce/callback]
// --oauth-redirect lists the service's OAuth callback among the connected app's callback URLs,
// so SALESFORCE_LOGIN_URL can point at the sandbox.
import { parseArgs } from 'node:util';
import { startSalesforceSandbox } from './index.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    outbound: { type: 'string' },
    'duplicate-rule': { type: 'boolean', default: false },
    'oauth-redirect': { type: 'string' },
  },
});

const sandbox = await startSalesforceSandbox({
  port: Number(values.port),
  duplicateRule: values['duplicate-rule'],
  callbackUrls: values['oauth-redirect'] ? [values['oauth-redirect']] : [],
  outbound: values.outbound ? { targetUrl: values.outbound, retryIntervalsMs: [1_000, 5_000, 30_000] } : undefined,
});
const creds = sandbox.controls.credentials();
console.log(`Salesforce sandbox listening on ${sandbox.url}`);
console.log(JSON.stringify({ instanceUrl: sandbox.url, organizationId: sandbox.controls.organizationId, ...creds }, null, 2));

const stop = async () => {
  await sandbox.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
