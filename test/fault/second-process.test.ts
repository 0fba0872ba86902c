/**
 * SQLite serves one process. A second bot started on the same file (another port, so the port
 * check does not stop it) must refuse to start while the first is alive, without touching the file:
 * before, it ended the live process's job leases as a dead run's and worked its jobs a second time.
 * Once the first process is dead, a new one starts and resumes its work at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { GENERAL_CHANNEL_ID, SEED_PEOPLE } from '../../src/emulator/slack/index.js';
import { freePort, markedMessages, waitUntil, writeConfigFile } from '../../bench/lib.js';
import { crashBench, kill9, queryRow, type ChildBot } from './fault-kit.js';

const bench = crashBench({
  botToken: 'xoxb-second-process-token',
  signingSecret: 'second-process-signing-secret-01',
  dirPrefix: 'firebreak-second-',
  readyMs: 30_000,
});

interface Lease {
  id: string;
  claimed_by: string;
  claimed_until: number;
}
// Who holds each job and in what state. The live process goes on working while the second one
// tries to start (a job it held may finish or fail, a new one may be queued, its heartbeat renews leases),
// which is the live process keeping its work, not the second one touching it. What the second one
// must not do: claim a job, hand a running job back to the queue, or cut a lease short
// (`leaseEnds` checks a lease only moved on).
type JobRow = [id: string, claimedBy: string | null, state: string];
const jobRows = (db: string) =>
  new Map(
    (JSON.parse(queryRow<{ rows: string }>(db, `select json_group_array(json_array(id, claimed_by, state)) as rows from jobs`)?.rows ?? '[]') as JobRow[]).map(
      (r) => [r[0], r],
    ),
  );
const untouched = (before: Map<string, JobRow>, after: Map<string, JobRow>, liveWorker: string): string[] => {
  const wrong: string[] = [];
  for (const [id, [, by, state]] of after) {
    if (by !== null && by !== liveWorker) wrong.push(`job ${id} is claimed by ${by}, not the live process`);
    const was = before.get(id);
    // The live process ends its own lease when a job finishes or fails (done, queued for a retry,
    // dead: claimed by nobody); a job still running is still the live process's.
    if (was?.[2] === 'running' && state === 'running' && by !== was[1]) wrong.push(`job ${id} changed hands: ${was[1]} → ${by}`);
  }
  for (const id of before.keys()) if (!after.has(id)) wrong.push(`job ${id} is gone`);
  return wrong;
};
const leaseEnds = (db: string) =>
  new Map(
    JSON.parse(queryRow<{ rows: string }>(db, `select json_group_array(json_array(id, claimed_until)) as rows from jobs`)?.rows ?? '[]') as [
      string,
      number | null,
    ][],
  );

const lastErrors = (db: string) =>
  new Map(
    JSON.parse(queryRow<{ rows: string }>(db, `select json_group_array(json_array(id, last_error)) as rows from jobs`)?.rows ?? '[]') as [
      string,
      string | null,
    ][],
  );

test('a second process on the same SQLite file refuses to start while the first lives, and touches none of its work; after the first dies, a new one resumes at once', {
  timeout: 150_000,
}, async () => {
  const db = join(bench.dir, 'shared.db');
  const config = writeConfigFile({});
  // The card post hangs: the first process holds the declare job's lease while it waits.
  bench.emulator.inject('chat.postMessage', { hang: true, times: 2 });
  const first = await bench.spawn(db, await freePort(), config);
  let second: ChildBot | null = null;
  try {
    const ack = await first.driver.slash('declare critical Two processes on one file', { user: SEED_PEOPLE[0].id, channel: GENERAL_CHANNEL_ID });
    assert.equal(ack.status, 200, first.output());
    await waitUntil(() => bench.emulator.calls('chat.postMessage').some((c) => c.error === 'hang'), 30_000, 'the card post to hang', 25);
    const lease = queryRow<Lease>(db, `select id, claimed_by, claimed_until from jobs where state = 'running'`);
    assert.ok(lease, 'the first process holds a running job');
    const before = {
      jobs: jobRows(db),
      leases: leaseEnds(db),
      generation: queryRow<{ value: string }>(db, `select value from kv where key = 'jobs.generation'`)?.value,
    };

    const refused = await bench.spawn(db, await freePort(), config).then(
      (c) => {
        second = c;
        return null;
      },
      (err: Error) => err.message,
    );
    assert.ok(refused, `the second process started beside the live one: ${second ? (second as ChildBot).output() : ''}`);
    assert.match(refused, /bot exited 1/);
    assert.ok(
      refused.includes(`another Firebreak process (pid ${first.proc.pid}, started `) &&
        refused.includes(`is using ${db}; SQLite supports one process — stop it, or use PostgreSQL for several replicas`),
      refused,
    );
    // Nothing touched: the live process keeps its lease (not ended as a dead run's), no new generation.
    const liveWorker = (before.jobs.get(lease.id) as JobRow)[1] as string;
    assert.deepEqual(untouched(before.jobs, jobRows(db), liveWorker), [], 'the jobs are as the live process left them');
    // A lease may end at null only by its holder completing the job (done) or failing it (dead, or
    // queued again with its error): the store's writes that do so are guarded by the holder's id.
    // Handing a running job back to the queue (no error) is what a second process must not do, and
    // taking over a live lease would set it to the past.
    const jobsAfter = jobRows(db);
    const errors = lastErrors(db);
    for (const [id, until] of leaseEnds(db)) {
      const was = before.leases.get(id);
      const state = jobsAfter.get(id)?.[2];
      const endedByHolder = until === null && (state === 'done' || state === 'dead' || (state === 'queued' && errors.get(id) != null));
      assert.ok(
        until === was || endedByHolder || (until !== null && was != null && until >= was),
        `job ${id}: its lease was cut short or handed back (${was} → ${until}, now ${state})`,
      );
    }
    assert.equal(queryRow<{ value: string }>(db, `select value from kv where key = 'jobs.generation'`)?.value, before.generation, 'no new process generation');
    assert.equal(first.proc.exitCode, null, 'the first process still runs');
    assert.equal((await fetch(`${first.url}/healthz`)).status, 200);

    // The first process dies: the next one starts and resumes the declare within seconds of ready.
    await kill9(first);
    bench.emulator.clearFaults();
    second = await bench.spawn(db, await freePort(), config);
    const ready = Date.now();
    await waitUntil(() => markedMessages(bench.emulator, 'card:').length === 1, 10_000, 'the card, within 10 s of the restart');
    assert.ok(Date.now() - ready <= 10_000);
  } finally {
    await kill9(first);
    if (second) await kill9(second);
  }
});
