import type { BackendIncidentRecord, IncidentFacts } from '../domain/insights.js';
import type { FeedbackAnswer } from '../domain/runbook-run.js';

/** yes = it was needed, no = it was not (a false positive), unsure. */
export type RemediationVerdict = FeedbackAnswer;

/**
 * "Was this remediation needed?": one answer per executed remediation (one approval of the gate),
 * wherever it was asked. The one record the false-positive rate is computed from.
 */
export interface RemediationAnswer {
  approvalId: string;
  incidentId: string;
  actionId: string;
  /** The runbook run and step when the remediation was a runbook step; null otherwise. */
  runId: string | null;
  stepIndex: number | null;
  answer: RemediationVerdict;
  answeredBy: string;
  answeredAt: Date;
}

/**
 * The store's insights area: the backend's incident history (synced), the "was this remediation
 * needed?" answers, and the facts the figures are computed from. Implemented by both dialects.
 */
export interface InsightsStore {
  /** Insert or update by (backend, backendId); returns how many rows were written. Idempotent. */
  upsertBackendIncidents(backend: string, rows: BackendIncidentRecord[], syncedAt: Date): Promise<number>;
  countBackendIncidents(backend: string): Promise<{ rows: number; distinct: number }>;
  /**
   * One fact record per incident started in [from, to): the store's own incidents (timeline,
   * approvals, answers) merged with the backend's history (its timestamps and post-mortem state
   * win), plus incidents only the backend knows (declared in its UI).
   */
  listIncidentFacts(range: { from: Date; to: Date }): Promise<IncidentFacts[]>;
  /**
   * The answer for one executed remediation, from any surface (the runbook's post-resolve
   * question, ...); keyed by the approval: a later answer replaces an earlier one.
   */
  recordRemediationAnswer(a: RemediationAnswer): Promise<void>;
  /** The answers about one incident's remediations, oldest first. */
  listRemediationAnswers(filter: { incidentId: string }): Promise<RemediationAnswer[]>;
}
