import type { ActionDefinition, ExecutorSpec } from '../domain/actions.js';
import type { Incident } from '../domain/incident.js';
import type { Approval } from '../domain/records.js';

/** Everything an executor may use: the stored approval (never the click payload) and who decided. */
export interface ExecutionContext {
  approval: Approval;
  action: ActionDefinition;
  incident: Incident;
  /** Distinct approvers, in vote order (one, or several under a two-person rule). */
  approvedBy: string[];
  approvedAt: Date;
}

/** A finished run: `summary` is the one line shown in Slack; `detail` goes to the store and audit. */
export interface ExecutionResult {
  summary: string;
  detail: Record<string, unknown>;
  /** False when nothing ran (no executor configured): the decision alone was recorded. */
  executed?: boolean;
}

/**
 * The action did not run, or ran and reported failure. `message` is shown to people in the
 * channel, so it never carries a secret; `detail` is recorded with the approval.
 */
export class ExecutorError extends Error {
  readonly detail: Record<string, unknown>;
  constructor(message: string, detail: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ExecutorError';
    this.detail = detail;
  }
}

/** The result of an action with no executor: nothing ran, a person carries it out by hand. */
export const NOT_EXECUTED: ExecutionResult = { summary: 'no executor configured, do it by hand', detail: {}, executed: false };

/**
 * Runs an approved action (webhook, Rootly workflow, dry run, or nothing). The approval service
 * calls it once per claimed approval; it throws `ExecutorError` when the action did not succeed, and
 * anything else thrown is also treated as a failure (never as done).
 */
export interface ActionExecutor {
  run(spec: ExecutorSpec, ctx: ExecutionContext): Promise<ExecutionResult>;
}
