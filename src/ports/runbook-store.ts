import type { RunStatus, StepStatus } from '../domain/runbook-run.js';
import type { Runbook } from '../domain/runbook.js';

/**
 * The runbook part of the store: runs and their steps. (The answers to the post-resolve "was it
 * needed?" question are remediation answers, in the insights area: one record for every surface.)
 * Same concurrency contract as the rest of the store: `transition*` methods are compare-and-set
 * (the row changes only from an expected status; null when another writer won).
 */
export interface RunbookStore {
  /** With the same `dedupeKey` (an automatic start per incident and runbook), the run is created once. */
  createRunbookRun(run: NewRunbookRun): Promise<{ run: RunbookRun; created: boolean }>;
  getRunbookRun(id: string): Promise<RunbookRun | null>;
  listRunbookRuns(filter: { incidentId: string }): Promise<RunbookRun[]>;
  transitionRunbookRun(id: string, from: RunStatus[], to: RunStatus, patch?: RunbookRunPatch): Promise<RunbookRun | null>;
  patchRunbookRun(id: string, patch: RunbookRunPatch): Promise<RunbookRun | null>;

  listRunbookSteps(runId: string): Promise<RunbookStepRecord[]>;
  getRunbookStep(runId: string, index: number): Promise<RunbookStepRecord | null>;
  /** Compare-and-set on status (and on `attempt` when given). */
  transitionRunbookStep(
    runId: string,
    index: number,
    from: StepStatus[],
    to: StepStatus,
    patch?: RunbookStepPatch,
    guard?: { attempt?: number },
  ): Promise<RunbookStepRecord | null>;
  findRunbookStepByApproval(approvalId: string): Promise<RunbookStepRecord | null>;
}

export interface NewRunbookRun {
  id: string;
  incidentId: string;
  runbookId: string;
  /** The runbook as it was when the run started: a config change never alters a running run. */
  runbook: Runbook;
  /** A Slack user id, `auto` for an automatic start, or `agent:<name>` (domain/runbook-run.ts runStarter). */
  startedBy: string;
  channelId: string;
  dedupeKey: string | null;
  createdAt: Date;
}

export interface RunbookRun extends Omit<NewRunbookRun, 'dedupeKey'> {
  dedupeKey: string | null;
  status: RunStatus;
  messageTs: string | null;
  finishedAt: Date | null;
  cancelledBy: string | null;
  /** When the post-resolve feedback question was added to the message. */
  feedbackAskedAt: Date | null;
  updatedAt: Date;
}

export type RunbookRunPatch = Partial<Pick<RunbookRun, 'messageTs' | 'finishedAt' | 'cancelledBy' | 'feedbackAskedAt'>>;

export interface RunbookStepRecord {
  runId: string;
  index: number;
  stepId: string;
  status: StepStatus;
  /** Bumped by a retry; the step job for an older attempt does nothing. */
  attempt: number;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** Captured output (capped), shown in the thread and given to a diagnose step. */
  output: string | null;
  /** HTTP status, exit code, approval status, confidence: small facts about the outcome. */
  detail: Record<string, unknown>;
  error: string | null;
  approvalId: string | null;
  /** Who confirmed, skipped or retried it, and when (checks). */
  actor: string | null;
  actedAt: Date | null;
  updatedAt: Date;
}

export type RunbookStepPatch = Partial<
  Pick<RunbookStepRecord, 'attempt' | 'startedAt' | 'finishedAt' | 'output' | 'detail' | 'error' | 'approvalId' | 'actor' | 'actedAt'>
>;
