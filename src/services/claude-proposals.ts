import { actionJsonSchema, validateParams } from '../domain/approval-policy.js';
import type { ActionSpecForModel } from '../ports/summarizer.js';
import { AppError } from '../errors.js';
import type { Deps } from './deps.js';
import { proposeAction } from './approvals.js';
import { buildSummaryContext } from './summaries.js';
import { defineJob } from './jobs.js';
import { z } from 'zod';

/** The configured registry as tools for Claude: JSON Schema for the model, our zod check for its answer. */
export function actionSpecs(deps: Deps): ActionSpecForModel[] {
  return deps.config.actions.map((a) => ({
    id: a.id,
    title: a.title,
    description: a.description,
    inputSchema: actionJsonSchema(a),
    validate: (input: unknown) => {
      if (typeof input !== 'object' || input === null || Array.isArray(input)) return { ok: false as const, error: 'parameters must be an object' };
      const r = validateParams(a, input as Record<string, unknown>);
      return r.ok ? { ok: true as const, value: r.value } : { ok: false as const, error: r.problems.join('; ') };
    },
  }));
}

/** Claude's action proposals run as their own job after a brief or summary (never on the ack path). */
export const claudeProposeJob = defineJob({
  kind: 'claude.propose',
  payload: z.object({ incidentId: z.string().min(1) }),
  run: async (deps, p) => {
    await proposeFromClaude(deps, p.incidentId);
  },
});

export const claudeProposalJobs = [claudeProposeJob];

/**
 * Ask Claude what remediation it would propose, and turn each valid proposal into an approval
 * request marked "proposed by Claude". Claude's output is data: unknown actions and invalid
 * parameters are dropped and logged, and nothing it proposes runs without a person's Approve
 * (the approval service requires a human decision for every machine proposal, read-only or not).
 */
export async function proposeFromClaude(deps: Deps, incidentId: string): Promise<number> {
  const ctx = await buildSummaryContext(deps, incidentId);
  if (!ctx.incident.channelId || ctx.incident.status === 'resolved' || ctx.incident.status === 'cancelled') return 0;
  const result = await deps.summarizer.proposeActions(ctx, actionSpecs(deps));
  for (const r of result.rejected)
    deps.logger.warn({ incidentId, reason: r.reason, raw: r.raw, requestId: result.requestId }, 'dropped an invalid action proposal from Claude');
  let made = 0;
  for (const p of result.proposals) {
    try {
      await proposeAction(deps, { incidentId, actionId: p.actionId, rawParams: p.params, reason: p.rationale, proposedBy: 'claude', proposerKind: 'claude' });
      made++;
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      deps.logger.warn({ incidentId, code: err.code, reason: err.message, actionId: p.actionId }, 'dropped an action proposal from Claude');
    }
  }
  return made;
}
