import type { IncidentStatus } from '../domain/incident.js';
import type { Severity } from '../domain/severity.js';
import type { BackendIncidentRecord } from '../domain/insights.js';

/**
 * The incident platform the record lives in: Rootly, incident.io, or the bot's own store ("local").
 * Every method is safe to retry: creates are guarded by `firebreakId` (an idempotency key the
 * adapter uses so a retried create after a lost response never makes a second incident).
 *
 * Errors: adapters throw `BackendError` (src/errors.ts) with a code:
 * `backend.validation` (422, carries the refused field), `backend.auth` (401/403),
 * `backend.not_found`, `backend.rate_limited`, `backend.unavailable` (5xx, timeouts after retries).
 */
export interface IncidentBackend {
  readonly name: 'local' | 'rootly' | 'incidentio';
  /** One cheap authenticated call; throws `backend.auth` on a bad key. Used by readiness. */
  verify(): Promise<void>;
  createIncident(input: BackendCreateInput): Promise<BackendIncidentRef>;
  updateIncident(ref: BackendRef, patch: BackendUpdate): Promise<void>;
  transition(ref: BackendRef, to: IncidentStatus, message?: string): Promise<void>;
  assignRole(ref: BackendRef, role: string, user: BackendUser): Promise<void>;
  addTimelineEvent(ref: BackendRef, event: { text: string; at: Date }): Promise<void>;
  /**
   * Save a post-mortem draft. Returns `saved`, or `not_ready` when the backend refuses it for
   * the incident's current state (the caller retries after the resolve), or `unsupported`.
   */
  savePostmortem(ref: BackendRef, markdown: string): Promise<'saved' | 'not_ready' | 'unsupported'>;
  /** Run a backend workflow for the approval gate (Rootly only; others throw `backend.unsupported`). */
  runWorkflow(ref: BackendRef, workflowId: string, context: Record<string, unknown>): Promise<{ runId: string; status: string }>;
  /**
   * Record an alert on the backend (Rootly `POST /v1/alerts`); returns the backend's alert id, or
   * null where unsupported (a no-op).
   */
  recordAlert(alert: BackendAlert): Promise<string | null>;
  /** Mark a recorded alert resolved (Rootly `POST /v1/alerts/{id}/resolve`); a no-op where unsupported. */
  resolveAlert(backendAlertId: string): Promise<void>;
  /** A link a person can open, for the channel bookmark. */
  incidentUrl(ref: BackendRef): string | null;
  /**
   * The incident as the backend has it now (incident.io `GET /v2/incidents/{id}`). Null when the backend has no such
   * incident, or will not show it to this key (incident.io answers a private incident as not found
   * to a key without "View all incident data, including private incidents"). Used where a webhook
   * names only the id, or its own fields cannot be trusted: incident.io's events. Absent where no
   * event needs it (Rootly's webhooks carry the whole incident; the local backend has no events).
   */
  fetchIncident?(backendId: string): Promise<BackendIncidentSnapshot | null>;
  /**
   * Insights: one page of the backend's incidents updated at or after `updatedSince`. `cursor` is
   * null for the first page, else the `next` of the previous page (opaque, saved by the caller so a
   * crashed sync resumes); `next` null = done. Absent on the local backend (the store is the record).
   */
  listIncidentHistory?(req: HistoryPageRequest): Promise<HistoryPage>;
}

export interface HistoryPageRequest {
  updatedSince: Date;
  cursor: string | null;
  pageSize: number;
}

export interface HistoryPage {
  incidents: BackendIncidentRecord[];
  next: string | null;
}

export interface BackendIncidentSnapshot {
  backendId: string;
  title: string | null;
  summary: string | null;
  /** Ours; null when the backend's status has no equivalent. */
  status: IncidentStatus | null;
  severity: Severity | null;
  /**
   * Every one of ours the backend's severity stands for: several when it has fewer severities
   * than ours (incident.io's default Critical, Major, Minor: Minor is our medium and our low), so
   * an incident of ours at any of them reads back unchanged. `severity` is the first.
   */
  severityMatches: Severity[];
  url: string | null;
  private: boolean;
  /** When the backend last changed it (ISO), null when it does not say. */
  updatedAt: string | null;
  /** Not a live incident: recorded after the fact (`retrospective`) or a drill (`test`). Absent: live. */
  notLive?: 'retrospective' | 'test';
}

export interface BackendRef {
  /** Our incident id. */
  firebreakId: string;
  /** The backend's own id (equal to firebreakId for the local backend). */
  backendId: string;
}

export interface BackendIncidentRef {
  backendId: string;
  url: string | null;
}

export interface BackendCreateInput {
  firebreakId: string;
  title: string;
  summary: string;
  severity: Severity;
  private: boolean;
  services: string[];
  commander: BackendUser | null;
  slackChannel?: { id: string; name: string; url: string } | null;
}

export interface BackendUpdate {
  title?: string;
  summary?: string;
  severity?: Severity;
  slackChannel?: { id: string; name: string; url: string };
}

/** A person as the backend must find them: by Slack id or by email. */
export interface BackendUser {
  slackUserId: string;
  email: string | null;
  name: string | null;
}

export interface BackendAlert {
  source: string;
  summary: string;
  externalId: string;
  externalUrl: string | null;
  labels: Record<string, string>;
  data: unknown;
}
