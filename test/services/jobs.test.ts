import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { z } from 'zod';
import { defineJob, JobRunner } from '../../src/services/jobs.js';
import { createLogger } from '../../src/log.js';
import { systemClock } from '../../src/ports/clock.js';
import { openTestSqliteStore } from '../store/pg-helper.js';

/** A job of this kind whose run is `handler` (no context). */
const testJob = (kind: string, handler: () => Promise<void> = async () => {}) => defineJob({ kind, payload: z.object({}), run: async (_: null) => handler() });

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
  a.register(testJob('slow', handler), null);
  b.register(testJob('slow', handler), null);
  a.start();
  await a.enqueue(testJob('slow'), {});
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
  a.register(
    testJob('work', async () => {
      seen.push('A');
      await new Promise(() => {}); // hangs forever: A is as good as dead
    }),
    null,
  );
  b.register(
    testJob('work', async () => {
      seen.push('B');
    }),
    null,
  );
  a.start();
  await a.enqueue(testJob('work'), {});
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
  r.register(
    testJob('poison', async () => {
      ran++;
    }),
    null,
  );
  r.start();
  const deadline = Date.now() + 3000;
  while (!dead.length && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  await r.stop(100);
  assert.deepEqual(dead, ['poison-1']);
  assert.equal(ran, 0, 'not run a fourth time');
  assert.equal(await store.countJobs({ kind: 'poison', state: 'dead' }), 1);
});
