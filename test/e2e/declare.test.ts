import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBot, BOT_TOKEN, type Bot } from './harness.js';
import { GENERAL_CHANNEL_ID, INCIDENTS_CHANNEL_ID, startSlackEmulator } from '../../src/emulator/slack/index.js';
import { DeclareBlocks, INPUT, Actions } from '../../src/slack/ids.js';
import { ALICE, blocksText, BOB, CAROL, channelsNamed, declare, declarePrivate, flowDone, messagesWithMarker, openView, waitForIncident } from './helpers.js';

describe('declare from Slack', () => {
  let bot: Bot;
  before(async () => {
    bot = await startBot();
  });
  after(async () => bot.close());

  test('the modal opens right after the ack and a submission declares: channel, invite, topic, pinned card, bookmark-less local backend, announcement', async () => {
    const r = await bot.driver.slash('', { user: ALICE, channel: GENERAL_CHANNEL_ID });
    assert.equal(r.status, 200);
    assert.ok(r.ms < 3000);
    const view = await bot.waitFor(() => openView(bot.emulator, ALICE, 'declare_modal'), 3000, 'declare modal');
    // views.open was called with the trigger from this very command.
    assert.equal(bot.emulator.calls('views.open').at(-1)?.args.trigger_id, r.triggerId);

    const sub = await bot.driver.submitView(
      view.id,
      {
        [DeclareBlocks.title]: { [INPUT]: 'Checkout latency above 2s' },
        [DeclareBlocks.severity]: { [INPUT]: 'high' },
        [DeclareBlocks.description]: { [INPUT]: 'p99 is 4s since 10:02' },
        [DeclareBlocks.commander]: { [INPUT]: BOB },
        [DeclareBlocks.services]: { [INPUT]: 'checkout, payments' },
        [DeclareBlocks.private]: { [INPUT]: [] },
      },
      { user: ALICE },
    );
    assert.equal(sub.status, 200);
    const i = await waitForIncident(bot, 'Checkout latency above 2s');
    assert.equal(i.severity, 'high');
    assert.equal(i.commanderId, BOB);
    assert.deepEqual(i.services, ['checkout', 'payments']);
    assert.match(i.channelName!, /^inc-\d{8}-checkout-latency-above-2s$/);
    const ch = bot.emulator.state.channel(i.channelId!)!;
    assert.ok(ch.members.includes(ALICE) && ch.members.includes(BOB), 'declarer and commander invited');
    assert.match(ch.topic.value, /HIGH \| investigating \| IC: <@U0BOB0001>/);
    const cards = messagesWithMarker(bot.emulator, i.channelId!, `card:${i.id}`);
    assert.equal(cards.length, 1);
    assert.ok(
      bot.emulator.state.pins(i.channelId!).some((p) => p.message.ts === cards[0]!.ts),
      'card pinned',
    );
    for (const label of ['Update status', 'Change severity', 'Assign role', 'Summarize', 'Propose action', 'Resolve'])
      assert.ok(blocksText(cards[0]!.blocks).includes(label), label);
    const ann = messagesWithMarker(bot.emulator, INCIDENTS_CHANNEL_ID, `announce:${i.id}`);
    assert.equal(ann.length, 1, 'exactly one announcement');
    assert.ok(blocksText(ann[0]!.blocks).includes(i.channelId!));
    const audit = await bot.fb.deps.store.listAudit({ incidentId: i.id });
    assert.ok(audit.some((a) => a.action === 'incident.declared' && a.actor === ALICE));
  });

  test('a double submission of one modal (two view_submissions for the same view) declares once', async () => {
    await bot.driver.slash('', { user: CAROL, channel: GENERAL_CHANNEL_ID });
    const view = await bot.waitFor(() => openView(bot.emulator, CAROL, 'declare_modal'), 3000);
    const values = {
      [DeclareBlocks.title]: { [INPUT]: 'Queue consumers double-submitted' },
      [DeclareBlocks.severity]: { [INPUT]: 'low' },
      [DeclareBlocks.commander]: { [INPUT]: CAROL },
    };
    // Both leave before either is answered (a double click on Submit, or Slack's retry).
    const both = await Promise.all([bot.driver.submitView(view.id, values, { user: CAROL }), bot.driver.submitView(view.id, values, { user: CAROL })]);
    assert.deepEqual(
      both.map((r) => r.status),
      [200, 200],
    );
    await waitForIncident(bot, 'Queue consumers double-submitted');
    assert.equal((await bot.fb.deps.store.listOpenIncidents()).filter((x) => x.title === 'Queue consumers double-submitted').length, 1);
    assert.equal(channelsNamed(bot.emulator, 'inc-').filter((c) => c.name.includes('queue-consumers-double-submitted')).length, 1);
    // The repeat is recognised as the same declaration, not offered as "a similar incident".
    await bot.settled();
    assert.ok(!bot.emulator.state.ephemeralsFor(CAROL, GENERAL_CHANNEL_ID).some((e) => /similar incident/i.test(e.text)));
  });

  test('the private toggle makes a private incident channel', async () => {
    const inc = await declarePrivate(bot, 'Suspected credential leak', BOB);
    assert.equal(inc.private, true);
    const ch = bot.emulator.state.channel(inc.channelId!)!;
    assert.equal(ch.is_private, true);
    assert.ok(ch.members.includes(BOB));
    const ann = messagesWithMarker(bot.emulator, INCIDENTS_CHANNEL_ID, `announce:${inc.id}`);
    assert.equal(ann.length, 1);
    assert.doesNotMatch(blocksText(ann[0]!.blocks) + ann[0]!.text, /credential leak/i, 'the announcement does not reveal a private incident');
    assert.doesNotMatch(blocksText(ann[0]!.blocks), new RegExp(inc.channelId!));
  });

  test('invalid modal input comes back as response_action errors on the right field', async () => {
    await bot.driver.slash('', { user: CAROL, channel: GENERAL_CHANNEL_ID });
    const view = await bot.waitFor(() => openView(bot.emulator, CAROL, 'declare_modal'), 3000);
    const r = await bot.driver.submitView(
      view.id,
      { [DeclareBlocks.title]: { [INPUT]: '   ' }, [DeclareBlocks.severity]: { [INPUT]: 'low' }, [DeclareBlocks.commander]: { [INPUT]: CAROL } },
      { user: CAROL },
    );
    assert.equal(r.status, 200);
    const body = r.body as { response_action: string; errors: Record<string, string> };
    assert.equal(body.response_action, 'errors');
    assert.ok(body.errors[DeclareBlocks.title]);
  });

  test('a declare modal submitted while the database is slow closes at once, then declares (its ack waits for no store write)', async () => {
    await bot.driver.slash('', { user: CAROL, channel: GENERAL_CHANNEL_ID });
    const view = await bot.waitFor(() => openView(bot.emulator, CAROL, 'declare_modal'), 3000);
    await bot.settled();
    const store = bot.fb.deps.store;
    const markProcessed = store.markProcessed;
    store.markProcessed = async (key, at) => {
      await new Promise((r) => setTimeout(r, 1500));
      return markProcessed(key, at);
    };
    try {
      const r = await bot.driver.submitView(
        view.id,
        { [DeclareBlocks.title]: { [INPUT]: 'Slow database modal' }, [DeclareBlocks.severity]: { [INPUT]: 'low' } },
        { user: CAROL },
      );
      assert.equal(r.status, 200);
      assert.equal(r.text, '', 'closed: an empty ack');
      assert.ok(r.ms < 1000, `acked after ${r.ms} ms`);
      assert.equal(bot.emulator.state.view(view.id)?.open, false, 'the modal closed');
      const i = await waitForIncident(bot, 'Slow database modal');
      assert.equal(i.declaredBy, CAROL);
    } finally {
      store.markProcessed = markProcessed;
    }
  });

  test('inline declare: severity is case-insensitive and sev1 maps to critical', async () => {
    const i = await declare(bot, 'SEV1 API 500 error rate spike');
    assert.equal(i.severity, 'critical');
    assert.ok(i.channelId && i.cardTs && i.announceTs);
    assert.equal(i.commanderId, ALICE);
  });

  test('an inline declaration asks Slack for its channel before its (empty) ack goes out, and is acked all the same', async () => {
    // A declaration just before keeps the bot's connection to Slack open, as in a workspace at work:
    // on a cold one the channel's request would wait for the connection, and the ack would not.
    await declare(bot, 'high Warm-up before the ack order');
    await bot.settled();
    const before = channelsNamed(bot.emulator, 'inc-').length;
    const r = await bot.driver.slash('declare high Ledger replication lag over a minute', { user: ALICE, channel: GENERAL_CHANNEL_ID });
    assert.equal(r.status, 200);
    assert.equal(r.text, '', 'an empty ack: the reply follows through the response_url');
    assert.equal(channelsNamed(bot.emulator, 'inc-').length, before + 1, 'Slack was asked for the channel before the ack arrived');
    const i = await waitForIncident(bot, 'Ledger replication lag over a minute');
    assert.ok(i.channelId && i.cardTs);
  });

  test('an unknown severity gets an ephemeral error listing the accepted values and declares nothing', async () => {
    const before = (await bot.fb.deps.store.listOpenIncidents()).length;
    const r = await bot.driver.slash('declare urgent Database down', { user: ALICE, channel: GENERAL_CHANNEL_ID });
    assert.equal(r.status, 200);
    assert.match(r.text, /critical, high, medium, low/);
    assert.equal((r.body as { response_type: string }).response_type, 'ephemeral');
    await bot.settled();
    assert.equal((await bot.fb.deps.store.listOpenIncidents()).length, before);
  });

  test('a similar open incident is offered (join / declare anyway) instead of a silent duplicate', async () => {
    const first = await declare(bot, 'medium Search index lagging');
    const channelsBefore = channelsNamed(bot.emulator, 'inc-').length;
    const r = await bot.driver.slash('declare medium search index lagging', { user: CAROL, channel: GENERAL_CHANNEL_ID });
    assert.equal(r.status, 200);
    const offer = await bot.waitFor(
      () => bot.emulator.state.ephemeralsFor(CAROL, GENERAL_CHANNEL_ID).find((e) => blocksText(e.blocks).includes(Actions.duplicateJoin)),
      3000,
      'duplicate offer',
    );
    assert.match(offer.text, /similar incident/i);
    assert.equal(channelsNamed(bot.emulator, 'inc-').length, channelsBefore);
    // Join: Carol is added to the existing channel.
    await bot.driver.click({ channel: GENERAL_CHANNEL_ID, ts: offer.ts, ephemeral: true }, Actions.duplicateJoin, { user: CAROL });
    await bot.waitFor(() => bot.emulator.state.channel(first.channelId!)!.members.includes(CAROL), 3000, 'carol joined');
    // Declare anyway: a second incident is created, once, even on a double click.
    await Promise.all([
      bot.driver.click({ channel: GENERAL_CHANNEL_ID, ts: offer.ts, ephemeral: true }, Actions.duplicateDeclareAnyway, { user: CAROL }),
      bot.driver.click({ channel: GENERAL_CHANNEL_ID, ts: offer.ts, ephemeral: true }, Actions.duplicateDeclareAnyway, { user: CAROL }),
    ]);
    await bot.waitFor(
      async () => (await bot.fb.deps.store.listOpenIncidents()).filter((i) => i.title.toLowerCase() === 'search index lagging').length === 2,
      5000,
      'second incident',
    );
    await bot.settled();
    assert.equal((await bot.fb.deps.store.listOpenIncidents()).filter((i) => i.title.toLowerCase() === 'search index lagging').length, 2);
  });

  test('a channel name already taken in Slack gets -2; concurrent declares of one title never share a channel', async () => {
    const d = new Date();
    const yyyymmdd = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
    bot.emulator.state.createChannel({ name: `inc-${yyyymmdd}-cache-stampede`, creator: ALICE } as never);
    const i = await declare(bot, 'low Cache stampede');
    assert.equal(i.channelName, `inc-${yyyymmdd}-cache-stampede-2`);

    // Five people declare the same title at once: no two incidents may share a channel, and the
    // ones that lose the race are offered the existing incident.
    await Promise.all(
      [1, 2, 3, 4, 5].map((n) => bot.driver.slash('declare low Queue backlog', { user: [ALICE, BOB, CAROL, ALICE, BOB][n - 1]!, channel: GENERAL_CHANNEL_ID })),
    );
    const incidents = await bot.waitFor(async () => {
      const all = (await bot.fb.deps.store.listOpenIncidents()).filter((x) => x.title === 'Queue backlog');
      return all.length >= 1 && all.every((x) => x.channelId) ? all : null;
    }, 8000);
    const names = incidents.map((x) => x.channelName);
    assert.equal(new Set(names).size, names.length, `distinct channels: ${names.join(', ')}`);
    const created = bot.emulator.calls('conversations.create').filter((c) => String(c.args.name).includes('queue-backlog') && c.ok);
    assert.equal(created.length, incidents.length, 'one channel per incident');
  });
});

