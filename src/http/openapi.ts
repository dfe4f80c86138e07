// The OpenAPI 3.1 description of the REST shim, served at GET /api/v1/openapi.json.
// test/cli/openapi.test.ts compares its paths with the routes the app really serves,
// so a route added without documentation (or documented and removed) fails the tests.
import { ADAPTERS, PROVIDERS } from '../adapters.ts';
import { AppError, type AppErrorCode } from '../errors.ts';
import type { Config } from '../config.ts';
import { MAX_BODY_BYTES } from './context.ts';

/** Mount point of the REST shim in the app. */
export const API_BASE = '/api/v1';

// Every stable error code; tsc insists the list matches AppErrorCode exactly.
const ERROR_CODES: { [K in AppErrorCode]: true } = {
  BAD_REQUEST: true,
  VALIDATION: true,
  UNAUTHENTICATED: true,
  FORBIDDEN: true,
  NOT_FOUND: true,
  CONFLICT: true,
  PAYLOAD_TOO_LARGE: true,
  RATE_LIMITED: true,
  UNSUPPORTED: true,
  CRM_ERROR: true,
  ACCOUNT_NOT_VERIFIED: true,
  NOT_CONFIGURED: true,
  INTERNAL: true,
};
const codes = Object.keys(ERROR_CODES) as AppErrorCode[];
const statusOf = (code: AppErrorCode) => new AppError(code, '').httpStatus;
const codesFor = (status: number) => codes.filter((c) => statusOf(c) === status);

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const nullable = (schema: Record<string, unknown>) => ({ ...schema, type: [schema.type as string, 'null'] });
const dateTime = { type: 'string', format: 'date-time' };
/** A page for a browser (the OAuth callback), not the JSON error envelope. */
const htmlPage = (what: string) => ({ description: `An HTML page: ${what}.`, content: { 'text/html': { schema: { type: 'string' } } } });

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed request (BAD_REQUEST) or invalid input (VALIDATION, with `fields`).',
  401: 'Missing, unknown or revoked API key; for webhooks, a signature that could not be verified.',
  403: 'The API key lacks the scope this operation needs.',
  404: 'No such route, integration or provider (another organization\'s records are not found either).',
  409: 'Conflicts with the current state.',
  413: `Request body larger than ${MAX_BODY_BYTES} bytes.`,
  422: 'Not supported by this CRM.',
  429: 'Too many requests for this API key; retry after the `Retry-After` header.',
  500: 'Unexpected error (logged with the request id).',
  502: 'The CRM answered with an error or could not be reached.',
};

function errorResponse(status: number) {
  return {
    description: `${ERROR_DESCRIPTIONS[status]} Codes: ${codesFor(status).join(', ')}.`,
    ...(status === 429 ? { headers: { 'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } } } } : {}),
    content: {
      'application/json': {
        schema: ref('Error'),
        example: { error: { code: codesFor(status)[0], message: ERROR_DESCRIPTIONS[status] } },
      },
    },
  };
}

const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [String(s), errorResponse(s)]));

const integrationIdParam = {
  name: 'integrationId',
  in: 'path',
  required: true,
  description: 'Id of one of the caller organization\'s integrations.',
  schema: { type: 'string' },
};

const json = (schema: unknown) => ({ 'application/json': { schema } });

/** The OpenAPI 3.1 document of the REST shim, for a service reachable at config.PUBLIC_BASE_URL. */
/** The webhook route, at the provider's path and (Salesforce) at the integration's secret endpoint URL. */
function webhookOperation(withSecret: boolean) {
  return {
    post: {
      operationId: withSecret ? 'receiveWebhookAtSecretEndpoint' : 'receiveWebhook',
      tags: ['webhooks'],
      summary: 'Receive a CRM change notification',
      description:
        'The endpoint each CRM is configured to call. The notification is verified (HubSpot v3 signature; ' +
        'Salesforce: the secret last segment of the endpoint URL enableWebhooks answers, and the OrganizationId; ' +
        'Zoho channel token), stored, and acknowledged; events are applied (what the CRM API returns for each ' +
        'record, never the values a notification carries) ' +
        'asynchronously. Redeliveries are absorbed. Events for an integration whose webhooks are disabled are ' +
        'acknowledged and skipped.',
      security: [],
      parameters: [
        {
          name: 'provider',
          in: 'path',
          required: true,
          schema: { type: 'string', enum: ADAPTERS.map((a) => a.slug) },
        },
        ...(withSecret
          ? [
              {
                name: 'secret',
                in: 'path',
                required: true,
                description: "Salesforce: the integration's endpoint secret (see enableWebhooks / rotateWebhookEndpoint).",
                schema: { type: 'string' },
              },
            ]
          : []),
      ],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            description: 'HubSpot: an array of webhook events; Zoho: a notification object.',
            schema: { oneOf: [{ type: 'array', items: { type: 'object' } }, { type: 'object' }] },
          },
          'text/xml': { description: 'Salesforce: an Outbound Message (SOAP envelope).', schema: { type: 'string' } },
        },
      },
      responses: {
        '200': {
          description: 'Stored (or recognised as a redelivery) and acknowledged, in the form the CRM expects.',
          content: {
            'application/json': { schema: { type: 'object', additionalProperties: true }, examples: { hubspot: { value: { received: true } }, zoho: { value: { status: 'success' } } } },
            'text/xml': { description: 'Salesforce: the SOAP acknowledgement (Ack true).', schema: { type: 'string' } },
          },
        },
        ...errors(400, 401, 404, 413, 500),
      },
    },
  };
}

