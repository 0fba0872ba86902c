import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { incidentLabel } from '../domain/incident.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Chat } from '../ports/chat.js';
import type { Clock } from '../ports/clock.js';
import type { Job, NewJob, Store } from '../ports/store.js';
import type { Deps } from './deps.js';

export const DEFAULT_LEASE_MS = 15_000;

/** Thrown by a handler when retrying cannot help (bad input, a refused request): the job goes dead. */
export class PermanentJobError extends Error {}

/**
 * A kind of background work, declared next to the service that does it. The payload schema types
 * `enqueue` (a mis-shaped payload does not compile) and is checked again when the job runs (a row
 * written by an older version, or by hand, that does not parse goes dead with the reason).
 *
 * Job keys have one style: `<kind>:<key>`. `key` gives the part after the kind from the payload;
 * an `enqueue` may pass its own (a job kind enqueued for several reasons, e.g. one per version).
 * A job without a key is never deduplicated. `kind` strings are stored in rows: never rename one.
 */
export interface JobDefinition<S extends z.ZodType = z.ZodType, C = Deps> {
  kind: string;
  payload: S;
  key?: (payload: z.input<S>) => string;
  run: (ctx: C, payload: z.output<S>, job: Job) => Promise<void>;
  /**
   * Optional: run many due jobs of this kind as one unit, when one pass over them costs less than
   * one each (repeats of the same alert). Up to `max` are claimed together; one batch of a kind
   * runs at a time, so what is due meanwhile gathers into the next. `run` returns the jobs it did
   * not finish; they run one by one through `run` above (with its retries and dead-letter).
   * Only first attempts are batched: a job claimed again (its worker died or it failed) may have
   * done part of its work, and runs alone so its recorded steps resume it.
   */
  batch?: {
    max: number;
    /**
     * Batches of this kind start at most this often (ms of real time): under a steady stream each
     * gathers what arrived meanwhile instead of taking one job per pass. A job arriving after a
     * quiet spell is claimed at once; under load one waits up to this long.
     */
    gatherMs?: number;
    run: (ctx: C, items: Array<{ payload: z.output<S>; job: Job }>) => Promise<Job[]>;
  };
}

export function defineJob<S extends z.ZodType, C = Deps>(def: JobDefinition<S, C>): JobDefinition<S, C> {
  return def;
}

// biome-ignore lint/suspicious/noExplicitAny: a list of jobs of different payloads
export type AnyJob<C = Deps> = JobDefinition<any, C>;

type Handler = (payload: unknown, job: Job) => Promise<void>;
type BatchHandler = { max: number; gatherMs: number; run: (jobs: Job[]) => Promise<Job[]> };

export interface JobRunnerOptions {
  workerId?: string;
  pollMs?: number;
  leaseMs?: number;
  concurrency?: number;
  maxAttempts?: number;
  /** Called when a job goes dead, so the failure is reported somewhere a person looks. */
  onDead?: (job: Job, error: unknown) => Promise<void>;
}

/**
 * Background work that survives a crash and runs on exactly one replica: every job is a row in the
 * store, claimed with a lease (SKIP LOCKED on PostgreSQL). A job whose worker died is taken over
 * when its lease expires; so handlers must be idempotent (they are: flows record each step).
 * `enqueue` kicks the loop so fresh work starts at once instead of waiting for the next poll.
 */
/** A job `JobRunner.draft` prepared for the caller's own transaction. */
export interface JobDraft {
  job: NewJob;
  /** Written already claimed by this worker: `committed` runs it here. */
  claim?: { worker: string; until: Date };
  delayed: boolean;
}

