// The REST shim: CRM webhooks (signed by the CRM, no API key) and the integration routes
// (API key, same service functions as the GraphQL mutations).
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { Authenticator } from '../auth.ts';
import type { Config } from '../config.ts';
import type { EnableWebhooksResult, SyncService, WebhookStatus } from '../engine/types.ts';
import { AppError, validationError } from '../errors.ts';
import type { ImportJob } from '../generated/prisma/client.ts';
import type { HttpEnv } from './context.ts';
import { requireApiKey, requireScope } from './middleware.ts';
import type { RateLimiter } from './rate-limit.ts';
import { openApiDocument } from './openapi.ts';
import { oauthCallback } from './oauth-pages.ts';
import { jsonTextProblems, textProblem } from './text-input.ts';

export interface RestDeps {
  config: Config;
  service: SyncService;
  auth: Authenticator;
  /** Per-API-key rate limit of the authenticated routes. */
  limiter?: RateLimiter;
}

/**
 * The JSON body of a request; 400 when it is not JSON, or when any string in it is not
 * acceptable text (control characters, lone surrogates, ...: src/http/text-input.ts).
 */
async function readJson(c: Context<HttpEnv>): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') throw new AppError('BAD_REQUEST', 'A JSON body is required.');
  return readJsonText(text);
}

/** Parses and checks a JSON body's text (see readJson). */
function readJsonText(text: string): unknown {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new AppError('BAD_REQUEST', 'Malformed JSON body.');
  }
  const problems = jsonTextProblems(body);
  if (problems.length) throw validationError(problems);
  return body;
}

/** A path parameter, held to the same text rules as bodies (400 VALIDATION naming it). */
function pathParam(c: Context<HttpEnv>, name: string): string {
  const value = c.req.param(name) ?? '';
  const problem = textProblem(value);
  if (problem) throw validationError([{ field: name, message: problem }]);
  return value;
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw validationError(
    parsed.error.issues.map((issue) => ({ field: issue.path.join('.') || '(body)', message: issue.message })),
  );
}

const ImportBody = z.object({ integrationId: z.string().trim().min(1, 'is required') });
const DisconnectBody = z.object({ keepLinks: z.boolean().default(true) }).strict();

// Explicit views: only these fields leave the service, whatever else its objects carry.
function webhookStatusView(s: WebhookStatus) {
  return {
    integrationId: s.integrationId,
    provider: s.provider,
    enabled: s.enabled,
    subscriptionId: s.subscriptionId,
    events: s.events,
    expiresAt: s.expiresAt,
    totalReceived: s.totalReceived,
    lastReceivedAt: s.lastReceivedAt,
    created: s.created,
    updated: s.updated,
    skipped: s.skipped,
    failed: s.failed,
    pending: s.pending,
  };
}

function enableWebhooksView(r: EnableWebhooksResult) {
  const p = r.provision;
  return {
    status: webhookStatusView(r.status),
    provision: {
      originFieldReady: p.originFieldReady,
      originFieldCreated: p.originFieldCreated,
      subscriptionId: p.subscriptionId,
      events: p.events,
      expiresAt: p.expiresAt,
      manualSteps: p.manualSteps,
    },
    webhookUrl: r.webhookUrl,
  };
}

function importJobView(j: ImportJob) {
  return {
    id: j.id,
    integrationId: j.integrationId,
    status: j.status,
    pages: j.pages,
    created: j.created,
    linked: j.linked,
    updated: j.updated,
    skipped: j.skipped,
    failed: j.failed,
    error: j.error,
    startedAt: j.startedAt,
    finishedAt: j.finishedAt,
  };
}

export function restRoutes({ config, service, auth, limiter }: RestDeps): Hono<HttpEnv> {
  const api = new Hono<HttpEnv>();
  api.get('/openapi.json', (c) => c.json(openApiDocument(config)));

  const webhook = async (c: Context<HttpEnv>) => {
    const rawBody = Buffer.from(await c.req.arrayBuffer());
    const url = new URL(c.req.url);
    const headers: Record<string, string> = {};
    c.req.raw.headers.forEach((value, name) => {
      headers[name.toLowerCase()] = value;
    });
    const answer = await service.receiveWebhook(c.req.param('provider') ?? '', {
      method: c.req.method,
      // The URL the CRM signed: the public one, not whatever host reached this process.
      url: `${config.PUBLIC_BASE_URL}${url.pathname}${url.search}`,
      headers,
      rawBody,
      // Salesforce: the per-integration secret the outbound message endpoint URL ends with.
      endpointSecret: c.req.param('secret') ?? null,
    });
    return new Response(answer.body, { status: answer.status, headers: { 'content-type': answer.contentType } });
  };
  api.post('/webhooks/:provider', webhook);
  api.post('/webhooks/:provider/:secret', webhook);
  api.get('/oauth/:provider/callback', oauthCallback(service));

  const integrations = new Hono<HttpEnv>();
  integrations.use('*', requireApiKey(auth, limiter));
  // Every integration route is administration, as in GraphQL.
  integrations.use('*', requireScope('integrations:admin'));

  integrations.post('/import', async (c) => {
    const { integrationId } = parseWith(ImportBody, await readJson(c));
    const job = await service.importFromCrm(c.get('principal').organizationId, integrationId);
    return c.json(importJobView(job), 202);
  });

  integrations.post('/:integrationId/enable-webhooks', async (c) => {
    const result = await service.enableWebhooks(c.get('principal').organizationId, pathParam(c, 'integrationId'));
    return c.json(enableWebhooksView(result));
  });

  integrations.get('/:integrationId/webhook-status', async (c) => {
    const status = await service.webhookStatus(c.get('principal').organizationId, pathParam(c, 'integrationId'));
    return c.json(webhookStatusView(status));
  });

  integrations.post('/:integrationId/disable-webhooks', async (c) => {
    const status = await service.disableWebhooks(c.get('principal').organizationId, pathParam(c, 'integrationId'));
    return c.json(webhookStatusView(status));
  });

  integrations.post('/:integrationId/disconnect', async (c) => {
    const text = await c.req.text();
    const { keepLinks } = parseWith(DisconnectBody, text.trim() === '' ? {} : readJsonText(text));
    const integration = await service.disconnectCrm(c.get('principal').organizationId, pathParam(c, 'integrationId'), { keepLinks });
    return c.json({ id: integration.id, provider: integration.provider, connectionState: 'DISCONNECTED', keepLinks });
  });

  api.route('/crm-integration', integrations);
  return api;
}
