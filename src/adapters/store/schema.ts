import type { Generated } from 'kysely';

/**
 * Row types of the one schema both dialects share (see migrations.ts for the DDL).
 *
 * Storage conventions, identical on SQLite and PostgreSQL so one query builder serves both:
 * - timestamps are epoch milliseconds (`bigint`); the pg pool parses int8 to a JS number
 *   (exact up to year 287396, far past anything we store);
 * - JSON is stored as text (JSON.stringify / JSON.parse in the adapter), not jsonb: we never
 *   query inside it, and one mapping for both dialects avoids two code paths;
 * - booleans are integers 0/1.
 */
export interface Database {
  incidents: IncidentsTable;
  incident_roles: IncidentRolesTable;
  timeline: TimelineTable;
  flow_steps: FlowStepsTable;
  approvals: ApprovalsTable;
  approval_votes: ApprovalVotesTable;
  audit_log: AuditLogTable;
  processed_keys: ProcessedKeysTable;
  alerts: AlertsTable;
  alert_fingerprints: AlertFingerprintsTable;
  jobs: JobsTable;
  kv: KvTable;
  runbook_runs: RunbookRunsTable;
  runbook_steps: RunbookStepsTable;
  backend_incidents: BackendIncidentsTable;
  remediation_answers: RemediationAnswersTable;
  pages: PagesTable;
  followups: FollowupsTable;
  firebreak_migrations: MigrationsTable;
}

export interface IncidentsTable {
  id: string;
  seq: number;
  title: string;
  description: string;
  severity: string;
  status: string;
  services: string; // JSON array of strings
  private: number;
  origin: string;
  source: string | null;
  declared_by: string | null;
  commander_id: string | null;
  backend: string;
  backend_id: string | null;
  backend_url: string | null;
  channel_id: string | null;
  channel_name: string | null;
  card_ts: string | null;
  announce_ts: string | null;
  alert_count: number;
  created_at: number;
  updated_at: number;
  resolved_at: number | null;
  version: number;
  dedupe_key: string | null;
}

export interface IncidentRolesTable {
  incident_id: string;
  role: string;
  user_id: string;
}

export interface TimelineTable {
  id: Generated<number>;
  incident_id: string;
  at: number;
  kind: string;
  text: string;
  author: string | null;
  source_ref: string | null;
}

export interface FlowStepsTable {
  flow_id: string;
  step: string;
  result: string; // JSON
  at: number;
}

export interface ApprovalsTable {
  id: string;
  incident_id: string;
  action_id: string;
  params: string; // JSON object
  reason: string;
  proposed_by: string;
  proposer_kind: string;
  policy: string; // JSON
  /** Who may approve, resolved at proposal time (JSON `ApproverSnapshot`); null on rows from before migration 002. */
  approvers: string | null;
  requires_approval: number;
  created_at: number;
  expires_at: number;
  channel_id: string | null;
  status: string;
  message_ts: string | null;
  decided_by: string | null;
  decided_at: number | null;
  deny_reason: string | null;
  result: string | null; // JSON
  error: string | null;
  updated_at: number;
}

export interface ApprovalVotesTable {
  approval_id: string;
  user_id: string;
  at: number;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: number;
  incident_id: string | null;
  approval_id: string | null;
  actor: string;
  action: string;
  detail: string; // JSON object
}

export interface ProcessedKeysTable {
  key: string;
  at: number;
}

export interface AlertsTable {
  id: string;
  source: string;
  delivery_id: string | null;
  fingerprint: string;
  external_id: string | null;
  title: string;
  service: string | null;
  severity: string;
  status: string;
  url: string | null;
  raw: string; // JSON
  received_at: number;
  state: string;
  incident_id: string | null;
  error: string | null;
}

export interface AlertFingerprintsTable {
  fingerprint: string;
  incident_id: string;
  first_seen: number;
  last_seen: number;
  count: number;
}

export interface JobsTable {
  id: string;
  kind: string;
  key: string | null;
  payload: string; // JSON
  state: string;
  attempts: number;
  run_after: number;
  claimed_by: string | null;
  claimed_until: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface KvTable {
  key: string;
  value: string; // JSON
  updated_at: number;
}

export interface MigrationsTable {
  name: string;
  applied_at: number;
}

export interface RunbookRunsTable {
  id: string;
  incident_id: string;
  runbook_id: string;
  runbook: string; // JSON snapshot of the runbook at start
  started_by: string;
  channel_id: string;
  dedupe_key: string | null;
  status: string;
  message_ts: string | null;
  created_at: number;
  finished_at: number | null;
  cancelled_by: string | null;
  feedback_asked_at: number | null;
  updated_at: number;
}

export interface RunbookStepsTable {
  run_id: string;
  idx: number;
  step_id: string;
  status: string;
  attempt: number;
  started_at: number | null;
  finished_at: number | null;
  output: string | null;
  detail: string; // JSON object
  error: string | null;
  approval_id: string | null;
  actor: string | null;
  acted_at: number | null;
  updated_at: number;
}

/** Migration 002: the backend's incident history, for insights. */
export interface BackendIncidentsTable {
  backend: string;
  backend_id: string;
  firebreak_id: string | null;
  title: string;
  severity: string | null;
  status: string;
  services: string; // JSON array of strings
  origin: string;
  url: string | null;
  started_at: number;
  acknowledged_at: number | null;
  mitigated_at: number | null;
  resolved_at: number | null;
  postmortem: string;
  updated_at: number;
  synced_at: number;
}

/** One answer per executed remediation (approval), from every surface that asks (migration 006). */
export interface RemediationAnswersTable {
  approval_id: string;
  /** Null only on an answer from before 006 whose approval no longer existed when it was merged. */
  incident_id: string | null;
  action_id: string | null;
  /** The runbook run and step, when the remediation was a runbook step. */
  run_id: string | null;
  step_index: number | null;
  answer: string; // yes | no | unsure
  answered_by: string;
  answered_at: number;
}

export interface PagesTable {
  incident_id: string;
  target_key: string;
  target_name: string;
  message: string;
  paged_by: string;
  state: string;
  external_id: string | null;
  error: string | null;
  created_at: number;
  sent_at: number | null;
  acked_at: number | null;
  /** A Slack user id the bot resolved (migration 010). */
  acked_by_user: string | null;
  /** The name the paging source gave: text, never a mention. */
  acked_by_name: string | null;
}

export interface FollowupsTable {
  id: string;
  incident_id: string;
  text: string;
  owner_id: string | null;
  due: string | null;
  source: string;
  source_ref: string | null;
  created_by: string;
  created_at: number;
  state: string;
  backend_id: string | null;
  backend_url: string | null;
}
