import { z } from 'zod';
import { wasExecuted, type ActionDefinition, type ApprovalPolicy } from '../domain/actions.js';
import {
  canApprove,
  tallyVotes,
  snapshotApprovers,
  type ApproverSnapshot,
  type CanApprove,
  effectivePolicy,
  possibleApprovers,
  expiryFor,
  isExpired,
  parsePolicy,
  validateParams,
} from '../domain/approval-policy.js';
import { backendLabel, incidentLabel, isOpen, type Incident } from '../domain/incident.js';
import { withdrawalOf, withdrawalReason, type ApprovalWithdrawal } from '../domain/records.js';
import { AppError } from '../errors.js';
import { ExecutorError, NOT_EXECUTED, type ExecutionResult } from '../ports/executor.js';
import type { Approval, ApprovalVote, ProposerKind } from '../ports/store.js';
import { approvalMessage, approvalRefusal, describePolicy, escapeMrkdwn } from '../slack/blocks/approval.js';
import { clip, time, user } from '../slack/blocks/common.js';
import { isUserId, Markers } from '../slack/ids.js';
import type { Deps } from './deps.js';
import { backendSyncJob, commandEligibles, groupReader, namedIn, requireIncident } from './lifecycle.js';
import { defineJob, type AnyJob } from './jobs.js';
import { postOnce } from './steps.js';
import { approvalSettledJob, cancelledRunOf } from './runbooks.js';

/**
 * The approval gate. State machine (every arrow is a compare-and-set in the store, so of many
 * concurrent writers across replicas exactly one moves it):
 *
 *   pending ──approve (enough distinct votes)──▶ approved ──job──▶ executing ──▶ succeeded | failed
 *      │                                                               └─(job resumed after a crash)─▶ unknown
 *      ├──deny / withdraw (the proposer; its runbook run cancelled; its incident resolved or cancelled)──▶ denied
 *      └──expiry (job or a late click)──▶ expired
 *
 * Only the click that wins `pending → approved` enqueues the execute job (keyed by the approval id,
 * so it exists once), and only that job moves `approved → executing` and calls the executor. What
 * runs comes from the store (action id, parameters, policy snapshot); a click contributes only the
 * approval id and the signed user id.
 */

const ApprovalPayload = z.object({ approvalId: z.string().min(1) });

/** Runs the approved action; enqueued only by the click that wins `pending → approved`. */
export const approvalExecuteJob = defineJob({
  kind: 'approval.execute',
  payload: ApprovalPayload,
  key: (p) => p.approvalId,
  run: (deps, p) => executeApproval(deps, p.approvalId),
});

/** Posts the approval message (the proposal is recorded first, so a proposer gets an answer at once). */
export const approvalShowJob = defineJob({
  kind: 'approval.show',
  payload: ApprovalPayload,
  key: (p) => p.approvalId,
  run: (deps, p) => showApproval(deps, p.approvalId),
});

/** Expires a pending approval when its window closes. */
export const approvalExpireJob = defineJob({
  kind: 'approval.expire',
  payload: ApprovalPayload,
  key: (p) => p.approvalId,
  run: async (deps, { approvalId }) => {
    const a = await deps.store.getApproval(approvalId);
    if (a?.status !== 'pending') return;
    // Due early (another replica's clock): fail so the runner retries shortly after.
    if (!isExpired(a, deps.clock.now())) throw new Error('approval not yet expired; retrying');
    await expireApproval(deps, approvalId);
  },
});

/**
 * Withdraws the approvals still pending when an incident was resolved or cancelled: nothing is
 * approved in a closed incident. Enqueued by the status change (keyed by the incident's version,
 * so once per change). Only approvals proposed up to that moment are withdrawn, even when the job
 * runs after a quick reopen; a process that stops before the job is enqueued is covered by
 * `approve`, which refuses (and withdraws) when it finds the incident closed.
 */
export const approvalsWithdrawOnCloseJob = defineJob({
  kind: 'approval.withdraw_on_close',
  payload: z.object({ incidentId: z.string().min(1), status: z.enum(['resolved', 'cancelled']), by: z.string().min(1), at: z.iso.datetime() }),
  run: async (deps, p) => {
    await withdrawForClosedIncident(deps, p.incidentId, { status: p.status, by: p.by, before: new Date(p.at) });
  },
});

export const approvalJobs: readonly AnyJob[] = [approvalExecuteJob, approvalShowJob, approvalExpireJob, approvalsWithdrawOnCloseJob];

/**
 * Enqueued once per outcome (succeeded, failed, unknown, denied, expired), for whatever waits on
 * the decision: a runbook step (`approvalSettledJob` lives with the runbook service; for other
 * approvals it is a no-op).
 */
async function announceSettled(deps: Deps, a: Approval): Promise<void> {
  await deps.jobs.enqueue(approvalSettledJob, { approvalId: a.id }, { key: `${a.id}:${a.status}` });
}

const flowId = (approvalId: string) => `approval:${approvalId}`;

export interface ProposeInput {
  incidentId: string;
  actionId: string;
  rawParams: Record<string, unknown>;
  reason: string;
  /** A Slack user id for people; `claude`, or the agent's name. */
  proposedBy: string;
  proposerKind: ProposerKind;
  /**
   * The action and its parameters were written by the team in a runbook step (filled from the
   * incident and earlier steps), not chosen by the proposer: set only by the runbook service. A
   * read-only action then runs at once whoever started the run, as a team-declared read; a risky
   * one waits for a person's Approve like every proposal.
   */
  declaredInRunbook?: boolean;
  /**
   * The id to give the proposal, chosen by a flow that must find it again after a crash (a runbook
   * step: one id per step attempt). A proposal with this id that already exists is returned as is.
   */
  id?: string;
}

