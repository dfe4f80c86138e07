// The Salesforce sandbox: a local org over real HTTP for adapter and end-to-end tests.
export {
  startSalesforceSandbox,
  SandboxWriteError,
  type LeadSnapshot,
  type RecordedRequest,
  type SalesforceSandbox,
  type SalesforceSandboxControls,
  type SalesforceSandboxOptions,
  type SandboxFault,
} from './server.ts';
export { buildEnvelope, isAck, type OutboundConfig, type OutboundDelivery } from './outbound.ts';
export { DEFAULT_STATUS } from './store.ts';
