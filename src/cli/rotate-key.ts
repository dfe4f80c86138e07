// `crm-sync rotate-key`: re-encrypts every integration's CRM credentials and webhook secrets with the
// current key (ENCRYPTION_KEY), reading older envelopes with ENCRYPTION_PREVIOUS_KEYS.
import { EXIT_FAILURE, withDb, type Command } from './common.ts';

export const rotateKeyCommand: Command = {
  path: ['rotate-key'],
  summary: "re-encrypt every integration's credentials and webhook secrets with the current key",
  usage: `Usage: crm-sync rotate-key [--json]

Re-encrypts the CRM credentials and webhook secrets (Salesforce endpoint secrets, Zoho
channel tokens) of every integration with the current key (ENCRYPTION_KEY,
ENCRYPTION_KEY_ID); values written with an older key are read with
ENCRYPTION_PREVIOUS_KEYS (id:key,...), plaintext values are encrypted (a Zoho channel
token stored in clear by an older version moves into the encrypted column). Safe to run again.
Exit code 1 when some credentials could not be decrypted (they are left as they were).

Rotation: set ENCRYPTION_KEY to the new key and ENCRYPTION_PREVIOUS_KEYS to the old
one (id:key), restart the service, run \`crm-sync rotate-key\`, then drop the old key.`,
  options: {},
  async run(ctx) {
    const config = ctx.config();
    const { keyringFromConfig, rotateCredentials } = await import('../secrets.ts');
    const keyring = keyringFromConfig(config, await ctx.logger(config));
    const result = await withDb(ctx, (db) => rotateCredentials(db.prisma, keyring));
    ctx.out.json({ keyId: keyring.currentKeyId, ...result });
    ctx.out.line(
      `Secrets of ${result.total} integration${result.total === 1 ? '' : 's'}: ${result.rotated} re-encrypted with key ${keyring.currentKeyId}, ${result.unchanged} already current, ${result.failed} failed.`,
    );
    if (result.failed > 0) {
      process.stderr.write(
        `crm-sync: could not decrypt the credentials of ${result.failedIds.join(', ')}: add the key they were written with to ENCRYPTION_PREVIOUS_KEYS.\n`,
      );
      return EXIT_FAILURE;
    }
  },
};
