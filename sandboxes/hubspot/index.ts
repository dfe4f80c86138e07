// The HubSpot sandbox: a local HubSpot speaking CRM v3, properties and webhooks APIs.
export {
  startHubSpotSandbox,
  SYNCED_PROPERTIES,
  type ApiCall,
  type FaultMatch,
  type HubSpotEvent,
  type HubSpotSandbox,
  type HubSpotSandboxControls,
  type HubSpotSandboxOptions,
  type SandboxFault,
  type SandboxFaultKind,
  type Subscription,
  type WebhookBehavior,
  type WebhookDelivery,
} from './server.ts';
export { decodeSignedUri, signV1, signV2, signV3, webhookHeaders } from './signing.ts';
