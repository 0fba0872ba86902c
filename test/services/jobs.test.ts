import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { z } from 'zod';
import { defineJob, JobRunner } from '../../src/services/jobs.js';
import { createLogger } from '../../src/log.js';
import { systemClock } from '../../src/ports/clock.js';
import { openTestSqliteStore } from '../store/pg-helper.js';
import type { Store } from '../../src/ports/store.js';

/** A job of this kind whose run is `handler` (no context). */
const testJob = (kind: string, handler: () => Promise<void> = async () => {}) => defineJob({ kind, payload: z.object({}), run: async (_: null) => handler() });

const quiet = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }), pretty: false });

/** A clock the test moves by hand: lease expiry follows it, not the wall clock. */
class ManualClock {
  private t = Date.parse('2025-03-01T10:00:00.000Z');
  now = () => new Date(this.t);
  advance(ms: number) {
    this.t += ms;
  }
}

/** Poll until `check` holds (the runners work in the background). */
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('a job that runs longer than its lease keeps it (heartbeat): a second worker never runs it too', async () => {
  const { store: inner, cleanup } = await openTestSqliteStore();
  after(cleanup);
  const clock = new ManualClock();
  // Every lease renewal, as the time it pushes the lease to.
  const renewedTo: number[] = [];
  const store = Object.create(inner) as typeof inner;
  store.extendJobLeases = async (ids, worker, until) => {
    const n = await inner.extendJobLeases(ids, worker, until);
    if (n) renewedTo.push(until.getTime());
    return n;
  };
  let runs = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const handler = async () => {
    runs++;
    await finished;
  };
  const a = new JobRunner(store, quiet, clock, null, { workerId: 'A', pollMs: 20, leaseMs: 300 });
  const b = new JobRunner(store, quiet, clock, null, { workerId: 'B', pollMs: 20, leaseMs: 300 });
  a.register(testJob('slow', handler), null);
  b.register(testJob('slow', handler), null);
  a.start();
  await a.enqueue(testJob('slow'), {});
  await until(() => runs === 1, 'A to start the job');
  b.start();
  // Four lease lengths pass while A works, 200 ms at a time; after each step A's heartbeat renews
  // the lease from the new time, and B, polling at that time, finds nothing to take.
  for (let step = 0; step < 6; step++) {
    clock.advance(200);
    const now = clock.now().getTime();
    await until(() => renewedTo.some((t) => t >= now + 300), `the heartbeat after step ${step + 1}`);
    b.kick();
    await b.idle();
    assert.equal(runs, 1, `B took the job over at step ${step + 1}`);
  }
  finish();
  await until(async () => (await store.countJobs({ kind: 'slow', state: 'done' })) === 1, 'the job to finish');
  assert.equal(runs, 1);
  await a.stop(100);
  await b.stop(100);
});

/** Two workers of `kind` on one store: A's handler hangs forever (A is as good as dead), B's finishes. */
function deadAndLiveWorker(store: Store, clock: ManualClock, kind: string) {
  const seen: string[] = [];
  const a = new JobRunner(store, quiet, clock, null, { workerId: 'A', pollMs: 20, leaseMs: 300 });
  const b = new JobRunner(store, quiet, clock, null, { workerId: 'B', pollMs: 20, leaseMs: 300 });
  a.register(
    testJob(kind, async () => {
      seen.push('A');
      await new Promise(() => {});
    }),
    null,
  );
  b.register(
    testJob(kind, async () => {
      seen.push('B');
    }),
    null,
  );
  return { a, b, seen };
}

test('a worker that dies (no hand-back, no heartbeat) loses its job to another when the lease expires', async () => {
  const { store, cleanup } = await openTestSqliteStore();
  after(cleanup);
  const clock = new ManualClock();
  const { a, b, seen } = deadAndLiveWorker(store, clock, 'work');
  a.start();
  await a.enqueue(testJob('work'), {});
  await until(() => seen.length === 1, 'A to claim the job');
  await a.stop(0, { handBack: false });
  b.start();
  // Within the lease, B finds nothing to take; once it has run out, B takes the job.
  clock.advance(299);
  b.kick();
  await b.idle();
  assert.deepEqual(seen, ['A'], 'taken over before the lease expired');
  clock.advance(2);
  await until(async () => (await store.countJobs({ kind: 'work', state: 'done' })) === 1, 'B to finish the job');
  assert.deepEqual(seen, ['A', 'B']);
  await b.stop(100);
});