/** What a click or a modal submission gets back: the ephemeral answer and the approval it concerned. */
export interface DecisionResult {
  outcome: 'approved' | 'voted' | 'already_voted' | 'refused' | 'closed' | 'expired' | 'denied';
  text: string;
  approval: Approval;
}

function findAction(deps: Deps, actionId: string): ActionDefinition | undefined {
  return deps.config.actions.find((a) => a.id === actionId);
}

/**
 * Claude and agents propose nothing that already stands in the incident: the same action with the
 * same parameters, as validated (so `"5"` and `5`, or a default left out, are the same), while an
 * earlier proposal of it (by anyone) is pending and approvable, or was approved (running, ran,
 * outcome unknown).
 * Claude reads the incident again at every brief, summary and runbook diagnosis and may propose the
 * same rollback again, and an agent looping over the same signals does the same with a fresh
 * idempotency key each time; two approval messages for one rollback invite a second Approve that
 * runs it twice. After a denial, an expiry or a failure it may be proposed again. A person
 * proposing twice means it: not refused. The refusal names the standing approval, so an agent can
 * follow that one instead (`wait_for_approval`). `exceptId`: the approval this very request makes
 * (an agent's retry of its own proposal is not a second one).
 */
export async function refuseIfStanding(deps: Deps, incident: Incident, actionId: string, params: Record<string, unknown>, exceptId?: string): Promise<void> {
  const key = sameAction(actionId, params);
  const standing = await deps.store.listApprovals({ incidentId: incident.id, status: ['pending', 'approved', 'executing', 'succeeded', 'unknown'] });
  const same = standing.find((a) => a.id !== exceptId && approvable(a) && sameAction(a.actionId, a.params) === key);
  if (same)
    throw new AppError(
      'action.already_proposed',
      `\`${actionId}\` with these parameters was already proposed in ${incidentLabel(incident)} (approval \`${same.id}\`, ${same.status}). Nothing was proposed.`,
      {
        actionId,
        approvalId: same.id,
        status: same.status,
      },
    );
}

/**
 * Whether anyone could ever approve a pending proposal: its approvers were fixed when it was made,
 * and a proposal nobody could approve (an incident whose commander was not eligible for command)
 * can never run, so it stands in the way of no new proposal of the same action.
 */
function approvable(a: Approval): boolean {
  if (a.status !== 'pending' || !a.requiresApproval || !a.approvers) return true;
  return possibleApprovers(a.approvers, parsePolicy(a.policy), { kind: a.proposerKind, id: a.proposedBy }).length > 0;
}

/** An action and its parameters as one comparable key (parameter order does not matter). */
function sameAction(actionId: string, params: Record<string, unknown>): string {
  return JSON.stringify([
    actionId,
    Object.keys(params)
      .sort()
      .map((k) => [k, params[k]]),
  ]);
}

/**
 * Propose an action. Unknown action or invalid parameters: an AppError and nothing is stored.
 * Read-only actions are approved by policy at once and executed by the job; risky ones become an
 * approval message with Approve / Deny buttons and an expiry job.
 */
export async function proposeAction(deps: Deps, input: ProposeInput): Promise<Approval> {
  if (input.id) {
    const existing = await deps.store.getApproval(input.id);
    if (existing) return existing;
  }
  const action = findAction(deps, input.actionId);
  if (!action) {
    const known = deps.config.actions.map((a) => `\`${a.id}\``).join(', ');
    throw new AppError('action.unknown', `Unknown action \`${input.actionId}\`. Known actions: ${known}.`, { actionId: input.actionId });
  }
  const checked = validateParams(action, input.rawParams);
  if (!checked.ok) {
    throw new AppError('action.invalid_params', `Invalid parameters for \`${action.id}\`: ${checked.problems.join('; ')}. Nothing was proposed.`, {
      actionId: action.id,
      problems: checked.problems,
    });
  }
  const incident = await requireIncident(deps, input.incidentId);
  if (input.proposerKind === 'claude') await refuseIfStanding(deps, incident, action.id, checked.value);
  if (!incident.channelId) {
    throw new AppError('input.invalid', `${incidentLabel(incident)} has no Slack channel yet, so there is nowhere to ask for approval. Try again in a moment.`);
  }

  const now = deps.clock.now();
  const policy = effectivePolicy(action.policy, deps.config.file.approvals.default_expiry_minutes);
  // Only a person, or a runbook the team declared, may run a read-only action at once. Claude and
  // agents never act on their own: whatever they propose, even a read, waits for a human's Approve.
  // A runbook step an agent started is the team's declaration: its read-only action is a read.
  const requiresApproval = action.requires_approval || (input.proposerKind !== 'user' && input.proposerKind !== 'runbook' && input.declaredInRunbook !== true);
  if (requiresApproval) refuseIfClosed(incident, action.id);
  // Who may approve is fixed now: the role holders of this moment, the named users, and the user
  // groups' members as Slack lists them now. Taking a role later grants nothing for this proposal.
  const approvers = requiresApproval ? await resolveApprovers(deps, incident.id, policy) : null;
  const approval = await deps.store.createApproval({
    id: input.id ?? deps.newId(),
    incidentId: incident.id,
    actionId: action.id,
    params: checked.value,
    reason: input.reason.trim(),
    proposedBy: input.proposedBy,
    proposerKind: input.proposerKind,
    policy,
    approvers,
    requiresApproval,
    createdAt: now,
    expiresAt: expiryFor(now, policy),
    channelId: incident.channelId,
  });
  await deps.store.audit({
    at: now,
    incidentId: incident.id,
    approvalId: approval.id,
    actor: input.proposedBy,
    action: 'approval.proposed',
    detail: { action: action.id, params: checked.value, reason: approval.reason, proposerKind: input.proposerKind, requiresApproval, approvers },
  });
  deps.metrics.approvals.inc({ outcome: 'proposed' });

  if (!requiresApproval) {
    // Read-only: the policy is "no approval needed"; it still goes through the same record, the
    // same job and the same audit trail, so it is executed once and shows its result.
    const approved = await deps.store.transitionApproval(approval.id, ['pending'], 'approved', { decidedAt: now });
    await deps.store.audit({
      at: now,
      incidentId: incident.id,
      approvalId: approval.id,
      actor: 'system',
      action: 'approval.approved',
      detail: { readOnly: true },
    });
    try {
      await showOrRetryLater(deps, approval.id);
    } finally {
      // Enqueued even when the post failed: the job renders the message when it finishes.
      await deps.jobs.enqueue(approvalExecuteJob, { approvalId: approval.id });
    }
    return (await deps.store.getApproval(approval.id)) ?? approved ?? approval;
  }

  // The expiry job first: even if posting fails, the proposal cannot stay pending forever.
  await deps.jobs.enqueue(approvalExpireJob, { approvalId: approval.id }, { delayMs: approval.expiresAt.getTime() - now.getTime() });
  await showOrRetryLater(deps, approval.id);
  return (await deps.store.getApproval(approval.id)) ?? approval;
}

