// Connecting a CRM through OAuth (connectCrm, then the CRM's callback) and disconnecting it.
import { validationError } from '../../errors.ts';
import type { CrmConnector } from '../../engine/types.ts';
import { builder } from '../builder.ts';
import { integrationView, IntegrationType } from './integration.ts';
import { CrmProviderEnum } from './scalars.ts';

const CrmConnectorType = builder.objectRef<CrmConnector>('CrmConnector').implement({
  description: 'A CRM of this service and how a customer connects it.',
  fields: (t) => ({
    provider: t.expose('provider', { type: CrmProviderEnum }),
    label: t.exposeString('label'),
    oauth: t.exposeBoolean('oauth', { description: 'It connects through its consent screen here (connectCrm): OAuth is configured for it.' }),
    options: t.exposeStringList('options', { description: 'The connect options it takes (connectCrm `options` names).' }),
  }),
});

const ConnectOptionInput = builder.inputType('ConnectOptionInput', {
  description: "One of the CRM's connect options (crmConnectors.options), e.g. a login host or a data centre.",
  fields: (t) => ({
    name: t.string({ required: true }),
    value: t.string({ required: true }),
  }),
});

const ConnectCrmResultType = builder.objectRef<{ authorizeUrl: string; expiresAt: Date }>('ConnectCrmResult').implement({
  fields: (t) => ({
    authorizeUrl: t.exposeString('authorizeUrl', {
      description: "Send the customer's browser here: the CRM's consent screen. It comes back to this service's callback, then to OAUTH_RETURN_URL.",
    }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'The connection must be completed by then; the link works once.' }),
  }),
});

builder.queryFields((t) => ({
  crmConnectors: t.field({
    type: [CrmConnectorType],
    authScopes: { 'integrations:admin': true },
    description: 'The CRMs this service connects, and how.',
    resolve: (_root, _args, ctx) => ctx.services.sync.connectors(),
  }),
}));

builder.mutationFields((t) => ({
  connectCrm: t.field({
    type: ConnectCrmResultType,
    authScopes: { 'integrations:admin': true },
    description:
      "Starts connecting a CRM account through the CRM's consent screen (OAuth 2.0). The callback creates the integration, or reconnects this organization's integration of that account.",
    args: {
      provider: t.arg({ type: CrmProviderEnum, required: true }),
      name: t.arg.string({ required: true, description: 'Name of the integration to create.' }),
      options: t.arg({ type: [ConnectOptionInput] }),
    },
    resolve: async (_root, args, ctx) => {
      const options: Record<string, string> = {};
      for (const o of args.options ?? []) {
        if (o.name in options) throw validationError([{ field: `options.${o.name}`, message: 'is given twice' }]);
        options[o.name] = o.value;
      }
      return ctx.services.sync.connectCrm({ organizationId: ctx.organizationId, apiKeyId: ctx.apiKeyId }, { provider: args.provider, name: args.name, options });
    },
  }),
  disconnectCrm: t.field({
    type: IntegrationType,
    authScopes: { 'integrations:admin': true },
    description:
      'Disconnects an integration: removes its registrations at the CRM, revokes its tokens there, deletes its credentials and refuses its webhooks from now on. Leads and history are kept; its links too unless keepLinks is false.',
    args: {
      integrationId: t.arg.id({ required: true }),
      keepLinks: t.arg.boolean({ defaultValue: true, description: 'Keep which CRM record each lead is (default), for a later reconnection.' }),
    },
    resolve: async (_root, args, ctx) =>
      integrationView(await ctx.services.sync.disconnectCrm(ctx.organizationId, String(args.integrationId), { keepLinks: args.keepLinks ?? true })),
  }),
}));
