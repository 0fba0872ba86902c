import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BOT_TOKEN, startBot } from './harness.js';
import { GENERAL_CHANNEL_ID, defaultBotScopes, startSlackEmulator } from '../../src/emulator/slack/index.js';
import { ALICE } from './helpers.js';

/**
 * ANNOUNCE_CHANNEL: Slack refuses chat.postMessage with not_in_channel when the bot is not a member,
 * unless the app has chat:write.public (public channels only). The manifest requests it; /readyz
 * says when the bot cannot post there (README, "Running it").
 */
/** An emulator whose workspace has the announcement channel before the bot starts (it checks at start). */
async function workspace(channel: { id: string; name: string; isPrivate?: boolean }, scopes?: string[]) {
  const emulator = await startSlackEmulator({ botToken: BOT_TOKEN, ...(scopes ? { scopes } : {}) });
  emulator.state.createChannel({ ...channel, creator: ALICE });
  return emulator;
}

const readyz = async (url: string) => (await (await fetch(`${url}/readyz`)).json()) as { ok: boolean; checks: Record<string, string>; warnings?: string[] };

test('with chat:write.public the bot announces in a public channel it was never invited to', async () => {
  const emulator = await workspace({ id: 'C0ANNOUNCE', name: 'announcements' });
  const bot = await startBot({ emulator, env: { ANNOUNCE_CHANNEL: 'C0ANNOUNCE' } });
  try {
    const ch = bot.emulator.state.channelByName('announcements')!;
    assert.ok(!ch.members.includes(bot.emulator.botUserId));
    const r = await readyz(bot.url);
    assert.equal(r.checks.announce, 'ok', JSON.stringify(r));
    await bot.driver.slash('declare high Edge 5xx', { user: ALICE, channel: GENERAL_CHANNEL_ID });
    await bot.waitFor(() => bot.emulator.state.messages(ch.id).some((m) => m.user === bot.emulator.botUserId), 5000, 'the announcement');
  } finally {
    await bot.close();
    await emulator.close();
  }
});

test('without chat:write.public, a public channel the bot is not in: /readyz says so and the log warns', async () => {
  const scopes = defaultBotScopes().filter((s) => s !== 'chat:write.public');
  const emulator = await workspace({ id: 'C0ANNOUNCE', name: 'announcements' }, scopes);
  const bot = await startBot({ emulator, env: { ANNOUNCE_CHANNEL: 'C0ANNOUNCE' } });
  try {
    const r = await readyz(bot.url);
    assert.match(r.checks.announce ?? '', /cannot post in ANNOUNCE_CHANNEL: .*chat:write\.public/);
    assert.deepEqual(r.warnings, [r.checks.announce]);
    assert.equal(r.ok, true, 'announcements failing must not take the bot out of the load balancer');
    await bot.waitFor(() => bot.logs.some((l) => l.includes('cannot post in ANNOUNCE_CHANNEL')), 3000, 'the warning');
    // The emulator refuses the post as Slack would.
    await bot.driver.slash('declare high Edge 5xx', { user: ALICE, channel: GENERAL_CHANNEL_ID });
    const refused = await bot.waitFor(
      () => bot.emulator.calls('chat.postMessage').find((c) => c.args.channel === 'C0ANNOUNCE'),
      5000,
      'the announcement attempt',
    );
    assert.equal(refused.error, 'not_in_channel');
  } finally {
    await bot.close();
    await emulator.close();
  }
});

test('a private announcement channel the bot is not in: /readyz tells the operator to invite it', async () => {
  const emulator = await workspace({ id: 'G0PRIVATE1', name: 'exec-incidents', isPrivate: true });
  const bot = await startBot({ emulator, env: { ANNOUNCE_CHANNEL: 'G0PRIVATE1' } });
  try {
    assert.match((await readyz(bot.url)).checks.announce ?? '', /invite/);
  } finally {
    await bot.close();
    await emulator.close();
  }
});