/**
 * Nothing is approved in a closed incident (its pending approvals were withdrawn when it closed):
 * a proposal that needs a person's Approve is refused there with the reason.
 */
export function refuseIfClosed(incident: Incident, actionId: string): void {
  if (isOpen(incident.status)) return;
  throw new AppError(
    'incident.bad_transition',
    `${incidentLabel(incident)} is ${incident.status}, and nothing is approved in a closed incident, so \`${actionId}\` was not proposed. If it is still needed, declare a new incident and propose it there.`,
    { actionId },
  );
}

/**
 * Post the approval message now, or, when Slack fails, from a job that retries: the proposal is
 * recorded, so it must reach the channel (postOnce keeps a retried post from doubling it).
 */
async function showOrRetryLater(deps: Deps, approvalId: string): Promise<void> {
  try {
    await showApproval(deps, approvalId);
  } catch (err) {
    deps.logger.warn({ err, approvalId }, 'posting the approval message failed; a job retries it');
    await deps.jobs.enqueue(approvalShowJob, { approvalId });
  }
}

/** The id compared against the clicker for self-approval; non-people never equal a user id. */
const proposerIdentity = (a: Approval) => (a.proposerKind === 'user' ? a.proposedBy : `${a.proposerKind}:${a.proposedBy}`);

/**
 * The approver snapshot for a proposal made now (user groups read from Slack; a failure proposes
 * nothing). The one place that decides who may approve: Slack proposals, Claude's, agents' (MCP and
 * webhook, whose `approvers` field is this snapshot) and runbook steps all come through here.
 */
async function resolveApprovers(deps: Deps, incidentId: string, policy: ApprovalPolicy): Promise<ApproverSnapshot> {
  const roles = await deps.store.getRoles(incidentId);
  // A group both lists name is read once; a group Slack cannot list proposes nothing.
  const members = groupReader(deps, (g, err) => {
    throw new AppError(
      'input.invalid',
      `Could not read the members of user group <!subteam^${g}> from Slack, so who may approve cannot be fixed. Nothing was proposed; try again.`,
      { usergroup: g },
      { cause: err },
    );
  });
  const groups: Record<string, string[]> = {};
  await Promise.all(
    policy.usergroups.map(async (g) => {
      groups[g] = await members(g);
    }),
  );
  // Every role the policy names is guarded: it approves only for a holder eligible for command.
  const eligibles = commandEligibles(deps);
  const ineligibleHolders: string[] = [];
  if (eligibles.configured)
    for (const h of new Set(policy.roles.map((r) => roles[r]).filter((u): u is string => !!u)))
      if (!(await namedIn(deps, h, eligibles.users, eligibles.usergroups, members))) ineligibleHolders.push(h);
  return snapshotApprovers(policy, roles, groups, { configured: eligibles.configured, ineligibleHolders });
}

async function policyCheck(deps: Deps, a: Approval, userId: string) {
  const policy = parsePolicy(a.policy);
  // Approvals stored before approvers were recorded (migration 002) are resolved now, once.
  const approvers = a.approvers ?? (await resolveApprovers(deps, a.incidentId, policy));
  const verdict = canApprove({ policy, userId, proposerId: proposerIdentity(a), approvers });
  return { policy, approvers, verdict };
}

/** Who may approve under a policy, in words: for agents (the tool list and their proposals' answers). */
export function policyInWords(policy: ApprovalPolicy): string {
  return describePolicy(policy);
}

