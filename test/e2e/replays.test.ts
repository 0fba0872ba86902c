/**
 * Replays and foreign requests on /slack/events: a captured signed request sent again within
 * Slack's five-minute window is acknowledged and ignored; a timestamp more than five minutes ahead
 * is refused; a request for another workspace changes nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBot, type Bot } from './harness.js';
import { GENERAL_CHANNEL_ID } from '../../src/emulator/slack/index.js';
import { Actions } from '../../src/slack/ids.js';
import { ALICE, channelsNamed, declare, flowDone, messagesWithMarker, slashForm } from './helpers.js';

let bot: Bot;
before(async () => {
  bot = await startBot();
});
after(async () => bot.close());

const slashBody = (text: string, over: Record<string, string> = {}) => slashForm(bot, text, over);

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

test('a click is acked before it is parsed, yet a replayed click or one for another workspace or app opens nothing', async () => {
  const incident = await declare(bot, 'high Replayed click');
  const card = messagesWithMarker(bot.emulator, incident.channelId!, `card:${incident.id}`)[0]!;
  const clickBody = (over: Record<string, unknown> = {}) =>
    new URLSearchParams({
      payload: JSON.stringify({
        type: 'block_actions',
        team: { id: bot.emulator.state.teamId },
        api_app_id: bot.emulator.state.appId,
        user: { id: ALICE },
        channel: { id: incident.channelId },
        container: { type: 'message', message_ts: card.ts, channel_id: incident.channelId },
        trigger_id: bot.emulator.issueTrigger(ALICE),
        response_url: 'http://127.0.0.1:1/never',
        actions: [{ type: 'button', action_id: Actions.cardUpdateStatus, block_id: 'card_actions', value: incident.id, action_ts: '1' }],
        ...over,
      }),
    }).toString();
  const opens = () => bot.emulator.calls('views.open').length;
  const before = opens();
  const body = clickBody();
  const headers = bot.driver.sign(body);
  assert.equal((await bot.driver.send(body, headers)).status, 200);
  await bot.waitFor(() => opens() === before + 1 || null, 5000, 'the status modal');
  // The same bytes and signature again, within the five-minute window: acked, nothing opened.
  await bot.settled();
  assert.equal((await bot.driver.send(body, headers)).status, 200);
  // Signed with our secret but for another workspace, or for another app of ours.
  assert.equal((await bot.driver.send(clickBody({ team: { id: 'T0FOREIGN' } }))).status, 200);
  assert.equal((await bot.driver.send(clickBody({ api_app_id: 'A0OTHERAPP' }))).status, 200);
  await bot.settled();
  assert.equal(opens(), before + 1, 'only the first click opened a form');
});

test('the same signed command sent twice at once (a replay racing the original) is acked twice and has one effect', async () => {
  await bot.driver.slash('declare high Replay race target', { user: ALICE, channel: GENERAL_CHANNEL_ID });
  const i = await bot.waitFor(async () => (await titled('Replay race target')).find((x) => x.channelId), 5000, 'declared');
  await flowDone(bot, i.id);
  const updates = () => bot.emulator.state.messages(i.channelId!).filter((m) => m.text.includes('raced twice')).length;
  const body = slashBody('update raced twice', { channel_id: i.channelId! });
  const headers = bot.driver.sign(body);
  const [a, b] = await Promise.all([bot.driver.send(body, headers), bot.driver.send(body, headers)]);
  assert.deepEqual([a.status, b.status], [200, 200]);
  await bot.waitFor(() => updates() >= 1, 5000, 'the update posted');
  await bot.settled();
  assert.equal(updates(), 1, 'posted once');
  assert.ok(
    bot.logs.some((l) => l.includes('replayed Slack request ignored')),
    'the operator sees the replay in the log',
  );
});

test('help and a parse error for another workspace or app get an empty ack, not our answer', async () => {
  for (const over of [{ team_id: 'T0FOREIGN' }, { api_app_id: 'A0OTHERAPP' }] as Record<string, string>[]) {
    for (const text of ['help', 'declare urgent Not a severity']) {
      const r = await bot.driver.send(slashBody(text, over));
      assert.equal(r.status, 200, `${text} ${JSON.stringify(over)}`);
      assert.equal(r.text, '', `${text} ${JSON.stringify(over)}: ${r.text.slice(0, 80)}`);
    }
  }
  // Ours, the same bytes otherwise: answered in the ack.
  const help = await bot.driver.send(slashBody('help'));
  assert.match(help.text, /declare <severity> <title>/);
  const bad = await bot.driver.send(slashBody('declare urgent Not a severity'));
  assert.match(bad.text, /Unknown severity `urgent`/);
  assert.equal((bad.body as { response_type?: string }).response_type, 'ephemeral');
});

test('the five-minute window is read on the wall clock, whatever the bot’s own clock says', async () => {
  // A bot whose injected clock is an hour behind (a test's or a replay's): a request Slack signed
  // just now is fresh. Reading the "future" end of the window on the bot's clock refused it.
  const behind = { now: () => new Date(Date.now() - 3600_000) };
  const lagging = await startBot({ build: { clock: behind } });
  try {
    const r = await lagging.driver.send(slashForm(lagging, 'declare high Clock behind'));
    assert.equal(r.status, 200);
    await lagging.waitFor(() => channelsNamed(lagging.emulator, 'inc-').some((c) => c.name.endsWith('clock-behind')), 5000, 'the incident channel');
  } finally {
    await lagging.close();
  }
});
