import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GENERAL_CHANNEL_ID, INCIDENTS_CHANNEL_ID, TRIGGER_TTL_MS, startSlackEmulator, type SlackEmulator } from '../../src/emulator/slack/index.js';
import { Actions, COMMAND, DeclareBlocks, INPUT, Views } from '../../src/slack/ids.js';
import { ALICE, BOB, CAROL, blocksText, flowDone, messagesWithMarker, openView } from './helpers.js';
import { APP_TOKEN, BOT_TOKEN, startBot, type Bot } from './harness.js';

/** The real bot in Socket Mode against the emulator (see startBot in harness.ts). */
const startSocketBot = () => startBot({ transport: 'socket' });

describe('the bot in Socket Mode', () => {
  let bot: Bot;
  before(async () => {
    bot = await startSocketBot();
  });
  after(async () => {
    await bot.close();
  });

  test('start() connects one socket with the app-level token', () => {
    assert.equal(bot.emulator.socketMode.connections().length, 1);
    const opens = bot.emulator.calls('apps.connections.open');
    assert.equal(opens.length, 1);
    assert.equal(opens[0]!.ok, true);
  });

  test('/incident help is acked over the socket within 3 s with the help text', async () => {
    const r = await bot.driver.slash('help', { user: ALICE, channel: GENERAL_CHANNEL_ID });
    assert.equal(r.status, 200);
    assert.ok(r.ms < 3000, `ack took ${r.ms} ms`);
    const body = r.body as { response_type?: string; text?: string };
    assert.equal(body.response_type, 'ephemeral');
    assert.match(body.text ?? '', /declare <severity> <title>/);
  });

  test('an inline declare creates the channel and pins the incident card', async () => {
    const r = await bot.driver.slash('declare high Payments API failing', { user: ALICE, channel: GENERAL_CHANNEL_ID });
    assert.equal(r.status, 200);
    assert.ok(r.ms < 3000, `ack took ${r.ms} ms`);
    const incident = await bot.waitFor(
      async () => (await bot.fb.deps.store.listOpenIncidents()).find((i) => i.title === 'Payments API failing'),
      5000,
      'the incident',
    );
    await flowDone(bot as unknown as Bot, incident.id);
    const i = (await bot.fb.deps.store.getIncident(incident.id))!;
    assert.equal(i.severity, 'high');
    assert.match(i.channelName!, /^inc-\d{8}-payments-api-failing$/);
    const ch = bot.emulator.state.channel(i.channelId!)!;
    assert.ok(ch.members.includes(ALICE), 'declarer invited');
    const cards = messagesWithMarker(bot.emulator, i.channelId!, `card:${i.id}`);
    assert.equal(cards.length, 1);
    assert.ok(
      bot.emulator.state.pins(i.channelId!).some((p) => p.message.ts === cards[0]!.ts),
      'card pinned',
    );
    assert.equal(messagesWithMarker(bot.emulator, INCIDENTS_CHANNEL_ID, `announce:${i.id}`).length, 1, 'announced once');
  });

  test('the declare modal opens from the command and its submission declares', async () => {
    const r = await bot.driver.slash('', { user: ALICE, channel: GENERAL_CHANNEL_ID });
    assert.equal(r.status, 200);
    const view = await bot.waitFor(() => openView(bot.emulator, ALICE, 'declare_modal'), 3000, 'declare modal');
    assert.equal(bot.emulator.calls('views.open').at(-1)?.args.trigger_id, r.triggerId);

    // A bad submission comes back as field errors in the ack, and the modal stays open.
    const bad = await bot.driver.submitView(
      view.id,
      { [DeclareBlocks.title]: { [INPUT]: '   ' }, [DeclareBlocks.severity]: { [INPUT]: 'low' }, [DeclareBlocks.commander]: { [INPUT]: ALICE } },
      { user: ALICE },
    );
    assert.equal(bad.status, 200);
    assert.equal((bad.body as { response_action?: string }).response_action, 'errors');
    assert.equal(bot.emulator.state.view(view.id)?.open, true);

    const sub = await bot.driver.submitView(
      view.id,
      {
        [DeclareBlocks.title]: { [INPUT]: 'Login page blank' },
        [DeclareBlocks.severity]: { [INPUT]: 'medium' },
        [DeclareBlocks.description]: { [INPUT]: 'white screen after deploy' },
        [DeclareBlocks.commander]: { [INPUT]: BOB },
        [DeclareBlocks.services]: { [INPUT]: 'auth' },
        [DeclareBlocks.private]: { [INPUT]: [] },
      },
      { user: ALICE },
    );
    assert.equal(sub.status, 200);
    assert.ok(sub.ms < 3000, `ack took ${sub.ms} ms`);
    assert.equal(bot.emulator.state.view(view.id)?.open, false, 'the modal closed on the ack');
    const incident = await bot.waitFor(
      async () => (await bot.fb.deps.store.listOpenIncidents()).find((i) => i.title === 'Login page blank'),
      5000,
      'the incident',
    );
    await flowDone(bot as unknown as Bot, incident.id);
    const i = (await bot.fb.deps.store.getIncident(incident.id))!;
    assert.equal(i.commanderId, BOB);
    const cards = messagesWithMarker(bot.emulator, i.channelId!, `card:${i.id}`);
    assert.equal(cards.length, 1);
    assert.ok(blocksText(cards[0]!.blocks).includes('Resolve'));
  });

  test('a button on the pinned card works over the socket: Update status opens its modal', async () => {
    const incident = (await bot.fb.deps.store.listOpenIncidents()).find((i) => i.title === 'Payments API failing')!;
    const card = messagesWithMarker(bot.emulator, incident.channelId!, `card:${incident.id}`)[0]!;
    const r = await bot.driver.click({ channel: incident.channelId!, ts: card.ts }, Actions.cardUpdateStatus, { user: BOB });
    assert.equal(r.status, 200);
    assert.ok(r.ms < 3000, `ack took ${r.ms} ms`);
    await bot.waitFor(() => openView(bot.emulator, BOB, Views.status), 3000, 'the status modal');
  });

  test('a click on a button no listener knows (an older version of the bot made it) is acked, so Slack shows no error; logged at debug', async () => {
    const msg = bot.emulator.state.postMessage(GENERAL_CHANNEL_ID, {
      user: 'UFIREBREAK',
      asBot: true,
      text: 'from an older Firebreak',
      blocks: [
        {
          type: 'actions',
          block_id: 'old',
          elements: [{ type: 'button', action_id: 'retired_button_v0', text: { type: 'plain_text', text: 'Old' }, value: 'x' }],
        },
      ],
    });
    const r = await bot.driver.click({ channel: GENERAL_CHANNEL_ID, ts: msg.ts }, 'retired_button_v0', { user: BOB });
    assert.equal(r.status, 200, 'acked (an unacked envelope times out: status 0)');
    assert.ok(r.ms < 3000, `ack took ${r.ms} ms`);
    const line = await bot.waitFor(() => bot.logs.find((l) => l.includes('a click no listener handled was acked')), 3000, 'the debug line');
    assert.match(line, /"level":(20|"debug")/);
    assert.match(line, /retired_button_v0/);
  });

  test('events arrive over the socket: the Home tab lists open incidents; a retry of the same event is processed once', async () => {
    const first = await bot.driver.appHomeOpened(CAROL);
    assert.equal(first.status, 200);
    const home = await bot.waitFor(() => bot.emulator.state.homeView(CAROL), 3000, 'the Home tab');
    assert.match(blocksText(home.blocks), /Payments API failing/);
    const publishes = bot.emulator.calls('views.publish').length;
    const retry = await bot.driver.event(
      { type: 'app_home_opened', user: CAROL, channel: 'D0CAROL', tab: 'home' },
      { eventId: first.eventId, retryNum: 1, retryReason: 'timeout' },
    );
    assert.equal(retry.status, 200);
    assert.equal(bot.emulator.socketMode.envelopes().at(-1)?.retryAttempt, 1);
    await bot.settled();
    assert.equal(bot.emulator.calls('views.publish').length, publishes, 'no second publish for the retry');
  });

  test('health, readiness and metrics answer on the HTTP port in Socket Mode too; /slack/events does not exist', async () => {
    const h = await fetch(`${bot.url}/healthz`);
    assert.equal(h.status, 200);
    const r = await fetch(`${bot.url}/readyz`);
    const rb = (await r.json()) as { ok: boolean; checks: Record<string, string> };
    assert.equal(r.status, 200, JSON.stringify(rb));
    assert.equal(rb.checks.slack, 'ok');
    assert.equal(rb.checks.store, 'ok');
    const m = await fetch(`${bot.url}/metrics`);
    assert.equal(m.status, 200);
    const text = await m.text();
    assert.match(text, /^firebreak_process_cpu_user_seconds_total \d/m);
    // Acks over the socket are timed too (earlier tests in this file sent commands and clicks).
    const count = Number(/^firebreak_slack_ack_seconds_count\{kind="slack"\} (\d+)/m.exec(text)?.[1] ?? 0);
    assert.ok(count > 0, 'socket acks are measured');
    const events = await fetch(`${bot.url}/slack/events`, { method: 'POST', body: 'x' });
    assert.equal(events.status, 404);
  });

  test('neither the bot token nor the app-level token shows up in the logs', () => {
    const all = bot.logs.join('');
    assert.ok(bot.logs.length > 0);
    assert.ok(!all.includes(BOT_TOKEN), 'bot token leaked');
    assert.ok(!all.includes(APP_TOKEN), 'app token leaked');
  });

  test('stop() closes the socket cleanly and the bot does not reconnect', async () => {
    const opens = bot.emulator.calls('apps.connections.open').length;
    await bot.stop();
    await bot.waitFor(() => bot.emulator.socketMode.connections().length === 0, 3000, 'the socket to close');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(bot.emulator.calls('apps.connections.open').length, opens, 'no reconnect attempt');
    assert.equal(bot.emulator.socketMode.connections().length, 0);
    // With the bot gone Slack has nobody to hand a command to.
    await assert.rejects(bot.driver.slash('help', { user: ALICE, channel: GENERAL_CHANNEL_ID }), /dispatch_failed/);
  });
});