/** Approve click. Expected outcomes are returned (for an ephemeral answer); only a missing approval throws. */
export async function approve(deps: Deps, input: { approvalId: string; userId: string }): Promise<DecisionResult> {
  const { userId } = input;
  const a = await loadApproval(deps, input.approvalId);
  if (!isUserId(userId)) return refuseNonPerson(deps, a, userId, 'approve');
  if (a.status !== 'pending' || !a.requiresApproval) return refuseClosed(deps, a, userId, 'approve');
  const withdrawn = await withdrawIfStale(deps, a);
  if (withdrawn) return refuseClosed(deps, withdrawn, userId, 'approve');
  const now = deps.clock.now();
  if (isExpired(a, now)) return expireOnClick(deps, a, userId, 'approve');

  const { policy, approvers, verdict } = await policyCheck(deps, a, userId);
  if (!verdict.ok) return refuseByPolicy(deps, a, userId, 'approve', { policy, approvers, verdict });

  const added = await deps.store.addVote({ approvalId: a.id, userId, at: now });
  // Someone may have decided it while we voted: answer with what happened, not with our vote.
  const fresh = await loadApproval(deps, a.id);
  if (fresh.status !== 'pending') return refuseClosed(deps, fresh, userId, 'approve');

  const votes = await deps.store.listVotes(a.id);
  const decision = tallyVotes(votes, policy);
  if (!decision.approved) {
    if (!added) return { outcome: 'already_voted', text: `You already approved; waiting for ${plural(decision.remaining, 'more approval')}.`, approval: fresh };
    await deps.store.audit({
      at: now,
      incidentId: a.incidentId,
      approvalId: a.id,
      actor: userId,
      action: 'approval.voted',
      detail: { votes: decision.approvers.length, needed: decision.needed },
    });
    await showApproval(deps, a.id).catch((err) => deps.logger.warn({ err, approvalId: a.id }, 'updating the approval message failed'));
    return {
      outcome: 'voted',
      text: `:ballot_box_with_check: Your approval is recorded; waiting for ${plural(decision.remaining, 'more approval')} from different people.`,
      approval: fresh,
    };
  }

  // Checked again as late as possible: a resolve or a cancel that landed while this click voted
  // must win. (A resolve committed between this check and the next line still loses to the
  // click, as a click that wins the compare-and-set before a cancel does: the action had its
  // approval while the incident was open.)
  const late = await withdrawIfStale(deps, fresh);
  if (late) return refuseClosed(deps, late, userId, 'approve');
  const won = await deps.store.transitionApproval(a.id, ['pending'], 'approved', { decidedBy: userId, decidedAt: now });
  if (!won) return refuseClosed(deps, await loadApproval(deps, a.id), userId, 'approve');

  // This click, and only this one, decided it.
  const counted = countedApprovers(votes, won);
  await deps.store.audit({
    at: now,
    incidentId: a.incidentId,
    approvalId: a.id,
    actor: userId,
    action: 'approval.approved',
    detail: { approvers: counted, action: a.actionId, params: a.params },
  });
  deps.metrics.approvals.inc({ outcome: 'approved' });
  await showApproval(deps, a.id).catch((err) => deps.logger.warn({ err, approvalId: a.id }, 'updating the approval message failed'));
  await deps.jobs.enqueue(approvalExecuteJob, { approvalId: a.id });
  const text =
    findAction(deps, a.actionId)?.executor.type === 'none'
      ? `:white_check_mark: Approved. Nothing runs automatically: \`${a.actionId}\` has no executor configured, so carry it out by hand.`
      : `:white_check_mark: Approved. Running \`${a.actionId}\` now; the message will show whether it ran.`;
  return { outcome: 'approved', text, approval: won };
}

/** Deny click (after the reason modal). Who may deny = who may approve, plus the proposer (withdraw). */
export async function deny(deps: Deps, input: { approvalId: string; userId: string; reason: string }): Promise<DecisionResult> {
  const { userId } = input;
  const a = await loadApproval(deps, input.approvalId);
  if (!isUserId(userId)) return refuseNonPerson(deps, a, userId, 'deny');
  if (a.status !== 'pending' || !a.requiresApproval) return refuseClosed(deps, a, userId, 'deny');
  const withdrawn = await withdrawIfStale(deps, a);
  if (withdrawn) return refuseClosed(deps, withdrawn, userId, 'deny');
  const now = deps.clock.now();
  if (isExpired(a, now)) return expireOnClick(deps, a, userId, 'deny');

  const isProposer = a.proposerKind === 'user' && a.proposedBy === userId;
  if (!isProposer) {
    const { policy, approvers, verdict } = await policyCheck(deps, a, userId);
    if (!verdict.ok) return refuseByPolicy(deps, a, userId, 'deny', { policy, approvers, verdict });
  }
  const reason = input.reason.trim().slice(0, 1000);
  const won = await deps.store.transitionApproval(a.id, ['pending'], 'denied', { decidedBy: userId, decidedAt: now, denyReason: reason || null });
  if (!won) return refuseClosed(deps, await loadApproval(deps, a.id), userId, 'deny');
  await deps.store.audit({
    at: now,
    incidentId: a.incidentId,
    approvalId: a.id,
    actor: userId,
    action: isProposer ? 'approval.withdrawn' : 'approval.denied',
    detail: { reason },
  });
  deps.metrics.approvals.inc({ outcome: 'denied' });
  await announceSettled(deps, won);
  await recordTimeline(deps, won, `\`${a.actionId}\` ${isProposer ? 'withdrawn' : 'denied'} by <@${userId}>${reason ? `: ${escapeMrkdwn(reason)}` : ''}`, now);
  await showApproval(deps, a.id).catch((err) => deps.logger.warn({ err, approvalId: a.id }, 'updating the approval message failed'));
  return { outcome: 'denied', text: `:no_entry: ${isProposer ? 'Withdrawn' : 'Denied'}: \`${a.actionId}\` will not run.`, approval: won };
}

