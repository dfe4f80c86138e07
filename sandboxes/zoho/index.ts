// Public entry of the Zoho CRM sandbox (test double of Zoho CRM REST API v7 + accounts).
export { startZohoSandbox } from './server.ts';
export type { RequestLogEntry, SandboxFault, ZohoSandbox, ZohoSandboxControls, ZohoSandboxOptions } from './server.ts';
export type { Delivery } from './notifications.ts';
export { formatZohoTime } from './state.ts';
