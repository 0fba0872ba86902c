import type { Incident, IncidentStatus } from '../domain/incident.js';
import type { Severity } from '../domain/severity.js';
import type { FollowThroughStore } from './followthrough-store.js';
import type { ApproverSnapshot } from '../domain/approval-policy.js';

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
export interface Store extends FollowThroughStore {
  readonly dialect: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;

  // -- incidents --------------------------------------------------------------------------
  /**
   * Create an incident. `dedupeKey` (e.g. the Slack view id, a backend's incident id, an alert
   * fingerprint episode) makes the call idempotent: a second call with the same key returns the
   * existing incident and `created: false`.
   */
  createIncident(input: NewIncident): Promise<{ incident: Incident; created: boolean }>;
  getIncident(id: string): Promise<Incident | null>;
  findIncidentByChannel(channelId: string): Promise<Incident | null>;
  findIncidentByBackendId(backend: string, backendId: string): Promise<Incident | null>;
  findIncidentByDedupeKey(key: string): Promise<Incident | null>;
  listOpenIncidents(): Promise<Incident[]>;
  /**
   * Patch an incident. With `expectedVersion`, only applies if the version matches (returns null
   * otherwise); with `expectedStatus`, only if the status matches. Bumps `version` and `updatedAt`.
   */
  updateIncident(
    id: string,
    patch: IncidentPatch,
    guard?: { expectedVersion?: number; expectedStatus?: IncidentStatus },
  ): Promise<Incident | null>;
  /** Atomically add `n` to alert_count; returns the new count. */
  bumpAlertCount(id: string, n: number): Promise<number>;

  // -- roles --------------------------------------------------------------------------------
  setRole(incidentId: string, role: string, userId: string): Promise<void>;
  getRoles(incidentId: string): Promise<Record<string, string>>;

  // -- timeline -------------------------------------------------------------------------------
  /** Returns false when an entry with the same (incidentId, sourceRef) already exists. */
  addTimeline(entry: NewTimelineEntry): Promise<boolean>;
  listTimeline(incidentId: string): Promise<TimelineEntry[]>;

  // -- flows: resumable, step-by-step side effects -------------------------------------------
  /**
   * The recorded result of a step, or undefined when the step has not completed. Results are
   * stored as JSON: a step recorded with `undefined` reads back as `null`; Dates come back as strings.
   */
  getStep<T = unknown>(flowId: string, step: string): Promise<T | undefined>;
  /** Record a step's result; the first writer wins and its result is returned. */
  putStep<T>(flowId: string, step: string, result: T): Promise<T>;
  listSteps(flowId: string): Promise<Record<string, unknown>>;

  // -- approvals -------------------------------------------------------------------------------
  createApproval(input: NewApproval): Promise<Approval>;
  getApproval(id: string): Promise<Approval | null>;
  listApprovals(filter: { incidentId?: string; status?: ApprovalStatus[] }): Promise<Approval[]>;
  /** Compare-and-set on status; returns the updated row or null if it was not in `from`. */
  transitionApproval(
    id: string,
    from: ApprovalStatus[],
    to: ApprovalStatus,
    patch?: ApprovalPatch,
  ): Promise<Approval | null>;
  /** Patch fields that are not the status (message ts, result); no state check. */
  patchApproval(id: string, patch: ApprovalPatch): Promise<Approval | null>;
  /** Record one person's vote; false if this user already voted on this approval. */
  addVote(vote: ApprovalVote): Promise<boolean>;
  listVotes(approvalId: string): Promise<ApprovalVote[]>;

  // -- audit (append-only) ---------------------------------------------------------------------
  audit(entry: NewAuditEntry): Promise<void>;
  /** Entries in append order (oldest first); with `limit`, the newest `limit` entries, still oldest first. */
  listAudit(filter: { incidentId?: string; approvalId?: string; limit?: number }): Promise<AuditEntry[]>;

  // -- idempotency -------------------------------------------------------------------------------
  /** Insert-if-absent of a processed key (Slack event id, webhook event id). True = first time. */
  markProcessed(key: string, at: Date): Promise<boolean>;
  /** Forget keys older than `before` (the replay windows are minutes; keep a day). */
  pruneProcessed(before: Date): Promise<number>;
  /** Delete finished (`done`) jobs last touched before `before`; dead jobs stay for a person to see. */
  pruneJobs(before: Date): Promise<number>;

  // -- alerts ------------------------------------------------------------------------------------
  /** Durably store an alert; with the same (source, deliveryId) it is stored once. */
  insertAlert(alert: NewAlert): Promise<{ alert: StoredAlert; inserted: boolean }>;
  getAlert(id: string): Promise<StoredAlert | null>;
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
  claimFingerprint(
    fingerprint: string,
    incidentId: string,
    at: Date,
    replaceIf: { incidentIdIn: string[] | null },
  ): Promise<boolean>;
  touchFingerprint(fingerprint: string, at: Date): Promise<AlertFingerprint | null>;