/**
 * Withdraw a pending approval because the runbook run that proposed it was cancelled, or its
 * incident was resolved or cancelled: pending → denied (compare-and-set, so a click that approved
 * it first wins and this returns null), with the reason kept on the approval, an audit entry, the
 * timeline, and the message updated (no buttons). A runbook step waiting on it hears of it
 * through `approval.settled`. Final: reopening the incident does not bring it back.
 */
export async function withdrawApproval(deps: Deps, approvalId: string, w: ApprovalWithdrawal): Promise<Approval | null> {
  const a = await deps.store.getApproval(approvalId);
  if (a?.status !== 'pending') return null;
  const now = deps.clock.now();
  const won = await deps.store.transitionApproval(a.id, ['pending'], 'denied', { decidedBy: w.by, decidedAt: now, denyReason: null, result: { withdrawn: w } });
  if (!won) return null;
  await deps.store.audit({
    at: now,
    incidentId: a.incidentId,
    approvalId: a.id,
    actor: w.by,
    action: 'approval.withdrawn',
    detail:
      w.because === 'runbook_cancelled'
        ? { reason: 'runbook run cancelled', run: w.runId, runbook: w.runbook }
        : { reason: `incident ${w.status}`, status: w.status },
  });
  deps.metrics.approvals.inc({ outcome: 'denied' });
  await announceSettled(deps, won);
  const why = withdrawalReason(w, (id) => `<@${id}>`, escapeMrkdwn);
  await recordTimeline(deps, won, `\`${a.actionId}\` withdrawn: ${w.because === 'runbook_cancelled' ? why.replace(/^the /, '') : why}; nothing was run`, now);
  await showApproval(deps, a.id).catch((err) => deps.logger.warn({ err, approvalId: a.id }, 'updating the approval message failed'));
  return won;
}

/**
 * The incident was resolved or cancelled: withdraw its approvals that were pending then (proposed
 * at or before `before`). Returns how many this call withdrew.
 */
export async function withdrawForClosedIncident(
  deps: Deps,
  incidentId: string,
  close: { status: 'resolved' | 'cancelled'; by: string; before: Date },
): Promise<number> {
  let n = 0;
  for (const a of await deps.store.listApprovals({ incidentId, status: ['pending'] })) {
    if (!a.requiresApproval || a.createdAt.getTime() > close.before.getTime()) continue;
    if (await withdrawApproval(deps, a.id, { because: 'incident_closed', status: close.status, by: close.by })) n++;
  }
  return n;
}

/**
 * A click on an approval that should no longer be approvable, whose withdrawal did not happen
 * (the process stopped between the cancel or the resolve and the withdrawal, or its job has not
 * run yet): its runbook run was cancelled, or its incident is resolved or cancelled. Withdraw it
 * now, so the click decides nothing; returns the withdrawn approval, or null when it stands.
 */
async function withdrawIfStale(deps: Deps, a: Approval): Promise<Approval | null> {
  const run = await cancelledRunOf(deps, a.id);
  if (run) {
    await withdrawApproval(deps, a.id, { because: 'runbook_cancelled', runId: run.id, runbook: run.runbook.title, by: run.cancelledBy ?? 'system' });
    return loadApproval(deps, a.id);
  }
  const incident = await deps.store.getIncident(a.incidentId);
  if (incident && !isOpen(incident.status)) {
    const status = incident.status === 'cancelled' ? 'cancelled' : 'resolved';
    await withdrawApproval(deps, a.id, { because: 'incident_closed', status, by: await whoClosed(deps, incident) });
    return loadApproval(deps, a.id);
  }
  return null;
}

/** Who resolved or cancelled the incident last, from its audit log; `system` when it does not say. */
async function whoClosed(deps: Deps, incident: Incident): Promise<string> {
  const entries = await deps.store.listAudit({ incidentId: incident.id, limit: 50 });
  const closing = entries.filter(
    (e) => e.action === `incident.${incident.status}` || (e.action === 'incident.backend_updated' && hasStatus(e.detail, incident.status)),
  );
  // A backend's change is audited under its id (`rootly`); the withdrawal names it as the normal path does ("Rootly").
  return backendLabel(closing.at(-1)?.actor ?? 'system');
}

const hasStatus = (detail: Record<string, unknown> | null, status: string) => (detail?.to as { status?: unknown } | undefined)?.status === status;

/** The click of someone the approval's policy does not allow: audited, answered with who may act. */
async function refuseByPolicy(
  deps: Deps,
  a: Approval,
  userId: string,
  click: 'approve' | 'deny',
  { policy, approvers, verdict }: { policy: ApprovalPolicy; approvers: ApproverSnapshot; verdict: Exclude<CanApprove, { ok: true }> },
): Promise<DecisionResult> {
  await deps.store.audit({
    at: deps.clock.now(),
    incidentId: a.incidentId,
    approvalId: a.id,
    actor: userId,
    action: 'approval.refused',
    detail: { click, reason: verdict.reason },
  });
  deps.metrics.approvals.inc({ outcome: 'refused' });
  return { outcome: 'refused', text: approvalRefusal(verdict, policy, approvers, click), approval: a };
}