test('`here`: the job starts before enqueue returns, with no claim; if its worker dies, another takes it over when the lease expires', async () => {
  const { store: inner, cleanup } = await openTestSqliteStore();
  after(cleanup);
  const clock = new ManualClock();
  let claims = 0;
  const store = Object.create(inner) as typeof inner;
  store.claimJobs = async (...args) => {
    const jobs = await inner.claimJobs(...args);
    claims += jobs.length;
    return jobs;
  };
  const { a, b, seen } = deadAndLiveWorker(store, clock, 'urgent');
  a.start();
  assert.equal(await a.enqueue(testJob('urgent'), {}, { here: true, key: 'k' }), true);
  assert.deepEqual(seen, ['A'], 'started before enqueue returned');
  assert.equal(await a.enqueue(testJob('urgent'), {}, { here: true, key: 'k' }), false, 'the key deduplicates');
  a.kick();
  await new Promise((r) => setTimeout(r, 50)); // A polls meanwhile: the job is held by its lease
  assert.deepEqual(seen, ['A'], 'run once');
  assert.equal(claims, 0, 'no claim: the row was written claimed');
  await a.stop(0, { handBack: false });
  b.start();
  clock.advance(299);
  b.kick();
  await b.idle();
  assert.deepEqual(seen, ['A'], 'taken over before the lease expired');
  clock.advance(2);
  await until(async () => (await store.countJobs({ kind: 'urgent', state: 'done' })) === 1, 'B to finish the job');
  assert.deepEqual(seen, ['A', 'B']);
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
  await until(() => dead.length > 0, 'the job to be given up');
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
  first.register(
    defineJob({
      kind: 'work',
      payload: z.object({}),
      run: async (_: null, _p, job) => {
        seen.push({ who: 'first', attempts: job.attempts });
        await new Promise(() => {});
      },
    }),
    null,
  );
  // Another database's worker holds a job too: not ours to reclaim.
  const stranger = new JobRunner(store, quiet, systemClock, null, { workerId: 'other-db#1', pollMs: 20, leaseMs: 3_600_000 });
  stranger.register(
    testJob('theirs', () => new Promise(() => {})),
    null,
  );
  assert.equal(await first.reclaimPreviousRun(), 0, 'nothing to reclaim on a fresh database');
  assert.match(first.workerId, /#1$/);
  first.start();
  stranger.start();
  await first.enqueue(testJob('work'), {});
  await stranger.enqueue(testJob('theirs'), {});
  const until = Date.now() + 3000;
  while (seen.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 100));
  await first.stop(0, { handBack: false });
  await stranger.stop(0, { handBack: false });

  const second = new JobRunner(store, quiet, systemClock, null, { pollMs: 20, leaseMs: 3_600_000 });
  second.register(
    defineJob({ kind: 'work', payload: z.object({}), run: async (_: null, _p, job) => void seen.push({ who: 'second', attempts: job.attempts }) }),
    null,
  );
  second.register(
    testJob('theirs', async () => void seen.push({ who: 'second-theirs', attempts: 0 })),
    null,
  );
  assert.equal(await second.reclaimPreviousRun(), 1, 'the previous run of this database left one job leased');
  assert.match(second.workerId, /#2$/, 'the next generation of the same database');
  assert.equal(second.workerId.split('#')[0], first.workerId.split('#')[0]);
  const t0 = Date.now();
  second.start();
  while ((await store.countJobs({ kind: 'work', state: 'done' })) === 0 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 10));
  assert.ok(Date.now() - t0 < 3000, 'resumed at once, not after the hour-long lease');
  assert.deepEqual(
    seen,
    [
      { who: 'first', attempts: 1 },
      { who: 'second', attempts: 2 },
    ],
    'the interrupted attempt still counts',
  );
  assert.equal(await store.countJobs({ kind: 'theirs', state: 'running' }), 1, "another database's lease is left alone");
  await second.stop(100);
});

test('a batch kind: due jobs are claimed and run together; what the batch leaves, and a job claimed again, run alone', async () => {
  const { store, cleanup } = await openTestSqliteStore();
  after(cleanup);
  const kind = 'test.batch';
  const batches: number[][] = [];
  const alone: number[] = [];
  const def = defineJob({
    kind,
    payload: z.object({ n: z.number() }),
    run: async (_: null, p) => void alone.push(p.n),
    batch: {
      max: 100,
      run: async (_: null, items) => {
        batches.push(items.map((i) => i.payload.n));
        return items.filter((i) => i.payload.n % 10 === 0).map((i) => i.job); // "failed": retried alone
      },
    },
  });
  const runner = new JobRunner(store, quiet, systemClock, null, { pollMs: 10_000, concurrency: 4 });
  runner.register(def, null);
  // One job was claimed before by a worker that died: its lease has run out, so it is claimed again.
  await runner.enqueue(def, { n: 7 });
  assert.equal((await store.claimJobs([kind], 'died', 1, new Date(), -1)).length, 1);
  for (let n = 1; n <= 30; n++) if (n !== 7) await runner.enqueue(def, { n });
  runner.start();
  try {
    await until(async () => (await store.countJobs({ kind, state: 'done' })) === 30, 'every job done');
    assert.equal(batches.length, 1, 'one batch for what was due together');
    assert.deepEqual(
      [...batches[0]!].sort((a, b) => a - b),
      Array.from({ length: 30 }, (_, i) => i + 1).filter((n) => n !== 7),
      'more than the 4 free slots: the batch took all that was due',
    );
    assert.deepEqual(
      [...alone].sort((a, b) => a - b),
      [7, 10, 20, 30],
      'the re-claimed job and the ones the batch left ran alone',
    );
  } finally {
    await runner.stop(1000);
  }
});
