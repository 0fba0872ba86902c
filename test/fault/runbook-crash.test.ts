/**
 * SIGKILL during a runbook step: the real bot as a child process (HTTP mode, a temp SQLite file)
 * against an emulator this test owns. The step's HTTP call is slow, so the kill lands while it
 * runs. After the restart the step must show "outcome unknown" and must not be called again;
 * a person's Retry runs it once more. (Leases are expired in the database while the bot is down,
 * which is what the passing of time would do; see crash.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { GENERAL_CHANNEL_ID, SEED_PEOPLE } from '../../src/emulator/slack/index.js';
import { Actions, numbered } from '../../src/slack/ids.js';
import { freePort, markedMessages, waitUntil, writeConfigFile } from '../../bench/lib.js';
import { crashBench, expireLeases, kill9, queryRow } from './fault-kit.js';

const BOT_TOKEN = 'xoxb-runbook-crash-token';
const SIGNING_SECRET = 'runbook-crash-signing-secret-0123';
const ALICE = SEED_PEOPLE[0].id;

const bench = crashBench({ botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, dirPrefix: 'firebreak-runbook-crash-' });

test('killed while a runbook step runs: after the restart the step is "outcome unknown", not run again; Retry runs it once', async () => {
  const db = join(bench.dir, 'runbook.db');
  const port = await freePort();
  const cfg = writeConfigFile({
    runbooks: {
      definitions: [
        {
          id: 'slow-probe',
          title: 'Slow probe',
          steps: [
            { id: 'probe', title: 'Probe the API', http: { url: `${bench.target.url}/probe`, timeout_ms: 60_000 } },
            { id: 'after', title: 'After the probe', http: { url: `${bench.target.url}/after` } },
          ],
        },
      ],
    },
  });
  let bot = await bench.spawn(db, port, cfg);
  try {
    await bot.driver.slash('declare high Crash during a runbook step', { user: ALICE, channel: GENERAL_CHANNEL_ID });
    const channel = await waitUntil(
      () => queryRow<{ c: string }>(db, `select channel_id as c from incidents where card_ts is not null`)?.c,
      30_000,
      'the incident channel',
    );
    bench.target.setDelay(30_000); // the probe hangs: the kill lands while the step runs
    await bot.driver.slash('runbook slow-probe', { user: ALICE, channel });
    await waitUntil(
      () => bench.target.calls.length === 1 && queryRow<{ s: string }>(db, `select status as s from runbook_steps where idx = 0`)?.s === 'running',
      15_000,
      'the step to be running',
    );
    const probes = () => bench.target.calls.length;
    assert.equal(probes(), 1);
    await kill9(bot);
    bench.target.setDelay(0);
    expireLeases(db);

    bot = await bench.spawn(db, port, cfg);
    const step = await waitUntil(
      () => queryRow<{ s: string; e: string }>(db, `select status as s, error as e from runbook_steps where idx = 0 and status != 'running'`),
      15_000,
      'the step to be marked',
    );
    assert.equal(step.s, 'unknown');
    assert.match(step.e, /Outcome unknown: Firebreak stopped while this step was running/);
    // The step is marked first, then the run (two writes): wait for the run to follow, not just read it.
    await waitUntil(() => queryRow<{ s: string }>(db, `select status as s from runbook_runs`)?.s === 'blocked', 10_000, 'the run to be blocked');
    assert.equal(queryRow<{ s: string }>(db, `select status as s from runbook_steps where idx = 1`)?.s, 'pending', 'the next step does not start');
    // The checklist says so, with Retry and Skip.
    const msg = await waitUntil(
      () => {
        const m = markedMessages(bench.emulator, 'runbook:').find((x) => x.channel === channel);
        const blocks = m ? JSON.stringify(bench.emulator.state.message(channel, m.ts)?.blocks) : '';
        return m && /outcome unknown/.test(blocks) && /Retry step 1/.test(blocks) ? m : null;
      },
      10_000,
      'the checklist to show the unknown outcome',
    );
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(probes(), 1, 'not run again on its own');

    await bot.driver.click({ channel, ts: msg.ts }, numbered(Actions.runbookRetry, 0), { user: ALICE });
    await waitUntil(() => queryRow<{ s: string }>(db, `select status as s from runbook_runs`)?.s === 'succeeded', 15_000, 'the run to finish after the retry');
    assert.equal(probes(), 3, 'the retried probe and the next step, once each');
    assert.equal(queryRow<{ a: number }>(db, `select attempt as a from runbook_steps where idx = 0`)?.a, 1);
  } finally {
    await kill9(bot);
  }
});