/** Only a person decides: Claude, an agent or any other non-Slack-user id is refused, whatever the policy. */
async function refuseNonPerson(deps: Deps, a: Approval, actor: string, click: 'approve' | 'deny'): Promise<DecisionResult> {
  await deps.store.audit({
    at: deps.clock.now(),
    incidentId: a.incidentId,
    approvalId: a.id,
    actor,
    action: 'approval.refused',
    detail: { click, reason: 'not_a_person' },
  });
  deps.metrics.approvals.inc({ outcome: 'refused' });
  return { outcome: 'refused', text: ':no_entry: Only a person can decide an approval.', approval: a };
}

async function loadApproval(deps: Deps, id: string): Promise<Approval> {
  const a = await deps.store.getApproval(id);
  if (!a) throw new AppError('approval.not_found', 'That approval does not exist. Nothing was run.', { approvalId: id });
  return a;
}

/** The answer to a click on an approval that is no longer pending; audited, nothing runs. */
async function refuseClosed(deps: Deps, a: Approval, userId: string, click: 'approve' | 'deny'): Promise<DecisionResult> {
  await deps.store.audit({
    at: deps.clock.now(),
    incidentId: a.incidentId,
    approvalId: a.id,
    actor: userId,
    action: 'approval.click_refused',
    detail: { click, status: a.status },
  });
  return { outcome: a.status === 'expired' ? 'expired' : 'closed', text: closedText(a), approval: a };
}

export function closedText(a: Approval): string {
  const when = a.decidedAt ? ` at ${time(a.decidedAt)}` : '';
  if (!a.requiresApproval) return `\`${a.actionId}\` is read-only and needs no approval; it ${a.status === 'pending' ? 'is about to run' : 'has been run'}.`;
  switch (a.status) {
    case 'approved':
    case 'executing':
      return `This was already approved by <@${a.decidedBy}>${when}; it is running.`;
    case 'succeeded':
      return `This was already approved by <@${a.decidedBy}>${when}; it has run.`;
    case 'failed':
      return `This was already approved by <@${a.decidedBy}>${when}; it ran and failed. Propose it again to retry.`;
    case 'unknown':
      return `This was already approved by <@${a.decidedBy}>${when}; its outcome is unknown. Check before retrying.`;
    case 'denied': {
      const w = withdrawalOf(a);
      if (w?.because === 'runbook_cancelled')
        return `This was withdrawn${when} because its runbook run (“${escapeMrkdwn(w.runbook)}”) was cancelled${w.by === 'system' ? '' : ` by <@${w.by}>`}. Nothing was run; start the runbook again, or propose the action, if it is still needed.`;
      if (w)
        return `This was withdrawn${when} because ${withdrawalReason(w, user, escapeMrkdwn)}: nothing is approved in a closed incident. Nothing was run; propose it again in an open incident if it is still needed.`;
      return `This was denied by <@${a.decidedBy}>${when}${a.denyReason ? `: ${escapeMrkdwn(a.denyReason)}` : ''}. Nothing was run.`;
    }
    case 'expired':
      return `This approval expired at ${time(a.expiresAt)}. Nothing was run; propose it again if it is still needed.`;
    case 'pending':
      return 'This approval is still pending.';
  }
}

async function expireOnClick(deps: Deps, a: Approval, userId: string, click: 'approve' | 'deny'): Promise<DecisionResult> {
  const after = (await expireApproval(deps, a.id)) ?? (await loadApproval(deps, a.id));
  await deps.store.audit({
    at: deps.clock.now(),
    incidentId: a.incidentId,
    approvalId: a.id,
    actor: userId,
    action: 'approval.click_refused',
    detail: { click, status: after.status },
  });
  return { outcome: after.status === 'expired' ? 'expired' : 'closed', text: closedText(after), approval: after };
}

/** pending → expired when its time has come; returns the approval if this call expired it. */
export async function expireApproval(deps: Deps, approvalId: string): Promise<Approval | null> {
  const a = await deps.store.getApproval(approvalId);
  if (a?.status !== 'pending') return null;
  const now = deps.clock.now();
  if (!isExpired(a, now)) return null;
  const expired = await deps.store.transitionApproval(a.id, ['pending'], 'expired', { decidedAt: now });
  if (!expired) return null;
  await deps.store.audit({
    at: now,
    incidentId: a.incidentId,
    approvalId: a.id,
    actor: 'system',
    action: 'approval.expired',
    detail: { expiresAt: a.expiresAt.toISOString() },
  });
  deps.metrics.approvals.inc({ outcome: 'expired' });
  await announceSettled(deps, expired);
  await showApproval(deps, a.id).catch((err) => deps.logger.warn({ err, approvalId: a.id }, 'updating the approval message failed'));
  return expired;
}

/**
 * The approvers who made the decision: the decider plus the earliest other voters up to
 * `min_approvals`. Clicks that lost the race also left votes; they did not decide anything.
 */