export function openApiDocument(config: Pick<Config, 'PUBLIC_BASE_URL'>) {
  const integrationErrors = errors(400, 401, 403, 404, 413, 429, 500, 502);
  return {
    openapi: '3.1.0',
    info: {
      title: 'crm-sync REST API',
      version: '1',
      description:
        'The REST shim of crm-sync: CRM webhooks (authenticated by the CRM\'s signature or token) and the integration ' +
        'routes (API key). Everything else — leads, integrations, subscriptions — is in the GraphQL API at /graphql. ' +
        'Every error answer is `{ "error": { "code", "message" } }` with a stable code.',
    },
    servers: [{ url: config.PUBLIC_BASE_URL }],
    tags: [
      { name: 'webhooks', description: 'Called by the CRMs.' },
      { name: 'integrations', description: 'Called by operators and the platform, with an API key.' },
      { name: 'meta', description: 'This document.' },
    ],
    paths: {
      [`${API_BASE}/openapi.json`]: {
        get: {
          operationId: 'getOpenApiDocument',
          tags: ['meta'],
          summary: 'This OpenAPI document',
          security: [],
          responses: { '200': { description: 'The OpenAPI 3.1 document.', content: json({ type: 'object' }) } },
        },
      },
      [`${API_BASE}/webhooks/{provider}`]: webhookOperation(false),
      [`${API_BASE}/webhooks/{provider}/{secret}`]: webhookOperation(true),
      [`${API_BASE}/crm-integration/import`]: {
        post: {
          operationId: 'importFromCrm',
          tags: ['integrations'],
          summary: 'Start a full import from the CRM',
          description:
            'Starts (or, when one is already running, returns) the import job of the integration. Progress: ' +
            'the GraphQL `importJob` query and `importProgress` subscription, or the `crm-sync import` command.',
          requestBody: { required: true, content: json(ref('ImportRequest')) },
          responses: { '202': { description: 'The import job, running.', content: json(ref('ImportJob')) }, ...integrationErrors },
        },
      },
      [`${API_BASE}/crm-integration/{integrationId}/enable-webhooks`]: {
        post: {
          operationId: 'enableWebhooks',
          tags: ['integrations'],
          summary: 'Enable real-time sync from the CRM',
          description: 'Provisions what the CRM needs (origin field, subscriptions or channel) and lists any steps left to do by hand.',
          parameters: [integrationIdParam],
          responses: { '200': { description: 'Webhook status and what was provisioned.', content: json(ref('EnableWebhooksResult')) }, ...integrationErrors },
        },
      },
      [`${API_BASE}/crm-integration/{integrationId}/webhook-status`]: {
        get: {
          operationId: 'webhookStatus',
          tags: ['integrations'],
          summary: 'Webhook status and event counts',
          parameters: [integrationIdParam],
          responses: { '200': { description: 'The integration\'s webhook status.', content: json(ref('WebhookStatus')) }, ...integrationErrors },
        },
      },
      [`${API_BASE}/oauth/{provider}/callback`]: {
        get: {
          operationId: 'oauthCallback',
          tags: ['webhooks'],
          summary: "The CRM's OAuth redirect (the customer's browser)",
          description:
            'Completes a connection started by the GraphQL `connectCrm`: the signed, single-use `state` is the proof. ' +
            'Answers 303 to OAUTH_RETURN_URL (`connected`, `result`, `integrationId` in the query), or an HTML page saying why nothing was connected (400: state refused or the CRM answered an error).',
          security: [],
          parameters: [{ name: 'provider', in: 'path', required: true, schema: { type: 'string', enum: ADAPTERS.map((a) => a.slug) } }],
          responses: {
            '303': { description: 'Connected: back to the return page.' },
            '400': htmlPage('nothing was connected (the state was refused, or the CRM answered an error), and why'),
            '404': htmlPage('no CRM connects at this address'),
            '409': htmlPage('the account is connected to another organization'),
            '502': htmlPage('the CRM did not complete the connection'),
          },
        },
      },
      [`${API_BASE}/crm-integration/{integrationId}/disconnect`]: {
        post: {
          operationId: 'disconnectCrm',
          tags: ['integrations'],
          summary: 'Disconnect the CRM',
          description:
            "Removes the integration's registrations at the CRM, revokes its tokens there, deletes its credentials and refuses its webhooks from now on. " +
            'Leads and history stay; its links too unless `keepLinks` is false. Body optional.',
          parameters: [integrationIdParam],
          requestBody: { required: false, content: json({ type: 'object', properties: { keepLinks: { type: 'boolean', default: true } }, additionalProperties: false }) },
          responses: { '200': { description: 'Disconnected.', content: json(ref('Disconnected')) }, ...integrationErrors },
        },
      },
      [`${API_BASE}/crm-integration/{integrationId}/disable-webhooks`]: {
        post: {
          operationId: 'disableWebhooks',
          tags: ['integrations'],
          summary: 'Disable webhooks (the emergency brake)',
          description: 'From now on no CRM event changes a lead; events are still acknowledged and counted as skipped.',
          parameters: [integrationIdParam],
          responses: { '200': { description: 'The integration\'s webhook status.', content: json(ref('WebhookStatus')) }, ...integrationErrors },
        },
      },
    },
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: 'An organization\'s API key (`cs_…`), created with `crm-sync apikey create` or the bootstrap key.',
        },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string', enum: codes },
                message: { type: 'string' },
                fields: {
                  type: 'array',
                  description: 'VALIDATION only: the invalid fields.',
                  items: {
                    type: 'object',
                    required: ['field', 'message'],
                    properties: { field: { type: 'string' }, message: { type: 'string' } },
                  },
                },
              },
            },
          },
        },
        Disconnected: {
          type: 'object',
          properties: { id: { type: 'string' }, provider: { type: 'string' }, connectionState: { type: 'string', enum: ['DISCONNECTED'] }, keepLinks: { type: 'boolean' } },
        },
        ImportRequest: {
          type: 'object',
          required: ['integrationId'],
          properties: { integrationId: { type: 'string', minLength: 1 } },
        },
        ImportJob: {
          type: 'object',
          required: ['id', 'integrationId', 'status', 'pages', 'created', 'linked', 'updated', 'skipped', 'failed', 'error', 'startedAt', 'finishedAt'],
          properties: {
            id: { type: 'string' },
            integrationId: { type: 'string' },
            status: { type: 'string', enum: ['running', 'completed', 'failed'] },
            pages: { type: 'integer' },
            created: { type: 'integer' },
            linked: { type: 'integer' },
            updated: { type: 'integer' },
            skipped: { type: 'integer' },
            failed: { type: 'integer' },
            error: nullable({ type: 'string' }),
            startedAt: dateTime,
            finishedAt: nullable(dateTime),
          },
        },
        WebhookStatus: {
          type: 'object',
          required: [
            'integrationId',
            'provider',
            'enabled',
            'subscriptionId',
            'events',
            'expiresAt',
            'totalReceived',
            'lastReceivedAt',
            'created',
            'updated',
            'skipped',
            'failed',
            'pending',
            'pendingPushes',
            'failedPushes',
            'nextAttemptAt',
            'breaker',
          ],
          properties: {
            integrationId: { type: 'string' },
            provider: { type: 'string', enum: [...PROVIDERS] },
            enabled: { type: 'boolean' },
            subscriptionId: nullable({ type: 'string' }),
            events: { type: 'array', items: { type: 'string' } },
            expiresAt: nullable(dateTime),
            totalReceived: { type: 'integer' },
            lastReceivedAt: nullable(dateTime),
            created: { type: 'integer' },
            updated: { type: 'integer' },
            skipped: { type: 'integer' },
            failed: { type: 'integer' },
            pending: { type: 'integer', description: 'Webhook events received and not processed yet.' },
            pendingPushes: { type: 'integer', description: 'Pushes to the CRM waiting (queued, retrying or in progress).' },
            failedPushes: { type: 'integer', description: 'Pushes left failed (see retryFailed).' },
            nextAttemptAt: nullable({ ...dateTime, description: "When the next waiting event or push is due (the breaker's cool-down included)." }),
            breaker: {
              type: 'object',
              description: "The circuit breaker of calls to the integration's CRM.",
              required: ['state', 'failures', 'until', 'openedAt', 'lastErrorCode'],
              properties: {
                state: { type: 'string', enum: ['CLOSED', 'OPEN', 'HALF_OPEN'] },
                failures: { type: 'integer', description: 'Consecutive transient failures.' },
                until: nullable(dateTime),
                openedAt: nullable(dateTime),
                lastErrorCode: nullable({ type: 'string' }),
              },
            },
          },
        },
        EnableWebhooksResult: {
          type: 'object',
          required: ['status', 'provision', 'webhookUrl'],
          properties: {
            status: ref('WebhookStatus'),
            provision: {
              type: 'object',
              required: ['originFieldReady', 'originFieldCreated', 'subscriptionId', 'events', 'expiresAt', 'manualSteps'],
              properties: {
                originFieldReady: { type: 'boolean' },
                originFieldCreated: { type: 'boolean' },
                subscriptionId: nullable({ type: 'string' }),
                events: { type: 'array', items: { type: 'string' } },
                expiresAt: nullable(dateTime),
                manualSteps: { type: 'array', items: { type: 'string' }, description: 'What is left to configure in the CRM by hand.' },
              },
            },
            webhookUrl: { type: 'string', format: 'uri' },
          },
        },
      },
    },
    security: [{ bearerAuth: [] }],
  };
}
