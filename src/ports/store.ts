import type { Incident, IncidentStatus } from '../domain/incident.js';
import type { Severity } from '../domain/severity.js';
import type {
  NewIncident,
  IncidentPatch,
  NewTimelineEntry,
  TimelineEntry,
  ApprovalStatus,
  NewApproval,
  Approval,
  ApprovalPatch,
  ApprovalVote,
  NewAuditEntry,
  AuditEntry,
  NewAlert,
  StoredAlert,
  AlertFingerprint,
  JobState,
  NewJob,
  Job,
} from '../domain/records.js';
import type { RunbookStore } from './runbook-store.js';
import type { InsightsStore } from './insights-store.js';
import type { FollowThroughStore } from './followthrough-store.js';

// The records are domain data; re-exported here so callers of the port need one import.
export type * from '../domain/records.js';

/** Opening, checking and closing the store. */
export interface StoreLifecycle {
  readonly dialect: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * What a declaration writes with its incident, in the same transaction (`createIncident`): all of
 * it or none. The flow's job above all: an incident recorded without the job that opens its channel
 * (a crash between two commits) would be found by the next declaration of the same title, offered
 * as "a similar incident is open", and never get a channel. Nothing of it is written when the
 * incident already existed (its dedupe key).
 */
export interface DeclarationRecords {
  roles?: Record<string, string>;
  audit?: NewAuditEntry;
  timeline?: NewTimelineEntry;
  /** The flow's job; with `claim`, written already claimed (see `JobStore.enqueueJob`). */
  job?: { job: NewJob; claim?: { worker: string; until: Date } };
}

/** The store's incidents. */
export interface IncidentStore {
  /**
   * Create an incident. `dedupeKey` (e.g. the Slack view id, a backend's incident id, an alert
   * fingerprint episode) makes the call idempotent: a second call with the same key returns the
   * existing incident and `created: false`.
   */
  createIncident(input: NewIncident, records?: DeclarationRecords): Promise<{ incident: Incident; created: boolean }>;
  getIncident(id: string): Promise<Incident | null>;
  findIncidentByChannel(channelId: string): Promise<Incident | null>;
  findIncidentByBackendId(backend: string, backendId: string): Promise<Incident | null>;
  findIncidentByDedupeKey(key: string): Promise<Incident | null>;
  /** `findIncidentByDedupeKey` for many keys in one read: the incidents that exist, by dedupe key. */
  findIncidentsByDedupeKeys(keys: string[]): Promise<Map<string, Incident>>;
  listOpenIncidents(): Promise<Incident[]>;
  /** Incidents matching every given filter, newest first (by number), at most `limit`. */
  listIncidents(filter: IncidentFilter): Promise<Incident[]>;
  /**
   * Patch an incident. With `expectedVersion`, only applies if the version matches (returns null
   * otherwise); with `expectedStatus`, only if the status matches. Bumps `version` and `updatedAt`.
   */
  updateIncident(id: string, patch: IncidentPatch, guard?: { expectedVersion?: number; expectedStatus?: IncidentStatus }): Promise<Incident | null>;
  /** Atomically add `n` to alert_count; returns the new count. */
  bumpAlertCount(id: string, n: number): Promise<number>;
}

/** The store's roles. */
export interface RoleStore {
  setRole(incidentId: string, role: string, userId: string): Promise<void>;
  getRoles(incidentId: string): Promise<Record<string, string>>;
}

/** The store's timeline. */
export interface TimelineStore {
  /** Returns false when an entry with the same (incidentId, sourceRef) already exists. */
  addTimeline(entry: NewTimelineEntry): Promise<boolean>;
  listTimeline(incidentId: string): Promise<TimelineEntry[]>;
}

/** The store's flows: resumable, step-by-step side effects. */
export interface FlowStore {
  /**
   * The recorded result of a step, or undefined when the step has not completed. Results are
   * stored as JSON: a step recorded with `undefined` reads back as `null`; Dates come back as strings.
   */
  getStep<T = unknown>(flowId: string, step: string): Promise<T | undefined>;
  /** `getStep` of one step name across many flows in one read: recorded results by flow id (absent = not completed). */
  getStepOfFlows<T = unknown>(flowIds: string[], step: string): Promise<Map<string, T>>;
  /** Record a step's result; the first writer wins and its result is returned. */
  putStep<T>(flowId: string, step: string, result: T): Promise<T>;
  listSteps(flowId: string): Promise<Record<string, unknown>>;
}

/** The store's approvals. */
export interface ApprovalStore {
  createApproval(input: NewApproval): Promise<Approval>;
  getApproval(id: string): Promise<Approval | null>;
  listApprovals(filter: { incidentId?: string; status?: ApprovalStatus[] }): Promise<Approval[]>;
  /** Compare-and-set on status; returns the updated row or null if it was not in `from`. */
  transitionApproval(id: string, from: ApprovalStatus[], to: ApprovalStatus, patch?: ApprovalPatch): Promise<Approval | null>;
  /** Patch fields that are not the status (message ts, result); no state check. */
  patchApproval(id: string, patch: ApprovalPatch): Promise<Approval | null>;
  /** Record one person's vote; false if this user already voted on this approval. */
  addVote(vote: ApprovalVote): Promise<boolean>;
  listVotes(approvalId: string): Promise<ApprovalVote[]>;
}

/** The store's audit (append-only). */
export interface AuditStore {
  audit(entry: NewAuditEntry): Promise<void>;
  /** Entries in append order (oldest first); with `limit`, the newest `limit` entries, still oldest first. */
  listAudit(filter: { incidentId?: string; approvalId?: string; limit?: number }): Promise<AuditEntry[]>;
}

/** The store's idempotency. */
export interface ProcessedStore {
  /** Insert-if-absent of a processed key (Slack event id, webhook event id). True = first time. */
  markProcessed(key: string, at: Date): Promise<boolean>;
  /** Forget keys older than `before` (the replay windows are minutes; keep a day). */
  pruneProcessed(before: Date): Promise<number>;
  /** Delete finished (`done`) jobs last touched before `before`; dead jobs stay for a person to see. */
  pruneJobs(before: Date): Promise<number>;
}

/** The store's alerts. */
/** Alerts of one fingerprint joining its open episode's incident (see `joinAlerts`). */
export interface AlertJoin {
  incidentId: string;
  fingerprint: string;
  alertIds: string[];
  /** The newest of the alerts' receivedAt. */
  lastSeen: Date;
  /** Enqueued in the same transaction when at least one alert was applied (skipped if its key is taken). */
  job: NewJob;
}

export interface AlertStore {
  /** Durably store an alert; with the same (source, deliveryId) it is stored once. */
  insertAlert(alert: NewAlert): Promise<{ alert: StoredAlert; inserted: boolean }>;
  getAlert(id: string): Promise<StoredAlert | null>;
  /** The alerts of these ids that exist, in no particular order. */
  getAlerts(ids: string[]): Promise<StoredAlert[]>;
  /**
   * Accept deliveries in one transaction (one commit for a burst): each alert inserted as by
   * `insertAlert`, and ONE job for the burst, `jobs.burst(alerts)`, enqueued with them when at least
   * one was inserted, so an accepted alert always has its job. The burst's job is made from every
   * alert given (as if all were new): an alert that turned out to be a replay was never stored
   * under the id it names, and whoever runs the job skips it. A replay of an earlier burst whose
   * stored alert is still pending gets `jobs.replay(stored)` (a no-op by its key if it has one).
   * All or nothing: a failure leaves none of them stored.
   */
  insertAlertsWithJobs(
    alerts: NewAlert[],
    jobs: { burst: (alerts: StoredAlert[]) => NewJob; replay: (alert: StoredAlert) => NewJob },
  ): Promise<Array<{ alert: StoredAlert; inserted: boolean }>>;
  /** Oldest first by receivedAt; with `limit`, the newest `limit` alerts, still oldest first. */
  listAlerts(filter: { fingerprint?: string; incidentId?: string; limit?: number }): Promise<StoredAlert[]>;
  markAlert(id: string, patch: { incidentId?: string | null; state: 'processed' | 'failed'; error?: string | null }): Promise<void>;
  /**
   * The fingerprint row: which incident an alert fingerprint currently feeds. `claimFingerprint`
   * inserts or takes over a row (when its incident is closed or the window passed) atomically,
   * returning true only to the one caller that should open a new incident. A repeated claim with
   * the `incidentId` the row already names also returns true (a resumed flow is still the owner).
   */
  getFingerprint(fingerprint: string): Promise<AlertFingerprint | null>;
  /** The rows of those fingerprints that exist, in no particular order (one read for many). */
  getFingerprints(fingerprints: string[]): Promise<AlertFingerprint[]>;
  claimFingerprint(fingerprint: string, incidentId: string, at: Date, replaceIf: { incidentIdIn: string[] | null }): Promise<boolean>;
  /**
   * Repeats of open episodes applied together, all in one transaction (one commit for a batch):
   * for each join, those of `alertIds` still pending are marked processed into `incidentId`, the
   * incident's alert count grows by their number, and the fingerprint's count and last seen (never
   * moved backwards) follow, and the join's job is enqueued. Returns, per join, the ids applied: an alert already processed is
   * skipped, so a batch run again counts nothing twice. All or nothing: a join whose incident is
   * gone throws `incident.not_found` and none is applied.
   */
  joinAlerts(joins: AlertJoin[]): Promise<string[][]>;
  /**
   * The alert that opened an episode, counted into its incident exactly once: in one transaction,
   * while it is still pending, it is marked processed into `incidentId` and the incident's alert
   * count grows by one. False (nothing changed) when it was already processed: a concurrent worker
   * (one that stalled past its lease, or the retry that took its job over) counted it first.
   */
  countOpeningAlert(alertId: string, incidentId: string): Promise<boolean>;
}

/** The store's jobs: a durable queue claimed by exactly one worker. */
export interface JobStore {
  /**
   * Enqueue; with a `key`, a second enqueue of the same key is ignored (returns false). With
   * `claim`, the row is written already claimed by that worker until `until` (first attempt
   * counted), as `claimJobs` would leave it: the caller runs it at once, and if it dies the job is
   * taken over when the lease expires, like any claimed job.
   */
  enqueueJob(job: NewJob, claim?: { worker: string; until: Date }): Promise<boolean>;
  /**
   * Claim up to `limit` due jobs of the given kinds for `leaseMs`: queued jobs whose runAfter has
   * come, and running jobs whose lease expired (their worker died; the job resumes). Each claim
   * counts one attempt. Limit: a job that kills its worker every time is re-claimed forever; only
   * `failJob` moves a job to 'dead'.
   */
  claimJobs(kinds: string[], worker: string, limit: number, now: Date, leaseMs: number): Promise<Job[]>;
  /** No-op unless `worker` still holds the claim (a taken-over lease cannot be completed). */
  completeJob(id: string, worker: string): Promise<void>;
  /** `completeJob` for many jobs in one statement (a batch run together). */
  completeJobs(ids: string[], worker: string): Promise<void>;
  /** Heartbeat: push the lease of jobs this worker still runs to `until`; returns how many it holds. */
  extendJobLeases(ids: string[], worker: string, until: Date): Promise<number>;
  /** Requeue at `retryAt`, or mark 'dead' when `retryAt` is null. No-op unless `worker` holds the claim. */
  failJob(id: string, worker: string, error: string, retryAt: Date | null): Promise<void>;
  /**
   * Start-up on a single-process store: end the leases of running jobs claimed by workers whose id
   * starts with `workerPrefix`, except `keep` (this process), as if they had run out at `now`. The
   * attempt those claims counted stays counted (a job that kills its process still runs out of tries).
   */
  expireLeases(workerPrefix: string, keep: string, now: Date): Promise<number>;
  /** Give back claimed jobs (graceful shutdown): due again at once, and the claim's attempt is not counted. */
  releaseJobs(worker: string): Promise<number>;
  countJobs(filter: { kind?: string; state?: JobState }): Promise<number>;
}

/** The store's key/value for small cached state (summaries, backend metadata). */
export interface KvStore {
  getKv<T = unknown>(key: string): Promise<T | undefined>;
  setKv<T>(key: string, value: T): Promise<void>;
}

export interface IncidentFilter {
  statuses?: IncidentStatus[];
  severities?: Severity[];
  /** Any of these services among the incident's. */
  services?: string[];
  /** Declared at or after. */
  since?: Date;
  /** Case-insensitive substring of the title or description. */
  text?: string;
  /** Only incidents numbered below this (paging). */
  beforeSeq?: number;
  limit: number;
}

/**
 * The store: the one durable memory of the bot. Two adapters implement it over one schema:
 * SQLite (embedded default; one process only) and PostgreSQL (several replicas).
 *
 * Concurrency contract, relied on by the declare flow, the approval gate and the job queue:
 * - `insertIfAbsent`-style methods return whether *this* call inserted the row.
 * - `compareAndSet`-style methods change a row only when it is in the expected state and return
 *   the new row, or null when another writer got there first. Of many concurrent callers, across
 *   processes sharing one PostgreSQL, exactly one wins.
 * - `claimJobs` hands a job to exactly one worker at a time (SKIP LOCKED on PostgreSQL).
 */
export interface Store
  extends StoreLifecycle,
    IncidentStore,
    RoleStore,
    TimelineStore,
    FlowStore,
    ApprovalStore,
    AuditStore,
    ProcessedStore,
    AlertStore,
    JobStore,
    KvStore,
    InsightsStore,
    FollowThroughStore,
    RunbookStore {}
