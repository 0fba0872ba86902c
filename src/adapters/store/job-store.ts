import { sql, type ExpressionBuilder, type Kysely, type Selectable } from 'kysely';
import type { Clock } from '../../ports/clock.js';
import type { Job, JobState, JobStore, NewJob } from '../../ports/store.js';
import type { DialectOps } from './dialect.js';
import { ms, parseJson, toDate, toJson } from './mapping.js';
import { prepared } from './prepared.js';
import type { Database, JobsTable } from './schema.js';

// Every enqueue and every finished job: compiled once (prepared.ts).
const insertJob = prepared<
  [string, string, string | null, string, string, number, number, string | null, number | null, string | null, number, number],
  { id: string }
>((db, id, kind, key, payload, state, attempts, runAfter, claimedBy, claimedUntil, lastError, createdAt, updatedAt) =>
  db
    .insertInto('jobs')
    .values({
      id,
      kind,
      key,
      payload,
      state,
      attempts,
      run_after: runAfter,
      claimed_by: claimedBy,
      claimed_until: claimedUntil,
      last_error: lastError,
      created_at: createdAt,
      updated_at: updatedAt,
    })
    .onConflict((oc) => oc.doNothing())
    .returning('id'),
);
const completeOne = prepared<[number, string, string], unknown>((db, now, id, worker) =>
  db
    .updateTable('jobs')
    .set({ state: 'done', claimed_by: null, claimed_until: null, updated_at: now })
    .where('id', '=', id)
    .where('claimed_by', '=', worker)
    .where('state', '=', 'running'),
);

/** Due = queued and runnable, or running with an expired lease (its worker died: resume it). */
const stillDue = (w: ExpressionBuilder<Database, 'jobs'>, nowMs: number) =>
  w.or([w.and([w('state', '=', 'queued'), w('run_after', '<=', nowMs)]), w.and([w('state', '=', 'running'), w('claimed_until', '<', nowMs)])]);

/** Take the rows: one attempt more, leased to `worker` until `until`. */
const claimSet = (until: number, worker: string, nowMs: number) => (eb: ExpressionBuilder<Database, 'jobs'>) => ({
  state: 'running' as const,
  claimed_by: worker,
  claimed_until: until,
  attempts: eb('attempts', '+', 1),
  updated_at: nowMs,
});

/**
 * PostgreSQL: the claim of the first `limit` due jobs of the given kinds, skipping rows another
 * replica is claiming right now (FOR UPDATE SKIP LOCKED), so concurrent claimers get disjoint sets.
 * It runs at every poll and kick (a storm's intake kicks hundreds of times a second): built and
 * compiled once per number of kinds (prepared.ts), and prepared once per connection on the server
 * (its parsing and planning were most of its cost there); building it each time was a fifth of the
 * bot's Kysely work in a storm.
 */
const claimByKindCount = new Map<number, ReturnType<typeof buildClaimSkipLocked>>();
const claimSkipLocked = (n: number) => {
  let claim = claimByKindCount.get(n);
  if (!claim) {
    claim = buildClaimSkipLocked();
    claimByKindCount.set(n, claim);
  }
  return claim;
};
const buildClaimSkipLocked = () =>
  prepared<[string, number, number, number, ...string[]], Selectable<JobsTable>>(
    (db, worker, nowMs, until, limit, ...kinds) =>
      db
        .updateTable('jobs')
        .set(claimSet(until, worker, nowMs))
        .where('id', 'in', (eb) =>
          eb
            .selectFrom('jobs')
            .select('id')
            .where('kind', 'in', kinds)
            .where((w) => stillDue(w, nowMs))
            .orderBy('run_after', 'asc')
            .orderBy('id', 'asc')
            .limit(limit)
            .forUpdate()
            .skipLocked(),
        )
        .returningAll(),
    { statement: true },
  );