function countedApprovers(votes: ApprovalVote[], a: Approval): string[] {
  if (!a.decidedBy) return [];
  const needed = parsePolicy(a.policy).min_approvals;
  const others = [...new Set(votes.filter((v) => v.userId !== a.decidedBy && (!a.decidedAt || v.at <= a.decidedAt)).map((v) => v.userId))];
  return [...others.slice(0, needed - 1), a.decidedBy];
}

/**
 * The execute job. Reads the approval and acts on its state:
 * - approved: claim it (approved → executing), run the executor, record succeeded | failed.
 * - executing: an earlier run of this job died after claiming it, and we cannot know whether the
 *   action ran. It is marked `unknown` for a person to check, never run again blindly. This holds
 *   for webhooks too: the Idempotency-Key makes a retry safe only if the receiver honours it, which
 *   Firebreak cannot verify. (`none` is the exception: it has no side effect, so it just succeeds.)
 * - finished states: re-render the message and timeline (idempotent), so a job that died after
 *   recording the outcome still leaves Slack right.
 */
export async function executeApproval(deps: Deps, approvalId: string): Promise<void> {
  const a = await deps.store.getApproval(approvalId);
  if (!a) return;
  const action = findAction(deps, a.actionId);
  switch (a.status) {
    case 'pending':
    case 'denied':
    case 'expired':
      return;
    case 'approved': {
      const claimed = await deps.store.transitionApproval(a.id, ['approved'], 'executing');
      if (!claimed) return executeApproval(deps, approvalId);
      await deps.store.audit({
        at: deps.clock.now(),
        incidentId: a.incidentId,
        approvalId: a.id,
        actor: 'system',
        action: 'approval.executing',
        detail: { executor: action?.executor.type ?? null },
      });
      const outcome = await runSafely(deps, claimed, action);
      const at = deps.clock.now();
      // From `unknown` too: if our lease ran out mid-run and a resumed job marked it unknown, we
      // still know the real outcome and it is better recorded than guessed.
      const final = await deps.store.transitionApproval(
        a.id,
        ['executing', 'unknown'],
        outcome.ok ? 'succeeded' : 'failed',
        outcome.ok ? { result: outcome.result, error: null } : { error: outcome.error, result: outcome.detail },
      );
      if (!final) {
        deps.logger.error({ approvalId: a.id }, 'approval left executing by another writer; outcome not recorded');
        return;
      }
      await deps.store.audit({
        at,
        incidentId: a.incidentId,
        approvalId: a.id,
        actor: 'system',
        action: outcome.ok ? 'approval.succeeded' : 'approval.failed',
        detail: outcome.ok ? { result: outcome.result } : { error: outcome.error, detail: outcome.detail },
      });
      deps.metrics.approvals.inc({ outcome: outcome.ok ? 'succeeded' : 'failed' });
      return finish(deps, final);
    }
    case 'executing': {
      const noSideEffect = action?.executor.type === 'none';
      const at = deps.clock.now();
      const marked = noSideEffect
        ? await deps.store.transitionApproval(a.id, ['executing'], 'succeeded', { result: { ...NOT_EXECUTED } })
        : await deps.store.transitionApproval(a.id, ['executing'], 'unknown', {
            error: 'outcome unknown — check before retrying (Firebreak stopped while the action was running)',
          });
      if (!marked) return executeApproval(deps, approvalId);
      await deps.store.audit({
        at,
        incidentId: a.incidentId,
        approvalId: a.id,
        actor: 'system',
        action: noSideEffect ? 'approval.succeeded' : 'approval.unknown',
        detail: { resumed: true },
      });
      deps.metrics.approvals.inc({ outcome: noSideEffect ? 'succeeded' : 'unknown' });
      return finish(deps, marked);
    }
    case 'succeeded':
    case 'failed':
    case 'unknown':
      return finish(deps, a);
  }
}

type RunOutcome = { ok: true; result: ExecutionResult } | { ok: false; error: string; detail: Record<string, unknown> };

async function runSafely(deps: Deps, a: Approval, action: ActionDefinition | undefined): Promise<RunOutcome> {
  if (!action) return { ok: false, error: `action \`${a.actionId}\` is no longer configured`, detail: {} };
  try {
    const incident = await requireIncident(deps, a.incidentId);
    const votes = await deps.store.listVotes(a.id);
    const approvedBy = a.requiresApproval ? countedApprovers(votes, a) : [];
    const result = await deps.executor.run(action.executor, { approval: a, action, incident, approvedBy, approvedAt: a.decidedAt ?? deps.clock.now() });
    return { ok: true, result };
  } catch (err) {
    if (err instanceof ExecutorError) return { ok: false, error: err.message, detail: err.detail };
    deps.logger.error({ err, approvalId: a.id }, 'executor threw unexpectedly');
    return { ok: false, error: `the executor crashed: ${(err as Error)?.message ?? String(err)}`, detail: {} };
  }
}

/** After an outcome is recorded: timeline (store + backend, once each) and the message. */
async function finish(deps: Deps, a: Approval): Promise<void> {
  await announceSettled(deps, a);
  await recordTimeline(deps, a, outcomeTimelineText(a, a.requiresApproval ? countedApprovers(await deps.store.listVotes(a.id), a) : []), a.updatedAt);
  await showApproval(deps, a.id);
}

/**
 * The timeline line for a finished action: what happened first (ran / not executed / failed), then
 * who proposed and who approved it. "ran" is only written when an executor really ran.
 */
