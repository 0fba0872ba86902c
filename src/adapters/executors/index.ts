import type { ExecutorSpec } from '../../domain/actions.js';
import type { IncidentBackend } from '../../ports/backend.js';
import { ExecutorError, NOT_EXECUTED, type ActionExecutor, type ExecutionContext, type ExecutionResult } from '../../ports/executor.js';
import { runWebhook, webhookBody, type WebhookOptions } from './webhook.js';

export { runWebhook, signWebhook, webhookBody, SIGNATURE_HEADER, TIMESTAMP_HEADER, type WebhookOptions } from './webhook.js';

export interface ExecutorOptions {
  backend: IncidentBackend;
  /** `env` holds the secrets `secret_env` names (the configuration captured them at start). */
  webhook?: WebhookOptions;
}

/** The `ActionExecutor` port over the configured executor kinds. */
export function createActionExecutor(opts: ExecutorOptions): ActionExecutor {
  return { run: (spec, ctx) => runExecutor(spec, ctx, opts.backend, opts.webhook) };
}

/**
 * Run an approved action through its executor. Throws `ExecutorError` when the action did not
 * succeed; anything else thrown is also treated as a failure by the caller (never as done).
 */
async function runExecutor(spec: ExecutorSpec, ctx: ExecutionContext, backend: IncidentBackend, webhook: WebhookOptions | undefined): Promise<ExecutionResult> {
  switch (spec.type) {
    case 'none':
      // Recording the decision is the whole job: teams act by hand, with the approval as consent.
      return NOT_EXECUTED;
    case 'dry_run':
      return dryRun(spec.would, ctx);
    case 'webhook':
      return runWebhook(spec, ctx, webhook);
    case 'rootly_workflow': {
      const backendId = ctx.incident.backendId;
      if (!backendId) throw new ExecutorError('the incident has no backend record yet, so the workflow cannot be run for it');
      try {
        const run = await backend.runWorkflow({ firebreakId: ctx.incident.id, backendId }, spec.workflow_id, {
          action: ctx.approval.actionId,
          params: ctx.approval.params,
          approval_id: ctx.approval.id,
          approved_by: ctx.approvedBy,
        });
        return { summary: `Rootly workflow run ${run.runId} ${run.status}`, detail: { runId: run.runId, status: run.status } };
      } catch (err) {
        throw new ExecutorError(`Rootly refused the workflow run: ${(err as Error).message}`, { code: (err as { code?: string }).code ?? null });
      }
    }
  }
}

/** The sandbox's stand-in for a configured executor: nothing leaves the process; the result says what would have. */
function dryRun(would: Exclude<ExecutorSpec, { type: 'dry_run' }>, ctx: ExecutionContext): ExecutionResult {
  switch (would.type) {
    case 'none':
      return NOT_EXECUTED;
    case 'webhook': {
      const body = webhookBody(ctx);
      return {
        summary: `not sent (sandbox): would have POSTed to ${would.url}, signed with ${would.secret_env}: ${body}`,
        detail: { dryRun: true, url: would.url, secretEnv: would.secret_env, body: JSON.parse(body) as unknown },
        executed: false,
      };
    }
    case 'rootly_workflow':
      return {
        summary: `not sent (sandbox): would have run Rootly workflow ${would.workflow_id} with ${JSON.stringify({ action: ctx.approval.actionId, params: ctx.approval.params, approval_id: ctx.approval.id })}`,
        detail: { dryRun: true, workflowId: would.workflow_id },
        executed: false,
      };
  }
}
