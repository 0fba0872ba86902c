/**
 * Two bot instances (two buildFirebreak apps, two HTTP servers) against ONE PostgreSQL schema and
 * ONE Slack workspace behave as one bot. Skips visibly without PostgreSQL, unless CI is set
 * (withPgSchema throws then, so CI cannot skip the replica suite silently).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { BOT_TOKEN, startBot, type Bot } from '../e2e/harness.js';
import { withPgSchema, type PgSchema } from '../store/pg-helper.js';
import { GENERAL_CHANNEL_ID, SEED_PEOPLE, startSlackEmulator } from '../../src/emulator/slack/index.js';
import type { KyselyStore } from '../../src/adapters/store/index.js';
import { messagesWithMarker } from '../e2e/helpers.js';
import { Actions } from '../../src/slack/ids.js';
import {
  addPeople,
  markedMessages,
  pool,
  postGenericAlert,
  slackOutcome,
  startCountingServer,
  waitUntil,
  writeConfigFile,
  type CountingServer,
} from '../../bench/lib.js';

const ALICE = SEED_PEOPLE[0].id;
const ALERT_SECRET = 'replica-alert-secret-0123456789';
const EXEC_SECRET_ENV = 'REPLICA_EXECUTOR_SECRET';

const pg = await withPgSchema();
if (!pg) console.log('# replicas: SKIPPED, PostgreSQL is not reachable (set TEST_DATABASE_URL; CI fails instead of skipping)');

/** Fresh schema + emulator + two replicas per test, so each scenario counts only its own rows. */
async function twoReplicas(opts: { config?: Record<string, unknown>; leaseMs?: number; startB?: boolean } = {}) {
  const schema = (await withPgSchema())!;
  const emulator = await startSlackEmulator({ botToken: BOT_TOKEN, rateLimits: 'off' });
  const cfg = writeConfigFile(opts.config ?? {});
  const env = {
    LOG_LEVEL: 'warn',
    DATABASE_URL: schema.url,
    FIREBREAK_CONFIG: cfg,
    ALERT_WEBHOOK_SECRET: ALERT_SECRET,
    [EXEC_SECRET_ENV]: 'replica-exec-secret',
  };
  const build = { jobs: { pollMs: 50, ...(opts.leaseMs ? { leaseMs: opts.leaseMs } : {}) } };
  const a = await startBot({ emulator, env, build });
  let b: Bot | null = opts.startB === false ? null : await startBot({ emulator, env, build });
  return {
    emulator,
    a,
    get b() {
      return b!;
    },
    async startB() {
      b = await startBot({ emulator, env, build });
      return b;
    },
    async close() {
      await Promise.allSettled([a.close(), b?.close()]);
      await emulator.close();
      await schema.cleanup();
      rmSync(dirname(cfg), { recursive: true, force: true });
    },
  };
}