export class JobRunner {
  /** Set at construction; on a single-process store, `reclaimPreviousRun` replaces it with the database's next generation. */
  workerId: string;
  private readonly handlers = new Map<string, Handler>();
  private readonly batchers = new Map<string, BatchHandler>();
  /** Kinds with a batch running: left out of claims until it ends, so their due jobs gather. */
  private readonly batchBusy = new Set<string>();
  /** Per batch kind, when (performance.now()) its next batch may start; real time, not the injected clock, as it paces CPU. */
  private readonly batchNext = new Map<string, number>();
  private readonly gatherTimers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<Promise<void>>();
  /** Ids of the jobs this worker is running, for the lease heartbeat. */
  private readonly activeIds = new Set<string>();
  private heartbeat: NodeJS.Timeout | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private polling = false;
  private pollAgain = false;
  private pollSoon = false;
  private readonly pollMs: number;
  private readonly leaseMs: number;
  private readonly concurrency: number;
  private readonly maxAttempts: number;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly metrics: Metrics | null,
    private readonly opts: JobRunnerOptions = {},
  ) {
    this.workerId = opts.workerId ?? `w-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.pollMs = opts.pollMs ?? 1000;
    // Short, with the heartbeat renewing it every third: a replica that dies hands its work to
    // another within a lease and a poll (about 16 s), while a live one never loses a running job.
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    this.concurrency = opts.concurrency ?? 16;
    this.maxAttempts = opts.maxAttempts ?? 8;
  }

  /** Run jobs of this kind here, with `ctx` (the services' deps). The payload is parsed first. */
  register<S extends z.ZodType, C>(def: JobDefinition<S, C>, ctx: C): void {
    this.handlers.set(def.kind, async (raw, job) => {
      const parsed = def.payload.safeParse(raw);
      if (!parsed.success) throw new PermanentJobError(`bad ${def.kind} payload: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
      await def.run(ctx, parsed.data, job);
    });
    const batch = def.batch;
    if (!batch) return;
    this.batchers.set(def.kind, {
      max: batch.max,
      gatherMs: batch.gatherMs ?? 0,
      run: async (jobs) => {
        const items: Array<{ payload: z.output<S>; job: Job }> = [];
        const unparsed: Job[] = [];
        for (const job of jobs) {
          const parsed = def.payload.safeParse(job.payload);
          if (parsed.success) items.push({ payload: parsed.data, job });
          else unparsed.push(job); // goes dead with the reason through `run`
        }
        return [...unparsed, ...(items.length ? await batch.run(ctx, items) : [])];
      },
    });
  }

  /**
   * Durably enqueue. With a key (`opts.key`, else the job's own), a job already queued under
   * `<kind>:<key>` is not added twice. Returns whether a row was added.
   *
   * `here`: the job starts in this process at once, before `enqueue` returns, instead of a loop
   * turn later through a claim (for work a person is waiting on: the declare flow). The row is
   * written already claimed by this worker, so it is as durable as a claimed job: if this process
   * dies the job is taken over when its lease expires (SQLite: at the next start). Without a free
   * slot, on a runner not started, or for a batched kind, it is an ordinary enqueue.
   */
  async enqueue<S extends z.ZodType>(
    def: JobDefinition<S, never>,
    payload: z.input<S>,
    opts: { key?: string; delayMs?: number; here?: boolean } = {},
  ): Promise<boolean> {
    const draft = this.draft(def, payload, opts);
    const added = await this.store.enqueueJob(draft.job, draft.claim);
    this.committed(draft, added);
    return added;
  }

  /**
   * `enqueue` in two halves, for a caller that writes the job in its own transaction (a declaration
   * writes its flow's job with its incident, `DeclarationRecords`): the job to write (with `here`,
   * already claimed by this worker when it may start here now), then `committed` after the commit.
   */
  draft<S extends z.ZodType>(def: JobDefinition<S, never>, payload: z.input<S>, opts: { key?: string; delayMs?: number; here?: boolean } = {}): JobDraft {
    const job = this.row(def, payload, opts);
    const here = opts.here && !opts.delayMs && this.canRunHere(def.kind);
    return { job, delayed: !!opts.delayMs, ...(here ? { claim: { worker: this.workerId, until: new Date(this.clock.now().getTime() + this.leaseMs) } } : {}) };
  }

  /** After the commit that wrote a draft's job (`added`: it was new): a claimed one starts here, now; any other wakes the loop. */
  committed(draft: JobDraft, added: boolean): void {
    if (!draft.claim) {
      if (!draft.delayed) this.kick();
      return;
    }
    if (!added) return;
    const row = draft.job;
    // The job as a claim would read it back: attempt 1, the payload through its JSON form.
    const job: Job = {
      id: row.id,
      kind: row.kind,
      key: row.key ?? null,
      payload: JSON.parse(JSON.stringify(row.payload)) as unknown,
      state: 'running',
      attempts: 1,
      runAfter: row.runAfter,
      lastError: null,
    };
    this.track([job.id], () => this.run(job));
  }

  /** Whether a job of `kind` may start here now: running, handled here, not batched, a slot free. */
  private canRunHere(kind: string): boolean {
    return this.running && this.handlers.has(kind) && !this.batchers.has(kind) && this.inflight.size < this.concurrency;
  }

  /**
   * The row `enqueue` would write, for a caller that writes it in its own transaction (e.g. with
   * the alerts it belongs to); it calls `kick()` after the commit.
   */
  row<S extends z.ZodType>(def: JobDefinition<S, never>, payload: z.input<S>, opts: { key?: string; delayMs?: number } = {}): NewJob {
    const suffix = opts.key ?? def.key?.(payload);
    return {
      id: randomUUID(),
      kind: def.kind,
      key: suffix === undefined ? null : `${def.kind}:${suffix}`,
      payload: def.payload.parse(payload),
      runAfter: new Date(this.clock.now().getTime() + (opts.delayMs ?? 0)),
    };
  }

  /**
   * Single-process stores (SQLite) only, before `start`: a stable worker identity per database file
   * and process generation (`<database id>#<generation>`, both kept in the database). A job still
   * leased at start-up by an earlier generation belongs to a process of this database that died (no
   * other process may use the file), so its lease ends now instead of when it runs out: the
   * interrupted work resumes as soon as the runner starts. Returns the number of jobs reclaimed.
   * `expire: false` (the previous owner ran on another host, so whether it died is unknown) keeps
   * the new identity but leaves those leases to run out: a live worker's heartbeat keeps them.
   */
  async reclaimPreviousRun(opts: { expire?: boolean } = {}): Promise<number> {
    let dbId = await this.store.getKv<string>('jobs.database_id');
    if (!dbId) {
      await this.store.setKv('jobs.database_id', randomUUID());
      dbId = (await this.store.getKv<string>('jobs.database_id'))!;
    }
    const generation = ((await this.store.getKv<number>('jobs.generation')) ?? 0) + 1;
    await this.store.setKv('jobs.generation', generation);
    this.workerId = `${dbId}#${generation}`;
    if (opts.expire === false) return 0;
    const n = await this.store.expireLeases(`${dbId}#`, this.workerId, this.clock.now());
    if (n) this.logger.info({ jobs: n, generation }, 'resuming jobs the previous run of this database left unfinished');
    return n;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const loop = () => {
      if (!this.running) return;
      this.kick();
      this.timer = setTimeout(loop, this.pollMs);
      this.timer.unref();
    };
    loop();
    // A job may legitimately run longer than its lease (a paced Slack call in a storm, a slow
    // backend, a long Claude answer): renew the leases of running jobs at a third of the lease, so
    // only a worker that really died loses its jobs to another.
    this.heartbeat = setInterval(
      () => {
        if (!this.activeIds.size) return;
        const until = new Date(this.clock.now().getTime() + this.leaseMs);
        this.store.extendJobLeases([...this.activeIds], this.workerId, until).catch((err) => this.logger.warn({ err }, 'renewing job leases failed'));
      },
      Math.max(50, Math.floor(this.leaseMs / 3)),
    );
    this.heartbeat.unref();
  }

  /**
   * Stop claiming, wait for in-flight jobs (up to `graceMs`), give back anything still leased.
   * `handBack: false` leaves the leases to expire, as a process that died would (tests of takeover).
   */
  async stop(graceMs = 10_000, opts: { handBack?: boolean } = {}): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const t of this.gatherTimers) clearTimeout(t);
    this.gatherTimers.clear();
    if (opts.handBack === false) return;
    const deadline = new Promise((r) => setTimeout(r, graceMs).unref());
    await Promise.race([Promise.allSettled([...this.inflight]), deadline]);
    await this.store.releaseJobs(this.workerId).catch((err) => this.logger.warn({ err }, 'releasing jobs failed'));
  }

  /** Wait until no job is running in this process (tests and benchmarks). */
  async idle(): Promise<void> {
    while (this.inflight.size || this.polling || this.pollSoon || this.gatherTimers.size)
      await Promise.allSettled([...this.inflight, new Promise((r) => setTimeout(r, 5))]);
  }

  /**
   * Claim due work soon: at the end of this turn of the event loop, so that the jobs finishing (and
   * the enqueues) of one turn share one claim instead of each making its own.
   */
  kick(kind?: string): void {
    if (!this.running) return;
    // Work of one batch kind only (the alert intake's commits, hundreds a second in a storm): while
    // a batch of that kind runs or gathers, a claim now would find nothing it may take, and the
    // batch's end claims again (see poll). Skipping saves a claim statement per commit.
    if (kind !== undefined && (this.batchBusy.has(kind) || (this.batchNext.get(kind) ?? 0) > performance.now())) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    if (this.pollSoon) return;
    this.pollSoon = true;
    setImmediate(() => {
      this.pollSoon = false;
      this.pollNow();
    });
  }

  private pollNow(): void {
    if (!this.running) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = true;
    void this.poll().finally(() => {
      this.polling = false;
      if (this.pollAgain && this.running) {
        this.pollAgain = false;
        this.pollNow();
      }
    });
  }

  private async poll(): Promise<void> {
    const free = this.concurrency - this.inflight.size;
    const now = performance.now();
    const kinds = [...this.handlers.keys()].filter((k) => !this.batchBusy.has(k) && !((this.batchNext.get(k) ?? 0) > now));
    if (free <= 0 || !kinds.length) return;
    let jobs: Job[];
    try {
      jobs = await this.store.claimJobs(kinds, this.workerId, free, this.clock.now(), this.leaseMs);
    } catch (err) {
      this.logger.error({ err }, 'claiming jobs failed');
      return;
    }
    const batches = new Map<string, Job[]>();
    for (const job of jobs) {
      const group = this.batchers.has(job.kind) ? batches.get(job.kind) : undefined;
      if (group) group.push(job);
      else if (this.batchers.has(job.kind)) batches.set(job.kind, [job]);
      else this.track([job.id], () => this.run(job));
    }
    for (const [kind, first] of batches) {
      this.batchBusy.add(kind);
      const { max, gatherMs } = this.batchers.get(kind)!;
      this.batchNext.set(kind, now + gatherMs);
      // The claim above took at most `free` of this kind; the batch takes what else is due, in one more claim.
      const more =
        first.length < max
          ? await this.store.claimJobs([kind], this.workerId, max - first.length, this.clock.now(), this.leaseMs).catch((err) => {
              this.logger.error({ err }, 'claiming jobs failed');
              return [];
            })
          : [];
      const all = [...first, ...more];
      this.track(
        all.map((j) => j.id),
        () =>
          this.runBatch(kind, all).finally(() => {
            this.batchBusy.delete(kind);
            // The kind is claimable again once its gather time is over: come back then.
            const wait = (this.batchNext.get(kind) ?? 0) - performance.now();
            if (wait > 0 && this.running) {
              const t = setTimeout(() => {
                this.gatherTimers.delete(t);
                this.kick();
              }, wait);
              this.gatherTimers.add(t);
            }
          }),
      );
    }
  }

  /** Count `work` in flight and its jobs' leases as held until it ends; claim again after. */
  private track(ids: string[], work: () => Promise<void>): void {
    for (const id of ids) this.activeIds.add(id);
    const p = work().finally(() => {
      for (const id of ids) this.activeIds.delete(id);
      this.inflight.delete(p);
      if (this.running) this.kick();
    });
    this.inflight.add(p);
  }

  private async runBatch(kind: string, jobs: Job[]): Promise<void> {
    const batcher = this.batchers.get(kind)!;
    const first = jobs.filter((j) => j.attempts === 1);
    let left: Job[];
    try {
      left = first.length ? await batcher.run(first) : [];
    } catch (err) {
      // Nothing is lost: each job runs alone below, and its handler sees what the batch did.
      this.logger.warn({ err, kind, jobs: first.length }, 'batch failed; running its jobs one by one');
      left = first;
    }
    const leftIds = new Set(left.map((j) => j.id));
    const done = first.filter((j) => !leftIds.has(j.id)).map((j) => j.id);
    if (done.length) {
      try {
        await this.store.completeJobs(done, this.workerId);
        this.metrics?.jobs.inc({ kind, outcome: 'done' }, done.length);
      } catch (err) {
        // Their work is recorded; when the leases expire each runs alone and finds it done.
        this.logger.error({ err, kind, jobs: done.length }, 'completing a batch failed');
      }
    }
    for (const job of [...jobs.filter((j) => j.attempts !== 1), ...left]) await this.run(job);
  }

  private async run(job: Job): Promise<void> {
    const handler = this.handlers.get(job.kind)!;
    // The job's logger is made only when there is something to log (a failure): a pino child
    // serialises its bindings through the redaction rules, on every job otherwise.
    let child: Logger | null = null;
    const log = () => (child ??= this.logger.child({ job: job.id, kind: job.kind, attempt: job.attempts }));
    if (job.attempts > this.maxAttempts) {
      // Claimed again after its lease ran out more times than a job may be tried: its worker died
      // each time (a poison job that crashes the process). Stop here, and say so.
      const err = new PermanentJobError(`gave up after ${job.attempts - 1} attempts whose worker never finished (crash or lost lease)`);
      log().error({ err }, 'job failed for good');
      this.metrics?.jobs.inc({ kind: job.kind, outcome: 'dead' });
      await this.store.failJob(job.id, this.workerId, err.message, null).catch((e) => log().error({ err: e }, 'recording job failure failed'));
      if (this.opts.onDead) await this.opts.onDead(job, err).catch((e) => log().error({ err: e }, 'reporting dead job failed'));
      return;
    }
    try {
      await handler(job.payload, job);
      await this.store.completeJob(job.id, this.workerId);
      this.metrics?.jobs.inc({ kind: job.kind, outcome: 'done' });
    } catch (err) {
      const permanent = err instanceof PermanentJobError || job.attempts >= this.maxAttempts;
      // Backoff 1 s × 2^(attempt-1), capped at 60 s, with jitter so replicas do not retry in step.
      const delay = Math.min(60_000, 1000 * 2 ** Math.max(0, job.attempts - 1)) * (0.75 + Math.random() * 0.5);
      const retryAt = permanent ? null : new Date(this.clock.now().getTime() + delay);
      log()[permanent ? 'error' : 'warn']({ err, retryAt }, permanent ? 'job failed for good' : 'job failed; will retry');
      this.metrics?.jobs.inc({ kind: job.kind, outcome: permanent ? 'dead' : 'retry' });
      await this.store
        .failJob(job.id, this.workerId, String((err as Error)?.message ?? err), retryAt)
        .catch((e) => log().error({ err: e }, 'recording job failure failed'));
      if (permanent && this.opts.onDead) await this.opts.onDead(job, err).catch((e) => log().error({ err: e }, 'reporting dead job failed'));
    }
  }
}

