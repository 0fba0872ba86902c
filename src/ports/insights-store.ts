import type { BackendIncidentRecord, IncidentFacts } from '../domain/insights.js';

export type RemediationAnswer = 'yes' | 'no' | 'unsure';

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
  /** The answer for one executed remediation; a later answer replaces an earlier one. */
  recordRemediationAnswer(a: { approvalId: string; answer: RemediationAnswer; answeredBy: string; at: Date }): Promise<void>;
}
