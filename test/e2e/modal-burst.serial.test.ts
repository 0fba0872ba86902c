import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TRIGGER_TTL_MS } from '../../src/emulator/slack/index.js';
import { TIERS } from '../../src/adapters/slack/tiers.js';
import { Actions, Views } from '../../src/slack/ids.js';
import { startBot, type Bot } from './harness.js';
import { BOB, declare, messagesWithMarker } from './helpers.js';

/**
 * A burst of clicks on a modal-opening button beyond the views.open budget (Slack's tier 4; the
 * bot paces itself under it), with the emulator enforcing Slack's rate limits and its 3 s trigger
 * window. Slack honours a trigger_id for about 3 s: a click that would wait in the pacer past that
 * must not hold its payload for a views.open Slack can only refuse. Each person gets either the
 * form or, at once, a private "Slack is busy, click again".
 */
let bot: Bot;
before(async () => {
  bot = await startBot({ rateLimits: 'enforce' });
});
after(async () => {
  await bot?.close();
});

const BUSY = /form could not open: Slack is busy.*click again/i;

// First: the views.open budget is still whole here.
test('Slack\'s expired_trigger_id (the call slow on its way) gets the same "click again", not an error', async () => {
  const incident = await declare(bot, 'high Slow trigger');
  const channel = incident.channelId!;
  const card = messagesWithMarker(bot.emulator, channel, `card:${incident.id}`)[0]!;
  bot.emulator.inject('views.open', { latencyMs: TRIGGER_TTL_MS + 300 });
  const before = bot.emulator.state.ephemeralsFor(BOB, channel).length;
  await bot.driver.click({ channel, ts: card.ts }, Actions.cardChangeSeverity, { user: BOB });
  const told = await bot.waitFor(() => bot.emulator.state.ephemeralsFor(BOB, channel).slice(before)[0], TRIGGER_TTL_MS + 3000, 'an answer');
  assert.match(told.text, BUSY);
  assert.deepEqual(
    bot.emulator.calls('views.open').map((c) => c.error),
    ['expired_trigger_id'],
  );
  // One info line for the refusal, with the method and the trigger's age.
  const lines = bot.logs.filter((l) => l.includes('expired_trigger_id') || l.includes('expired trigger'));
  assert.equal(lines.length, 1, lines.join(''));
  const line = JSON.parse(lines[0]!) as { level: number; msg: string; detail: { method: string; ageMs: number } };
  assert.equal(line.level, 30, 'info');
  assert.equal(line.detail.method, 'views.open');
  assert.ok(line.detail.ageMs > TRIGGER_TTL_MS);
});

test('a burst of modal clicks beyond the views.open budget: the form or, promptly, "click again"; no late views.open', async () => {
  const incident = await declare(bot, 'high Modal burst');
  const channel = incident.channelId!;
  const card = messagesWithMarker(bot.emulator, channel, `card:${incident.id}`)[0]!;
  // The pacer lets its views.open burst go at once; well beyond it, the rest cannot go within 3 s.
  const clicks = TIERS.t4!.burst + 40;
  const before = bot.emulator.state.ephemeralsFor(BOB, channel).length;
  const callsBefore = bot.emulator.calls('views.open').length;
  const sentAt = Date.now();
  const results = await Promise.all(Array.from({ length: clicks }, () => bot.driver.click({ channel, ts: card.ts }, Actions.cardUpdateStatus, { user: BOB })));
  assert.ok(results.every((r) => r.status === 200));
  const busy = () =>
    bot.emulator.state
      .ephemeralsFor(BOB, channel)
      .slice(before)
      .filter((e) => BUSY.test(e.text));
  const opened = () => bot.emulator.state.snapshot().views.filter((v) => v.user_id === BOB && v.callback_id === Views.status);
  // Every click answered, the refused ones within Slack's trigger window of the burst (not after
  // waiting their turn in the pacer, which would be tens of seconds for the last ones).
  await bot.waitFor(() => opened().length + busy().length >= clicks, TRIGGER_TTL_MS + 1000, 'every click answered (form or "click again")');
  const answeredMs = Date.now() - sentAt;
  await bot.settled();
  assert.equal(opened().length + busy().length, clicks, `${opened().length} forms + ${busy().length} "click again" for ${clicks} clicks`);
  assert.ok(opened().length >= TIERS.t4!.burst, `the pacer's burst opens its forms (${opened().length})`);
  assert.ok(busy().length > 0, 'the clicks beyond the budget are told to click again');
  // Nothing was sent with a trigger Slack would refuse.
  const expired = bot.emulator
    .calls('views.open')
    .slice(callsBefore)
    .filter((c) => c.error === 'expired_trigger_id');
  assert.equal(expired.length, 0, 'no views.open with a dead trigger');
  assert.ok(answeredMs < TRIGGER_TTL_MS + 1000, `answered in ${answeredMs} ms`);
  // Logged once per refusal, at info, with the method and the wait.
  const lines = bot.logs.filter((l) => l.includes('trigger_not_sent') || l.includes('the trigger would expire')); // only this test's burst refuses
  assert.equal(lines.length, busy().length, 'one line per refusal');
  const line = JSON.parse(lines[0]!) as { level: number; msg: string; detail: { method: string; waitMs: number } };
  assert.equal(line.level, 30, 'info');
  assert.equal(line.msg, 'request refused');
  assert.equal(line.detail.method, 'views.open');
  assert.ok(line.detail.waitMs > 0);
});
