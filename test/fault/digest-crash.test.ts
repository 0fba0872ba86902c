/**
 * SIGKILL at the worst point of the weekly digest: Slack has shared the chart in the channel
 * (files.completeUploadExternal done) but the bot never heard back, so nothing recorded the post.
 * The real bot runs as a child process (HTTP mode, a temp SQLite file) against an emulator this
 * test owns; after the restart the channel must still hold exactly one digest (see crash.test.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GENERAL_CHANNEL_ID, startSlackEmulator, type SlackEmulator } from '../../src/emulator/slack/index.js';
import { isoWeek } from '../../src/domain/insights.js';
import { freePort, waitUntil, writeConfigFile } from '../../bench/lib.js';

const BOT_TOKEN = 'xoxb-digest-crash-token';
const SIGNING_SECRET = 'digest-crash-signing-secret-0123';
const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

let emulator: SlackEmulator;
let dir: string;

before(async () => {
  emulator = await startSlackEmulator({ botToken: BOT_TOKEN, rateLimits: 'off' });
  dir = mkdtempSync(join(tmpdir(), 'firebreak-digest-crash-'));
});
after(async () => {
  await emulator?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Child {
  proc: ChildProcess;
  output(): string;
}

async function spawnBot(dbFile: string, port: number, cfg: string): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: join(import.meta.dirname, '../..'),
    env: {
      PATH: process.env.PATH ?? '',
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: emulator.apiUrl,
      ANNOUNCE_CHANNEL: 'C0INCIDENTS',
      DATABASE_URL: `sqlite:${dbFile}`,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      FIREBREAK_CONFIG: cfg,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  await waitUntil(
    async () => {
      if (proc.exitCode !== null) throw new Error(`bot exited ${proc.exitCode}: ${out.slice(-1000)}`);
      try {
        const r = await fetch(`http://127.0.0.1:${port}/healthz`);
        await r.arrayBuffer();
        return r.ok;
      } catch {
        return false;
      }
    },
    // Starting the bot from source under tsx can take a while on a loaded machine.
    60_000,
    'the bot to listen',
    50,
  );
  return { proc, output: () => out };
}

async function kill9(c: Child): Promise<void> {
  if (c.proc.exitCode !== null) return;
  const gone = new Promise((r) => c.proc.once('exit', r));
  c.proc.kill('SIGKILL');
  await gone;
}

function query<T>(dbFile: string, sql: string): T | undefined {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db.prepare(sql).get() as T | undefined;
  } finally {
    db.close();
  }
}

const digests = () => emulator.state.messages(GENERAL_CHANNEL_ID).filter((m) => /Weekly incident digest/.test(m.text));

test('killed after Slack shared the weekly digest but before the bot heard back: after the restart the channel has one digest', async () => {
  const db = join(dir, 'digest.db');
  const port = await freePort();
  // Due now: today, from hour 0 UTC, to #general.
  const cfg = writeConfigFile({ insights: { digest: { channel: GENERAL_CHANNEL_ID, day: WEEKDAYS[new Date().getUTCDay()], hour: 0 } } });
  const week = isoWeek(new Date());
  // Slack shares the file and posts the message, then never answers: the bot waits until it dies.
  emulator.inject('files.completeUploadExternal', { hang: true, after: true, times: 1 });
  let bot = await spawnBot(db, port, cfg);
  try {
    await waitUntil(() => emulator.calls('files.completeUploadExternal').some((c) => c.error === 'hang_after'), 60_000, 'the digest upload to be shared and left unanswered', 25).catch((err) => {
      throw new Error(`${(err as Error).message}; bot output: ${bot.output().slice(-1500)}`);
    });
    assert.equal(digests().length, 1, 'Slack shows the digest');
    assert.match(digests()[0]!.text, new RegExp(week));
    assert.equal(query<{ n: number }>(db, `select count(*) as n from flow_steps where step = 'posted'`)?.n, 0, 'nothing recorded it as posted');
    await kill9(bot);
    emulator.clearFaults();
    const uploadsBefore = emulator.calls('files.getUploadURLExternal').length;
    const historyBefore = emulator.calls('conversations.history').length;
    // What the passing of time does while the bot is down: the job's lease runs out.
    const d = new Database(db);
    d.prepare(`update jobs set claimed_until = 0 where state = 'running'`).run();
    d.close();

    bot = await spawnBot(db, port, cfg);
    const done = await waitUntil(
      () => query<{ state: string }>(db, `select state from jobs where kind = 'insights.digest' and state in ('done', 'dead')`),
      30_000,
      'the digest job to finish after the restart',
    ).catch((err) => {
      throw new Error(`${(err as Error).message}; bot output: ${bot.output().slice(-1500)}`);
    });
    assert.equal(done.state, 'done');
    assert.equal(digests().length, 1, 'one digest in the channel, not a second one');
    const posted = JSON.parse(query<{ result: string }>(db, `select result from flow_steps where flow_id = 'digest:${week}:${GENERAL_CHANNEL_ID}' and step = 'posted'`)!.result) as { ts?: string; adopted?: boolean };
    assert.equal(posted.adopted, true, 'the resumed job found the digest in the channel');
    assert.equal(posted.ts, digests()[0]!.ts);
    assert.ok(emulator.calls('conversations.history').slice(historyBefore).some((c) => c.args.channel === GENERAL_CHANNEL_ID), 'it looked in the channel');
    assert.equal(emulator.calls('files.getUploadURLExternal').length, uploadsBefore, 'no second upload');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(digests().length, 1, 'still one digest');
  } finally {
    await kill9(bot);
  }
});
