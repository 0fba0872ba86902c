/**
 * Replays and foreign requests on /slack/events: a captured signed request sent again within
 * Slack's five-minute window is acknowledged and ignored; a timestamp more than five minutes ahead
 * is refused; a request for another workspace changes nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBot, type Bot } from './harness.js';
import { GENERAL_CHANNEL_ID } from '../../src/emulator/slack/index.js';
import { ALICE, channelsNamed, flowDone } from './helpers.js';

let bot: Bot;
before(async () => {
  bot = await startBot();
});
after(async () => bot.close());

function slashBody(text: string, over: Record<string, string> = {}): string {
  return new URLSearchParams({
    token: 'x',
    team_id: bot.emulator.teamId,
    team_domain: 'acme',
    channel_id: GENERAL_CHANNEL_ID,
    channel_name: 'general',
    user_id: ALICE,
    user_name: 'alice',
    command: '/incident',
    text,
    api_app_id: bot.emulator.appId,
    is_enterprise_install: 'false',
    response_url: bot.emulator.issueResponseUrl({ channel: GENERAL_CHANNEL_ID, user: ALICE }),
    trigger_id: bot.emulator.issueTrigger(ALICE),
    ...over,
  }).toString();
}

const titled = async (title: string) => (await bot.fb.deps.store.listOpenIncidents()).filter((i) => i.title === title);
/** What a user would see of a declaration: its incident channel (named after the title). */
const channelsFor = (slug: string) => channelsNamed(bot.emulator, 'inc-').filter((c) => c.name.endsWith(slug));

test('a replayed signed request is acknowledged and has no second effect', async () => {
  await bot.driver.slash('declare high Replay target one', { user: ALICE, channel: GENERAL_CHANNEL_ID });
  const i = await bot.waitFor(async () => (await titled('Replay target one')).find((x) => x.channelId), 5000, 'declared');
  await flowDone(bot, i.id);
  const updates = () => bot.emulator.state.messages(i.channelId!).filter((m) => m.text.includes('captured once')).length;
  const body = slashBody('update captured once', { channel_id: i.channelId! });
  const headers = bot.driver.sign(body);
  assert.equal((await bot.driver.send(body, headers)).status, 200);
  await bot.waitFor(() => updates() === 1, 5000, 'the update posted');
  // The same bytes, the same signature, once the first has been handled completely: acked, and nothing happens.
  await bot.settled();
  assert.equal((await bot.driver.send(body, headers)).status, 200);
  await bot.settled();
  assert.equal(updates(), 1, 'posted once');
});

test('a timestamp more than five minutes in the future is refused', async () => {
  const body = slashBody('declare high From the future');
  const r = await bot.driver.send(body, {}, { timestamp: Math.floor(Date.now() / 1000) + 600 });
  assert.equal(r.status, 401);
  await bot.settled();
  assert.equal(channelsFor('from-the-future').length, 0);
  assert.equal((await titled('From the future')).length, 0);
  // A small clock skew ahead is fine.
  const ok = await bot.driver.send(slashBody('declare high Slightly ahead'), {}, { timestamp: Math.floor(Date.now() / 1000) + 60 });
  assert.equal(ok.status, 200);
  await bot.waitFor(() => channelsFor('slightly-ahead').length === 1, 5000, 'the incident channel');
});

test('a request for another workspace changes nothing', async () => {
  const r = await bot.driver.send(slashBody('declare high Foreign team', { team_id: 'T0FOREIGN' }));
  assert.equal(r.status, 200);
  await bot.settled();
  assert.equal(channelsFor('foreign-team').length, 0);
  assert.equal(bot.emulator.state.ephemeralsFor(ALICE, GENERAL_CHANNEL_ID).filter((e) => /foreign team/i.test(e.text)).length, 0);
  assert.equal((await titled('Foreign team')).length, 0);
});
