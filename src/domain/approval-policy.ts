import { PolicySchema, paramsSchema, actionJsonSchema, type ActionDefinition, type ApprovalPolicy, type ParamValue } from './actions.js';

/**
 * The approval gate's rules, pure: parameter validation, who may approve, when enough people
 * have, and when a proposal has expired. No I/O, no clock: callers pass roles, group members
 * and `now`, so every rule is testable on its own and the service stays a thin sequence of
 * store calls around these decisions.
 */
export { paramsSchema, actionJsonSchema };

export type ParamsResult = { ok: true; value: Record<string, ParamValue> } | { ok: false; problems: string[] };

/** Validate proposed parameters; `problems` are the exact sentences shown to the proposer. */
export function validateParams(action: Pick<ActionDefinition, 'params'>, raw: Record<string, unknown>): ParamsResult {
  const res = paramsSchema(action).safeParse(raw);
  if (res.success) return { ok: true, value: res.data };
  return { ok: false, problems: res.error.issues.map((i) => i.message) };
}

/**
 * Read a policy snapshot back from the store. It was valid when stored; parsing again keeps a
 * hand-edited or older row from widening who may approve (unknown shapes fall back to defaults
 * only for missing keys, never for present-but-wrong ones, which throw).
 */
export function parsePolicy(snapshot: unknown): ApprovalPolicy {
  return PolicySchema.parse(snapshot ?? {});
}

const roleName = (r: string) => `the ${r.replace(/_/g, ' ')}`;
const group = (id: string) => `<!subteam^${id}>`;
const person = (id: string) => `<@${id}>`;

/** "a, b or c" */
function orList(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** The approvers a policy names, as Slack mrkdwn; with `roles`, role holders are named too. */
export function describeApprovers(policy: ApprovalPolicy, roles?: Record<string, string>): string {
  const parts = [
    ...policy.roles.map((r) => (roles ? `${roleName(r)} (${roles[r] ? person(roles[r]) : 'unassigned'})` : roleName(r))),
    ...policy.usergroups.map(group),
    ...policy.users.map(person),
  ];
  return parts.length ? orList(parts) : 'nobody (no approver is configured)';
}

/** "needs 1 approval from the commander or <!subteam^S1>" */
export function describePolicy(policy: ApprovalPolicy): string {
  const n = policy.min_approvals;
  const count = n === 1 ? '1 approval' : `${n} approvals from different people`;
  const from = policy.roles.length + policy.usergroups.length + policy.users.length ? ` from ${describeApprovers(policy)}` : ', but no approver is configured';
  const self = policy.allow_self_approval ? '' : '; the proposer cannot approve their own proposal';
  return `needs ${count}${from}${self}`;
}

export type CanApprove = { ok: true } | { ok: false; reason: 'self_approval' | 'not_allowed'; who: string };

export interface CanApproveInput {
  policy: ApprovalPolicy;
  userId: string;
  /** The proposing person's Slack id; for Claude or an agent, their name (never equal to a user id). */
  proposerId: string;
  /** Incident roles: role → holder's user id. */
  roles: Record<string, string>;
  /** Members of every user group the policy names (the caller resolves them). */
  groupMembers: Set<string>;
}

/**
 * May this person approve? Self-approval is checked first: a proposer who also holds the
 * commander role is still refused when the policy forbids approving one's own proposal.
 */
export function canApprove(input: CanApproveInput): CanApprove {
  const { policy, userId, proposerId, roles, groupMembers } = input;
  const who = describeApprovers(policy, roles);
  if (userId === proposerId && !policy.allow_self_approval) return { ok: false, reason: 'self_approval', who };
  const byRole = policy.roles.some((r) => roles[r] === userId);
  const byUser = policy.users.includes(userId);
  const byGroup = policy.usergroups.length > 0 && groupMembers.has(userId);
  return byRole || byUser || byGroup ? { ok: true } : { ok: false, reason: 'not_allowed', who };
}

export interface Decision {
  approved: boolean;
  /** Distinct people who approved, in vote order. */
  approvers: string[];
  needed: number;
  remaining: number;
}

/** Enough distinct approvers? A person who votes twice counts once (the two-person rule). */
export function decide(votes: readonly { userId: string }[], policy: Pick<ApprovalPolicy, 'min_approvals'>): Decision {
  const approvers = [...new Set(votes.map((v) => v.userId))];
  const needed = policy.min_approvals;
  const remaining = Math.max(0, needed - approvers.length);
  return { approved: remaining === 0, approvers, needed, remaining };
}

/** Expired at and after `expiresAt` (a click exactly at the deadline is too late). */
export function isExpired(approval: { expiresAt: Date }, now: Date): boolean {
  return now.getTime() >= approval.expiresAt.getTime();
}

/** The policy an approval is decided under: the action's, with the configured default expiry filled in. */
export function effectivePolicy(policy: ApprovalPolicy, defaultExpiryMinutes: number): ApprovalPolicy & { expiry_minutes: number } {
  return { ...policy, expiry_minutes: policy.expiry_minutes ?? defaultExpiryMinutes };
}

export function expiryFor(createdAt: Date, policy: { expiry_minutes: number }): Date {
  return new Date(createdAt.getTime() + policy.expiry_minutes * 60_000);
}