describe('declare flow resumes after a failure mid-way', () => {
  test('Slack created the channel but its answer was lost: the retry adopts that channel, no second one', async () => {
    const emulator = await startSlackEmulator({ botToken: BOT_TOKEN });
    const bot = await startBot({ emulator });
    try {
      emulator.inject('conversations.create', { drop: true, after: true });
      const incident = await declare(bot, 'high Ledger sync stalled');
      await flowDone(bot, incident.id, 15000);
      const i = (await bot.fb.deps.store.getIncident(incident.id))!;
      const channels = channelsNamed(emulator, 'inc-').filter((c) => c.name.includes('ledger-sync-stalled'));
      assert.deepEqual(
        channels.map((c) => c.id),
        [i.channelId],
        `one channel: ${channels.map((c) => c.name).join(', ')}`,
      );
      assert.equal(messagesWithMarker(emulator, i.channelId!, `card:${i.id}`).length, 1, 'the card in it');
    } finally {
      await bot.close();
      await emulator.close();
    }
  });

  test("a private incident's retried channel is not someone else's public channel that took its name meanwhile", async () => {
    const emulator = await startSlackEmulator({ botToken: BOT_TOKEN });
    const bot = await startBot({ emulator });
    const DAVE = 'U0DAVE001';
    try {
      // The first create never reaches Slack (the connection drops); before the retry, dave makes a
      // public channel of that very name (the name template is no secret).
      emulator.inject('conversations.create', { drop: true });
      emulator.events.on('call', (c: { method: string; error?: string; args: Record<string, unknown> }) => {
        if (c.method === 'conversations.create' && c.error === 'dropped') emulator.state.createChannel({ name: String(c.args.name), creator: DAVE });
      });
      await bot.driver.slash('declare', { user: BOB, channel: GENERAL_CHANNEL_ID });
      const view = await bot.waitFor(() => openView(emulator, BOB, 'declare_modal'), 3000, 'declare modal');
      const values = {
        [DeclareBlocks.title]: { [INPUT]: 'Payroll export leaked' },
        [DeclareBlocks.severity]: { [INPUT]: 'high' },
        [DeclareBlocks.commander]: { [INPUT]: BOB },
        [DeclareBlocks.private]: { [INPUT]: ['private'] },
      };
      assert.equal((await bot.driver.submitView(view.id, values, { user: BOB })).status, 200);
      const i = await bot.waitFor(
        async () => (await bot.fb.deps.store.listOpenIncidents()).find((x) => x.title === 'Payroll export leaked' && x.channelId),
        15000,
        'a channel for the incident',
      );
      const ch = emulator.state.channel(i.channelId!)!;
      assert.deepEqual({ private: ch.is_private, creator: ch.creator }, { private: true, creator: emulator.botUserId }, 'a private channel of its own');
      const daves = channelsNamed(emulator, 'inc-').find((c) => c.creator === DAVE)!;
      assert.equal(messagesWithMarker(emulator, daves.id, `card:${i.id}`).length, 0, "nothing of it in dave's channel");
    } finally {
      await bot.close();
      await emulator.close();
    }
  });

  test('a card post that fails is retried without a second channel, and a restart resumes without duplicates', async () => {
    const emulator = await startSlackEmulator({ botToken: BOT_TOKEN });
    const dbDir = mkdtempSync(join(tmpdir(), 'fb-resume-'));
    const env = { DATABASE_URL: `sqlite:${join(dbDir, 'fb.db')}` };
    const bot1 = await startBot({ emulator, env });
    // Every chat.postMessage fails: the channel gets created, the card cannot be posted.
    emulator.inject('chat.postMessage', { status: 500, times: Infinity });
    await bot1.driver.slash('declare high Payments webhook failures', { user: ALICE, channel: GENERAL_CHANNEL_ID });
    const incident = await bot1.waitFor(async () => (await bot1.fb.deps.store.listOpenIncidents()).find((i) => i.channelId), 5000, 'channel created');
    // The declarer hears that setup hit an error and is being retried.
    await bot1.waitFor(() => emulator.state.ephemeralsFor(ALICE).some((e) => /retrying/.test(e.text)), 5000, 'declarer told');
    await bot1.close(); // the process goes away mid-flow
    emulator.clearFaults('chat.postMessage');

    const bot2 = await startBot({ emulator, env });
    try {
      await flowDone(bot2, incident.id, 15000);
      const i = (await bot2.fb.deps.store.getIncident(incident.id))!;
      assert.equal(emulator.calls('conversations.create').filter((c) => c.ok).length, 1, 'one channel');
      assert.equal(messagesWithMarker(emulator, i.channelId!, `card:${i.id}`).length, 1, 'one card');
      assert.equal(messagesWithMarker(emulator, INCIDENTS_CHANNEL_ID, `announce:${i.id}`).length, 1, 'one announcement');
      assert.ok(emulator.state.pins(i.channelId!).length === 1);
      assert.equal((await bot2.fb.deps.store.listOpenIncidents()).length, 1, 'one incident');
      // The brief was written while the card kept failing; it follows the card once, after it.
      const brief = await bot2.waitFor(() => messagesWithMarker(emulator, i.channelId!, `brief:${i.id}`)[0], 5000, 'the brief');
      assert.equal(messagesWithMarker(emulator, i.channelId!, `brief:${i.id}`).length, 1, 'one brief');
      assert.ok(Number(brief.ts) > Number(messagesWithMarker(emulator, i.channelId!, `card:${i.id}`)[0]!.ts), 'the brief after the card');
    } finally {
      await bot2.close();
      await emulator.close();
    }
  });

  test('a card that never posts: the declarer is told once what failed, and the brief neither waits for it nor fails', async () => {
    // The bot's clock, moved on past each retry's backoff while nothing runs.
    let offsetMs = 0;
    const bot = await startBot({ build: { clock: { now: () => new Date(Date.now() + offsetMs) } } });
    const { emulator } = bot;
    const store = bot.fb.deps.store;
    /** Everything the bot was handed has finished: nothing is left holding a job, waiting. */
    const quiet = (when: string) =>
      Promise.race([bot.settled(20_000), new Promise((_, reject) => setTimeout(() => reject(new Error(`a job still runs 3 s after ${when}`)), 3000).unref())]);
    try {
      // Slack keeps failing chat.postMessage: the channel is made, the card never posts.
      emulator.inject('chat.postMessage', { status: 500, times: Infinity });
      await bot.driver.slash('declare high Card never posts', { user: ALICE, channel: GENERAL_CHANNEL_ID });
      const incident = await bot.waitFor(async () => (await store.listOpenIncidents()).find((i) => i.channelId), 5000, 'channel created');
      await bot.waitFor(() => emulator.state.ephemeralsFor(ALICE).some((e) => /retrying/.test(e.text)), 5000, 'declarer told');
      for (let attempt = 1; ; attempt++) {
        await quiet(`attempt ${attempt} of the flow failed`);
        if ((await store.countJobs({ kind: 'declare.flow', state: 'dead' })) === 1) break;
        assert.ok(attempt < 12, 'the flow gives up');
        const posts = emulator.calls('chat.postMessage').length;
        offsetMs += 80_000; // past the longest backoff (60 s, jitter up to 1.25×)
        await bot.waitFor(() => emulator.calls('chat.postMessage').length > posts, 5000, `attempt ${attempt + 1} of the flow`);
      }
      // Slack recovers; whatever is still due (a retry of anything) runs.
      emulator.clearFaults('chat.postMessage');
      offsetMs += 3_600_000;
      await new Promise((r) => setTimeout(r, 200));
      await quiet('Slack recovered');

      const told = emulator.state.ephemeralsFor(ALICE).filter((e) => /failed|error/i.test(e.text));
      assert.equal(told.filter((e) => /retrying/.test(e.text)).length, 1, 'told once, at the first error, that setup is retried');
      const failed = told.filter((e) => /failed for good/.test(e.text));
      assert.equal(failed.length, 1, `one notice that it failed: ${told.map((e) => e.text).join(' | ')}`);
      assert.match(failed[0]!.text, /declare\.flow/);
      assert.doesNotMatch(told.map((e) => e.text).join(' '), /brief/i, 'nothing about the brief');
      // No card, so no brief, and no notice about the brief in the incident channel (the flow's own
      // notice may be there, if Slack took it).
      const inChannel = emulator.state.messages(incident.channelId!);
      assert.equal(messagesWithMarker(emulator, incident.channelId!, `brief:${incident.id}`).length, 0, 'no brief without the card');
      const notices = inChannel.filter((m) => /failed|error/i.test(m.text ?? '')).map((m) => m.text ?? '');
      assert.ok(notices.length <= 1 && notices.every((t) => /declare\.flow/.test(t)), `only the flow's notice in the channel: ${notices.join(' | ')}`);
      // The brief's job was written and ended at its first try, without an error.
      assert.equal(await store.countJobs({ kind: 'incident.brief', state: 'done' }), 1);
      assert.ok(!bot.logs.some((l) => /incident\.brief/.test(l) && /job failed/.test(l)), 'the brief job never failed');
    } finally {
      await bot.close();
    }
  });
});