/** SQLite: take exactly the rows read as due that are still due (see claimJobs). */
const claimDue = (db: Kysely<Database>, ids: string[], kinds: string[], worker: string, nowMs: number, leaseMs: number) =>
  db
    .updateTable('jobs')
    .set(claimSet(nowMs + leaseMs, worker, nowMs))
    .where('id', 'in', ids)
    .where('kind', 'in', kinds)
    .where((w) => stillDue(w, nowMs))
    .returningAll()
    .execute();

/** The durable job queue (table jobs). */
export class KyselyJobStore implements JobStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly ops: Pick<DialectOps, 'skipLocked'>,
  ) {}

  async enqueueJob(job: NewJob, claim?: { worker: string; until: Date }): Promise<boolean> {
    return writeJob(this.db, job, claim, this.clock.now().getTime());
  }

  async claimJobs(kinds: string[], worker: string, limit: number, now: Date, leaseMs: number): Promise<Job[]> {
    if (kinds.length === 0 || limit <= 0) return [];
    const nowMs = ms(now);
    // Due = queued and runnable, or running with an expired lease (its worker died: resume it).
    // On PostgreSQL the inner SELECT locks the chosen rows and skips rows another replica is
    // claiming right now, so concurrent claimers get disjoint sets.
    // SQLite (one process, one writer): one index-ordered range per branch (jobs_claim_idx: state,
    // run_after, id), each stopping after `limit` rows, read first; then exactly those rows that
    // are still due are taken. The single OR query made SQLite collect and sort every due job for
    // each claim (most of its time in an alert storm), and a claim that finds nothing (the idle
    // poll, most kicks) is now a read, not a write transaction.
    const due = (state: 'queued' | 'running') =>
      this.db
        .selectFrom('jobs')
        .select(['id', 'run_after'])
        .where('state', '=', state)
        .$if(state === 'queued', (qb) => qb.where('run_after', '<=', nowMs))
        .$if(state === 'running', (qb) => qb.where('claimed_until', '<', nowMs))
        .where('kind', 'in', kinds)
        .orderBy('run_after', 'asc')
        .orderBy('id', 'asc')
        .limit(limit);
    const dueIds = this.ops.skipLocked
      ? null
      : (
          await this.db
            .selectFrom(
              this.db
                .selectFrom(due('queued').as('queued'))
                .select(['id', 'run_after'])
                .unionAll(this.db.selectFrom(due('running').as('expired')).select(['id', 'run_after']))
                .as('due'),
            )
            .select('id')
            .orderBy('run_after', 'asc')
            .orderBy('id', 'asc')
            .limit(limit)
            .execute()
        ).map((r) => r.id);
    if (dueIds?.length === 0) return [];
    const rows =
      dueIds === null
        ? (await claimSkipLocked(kinds.length)(this.db, worker, nowMs, nowMs + leaseMs, limit, ...kinds)).rows
        : await claimDue(this.db, dueIds, kinds, worker, nowMs, leaseMs);
    return rows.map(toJob).sort((a, b) => a.runAfter.getTime() - b.runAfter.getTime() || (a.id < b.id ? -1 : 1));
  }

  async extendJobLeases(ids: string[], worker: string, until: Date): Promise<number> {
    if (ids.length === 0) return 0;
    const res = await this.db
      .updateTable('jobs')
      .set({ claimed_until: ms(until) })
      .where('id', 'in', ids)
      .where('claimed_by', '=', worker)
      .where('state', '=', 'running')
      .executeTakeFirst();
    return Number(res.numUpdatedRows);
  }

  async completeJob(id: string, worker: string): Promise<void> {
    // Guarded by the claim, as completeJobs.
    await completeOne(this.db, this.clock.now().getTime(), id, worker);
  }

  async completeJobs(ids: string[], worker: string): Promise<void> {
    if (ids.length === 0) return;
    // Guarded by the claim: a worker whose lease was taken over cannot complete someone else's run.
    await this.db
      .updateTable('jobs')
      .set({ state: 'done', claimed_by: null, claimed_until: null, updated_at: this.clock.now().getTime() })
      .where('id', 'in', ids)
      .where('claimed_by', '=', worker)
      .where('state', '=', 'running')
      .execute();
  }

  async failJob(id: string, worker: string, error: string, retryAt: Date | null): Promise<void> {
    await this.db
      .updateTable('jobs')
      .set({
        state: retryAt === null ? 'dead' : 'queued',
        run_after: retryAt === null ? undefined : ms(retryAt),
        last_error: error,
        claimed_by: null,
        claimed_until: null,
        updated_at: this.clock.now().getTime(),
      })
      .where('id', '=', id)
      .where('claimed_by', '=', worker)
      .where('state', '=', 'running')
      .execute();
  }

  async expireLeases(workerPrefix: string, keep: string, now: Date): Promise<number> {
    const res = await this.db
      .updateTable('jobs')
      .set({ claimed_until: ms(now) - 1 })
      .where('state', '=', 'running')
      .where(sql<boolean>`substr(claimed_by, 1, ${workerPrefix.length}) = ${workerPrefix}`)
      .where('claimed_by', '!=', keep)
      .executeTakeFirst();
    return Number(res.numUpdatedRows);
  }

  async releaseJobs(worker: string): Promise<number> {
    // A released job did not fail: give back the attempt its claim counted.
    const res = await this.db
      .updateTable('jobs')
      .set((eb) => ({
        state: 'queued',
        claimed_by: null,
        claimed_until: null,
        attempts: eb
          .case()
          .when('attempts', '>', 0)
          .then(eb('attempts', '-', 1))
          .else(0)
          .end(),
        updated_at: this.clock.now().getTime(),
      }))
      .where('claimed_by', '=', worker)
      .where('state', '=', 'running')
      .executeTakeFirst();
    return Number(res.numUpdatedRows);
  }

  async countJobs(filter: { kind?: string; state?: JobState }): Promise<number> {
    const row = await this.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll().as('n'))
      .$if(filter.kind !== undefined, (qb) => qb.where('kind', '=', filter.kind!))
      .$if(filter.state !== undefined, (qb) => qb.where('state', '=', filter.state!))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}

