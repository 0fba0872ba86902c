import { backendLabel, type Incident, type IncidentStatus } from './incident.js';
import type { Severity } from './severity.js';
import type { ApproverSnapshot } from './approval-policy.js';

/**
 * The records the bot keeps beside `Incident`: timeline entries, approvals and their votes, audit
 * entries, stored alerts, jobs. Plain data; the store port (ports/store.ts) reads and writes them.
 */
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
    | 'private'
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

/** `runbook`: a step of a runbook that started automatically (a team-written declaration, no person yet). */
export type ProposerKind = 'user' | 'claude' | 'agent' | 'runbook';

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

/**
 * Why Firebreak itself withdrew a pending approval (status `denied`, kept in `result`, which a
 * denied approval does not otherwise use): the runbook run whose step proposed it was cancelled,
 * or its incident was resolved or cancelled (nothing is approved in a closed incident). `by` is
 * who cancelled the run or closed the incident (`system`, or a backend name, when no person did).
 * The action never runs, and reopening the incident does not bring the approval back.
 */
export type ApprovalWithdrawal =
  | { because: 'runbook_cancelled'; runId: string; runbook: string; by: string }
  | { because: 'incident_closed'; status: 'resolved' | 'cancelled'; by: string };

export function withdrawalOf(a: Pick<Approval, 'status' | 'result'>): ApprovalWithdrawal | null {
  if (a.status !== 'denied' || !a.result || typeof a.result !== 'object') return null;
  const w = (a.result as { withdrawn?: Record<string, unknown> }).withdrawn;
  if (!w || typeof w.by !== 'string') return null;
  if (w.because === 'runbook_cancelled' && typeof w.runId === 'string')
    return { because: w.because, runId: w.runId, runbook: typeof w.runbook === 'string' ? w.runbook : w.runId, by: w.by };
  if (w.because === 'incident_closed' && (w.status === 'resolved' || w.status === 'cancelled')) return { because: w.because, status: w.status, by: w.by };
  return null;
}

/** Why a withdrawn approval was withdrawn, as a clause: "the runbook “X” was cancelled by <@U1>". */
export function withdrawalReason(w: ApprovalWithdrawal, user: (id: string) => string, esc: (s: string) => string): string {
  // A backend is named by its display name, also in withdrawals stored before there was one ("rootly").
  const by = w.by === 'system' ? '' : ` by ${/^[UW][A-Z0-9]+$/.test(w.by) ? user(w.by) : esc(backendLabel(w.by))}`;
  return w.because === 'runbook_cancelled' ? `the runbook “${esc(w.runbook)}” was cancelled${by}` : `the incident was ${w.status}${by}`;
}

export type ApprovalPatch = Partial<Pick<Approval, 'messageTs' | 'channelId' | 'decidedBy' | 'decidedAt' | 'denyReason' | 'result' | 'error'>>;

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
