// Runs the Salesforce sandbox standalone:
//   npx tsx sandboxes/salesforce/main.ts [--port 0] [--outbound http://127.0.0.1:4000/api/v1/webhooks/salesforce] [--duplicate-rule]
import { parseArgs } from 'node:util';
import { startSalesforceSandbox } from './index.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    outbound: { type: 'string' },
    'duplicate-rule': { type: 'boolean', default: false },
  },
});

const sandbox = await startSalesforceSandbox({
  port: Number(values.port),
  duplicateRule: values['duplicate-rule'],
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