function toJob(r: Selectable<JobsTable>): Job {
  return {
    id: r.id,
    kind: r.kind,
    key: r.key,
    payload: parseJson(r.payload),
    state: r.state as JobState,
    attempts: Number(r.attempts),
    runAfter: toDate(r.run_after),
    lastError: r.last_error,
  };
}

/**
 * Enqueue on `db` or a transaction (a declaration writes its flow's job with its incident); with
 * `claim`, already claimed (see `JobStore.enqueueJob`). False if a job of the same key was queued.
 */
export async function writeJob(db: Kysely<Database>, job: NewJob, claim: { worker: string; until: Date } | undefined, now: number): Promise<boolean> {
  const r = jobRow(job, now);
  const { rows } = await insertJob(
    db,
    r.id,
    r.kind,
    r.key,
    r.payload,
    claim ? 'running' : r.state,
    claim ? 1 : r.attempts,
    r.run_after,
    claim ? claim.worker : r.claimed_by,
    claim ? ms(claim.until) : r.claimed_until,
    r.last_error,
    r.created_at,
    r.updated_at,
  );
  return rows.length > 0;
}

/** The row of a new job (shared with the alert intake, which writes jobs with their alerts). */
export function jobRow(job: NewJob, now: number) {
  return {
    id: job.id,
    kind: job.kind,
    key: job.key ?? null,
    payload: toJson(job.payload),
    state: 'queued' as const,
    attempts: 0,
    run_after: ms(job.runAfter),
    claimed_by: null,
    claimed_until: null,
    last_error: null,
    created_at: now,
    updated_at: now,
  };
}
