import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { JobRunner } from '../../src/services/jobs.js';
import { createLogger } from '../../src/log.js';
import { systemClock } from '../../src/ports/clock.js';
import { openTestSqliteStore } from '../store/pg-helper.js';

const quiet = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }), pretty: false });

test('a job that runs longer than its lease keeps it (heartbeat): a second worker never runs it too', async () => {
  const { store, cleanup } = await openTestSqliteStore();
  after(cleanup);
  let runs = 0;
  const handler = async () => {
    runs++;
    await new Promise((r) => setTimeout(r, 1200)); // four lease lengths
  };
  const a = new JobRunner(store, quiet, systemClock, null, { workerId: 'A', pollMs: 20, leaseMs: 300 });
  const b = new JobRunner(store, quiet, systemClock, null, { workerId: 'B', pollMs: 20, leaseMs: 300 });
  a.register('slow', handler);
  b.register('slow', handler);
  a.start();
  await a.enqueue('slow', {});
  await new Promise((r) => setTimeout(r, 50));
  b.start();
  await new Promise((r) => setTimeout(r, 1400));
  await Promise.all([a.idle(), b.idle()]);
  assert.equal(runs, 1);
  assert.equal(await store.countJobs({ kind: 'slow', state: 'done' }), 1);
  await a.stop(100);
  await b.stop(100);
});

test('a worker that dies (no hand-back, no heartbeat) loses its job to another when the lease expires', async () => {
  const { store, cleanup } = await openTestSqliteStore();
  after(cleanup);
  const seen: string[] = [];
  const a = new JobRunner(store, quiet, systemClock, null, { workerId: 'A', pollMs: 20, leaseMs: 300 });
  const b = new JobRunner(store, quiet, systemClock, null, { workerId: 'B', pollMs: 20, leaseMs: 300 });
  a.register('work', async () => {
    seen.push('A');
    await new Promise(() => {}); // hangs forever: A is as good as dead
  });
  b.register('work', async () => {
    seen.push('B');
  });
  a.start();
  await a.enqueue('work', {});
  await new Promise((r) => setTimeout(r, 100));
  await a.stop(0, { handBack: false });
  b.start();
  const deadline = Date.now() + 3000;
  while ((await store.countJobs({ kind: 'work', state: 'done' })) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(seen, ['A', 'B']);
  assert.equal(await store.countJobs({ kind: 'work', state: 'done' }), 1);
  await b.stop(100);
});

test('a job whose worker keeps dying is given up after maxAttempts claims, and reported', async () => {
  const { store, cleanup } = await openTestSqliteStore();
  after(cleanup);
  const dead: string[] = [];
  let ran = 0;
  await store.enqueueJob({ id: 'poison-1', kind: 'poison', payload: {}, runAfter: new Date(0) });
  // Three workers in turn claim it and "die" (their lease is left to run out).
  for (let i = 0; i < 3; i++) {
    const claimed = await store.claimJobs(['poison'], `dying-${i}`, 1, new Date(Date.now() + i * 10_000), 1000);
    assert.equal(claimed.length, 1);
  }
  const r = new JobRunner(store, quiet, { now: () => new Date(Date.now() + 60_000) }, null, {
    workerId: 'survivor',
    pollMs: 20,
    leaseMs: 1000,
    maxAttempts: 3,
    onDead: async (job) => {
      dead.push(job.id);
    },
  });
  r.register('poison', async () => {
    ran++;
  });
  r.start();
  const deadline = Date.now() + 3000;
  while (!dead.length && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  await r.stop(100);
  assert.deepEqual(dead, ['poison-1']);
  assert.equal(ran, 0, 'not run a fourth time');
  assert.equal(await store.countJobs({ kind: 'poison', state: 'dead' }), 1);
});

test('SQLite restart: the new process reclaims the leases of its previous run at start-up instead of waiting for them to run out', async () => {
  const { store, cleanup } = await openTestSqliteStore();
  after(cleanup);
  const seen: Array<{ who: string; attempts: number }> = [];
  // The first run claims the job with an hour-long lease and dies holding it (no hand-back).
  const first = new JobRunner(store, quiet, systemClock, null, { pollMs: 20, leaseMs: 3_600_000 });
  first.register('work', async (_p, job) => {
    seen.push({ who: 'first', attempts: job.attempts });
    await new Promise(() => {});
  });
  // Another database's worker holds a job too: not ours to reclaim.
  const stranger = new JobRunner(store, quiet, systemClock, null, { workerId: 'other-db#1', pollMs: 20, leaseMs: 3_600_000 });
  stranger.register('theirs', async () => void (await new Promise(() => {})));
  assert.equal(await first.reclaimPreviousRun(), 0, 'nothing to reclaim on a fresh database');
  assert.match(first.workerId, /#1$/);
  first.start();
  stranger.start();
  await first.enqueue('work', {});
  await stranger.enqueue('theirs', {});
  const until = Date.now() + 3000;
  while (seen.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 100));
  await first.stop(0, { handBack: false });
  await stranger.stop(0, { handBack: false });

  const second = new JobRunner(store, quiet, systemClock, null, { pollMs: 20, leaseMs: 3_600_000 });
  second.register('work', async (_p, job) => void seen.push({ who: 'second', attempts: job.attempts }));
  second.register('theirs', async () => void seen.push({ who: 'second-theirs', attempts: 0 }));
  assert.equal(await second.reclaimPreviousRun(), 1, 'the previous run of this database left one job leased');
  assert.match(second.workerId, /#2$/, 'the next generation of the same database');
  assert.equal(second.workerId.split('#')[0], first.workerId.split('#')[0]);
  const t0 = Date.now();
  second.start();
  while ((await store.countJobs({ kind: 'work', state: 'done' })) === 0 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 10));
  assert.ok(Date.now() - t0 < 3000, 'resumed at once, not after the hour-long lease');
  assert.deepEqual(seen, [
    { who: 'first', attempts: 1 },
    { who: 'second', attempts: 2 },
  ], 'the interrupted attempt still counts');
  assert.equal(await store.countJobs({ kind: 'theirs', state: 'running' }), 1, "another database's lease is left alone");
  await second.stop(100);
});