  // -- jobs: a durable queue claimed by exactly one worker -------------------------------------------
  /** Enqueue; with a `key`, a second enqueue of the same key is ignored (returns false). */
  enqueueJob(job: NewJob): Promise<boolean>;
  /**
   * Claim up to `limit` due jobs of the given kinds for `leaseMs`: queued jobs whose runAfter has
   * come, and running jobs whose lease expired (their worker died; the job resumes). Each claim
   * counts one attempt. Limit: a job that kills its worker every time is re-claimed forever; only
   * `failJob` moves a job to 'dead'.
   */
  claimJobs(kinds: string[], worker: string, limit: number, now: Date, leaseMs: number): Promise<Job[]>;
  /** No-op unless `worker` still holds the claim (a taken-over lease cannot be completed). */
  completeJob(id: string, worker: string): Promise<void>;
  /** Heartbeat: push the lease of jobs this worker still runs to `until`; returns how many it holds. */
  extendJobLeases(ids: string[], worker: string, until: Date): Promise<number>;
  /** Requeue at `retryAt`, or mark 'dead' when `retryAt` is null. No-op unless `worker` holds the claim. */
  failJob(id: string, worker: string, error: string, retryAt: Date | null): Promise<void>;
  /** Give back claimed jobs (graceful shutdown): due again at once, and the claim's attempt is not counted. */
  releaseJobs(worker: string): Promise<number>;
  countJobs(filter: { kind?: string; state?: JobState }): Promise<number>;

  // -- key/value for small cached state (summaries, backend metadata) ----------------------------
  getKv<T = unknown>(key: string): Promise<T | undefined>;
  setKv<T>(key: string, value: T): Promise<void>;
}

export interface NewIncident {
  id: string;
  title: string;
  description: string;
  severity: Severity;
  status?: IncidentStatus;
  services: string[];
  private: boolean;
  origin: Incident['origin'];
  source?: string | null;
  declaredBy: string | null;
  commanderId: string | null;
  backend: string;
  backendId?: string | null;
  backendUrl?: string | null;
  dedupeKey?: string | null;
  createdAt: Date;
}

export type IncidentPatch = Partial<
  Pick<
    Incident,
    | 'title'
    | 'description'
    | 'severity'
    | 'status'
    | 'services'
    | 'commanderId'
    | 'backendId'
    | 'backendUrl'
    | 'channelId'
    | 'channelName'
    | 'cardTs'
    | 'announceTs'
    | 'resolvedAt'
  >
> & { updatedAt: Date };

export interface NewTimelineEntry {
  incidentId: string;
  at: Date;
  kind: string; // declared | update | status | severity | role | pin | action | alert | note | postmortem
  text: string;
  author: string | null;
  /** Idempotency reference, e.g. `pin:<channel>:<ts>`; null for none. */
  sourceRef?: string | null;
}

export interface TimelineEntry extends NewTimelineEntry {
  id: number;
  sourceRef: string | null;
}

export type ApprovalStatus =
  | 'pending'
  | 'approved' // decided, execution not yet started
  | 'executing'
  | 'succeeded'
  | 'failed'
  | 'denied'
  | 'expired'
  | 'unknown'; // decided, process died mid-execution: a human must check

export type ProposerKind = 'user' | 'claude' | 'agent';

export interface NewApproval {
  id: string;
  incidentId: string;
  actionId: string;
  params: Record<string, unknown>;
  reason: string;
  proposedBy: string;
  proposerKind: ProposerKind;
  /** Snapshot of the policy at proposal time, so a config change does not alter a pending decision. */
  policy: unknown;
  /**
   * Who may approve, fixed when proposed: the holders of the policy's roles at that moment, the
   * users it names and the members of its user groups then. A later role change grants nothing
   * for this proposal. Null only on approvals stored before this was recorded (migration 002).
   */
  approvers: ApproverSnapshot | null;
  requiresApproval: boolean;
  createdAt: Date;
  expiresAt: Date;
  channelId: string | null;
}

export type { ApproverSnapshot };

export interface Approval extends NewApproval {
  status: ApprovalStatus;
  messageTs: string | null;
  decidedBy: string | null;
  decidedAt: Date | null;
  denyReason: string | null;
  result: unknown;
  error: string | null;
  updatedAt: Date;
}

export type ApprovalPatch = Partial<
  Pick<Approval, 'messageTs' | 'channelId' | 'decidedBy' | 'decidedAt' | 'denyReason' | 'result' | 'error'>
>;

export interface ApprovalVote {
  approvalId: string;
  userId: string;
  at: Date;
}

export interface NewAuditEntry {
  at: Date;
  incidentId: string | null;
  approvalId?: string | null;
  actor: string; // Slack user id, "claude", "system", "rootly", an agent name
  action: string; // dotted, e.g. incident.declared, approval.approved, approval.refused
  detail?: Record<string, unknown>;
}

export interface AuditEntry extends NewAuditEntry {
  id: number;
  approvalId: string | null;
  detail: Record<string, unknown>;
}

export interface NewAlert {
  id: string;
  source: string;
  /** The source's delivery id (PagerDuty event id, ...) for replay protection; may be null. */
  deliveryId: string | null;
  fingerprint: string;
  externalId: string | null;
  title: string;
  service: string | null;
  severity: Severity;
  status: 'firing' | 'resolved';
  url: string | null;
  raw: unknown;
  receivedAt: Date;
}

export interface StoredAlert extends NewAlert {
  state: 'pending' | 'processed' | 'failed';
  incidentId: string | null;
  error: string | null;
}

export interface AlertFingerprint {
  fingerprint: string;
  incidentId: string;
  firstSeen: Date;
  lastSeen: Date;
  count: number;
}

export type JobState = 'queued' | 'running' | 'done' | 'dead';

export interface NewJob {
  id: string;
  kind: string;
  key?: string | null;
  payload: unknown;
  runAfter: Date;
}

export interface Job {
  id: string;
  kind: string;
  key: string | null;
  payload: unknown;
  state: JobState;
  attempts: number;
  runAfter: Date;
  lastError: string | null;
}
