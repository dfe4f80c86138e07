// `crm-sync apikey create|list|revoke`: an organization's API keys. The key is shown once,
// by create; list shows only the prefix stored for recognising it.
import { createApiKey, revokeApiKey, SCOPES, type Scope } from '../auth.ts';
import { createAppPubSub } from '../pubsub.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';
import { CliError, formatTable, optionalString, requireString, usageError, withDb, type Command, type CommandContext } from './common.ts';

async function requireOrganization(prisma: PrismaClient, id: string) {
  const org = await prisma.organization.findUnique({ where: { id }, select: { id: true, name: true } });
  if (!org) throw new CliError(`Organization ${id} not found`);
  return org;
}

function parseScopes(ctx: CommandContext): Scope[] {
  const raw = optionalString(ctx, 'scopes');
  if (raw === undefined) return [...SCOPES];
  const scopes = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length || scopes.length === 0) {
    throw usageError(`Unknown scope${unknown.length === 1 ? '' : 's'}: ${unknown.join(', ') || '(none given)'}; valid scopes: ${SCOPES.join(', ')}`, ctx.usage);
  }
  return [...new Set(scopes)] as Scope[];
}

export const apikeyCreateCommand: Command = {
  path: ['apikey', 'create'],
  summary: 'create an API key for an organization (shown once)',
  usage: `Usage: crm-sync apikey create --org ORG_ID --name NAME [--scopes a,b] [--json]

Creates an API key and prints it. The key is not stored (only its hash): this is the
only time it can be read. Scopes: ${SCOPES.join(', ')} (default: all).`,
  options: { org: { type: 'string' }, name: { type: 'string' }, scopes: { type: 'string' } },
  async run(ctx) {
    const orgId = requireString(ctx, 'org');
    const name = requireString(ctx, 'name');
    const scopes = parseScopes(ctx);
    const created = await withDb(ctx, async (db) => {
      await requireOrganization(db.prisma, orgId);
      return createApiKey(db.prisma, orgId, name, scopes);
    });
    ctx.out.json(created);
    ctx.out.line(created.key);
    if (!ctx.json) {
      process.stderr.write(`API key ${created.id} (${created.prefix}…, scopes ${created.scopes.join(', ')}) created for organization ${orgId}.\nStore it now: it cannot be shown again.\n`);
    }
  },
};

export const apikeyListCommand: Command = {
  path: ['apikey', 'list'],
  summary: "list an organization's API keys (prefix only)",
  usage: `Usage: crm-sync apikey list --org ORG_ID [--json]

Lists the organization's API keys: id, name, prefix, scopes, creation, last use and
revocation. The keys themselves are never stored and never shown.`,
  options: { org: { type: 'string' } },
  async run(ctx) {
    const orgId = requireString(ctx, 'org');
    const keys = await withDb(ctx, async (db) => {
      await requireOrganization(db.prisma, orgId);
      return db.prisma.apiKey.findMany({
        where: { organizationId: orgId },
        orderBy: { createdAt: 'asc' },
        select: { id: true, name: true, prefix: true, scopes: true, createdAt: true, lastUsedAt: true, revokedAt: true },
      });
    });
    ctx.out.json(keys);
    if (keys.length === 0) {
      ctx.out.line('No API keys.');
      return;
    }
    const date = (d: Date | null) => (d ? d.toISOString() : '-');
    ctx.out.line(
      formatTable([
        ['ID', 'NAME', 'PREFIX', 'SCOPES', 'CREATED', 'LAST USED', 'REVOKED'],
        ...keys.map((k) => [k.id, k.name, `${k.prefix}…`, k.scopes.join(','), date(k.createdAt), date(k.lastUsedAt), date(k.revokedAt)]),
      ]),
    );
  },
};

export const apikeyRevokeCommand: Command = {
  path: ['apikey', 'revoke'],
  summary: 'revoke an API key',
  usage: `Usage: crm-sync apikey revoke --org ORG_ID --id KEY_ID [--json]

Revokes the key: every request made with it is refused from now on. With REDIS_URL set,
every running instance is told at once and ends the key's open subscriptions; without
it, they notice within 30 seconds.`,
  options: { org: { type: 'string' }, id: { type: 'string' } },
  async run(ctx) {
    const orgId = requireString(ctx, 'org');
    const keyId = requireString(ctx, 'id');
    await withDb(ctx, async (db) => {
      await requireOrganization(db.prisma, orgId);
      if (!(await revokeApiKey(db.prisma, orgId, keyId))) {
        const existing = await db.prisma.apiKey.findFirst({ where: { id: keyId, organizationId: orgId }, select: { revokedAt: true } });
        if (existing?.revokedAt) throw new CliError(`API key ${keyId} was already revoked on ${existing.revokedAt.toISOString()}`);
        throw new CliError(`API key ${keyId} not found in organization ${orgId}`);
      }
    });
    // Running instances end the key's open streams when told through the shared pub/sub.
    const redisUrl = ctx.config().REDIS_URL;
    if (redisUrl) {
      const pubsub = createAppPubSub(redisUrl);
      try {
        pubsub.publish('apikey.revoked', { apiKeyId: keyId });
      } finally {
        await pubsub.close();
      }
    }
    ctx.out.json({ id: keyId, organizationId: orgId, revoked: true });
    ctx.out.line(`Revoked API key ${keyId}.`);
  },
};
