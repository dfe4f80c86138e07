// `crm-sync org create`: a new organization (tenant).
import { requireString, withDb, type Command } from './common.ts';

export const orgCreateCommand: Command = {
  path: ['org', 'create'],
  summary: 'create an organization, print its id',
  usage: `Usage: crm-sync org create --name NAME [--json]

Creates an organization and prints its id (give it an API key with \`crm-sync apikey create\`).`,
  options: { name: { type: 'string' } },
  async run(ctx) {
    const name = requireString(ctx, 'name');
    const { createOrganization } = await import('../auth.ts');
    const org = await withDb(ctx, (db) => createOrganization(db.prisma, name));
    ctx.out.json({ id: org.id, name: org.name, createdAt: org.createdAt });
    ctx.out.line(org.id);
  },
};
