// provision / renewWebhooks / unprovision against the sandbox: the origin picklist and
// the actions/watch notification channel.
import { afterEach, describe, expect, it } from 'vitest';
import { CrmError } from '../../../adapters/contract.ts';
import { connectZoho } from '../../../adapters/zoho/client.ts';
import { renewChannel } from '../../../adapters/zoho/index.ts';
import { lead, provisionOptions, recordingFetch, setup, TAG, type Setup } from './helpers.ts';

const DAY = 24 * 3600_000;
let s: Setup | undefined;

afterEach(async () => {
  await s?.close();
  s = undefined;
});

async function thrown(p: Promise<unknown>): Promise<CrmError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CrmError) return e;
    throw e;
  }
  throw new Error('expected a CrmError');
}

describe('provision: origin field', () => {
  it('creates the picklist and uses the API name Zoho assigned, read back from the fields API', async () => {
    s = await setup({ sandbox: { customFieldApiName: () => 'Origin_Tag_X1', strictPicklists: true } });
    const report = await s.client.provision(provisionOptions());
    expect(report.originFieldReady).toBe(true);
    expect(report.originFieldCreated).toBe(true);
    expect(s.client.originField).toBe('Origin_Tag_X1');
    expect(report.settings.originField).toBe('Origin_Tag_X1');
    const field = s.sandbox.controls.fields().find((f) => f.api_name === 'Origin_Tag_X1')!;
    expect(field).toMatchObject({ field_label: 'Lead Source System', data_type: 'picklist', custom_field: true });
    expect(field.pick_list_values).toEqual(expect.arrayContaining([TAG, 'zoho', 'manual']));
    const [r] = await s.client.pushLeads([lead('p', { email: 'p@example.com' })], TAG);
    expect(s.sandbox.controls.getLead(r!.ok ? r!.externalId : '')!.Origin_Tag_X1).toBe(TAG);
  });

  it('is idempotent, adds values it is newly asked for, and works from persisted settings', async () => {
    s = await setup({ sandbox: { customFieldApiName: () => 'Origin_Tag_X1', strictPicklists: true } });
    const first = await s.client.provision(provisionOptions());
    // The sandbox org starts with custom fields of its own: count what provisioning adds.
    const customAfterFirst = s.sandbox.controls.fields().filter((f) => f.custom_field).length;
    const again = await s.client.provision(provisionOptions({ tagValues: [TAG, 'manual', 'partner'] }));
    expect(again.originFieldCreated).toBe(false);
    expect(s.sandbox.controls.fields().filter((f) => f.custom_field)).toHaveLength(customAfterFirst);
    expect(s.sandbox.controls.fields().filter((f) => f.field_label === 'Lead Source System')).toHaveLength(1);
    expect(s.sandbox.controls.fields().find((f) => f.api_name === 'Origin_Tag_X1')!.pick_list_values).toContain('partner');

    // A client built later from what provision() returned finds the same field.
    const { accessToken, expiresAt } = s.sandbox.controls.issueAccessToken();
    const later = connectZoho(
      { baseUrl: s.sandbox.url, accountId: 'x', credentials: { accessToken, expiresAt, accountsUrl: s.sandbox.accountsUrl }, settings: first.settings, network: { allowLocalHosts: true } },
      { fetch: recordingFetch([]) },
    );
    expect(later.originField).toBe('Origin_Tag_X1');
    const [r] = await later.pushLeads([lead('q', { email: 'q@example.com' })], 'partner');
    expect(r?.ok).toBe(true);
    expect((await later.provision(provisionOptions())).originFieldCreated).toBe(false);
  });

  it('recommends making Email unique when it is not, and nothing when it is', async () => {
    s = await setup({ sandbox: { emailUnique: false } });
    const loose = await s.client.provision(provisionOptions());
    expect(loose.settings.emailUnique).toBe(false);
    expect(loose.manualSteps.join(' ')).toMatch(/Do not allow duplicate values/);
    await s.close();
    s = await setup({ sandbox: { emailUnique: true } });
    const strict = await s.client.provision(provisionOptions());
    expect(strict.settings.emailUnique).toBe(true);
    expect(strict.manualSteps).toEqual([]);
  });
});

