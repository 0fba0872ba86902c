/**
 * SIGKILL at the worst point of the weekly digest: Slack has shared the chart in the channel
 * (files.completeUploadExternal done) but the bot never heard back, so nothing recorded the post.
 * The real bot runs as a child process (HTTP mode, a temp SQLite file) against an emulator this
 * test owns; after the restart the channel must still hold exactly one digest (see crash.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { GENERAL_CHANNEL_ID } from '../../src/emulator/slack/index.js';
import { isoWeek } from '../../src/domain/insights.js';
import { freePort, waitUntil, writeConfigFile } from '../../bench/lib.js';
import { crashBench, expireLeases, kill9, queryRow } from './fault-kit.js';

const BOT_TOKEN = 'xoxb-digest-crash-token';
const SIGNING_SECRET = 'digest-crash-signing-secret-0123';
const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

const bench = crashBench({ botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, dirPrefix: 'firebreak-digest-crash-' });

const digests = () => bench.emulator.state.messages(GENERAL_CHANNEL_ID).filter((m) => /Weekly incident digest/.test(m.text));

test('killed after Slack shared the weekly digest but before the bot heard back: after the restart the channel has one digest', async () => {
  const db = join(bench.dir, 'digest.db');
  const port = await freePort();
  // Due now: today, from hour 0 UTC, to #general.
  const cfg = writeConfigFile({ insights: { digest: { channel: GENERAL_CHANNEL_ID, day: WEEKDAYS[new Date().getUTCDay()], hour: 0 } } });
  const week = isoWeek(new Date());
  // Slack shares the file and posts the message, then never answers: the bot waits until it dies.
  bench.emulator.inject('files.completeUploadExternal', { hang: true, after: true, times: 1 });
  let bot = await bench.spawn(db, port, cfg);
  try {
    await waitUntil(
      () => bench.emulator.calls('files.completeUploadExternal').some((c) => c.error === 'hang_after'),
      60_000,
      'the digest upload to be shared and left unanswered',
      25,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}; bot output: ${bot.output().slice(-1500)}`);
    });
    assert.equal(digests().length, 1, 'Slack shows the digest');
    assert.match(digests()[0]!.text, new RegExp(week));
    assert.equal(queryRow<{ n: number }>(db, `select count(*) as n from flow_steps where step = 'posted'`)?.n, 0, 'nothing recorded it as posted');
    await kill9(bot);
    bench.emulator.clearFaults();
    const uploadsBefore = bench.emulator.calls('files.getUploadURLExternal').length;
    const historyBefore = bench.emulator.calls('conversations.history').length;
    expireLeases(db);

    bot = await bench.spawn(db, port, cfg);
    const done = await waitUntil(
      () => queryRow<{ state: string }>(db, `select state from jobs where kind = 'insights.digest' and state in ('done', 'dead')`),
      30_000,
      'the digest job to finish after the restart',
    ).catch((err) => {
      throw new Error(`${(err as Error).message}; bot output: ${bot.output().slice(-1500)}`);
    });
    assert.equal(done.state, 'done');
    assert.equal(digests().length, 1, 'one digest in the channel, not a second one');
    const posted = JSON.parse(
      queryRow<{ result: string }>(db, `select result from flow_steps where flow_id = 'digest:${week}:${GENERAL_CHANNEL_ID}' and step = 'posted'`)!.result,
    ) as { ts?: string; adopted?: boolean };
    assert.equal(posted.adopted, true, 'the resumed job found the digest in the channel');
    assert.equal(posted.ts, digests()[0]!.ts);
    assert.ok(
      bench.emulator
        .calls('conversations.history')
        .slice(historyBefore)
        .some((c) => c.args.channel === GENERAL_CHANNEL_ID),
      'it looked in the channel',
    );
    assert.equal(bench.emulator.calls('files.getUploadURLExternal').length, uploadsBefore, 'no second upload');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(digests().length, 1, 'still one digest');
  } finally {
    await kill9(bot);
  }
});
