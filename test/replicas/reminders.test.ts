/**
 * Update reminders with two replicas on one PostgreSQL schema and one shared (fake) clock: each
 * interval is nudged exactly once. Skips visibly without PostgreSQL, unless CI is set.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BOT_TOKEN, startBot, type Bot } from '../e2e/harness.js';
import { withPgSchema, type PgSchema } from '../store/pg-helper.js';
import { GENERAL_CHANNEL_ID, SEED_PEOPLE, startSlackEmulator, type SlackEmulator } from '../../src/emulator/slack/index.js';
import { flowDone, messagesWithMarker } from '../e2e/helpers.js';

const ALICE = SEED_PEOPLE[0].id;
const schema: PgSchema | null = await withPgSchema();
if (!schema) console.log('# replicas/reminders: SKIPPED, PostgreSQL is not reachable (set TEST_DATABASE_URL; CI fails instead of skipping)');

let t = Date.parse('2026-12-01T09:00:00Z');
const clock = { now: () => new Date(t) };
let emulator: SlackEmulator;
let a: Bot;
let b: Bot;

before(async () => {
  if (!schema) return;
  emulator = await startSlackEmulator({ botToken: BOT_TOKEN, rateLimits: 'off' });
  const env = { LOG_LEVEL: 'warn', DATABASE_URL: schema.url };
  a = await startBot({ emulator, env, build: { clock, jobs: { pollMs: 20 } } });
  b = await startBot({ emulator, env, build: { clock, jobs: { pollMs: 20 } } });
});
after(async () => {
  if (!schema) return;
  await Promise.allSettled([a.close(), b.close()]);
  await emulator.close();
  await schema.cleanup();
});

test('two replicas, one shared clock: exactly one nudge per 15-minute interval of a critical incident', { skip: !schema }, async () => {
  await a.driver.slash('declare critical Payments down', { user: ALICE, channel: GENERAL_CHANNEL_ID });
  const i = await a.waitFor(async () => (await a.fb.deps.store.listOpenIncidents())[0], 5000);
  await flowDone(a, i.id);
  const channel = (await a.fb.deps.store.getIncident(i.id))!.channelId!;
  const nudges = () => messagesWithMarker(emulator, channel, `reminder:${i.id}`);
  const idle = async () => {
    await new Promise((r) => setTimeout(r, 150));
    await Promise.all([a.fb.deps.jobs.idle(), b.fb.deps.jobs.idle()]);
  };
  for (let interval = 1; interval <= 3; interval++) {
    await idle();
    t += 15 * 60_000 + 1000;
    // Both replicas look for due work at once.
    a.fb.deps.jobs.kick();
    b.fb.deps.jobs.kick();
    await a.waitFor(() => nudges().length >= interval, 5000, `nudge ${interval}`);
    await idle();
    assert.equal(nudges().length, interval, `one nudge for interval ${interval}`);
  }
  // Both replicas also scheduled the same interval when an update arrived: still one job per interval.
  await a.driver.slash('update failing over', { user: ALICE, channel });
  await b.driver.slash('update still failing over', { user: ALICE, channel });
  await idle();
  t += 16 * 60_000;
  a.fb.deps.jobs.kick();
  b.fb.deps.jobs.kick();
  await a.waitFor(() => nudges().length === 4, 5000, 'nudge after the updates');
  await idle();
  assert.equal(nudges().length, 4);
});
