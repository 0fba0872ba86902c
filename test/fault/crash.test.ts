/**
 * Crash tests: the real bot as a child process (`node --import tsx src/main.ts`, HTTP mode, a temp
 * SQLite file) against an emulator this test owns. SIGKILL lands at a chosen point; the bot is
 * restarted on the same database and the outcome is checked the way a person would see it.
 *
 * A killed process cannot hand its jobs back. On SQLite the restarted process reclaims the leases
 * its previous run left at start-up (one process per database file), so nothing here waits for a
 * lease to run out: each test checks the interrupted work is resumed within 10 s of being ready.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GENERAL_CHANNEL_ID, SEED_PEOPLE } from '../../src/emulator/slack/index.js';
import { Actions } from '../../src/slack/ids.js';
import { freePort, markedMessages, postGenericAlert, rollbackAction, slackOutcome, waitUntil, writeConfigFile } from '../../bench/lib.js';
import { crashBench, kill9, queryRow } from './fault-kit.js';

const BOT_TOKEN = 'xoxb-crash-test-token';
const SIGNING_SECRET = 'crash-test-signing-secret-0123';
const ALERT_SECRET = 'crash-alert-secret-0123456789';
const ALICE = SEED_PEOPLE[0].id;
const BOB = SEED_PEOPLE[1].id;

const bench = crashBench({
  botToken: BOT_TOKEN,
  signingSecret: SIGNING_SECRET,
  dirPrefix: 'firebreak-crash-',
  env: { ALERT_WEBHOOK_SECRET: ALERT_SECRET, CRASH_EXEC_SECRET: 'crash-exec-secret' },
  readyMs: 20_000,
});
const countRows = (dbFile: string, sql: string) => queryRow<{ n: number }>(dbFile, sql)!.n;

const cfg = () =>
  writeConfigFile({
    actions: [rollbackAction({ url: bench.target.url, secretEnv: 'CRASH_EXEC_SECRET', users: [BOB], timeoutMs: 30_000 })],
  });

test('killed after the channel was created but before the card: the restart finishes with one channel and one card', async () => {
  const db = join(bench.dir, 'declare.db');
  const port = await freePort();
  const config = cfg();
  bench.emulator.clearCalls();
  const channelsBefore = slackOutcome(bench.emulator).channels;
  // The card and announcement posts never reach Slack: the process dies waiting for them.
  bench.emulator.inject('chat.postMessage', { hang: true, times: 2 });
  let bot = await bench.spawn(db, port, config);
  const ack = await bot.driver.slash('declare critical Crash between channel and card', { user: ALICE, channel: GENERAL_CHANNEL_ID });
  assert.equal(ack.status, 200, bot.output());
  await waitUntil(() => bench.emulator.calls('conversations.create').some((c) => c.ok), 30_000, 'the channel', 25).catch((err) => {
    throw new Error(
      `${(err as Error).message}; Slack calls: ${bench.emulator
        .calls()
        .map((c) => `${c.method}:${c.status}`)
        .join(' ')}; bot output: ${bot.output().slice(-1500)}`,
    );
  });
  // Killed while the card post hangs (the emulator records a hung call when it arrives), with the
  // brief already queued: it is written while the card is in flight and posted after the card.
  await waitUntil(() => bench.emulator.calls('chat.postMessage').some((c) => c.error === 'hang'), 30_000, 'the card post to hang', 25);
  await waitUntil(() => countRows(db, `select count(*) as n from jobs where kind = 'incident.brief'`) === 1, 30_000, 'the brief queued', 25);
  await kill9(bot);
  bench.emulator.clearFaults();
  assert.equal(markedMessages(bench.emulator, 'card:').length, 0, 'no card before the restart');
  bot = await bench.spawn(db, port, config);
  const ready = Date.now();
  try {
    await waitUntil(() => markedMessages(bench.emulator, 'card:').length === 1, 10_000, 'the card, within 10 s of the restart');
    assert.ok(Date.now() - ready <= 10_000, `card ${Date.now() - ready} ms after the restart`);
    await waitUntil(() => countRows(db, `select count(*) as n from audit_log where action = 'incident.flow_completed'`) === 1, 15_000, 'the resumed flow');
    const o = slackOutcome(bench.emulator);
    assert.equal(o.channels - channelsBefore, 1, 'one channel');
    assert.deepEqual([...o.cards.values()], [1], 'one card');
    assert.deepEqual([...o.announcements.values()], [1], 'one announcement');
    assert.equal(countRows(db, 'select count(*) as n from incidents'), 1);
    // The brief queued (or written) before the process died: posted once, after the card.
    const brief = await waitUntil(() => markedMessages(bench.emulator, 'brief:')[0], 10_000, 'the brief');
    assert.equal(markedMessages(bench.emulator, 'brief:').length, 1, 'one brief');
    assert.ok(Number(brief.ts) > Number(markedMessages(bench.emulator, 'card:')[0]!.ts), 'the brief after the card');
  } finally {
    await kill9(bot);
  }
});

test('killed right after an alert was acknowledged (202): the restart turns it into an incident', async () => {
  const db = join(bench.dir, 'alert.db');
  const port = await freePort();
  const config = cfg();
  // Processing stalls at the channel: the kill lands after the 202, mid-processing.
  bench.emulator.inject('conversations.create', { hang: true, times: 1 });
  let bot = await bench.spawn(db, port, config);
  const status = await postGenericAlert(bot.url, ALERT_SECRET, { title: 'Crash test: payments queue backlog', service: 'payments', severity: 'critical' });
  assert.equal(status, 202);
  await waitUntil(() => bench.emulator.calls('conversations.create').some((c) => c.error === 'hang'), 30_000, 'processing to stall at the channel', 25);
  await kill9(bot);
  bench.emulator.clearFaults();
  bot = await bench.spawn(db, port, config);
  const ready = Date.now();
  try {
    await waitUntil(
      () => countRows(db, `select count(*) as n from audit_log where action = 'incident.flow_completed'`) === 1,
      10_000,
      'the alert incident, within 10 s of the restart',
    );
    assert.ok(Date.now() - ready <= 10_000);
    assert.equal(countRows(db, 'select count(*) as n from incidents'), 1, 'one incident for the alert');
    const id = (new Database(db, { readonly: true }).prepare('select id from incidents').get() as { id: string }).id;
    const o = slackOutcome(bench.emulator);
    assert.equal(o.cards.get(id), 1, 'one card');
    assert.equal(o.announcements.get(id), 1, 'one announcement');
  } finally {
    await kill9(bot);
  }
});

test('killed while the approved action runs: after the restart it is executed once or marked outcome unknown, never twice', async () => {
  const db = join(bench.dir, 'approval.db');
  const port = await freePort();
  const config = cfg();
  let bot = await bench.spawn(db, port, config);
  const before = bench.target.calls.length;
  try {
    await bot.driver.slash('declare high Crash during execution', { user: ALICE, channel: GENERAL_CHANNEL_ID });
    const channel = await waitUntil(
      () =>
        (new Database(db, { readonly: true }).prepare(`select channel_id as c from incidents where card_ts is not null`).get() as { c: string } | undefined)?.c,
      30_000,
      'the incident channel',
    );
    bench.emulator.state.addMembers(channel, [BOB]);
    await bot.driver.slash('action rollback_deployment service=api version=v41', { user: ALICE, channel });
    const msg = await waitUntil(() => markedMessages(bench.emulator, 'approval:').find((m) => m.channel === channel), 10_000, 'the approval message');
    bench.target.setDelay(20_000); // the executor is slow: the kill lands while the action runs
    const click = await bot.driver.click({ channel: msg.channel, ts: msg.ts }, Actions.approve, { user: BOB });
    assert.equal(click.status, 200);
    await waitUntil(() => bench.target.calls.length > before, 10_000, 'the executor to be called');
    await kill9(bot);
    bench.target.setDelay(0);
    bot = await bench.spawn(db, port, config);
    const ready = Date.now();
    const status = await waitUntil(
      () => {
        const s = (new Database(db, { readonly: true }).prepare('select status from approvals').get() as { status: string } | undefined)?.status;
        return s && !['pending', 'executing', 'approved'].includes(s) ? s : null;
      },
      10_000,
      'the approval to settle, within 10 s of the restart',
    );
    assert.ok(Date.now() - ready <= 10_000);
    // Nothing left to run now (no running job, no queued job that is due) before counting
    // executions. Jobs scheduled for later (an approval's expiry, the next reminder, the weekly
    // digest, the next history sync) are not work left over from the crash.
    await waitUntil(
      () => countRows(db, `select count(*) as n from jobs where state = 'running' or (state = 'queued' and run_after <= ${Date.now()})`) === 0,
      15_000,
      'the job queue to drain',
      25,
    );
    const keys = new Set(bench.target.calls.slice(before).map((c) => String(c.headers['idempotency-key'] ?? c.body)));
    assert.ok(['executed', 'unknown'].includes(status), `approval ended ${status}`);
    assert.equal(keys.size, 1, 'one execution (a resend, if any, carries the same idempotency key)');
    if (status === 'unknown') assert.equal(bench.target.calls.length - before, 1, 'outcome unknown: not run again');
  } finally {
    await kill9(bot);
  }
});
