/**
 * SIGKILL during a runbook step: the real bot as a child process (HTTP mode, a temp SQLite file)
 * against an emulator this test owns. The step's HTTP call is slow, so the kill lands while it
 * runs. After the restart the step must show "outcome unknown" and must not be called again;
 * a person's Retry runs it once more. (Leases are expired in the database while the bot is down,
 * which is what the passing of time would do; see crash.test.ts.)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GENERAL_CHANNEL_ID, SEED_PEOPLE, SlackDriver, startSlackEmulator, type SlackEmulator } from '../../src/emulator/slack/index.js';
import { Actions, numbered } from '../../src/slack/ids.js';
import { freePort, markedMessages, startCountingServer, waitUntil, writeConfigFile, type CountingServer } from '../../bench/lib.js';

const BOT_TOKEN = 'xoxb-runbook-crash-token';
const SIGNING_SECRET = 'runbook-crash-signing-secret-0123';
const ALICE = SEED_PEOPLE[0].id;

let emulator: SlackEmulator;
let target: CountingServer;
let dir: string;

before(async () => {
  emulator = await startSlackEmulator({ botToken: BOT_TOKEN, rateLimits: 'off' });
  target = await startCountingServer();
  dir = mkdtempSync(join(tmpdir(), 'firebreak-runbook-crash-'));
});
after(async () => {
  await emulator?.close();
  await target?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Child {
  proc: ChildProcess;
  driver: SlackDriver;
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
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(
    async () => {
      if (proc.exitCode !== null) throw new Error(`bot exited ${proc.exitCode}: ${out.slice(-1000)}`);
      try {
        const r = await fetch(`${url}/healthz`);
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
  return { proc, driver: new SlackDriver({ emulator, requestUrl: `${url}/slack/events`, signingSecret: SIGNING_SECRET }), output: () => out };
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

test('killed while a runbook step runs: after the restart the step is "outcome unknown", not run again; Retry runs it once', async () => {
  const db = join(dir, 'runbook.db');
  const port = await freePort();
  const cfg = writeConfigFile({
    runbooks: {
      definitions: [
        {
          id: 'slow-probe',
          title: 'Slow probe',
          steps: [
            { id: 'probe', title: 'Probe the API', http: { url: `${target.url}/probe`, timeout_ms: 60_000 } },
            { id: 'after', title: 'After the probe', http: { url: `${target.url}/after` } },
          ],
        },
      ],
    },
  });
  let bot = await spawnBot(db, port, cfg);
  try {
    await bot.driver.slash('declare high Crash during a runbook step', { user: ALICE, channel: GENERAL_CHANNEL_ID });
    const channel = await waitUntil(() => query<{ c: string }>(db, `select channel_id as c from incidents where card_ts is not null`)?.c, 30_000, 'the incident channel');
    target.setDelay(30_000); // the probe hangs: the kill lands while the step runs
    await bot.driver.slash('runbook slow-probe', { user: ALICE, channel });
    await waitUntil(() => target.calls.length === 1 && query<{ s: string }>(db, `select status as s from runbook_steps where idx = 0`)?.s === 'running', 15_000, 'the step to be running');
    const probes = () => target.calls.length;
    assert.equal(probes(), 1);
    await kill9(bot);
    target.setDelay(0);
    const d = new Database(db);
    d.prepare(`update jobs set claimed_until = 0 where state = 'running'`).run();
    d.close();

    bot = await spawnBot(db, port, cfg);
    const step = await waitUntil(() => query<{ s: string; e: string }>(db, `select status as s, error as e from runbook_steps where idx = 0 and status != 'running'`), 15_000, 'the step to be marked');
    assert.equal(step.s, 'unknown');
    assert.match(step.e, /Outcome unknown: Firebreak stopped while this step was running/);
    assert.equal(query<{ s: string }>(db, `select status as s from runbook_runs`)?.s, 'blocked');
    assert.equal(query<{ s: string }>(db, `select status as s from runbook_steps where idx = 1`)?.s, 'pending', 'the next step does not start');
    // The checklist says so, with Retry and Skip.
    const msg = await waitUntil(() => {
      const m = markedMessages(emulator, 'runbook:').find((x) => x.channel === channel);
      const blocks = m ? JSON.stringify(emulator.state.message(channel, m.ts)?.blocks) : '';
      return m && /outcome unknown/.test(blocks) && /Retry step 1/.test(blocks) ? m : null;
    }, 10_000, 'the checklist to show the unknown outcome');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(probes(), 1, 'not run again on its own');

    await bot.driver.click({ channel, ts: msg.ts }, numbered(Actions.runbookRetry, 0), { user: ALICE });
    await waitUntil(() => query<{ s: string }>(db, `select status as s from runbook_runs`)?.s === 'succeeded', 15_000, 'the run to finish after the retry');
    assert.equal(probes(), 3, 'the retried probe and the next step, once each');
    assert.equal(query<{ a: number }>(db, `select attempt as a from runbook_steps where idx = 0`)?.a, 1);
  } finally {
    await kill9(bot);
  }
});