describe('two replicas on one PostgreSQL', { skip: pg ? false : 'PostgreSQL unreachable' }, () => {
  let target: CountingServer;
  before(async () => {
    target = await startCountingServer();
    // The webhook executor reads its signing secret from the environment when it runs.
    process.env[EXEC_SECRET_ENV] = 'replica-exec-secret';
  });
  after(async () => {
    await target?.close();
    await (pg as PgSchema | null)?.cleanup();
  });

  test('a modal submission delivered to both replicas (Slack retry) declares one incident, one channel, one announcement', async () => {
    const r = await twoReplicas();
    try {
      await r.a.driver.slash('', { user: ALICE, channel: GENERAL_CHANNEL_ID });
      const view = await r.a.waitFor(() => [...r.emulator.state.views.values()].find((v) => v.open && v.callback_id === 'declare_modal'), 5000, 'the modal');
      const values = { declare_title: { value: 'Replica checkout outage' }, declare_severity: { value: 'high' } };
      const [ra, rb] = await Promise.all([r.a.driver.submitView(view.id, values, { user: ALICE }), r.b.driver.submitView(view.id, values, { user: ALICE })]);
      assert.equal(ra.status, 200);
      assert.equal(rb.status, 200);
      await r.a.waitFor(
        () => markedMessages(r.emulator, 'announce:').length >= 1 && markedMessages(r.emulator, 'card:').length >= 1,
        10_000,
        'card and announcement',
      );
      await Promise.all([r.a.fb.deps.jobs.idle(), r.b.fb.deps.jobs.idle()]);
      const incidents = await r.a.fb.deps.store.listOpenIncidents();
      assert.equal(incidents.length, 1, 'one incident');
      const o = slackOutcome(r.emulator);
      assert.equal(o.channels, 1, 'one channel');
      assert.deepEqual([...o.cards.values()], [1], 'one card');
      assert.deepEqual([...o.announcements.values()], [1], 'one announcement');
    } finally {
      await r.close();
    }
  });

  test('concurrent Approve clicks spread over both replicas execute the action once', async () => {
    const people = Array.from({ length: 40 }, (_, i) => `U0REPL${String(i).padStart(4, '0')}`);
    const r = await twoReplicas({
      config: {
        actions: [
          {
            id: 'rollback_deployment',
            title: 'Roll back a deployment',
            params: { service: { type: 'string', required: true }, version: { type: 'string', required: true } },
            requires_approval: true,
            policy: { roles: ['commander'], users: people },
            executor: { type: 'webhook', url: target.url, secret_env: EXEC_SECRET_ENV, retries: 0 },
          },
        ],
      },
    });
    try {
      addPeople(r.emulator, 40, 'U0REPL');
      const before = target.calls.length;
      await r.a.driver.slash('declare high Replica approval race', { user: ALICE, channel: GENERAL_CHANNEL_ID });
      const inc = await r.a.waitFor(async () => (await r.a.fb.deps.store.listOpenIncidents()).find((i) => i.channelId && i.cardTs), 10_000, 'the channel');
      r.emulator.state.addMembers(inc.channelId!, people);
      await r.b.driver.slash('action rollback_deployment service=api version=v41', { user: ALICE, channel: inc.channelId! });
      const msg = await r.a.waitFor(() => markedMessages(r.emulator, 'approval:')[0], 10_000, 'the approval message');
      const rs = await Promise.all(people.map((user, i) => (i % 2 ? r.a : r.b).driver.click({ channel: msg.channel, ts: msg.ts }, Actions.approve, { user })));
      assert.ok(
        rs.every((x) => x.status === 200),
        'every click acknowledged',
      );
      await r.a.waitFor(() => target.calls.length > before, 10_000, 'the execution');
      // Both replicas done with every click and job: a second execution would have happened by now.
      await r.a.waitFor(
        async () => {
          const [a] = await r.a.fb.deps.store.listApprovals({ incidentId: inc.id });
          return a && !['pending', 'approved', 'executing'].includes(a.status);
        },
        10_000,
        'the approval to settle',
      );
      await Promise.all([r.a.settled(), r.b.settled()]);
      assert.equal(target.calls.length - before, 1, 'executed exactly once');
      const [approval] = await r.a.fb.deps.store.listApprovals({ incidentId: inc.id });
      assert.notEqual(approval?.status, 'failed', `approval ended ${approval?.status}: ${approval?.error}`);
    } finally {
      await r.close();
    }
  });

  test('alert bursts for several fingerprints spread over both replicas open one incident per fingerprint', async () => {
    const r = await twoReplicas({ config: { alerts: { rate_limit_per_minute: 100_000 } } });
    try {
      const FPS = 5;
      const names = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];
      const alerts = Array.from({ length: 200 }, (_, i) => ({
        title: `Replica ${names[i % FPS]} disk full`,
        service: names[i % FPS],
        severity: 'critical',
        external_id: `r-${i}`,
      }));
      const statuses = await pool(alerts, 20, (al, i) => postGenericAlert((i % 2 ? r.a : r.b).url, ALERT_SECRET, al));
      assert.ok(
        statuses.every((s) => s === 202),
        `all accepted (got ${[...new Set(statuses)].join(',')})`,
      );
      await waitUntil(
        async () => {
          // Update reminders sit queued until they are due (minutes away) by design.
          const busy =
            (await r.a.fb.deps.store.countJobs({ state: 'queued' })) -
            (await r.a.fb.deps.store.countJobs({ kind: 'incident.reminder', state: 'queued' })) +
            (await r.a.fb.deps.store.countJobs({ state: 'running' }));
          return busy === 0 && slackOutcome(r.emulator).announcements.size >= FPS;
        },
        30_000,
        'alerts to settle',
        100,
      );
      const incidents = await r.a.fb.deps.store.listOpenIncidents();
      assert.equal(incidents.length, FPS, 'one incident per fingerprint');
      const o = slackOutcome(r.emulator);
      assert.equal(o.channels, FPS, 'one channel per fingerprint');
      assert.ok(
        [...o.announcements.values()].every((n) => n === 1),
        'no announcement doubled',
      );
      assert.ok(
        [...o.cards.values()].every((n) => n === 1),
        'no card doubled',
      );
      const counted = incidents.reduce((n, i) => n + i.alertCount, 0);
      assert.equal(counted, 200, 'every alert counted once');
    } finally {
      await r.close();
    }
  });

  test('a declare flow claimed by a replica that stops mid-flow is resumed by the other when the lease expires', async () => {
    const r = await twoReplicas({ leaseMs: 1500, startB: false });
    try {
      // Replica A's card and announcement posts never get an answer (and never happen): A is stuck
      // mid-flow after creating the channel, like a process that died there.
      r.emulator.inject('chat.postMessage', { hang: true, times: 2 });
      await r.a.driver.slash('declare critical Replica takeover', { user: ALICE, channel: GENERAL_CHANNEL_ID });
      await r.a.waitFor(() => r.emulator.calls('conversations.create').some((c) => c.ok), 5000, 'the channel');
      const [inc] = await r.a.fb.deps.store.listOpenIncidents();
      assert.ok(inc);
      // A dies here: it stops renewing its leases and hands nothing back.
      await r.a.fb.deps.jobs.stop(0, { handBack: false });
      const b = await r.startB();
      const done = await b.waitFor(
        async () => (await b.fb.deps.store.listAudit({ incidentId: inc.id })).find((x) => x.action === 'incident.flow_completed'),
        15_000,
        'replica B to finish the flow',
      );
      assert.ok(done);
      const o = slackOutcome(r.emulator);
      assert.equal(o.channels, 1, 'the channel A created is reused, not duplicated');
      assert.equal(o.cards.get(inc.id), 1, 'one card');
      assert.equal(o.announcements.get(inc.id), 1, 'one announcement');
    } finally {
      await r.close();
    }
  });
  test('a replica that starts leaves the work a live replica is running alone: reclaiming leases at start-up is for SQLite only', async () => {
    const r = await twoReplicas({ leaseMs: 1500, startB: false });
    try {
      // Replica A's card and announcement posts take 4 s (over two leases): it stays alive and
      // renews its lease meanwhile. B starts in the middle of it.
      r.emulator.inject('chat.postMessage', { latencyMs: 4000, times: 2 });
      await r.a.driver.slash('declare critical Replica starting mid-flow', { user: ALICE, channel: GENERAL_CHANNEL_ID });
      await r.a.waitFor(() => r.emulator.calls('conversations.create').some((c) => c.ok), 5000, 'the channel');
      const [inc] = await r.a.fb.deps.store.listOpenIncidents();
      assert.ok(inc);
      const b = await r.startB();
      await r.a.waitFor(
        async () => (await r.a.fb.deps.store.listAudit({ incidentId: inc.id })).find((x) => x.action === 'incident.flow_completed'),
        15_000,
        'replica A to finish its flow',
      );
      await Promise.all([r.a.settled(), b.settled()]);
      const o = slackOutcome(r.emulator);
      assert.equal(o.cards.get(inc.id), 1, 'one card');
      assert.equal(o.announcements.get(inc.id), 1, 'one announcement');
      const flow = await (r.a.fb.deps.store as KyselyStore).db
        .selectFrom('jobs')
        .select(['attempts', 'state'])
        .where('kind', '=', 'declare.flow')
        .executeTakeFirstOrThrow();
      assert.deepEqual({ attempts: Number(flow.attempts), state: flow.state }, { attempts: 1, state: 'done' }, 'run once, by A: B did not take it over');
    } finally {
      await r.close();
    }
  });
  test('storm grouping and Split out across replicas: alerts spread over both, the split clicked on both, one incident', async () => {
    const BOB = SEED_PEOPLE[1].id;
    const r = await twoReplicas({
      config: { responders: [BOB], alerts: { batch_seconds: 1, storm: { max_new_incidents: 2, window_minutes: 5, list_update_seconds: 1 } } },
    });
    try {
      // Six distinct alerts on one service, sent to both replicas at once: two slots, one storm.
      const titles = ['Pay alpha down', 'Pay bravo down', 'Pay charlie down', 'Pay delta down', 'Pay echo down', 'Pay foxtrot down'];
      const statuses = await Promise.all(
        titles.map((title, i) =>
          postGenericAlert((i % 2 ? r.b : r.a).url, ALERT_SECRET, { title, service: 'pay', severity: 'critical', external_id: `split-${i}` }),
        ),
      );
      assert.deepEqual(
        statuses,
        titles.map(() => 202),
      );
      const storm = await r.a.waitFor(
        async () => {
          const open = await r.a.fb.deps.store.listOpenIncidents();
          const storms = open.filter((i) => i.title.startsWith('[STORM]'));
          return open.length === 3 && storms.length === 1 && storms[0]!.alertCount === 4 && storms[0]!.cardTs ? storms[0] : null;
        },
        20_000,
        'two incidents of their own and one storm of four',
      );
      const list = await r.a.waitFor(
        () => {
          const m = messagesWithMarker(r.emulator, storm.channelId!, `storm-list:${storm.id}:`);
          return m.length === 1 && (JSON.stringify(m[0]!.blocks).match(/storm_split_out/g) ?? []).length === 4 ? m[0] : null;
        },
        10_000,
        'the storm list with four Split out buttons',
      );
      const member = (await r.a.fb.deps.store.listAlerts({ incidentId: storm.id }))[0]!;
      const ref = { channel: storm.channelId!, ts: list.ts };
      const block = `storm-alert:${member.id}`;
      // A double click whose two requests land on different replicas.
      await Promise.all([r.a, r.b, r.a, r.b].map((bot) => bot.driver.click(ref, Actions.stormSplitOut, { user: BOB, blockId: block })));
      const title = `[GENERIC] ${member.title}`;
      await r.a.waitFor(async () => (await r.a.fb.deps.store.listOpenIncidents()).find((i) => i.title === title && i.cardTs), 20_000, 'the split-out incident');
      await Promise.all([r.a.settled(), r.b.settled()]);
      const open = await r.a.fb.deps.store.listOpenIncidents();
      assert.equal(open.filter((i) => i.title === title).length, 1, 'one incident however many replicas took the click');
      assert.equal((await r.a.fb.deps.store.getIncident(storm.id))!.alertCount, 3, 'the alert left the storm once');
      assert.equal((await r.a.fb.deps.store.listAudit({ incidentId: storm.id })).filter((x) => x.action === 'alert.split_out').length, 1);
      assert.equal(slackOutcome(r.emulator).channels, 4, 'two incidents, the storm, the split-out one');
    } finally {
      await r.close();
    }
  });
});