describe('provision: notification channel', () => {
  it('registers Leads create/edit/delete to the webhook URL with our token, for a week less a margin', async () => {
    s = await setup();
    const opts = provisionOptions({ webhookUrl: 'https://sync.example.com/api/v1/webhooks/zoho', channel: { id: '1000000068001', token: 't'.repeat(50) } });
    const report = await s.client.provision(opts);
    const [channel] = s.sandbox.controls.channels();
    expect(channel).toMatchObject({
      channel_id: opts.channel!.id,
      events: ['Leads.create', 'Leads.edit', 'Leads.delete'],
      notify_url: opts.webhookUrl,
      token: opts.channel!.token,
      live: true,
    });
    expect(report.subscriptionId).toBe(opts.channel!.id);
    expect(report.events).toEqual(['Leads.create', 'Leads.edit', 'Leads.delete']);
    expect(report.expiresAt?.getTime()).toBe(channel!.expiresAt.getTime());
    const now = s.sandbox.controls.now().getTime();
    expect(report.expiresAt!.getTime()).toBeGreaterThan(now + 6.9 * DAY);
    expect(report.expiresAt!.getTime()).toBeLessThanOrEqual(now + 7 * DAY);
    expect(report.settings.channelId).toBe(opts.channel!.id);
  });

  it('reports the expiry Zoho granted when it falls back to its one-hour default', async () => {
    s = await setup();
    // Zoho's clock two days behind ours: our "week minus an hour" is more than its week.
    s.sandbox.controls.setClock(new Date(Date.now() - 2 * DAY));
    const report = await s.client.provision(provisionOptions());
    expect(report.expiresAt!.getTime()).toBe(s.sandbox.controls.now().getTime() + 3600_000);
  });

  it('refuses no channel, a token longer than 50 characters or a channel id that is not a long, before calling Zoho', async () => {
    s = await setup();
    await s.client.provision(provisionOptions());
    s.sandbox.controls.resetLog();
    const { channel: _none, ...withoutChannel } = provisionOptions();
    void _none;
    expect((await thrown(s.client.provision(withoutChannel))).code).toBe('VALIDATION');
    expect((await thrown(s.client.renewWebhooks(withoutChannel))).code).toBe('VALIDATION');
    expect((await thrown(s.client.provision(provisionOptions({ channel: { id: '1000000068001', token: 'x'.repeat(51) } })))).code).toBe('VALIDATION');
    expect((await thrown(s.client.provision(provisionOptions({ channel: { id: '176400000000012345678', token: 'channel-token-0123456789' } })))).code).toBe('VALIDATION');
    // Nothing was asked of Zoho: not even the origin field was looked at.
    expect(s.sandbox.controls.requests).toHaveLength(0);
  });

  /** Moves time forward for both sides (our client and Zoho). */
  let offset = 0;
  const clientNow = () => Date.now() + offset;
  function advance(x: Setup, ms: number) {
    offset += ms;
    x.sandbox.controls.setClock(new Date(clientNow()));
  }
  afterEach(() => {
    offset = 0;
  });

  it('renews the channel before it lapses, extending its expiry', async () => {
    s = await setup({ deps: { now: clientNow } });
    const first = await s.client.provision(provisionOptions());
    advance(s, 5 * DAY);
    const renewed = await renewChannel(s.client, provisionOptions());
    expect(renewed.expiresAt!.getTime()).toBeGreaterThan(first.expiresAt!.getTime() + 4 * DAY);
    expect(s.sandbox.controls.channels()[0]!.expiresAt.getTime()).toBe(renewed.expiresAt!.getTime());
    expect(s.sandbox.controls.requests.some((r) => r.method === 'PATCH' && r.path === '/crm/v7/actions/watch' && r.status === 200)).toBe(true);
    expect(renewed.settings.channelExpiry).toBe(renewed.expiresAt!.toISOString());
  });

  it('re-creates a channel that already lapsed when asked to renew it', async () => {
    s = await setup({ deps: { now: clientNow } });
    await s.client.provision(provisionOptions());
    advance(s, 8 * DAY);
    expect(s.sandbox.controls.channels()[0]!.live).toBe(false);
    const renewed = await s.client.renewWebhooks(provisionOptions());
    expect(s.sandbox.controls.channels()[0]!.live).toBe(true);
    expect(renewed.expiresAt!.getTime()).toBeGreaterThan(s.sandbox.controls.now().getTime() + 6 * DAY);
  });

  it('unprovision disables the channel (no more notifications) and can run twice', async () => {
    s = await setup();
    await s.client.provision(provisionOptions());
    s.sandbox.controls.createLeadAsUser({ Email: 'before@example.com', Last_Name: 'B' });
    await s.sandbox.controls.flushNotifications();
    const delivered = s.sandbox.controls.deliveries.length;
    expect(delivered).toBe(1);
    await s.client.unprovision();
    expect(s.sandbox.controls.channels()).toEqual([]);
    s.sandbox.controls.createLeadAsUser({ Email: 'after@example.com', Last_Name: 'A' });
    await s.sandbox.controls.flushNotifications();
    expect(s.sandbox.controls.deliveries).toHaveLength(delivered);
    await s.client.unprovision();
  });
});