describe('a Socket Mode envelope that waits before its listener runs', () => {
  // One clock for Slack and the bot: the emulator issues and expires trigger ids on it, the bot
  // stamps arrivals and spends trigger budgets on it. `skew` moves both forward.
  let skew = 0;
  const now = () => Date.now() + skew;
  let emulator: SlackEmulator;
  let bot: Bot;
  before(async () => {
    emulator = await startSlackEmulator({ botToken: BOT_TOKEN, appToken: APP_TOKEN, clock: now });
    bot = await startBot({ transport: 'socket', emulator, build: { clock: { now: () => new Date(now()) } } });
  });
  after(async () => {
    await bot?.close();
    await emulator?.close();
  });

  test("its trigger counts from the envelope's arrival: past the budget the person is told to click again and no views.open goes out with a dead trigger", async () => {
    // The `/incident` envelope arrives, then waits longer than a trigger lives before its listener
    // runs (behind other envelopes, a slow store): the clock moves on between the two.
    bot.fb.bolt.use(async ({ body, next }) => {
      if ((body as { command?: unknown }).command === COMMAND) skew += TRIGGER_TTL_MS + 500;
      await next();
    });
    const r = await bot.driver.slash('', { user: ALICE, channel: GENERAL_CHANNEL_ID });
    assert.equal(r.status, 200);
    const told = await bot.waitFor(() => emulator.state.ephemeralsFor(ALICE, GENERAL_CHANNEL_ID)[0], 3000, 'an answer');
    assert.match(told.text, /form could not open: Slack is busy.*click again/i);
    await bot.settled();
    assert.deepEqual(
      emulator.calls('views.open').map((c) => c.error ?? 'ok'),
      [],
      'no views.open sent with a trigger Slack refuses',
    );
    // The one info line names the trigger's age from the envelope's arrival, not from the listener.
    const line = bot.logs.find((l) => l.includes('trigger_not_sent'));
    assert.ok(line, bot.logs.filter((l) => l.includes('trigger')).join(''));
    const detail = (JSON.parse(line) as { detail: { method: string; ageMs: number } }).detail;
    assert.equal(detail.method, 'views.open');
    assert.ok(detail.ageMs > TRIGGER_TTL_MS, `age ${detail.ageMs} ms`);
  });
});
