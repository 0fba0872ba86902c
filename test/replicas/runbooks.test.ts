/**
 * A runbook on two replicas sharing one PostgreSQL: the same start delivered to both (a Slack
 * retry) makes one run, and each step is executed once however the replicas share the jobs.
 * Skips visibly without PostgreSQL, unless CI is set.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { BOT_TOKEN, startBot } from '../e2e/harness.js';
import { withPgSchema } from '../store/pg-helper.js';
import { GENERAL_CHANNEL_ID, SEED_PEOPLE, startSlackEmulator } from '../../src/emulator/slack/index.js';
import { markedMessages, startCountingServer, writeConfigFile } from '../../bench/lib.js';

const ALICE = SEED_PEOPLE[0].id;
const pg = await withPgSchema();
if (!pg) console.log('# replicas/runbooks: SKIPPED, PostgreSQL is not reachable (set TEST_DATABASE_URL; CI fails instead of skipping)');
after(async () => pg?.cleanup());

test('two replicas: one run for a start delivered to both, each step executed once', { skip: pg ? false : 'PostgreSQL unreachable' }, async () => {
  const target = await startCountingServer();
  const emulator = await startSlackEmulator({ botToken: BOT_TOKEN, rateLimits: 'off' });
  const steps = ['one', 'two', 'three', 'four'].map((id) => ({ id, http: { url: `${target.url}/${id}` } }));
  const cfg = writeConfigFile({ runbooks: { definitions: [{ id: 'reads', title: 'Four reads', steps }] } });
  const env = { LOG_LEVEL: 'warn', DATABASE_URL: pg!.url, FIREBREAK_CONFIG: cfg };
  const build = { jobs: { pollMs: 20 } };
  const a = await startBot({ emulator, env, build });
  const b = await startBot({ emulator, env, build });
  try {
    await a.driver.slash('declare high Replica runbook', { user: ALICE, channel: GENERAL_CHANNEL_ID });
    const incident = await a.waitFor(async () => (await a.fb.deps.store.listOpenIncidents()).find((i) => i.cardTs), 10_000, 'the incident');
    const channel = incident.channelId!;
    // The same command reaches both replicas at once.
    await Promise.all([a.driver.slash('runbook reads', { user: ALICE, channel }), b.driver.slash('runbook reads', { user: ALICE, channel })]);
    const run = await a.waitFor(async () => (await a.fb.deps.store.listRunbookRuns({ incidentId: incident.id }))[0], 10_000, 'the run');
    await a.waitFor(async () => (await b.fb.deps.store.getRunbookRun(run.id))?.status === 'succeeded', 15_000, 'the run to finish');
    await Promise.all([a.fb.deps.jobs.idle(), b.fb.deps.jobs.idle()]);
    assert.equal((await a.fb.deps.store.listRunbookRuns({ incidentId: incident.id })).length, 1, 'one run');
    assert.equal(target.calls.length, 4, 'each step called once');
    assert.equal(markedMessages(emulator, `runbook:${run.id}`).length, 1, 'one checklist message');
    const outputs = markedMessages(emulator, `runbook_out:${run.id}:`);
    assert.equal(outputs.length, 4, 'one output post per step');
  } finally {
    await Promise.allSettled([a.close(), b.close()]);
    await emulator.close();
    await target.close();
    rmSync(dirname(cfg), { recursive: true, force: true });
  }
});