export function outcomeTimelineText(a: Approval, approvers: string[]): string {
  const what = `\`${a.actionId}\`${Object.keys(a.params).length ? ` ${escapeMrkdwn(formatInline(a.params))}` : ''}`;
  const summary = (a.result as { summary?: string } | null)?.summary;
  // Stored as mrkdwn (the status answer shows it as is): the parameters, the reason, the result and the error are untrusted text.
  const proposer =
    a.proposerKind === 'user' ? `<@${a.proposedBy}>` : a.proposerKind === 'claude' ? 'Claude' : `${a.proposerKind} ${escapeMrkdwn(a.proposedBy)}`;
  const deciders = approvers.length ? approvers : a.decidedBy ? [a.decidedBy] : [];
  const who = `proposed by ${proposer}${a.requiresApproval && deciders.length ? `, approved by ${deciders.map((u) => `<@${u}>`).join(' and ')}` : ''}`;
  switch (a.status) {
    case 'succeeded':
      return wasExecuted(a.result)
        ? `${what} ran${summary ? `: ${escapeMrkdwn(summary)}` : ''} (${who})`
        : `${what} approved, not executed: ${escapeMrkdwn(summary ?? NOT_EXECUTED.summary)} (${who})`;
    case 'failed':
      return `${what} failed: ${escapeMrkdwn(a.error ?? 'unknown error')} (${who})`;
    default:
      return `${what} outcome unknown, check before retrying (${who})`;
  }
}

const formatInline = (params: Record<string, unknown>) =>
  Object.entries(params)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');

async function recordTimeline(deps: Deps, a: Approval, text: string, at: Date): Promise<void> {
  await deps.store.addTimeline({ incidentId: a.incidentId, at, kind: 'action', text, author: a.decidedBy, sourceRef: `approval:${a.id}` });
  await deps.jobs.enqueue(backendSyncJob, { incidentId: a.incidentId, op: 'timeline', text, at: at.toISOString() }, { key: `approval:${a.id}` });
}

/**
 * Render the approval message from the store's current state: update it in place when it was
 * posted, otherwise post it once (postOnce finds a post that happened before a crash).
 */
export async function showApproval(deps: Deps, approvalId: string): Promise<void> {
  const a = await deps.store.getApproval(approvalId);
  if (!a?.channelId) return;
  const incident = await deps.store.getIncident(a.incidentId);
  const policy = parsePolicy(a.policy);
  const votes = await deps.store.listVotes(a.id);
  const approvers =
    a.status === 'pending'
      ? tallyVotes(votes, policy).approvers
      : a.requiresApproval && a.decidedBy && a.status !== 'denied' && a.status !== 'expired'
        ? countedApprovers(votes, a)
        : [];
  const msg = approvalMessage({
    approval: a,
    actionTitle: findAction(deps, a.actionId)?.title ?? a.actionId,
    policyText: describePolicy(policy, a.approvers),
    approvers,
    needed: policy.min_approvals,
    incidentLabel: incident ? incidentLabel(incident) : a.incidentId,
  });
  if (a.messageTs) {
    await deps.chat.update(a.channelId, a.messageTs, msg.text, msg.blocks);
    return;
  }
  const { ts } = await postOnce(deps, flowId(a.id), 'message', a.channelId, Markers.approval(a.id), () => msg);
  await deps.store.patchApproval(a.id, { messageTs: ts });
  // The state may have moved while we posted (the post shows what it was when rendered).
  const after = await deps.store.getApproval(a.id);
  if (after && after.status !== a.status) await showApproval(deps, a.id);
}

/** `/incident audit`: the incident's audit log, newest 50 entries, oldest first. */
export async function auditLog(deps: Deps, incidentId: string): Promise<string> {
  const incident = await requireIncident(deps, incidentId);
  const entries = await deps.store.listAudit({ incidentId, limit: 50 });
  if (!entries.length) return `*Audit log of ${incidentLabel(incident)}*: no entries yet.`;
  const lines = entries.map((e) => {
    const actor = isUserId(e.actor) ? `<@${e.actor}>` : e.actor;
    const d = e.detail ?? {};
    const bits: string[] = [];
    if (typeof d.action === 'string') bits.push(`\`${d.action}\``);
    if (d.params && typeof d.params === 'object') bits.push(formatInline(d.params as Record<string, unknown>));
    for (const k of ['tool', 'outcome', 'reason', 'error', 'status', 'click', 'to', 'severity', 'role', 'text'] as const) {
      if (d[k] !== undefined && d[k] !== null && d[k] !== '') bits.push(`${k}: ${clip(String(d[k]), 120)}`);
    }
    const summary = (d.result as { summary?: string } | undefined)?.summary;
    if (summary) bits.push(`result: ${clip(summary, 120)}`);
    return `• ${time(e.at)} ${actor} *${e.action}*${e.approvalId ? ` (approval \`${e.approvalId.slice(0, 8)}\`)` : ''}${bits.length ? ` — ${escapeMrkdwn(bits.join(', '))}` : ''}`;
  });
  const head = `*Audit log of ${incidentLabel(incident)}* (${entries.length === 50 ? 'latest 50' : entries.length} entries)`;
  // Keep the whole reply within one message: drop the oldest lines first.
  const out: string[] = [];
  let size = head.length;
  for (const line of lines.reverse()) {
    if (size + line.length + 1 > 3800) break;
    out.unshift(line);
    size += line.length + 1;
  }
  return [head, ...out].join('\n');
}

/** The gate's background jobs. */

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