const DeadPayload = z.looseObject({
  incidentId: z.string().optional(),
  notify: z.object({ channelId: z.string(), userId: z.string() }).nullish(),
});

/**
 * The notice for a job that failed for good: seen by the person who started it and, when there is
 * one, by the incident channel. The record is kept; a person needs to look.
 */
export function deadJobNotice(store: Store, chat: Chat): NonNullable<JobRunnerOptions['onDead']> {
  return async (job, err) => {
    const parsed = DeadPayload.safeParse(job.payload);
    const p = parsed.success ? parsed.data : {};
    const tries = `${job.attempts} attempt${job.attempts === 1 ? '' : 's'}`;
    const text = `:warning: A background task (${job.kind}) failed for good after ${tries}: ${(err as Error)?.message ?? err}. The record is kept; a person needs to look.`;
    const incident = p.incidentId ? await store.getIncident(p.incidentId) : null;
    await Promise.allSettled([
      p.notify ? chat.postEphemeral(p.notify.channelId, p.notify.userId, text) : Promise.resolve(),
      incident?.channelId ? chat.post(incident.channelId, `${text} (${incidentLabel(incident)})`) : Promise.resolve(),
    ]);
  };
}

/**
 * Housekeeping, once an hour on one replica (the job key is the hour): replay-protection keys
 * outlive their 5-minute windows by a day, finished jobs are kept a week for inspection.
 */
export const maintenanceJob = defineJob({
  kind: 'maintenance.prune',
  payload: z.object({}),
  run: async (deps) => {
    const now = deps.clock.now().getTime();
    const keys = await deps.store.pruneProcessed(new Date(now - 24 * 3600_000));
    const done = await deps.store.pruneJobs(new Date(now - 7 * 24 * 3600_000));
    if (keys || done) deps.logger.info({ keys, jobs: done }, 'housekeeping: pruned old replay keys and finished jobs');
  },
});
