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

/** Who may approve, fixed at proposal time; see `ApproverSnapshot` in the store port. */
export interface ApproverSnapshot {
  roles: Record<string, string | null>;
  users: string[];
  usergroups: Record<string, string[]>;
  /**
   * Role holders the policy names who were left out when it was proposed (role → holder), because
   * the team says who is eligible for command and they were not: an ineligible commander (anyone
   * may declare) or someone they handed a guarded role such as `ops_lead`. They hold the role, but
   * it gave them no approval (their `roles` entry is then null). Absent when nobody was left out.
   */
  ineligible?: Record<string, string>;
}

/**
 * Who is eligible for command, as the team configured it: `approvals.eligible_commanders`, or,
 * when that is unset, the `responders`; people an action policy names always are. `configured`
 * is false when neither says anything (no `eligible_commanders` and no responders): then every
 * role holder approves, as before.
 */
export interface CommandEligibility {
  configured: boolean;
  /** Holders of the policy's roles (the commander included) who are not eligible. */
  ineligibleHolders: readonly string[];
}

/** Has the team said who is eligible for command? `eligible_commanders` set (even `{}`), or responders listed. */
export function eligibilityConfigured(eligibleCommanders: unknown | undefined, responders: readonly string[]): boolean {
  return eligibleCommanders !== undefined || responders.length > 0;
}

/**
 * Resolve who may approve under `policy` right now: the holders of its roles, the users it names
 * and the members of its user groups (the caller reads those from Slack). Stored with the approval.
 *
 * Approval authority is given, never taken: anyone may declare an incident and so command it, and
 * the commander hands out roles, so when the team has said who is eligible for command a role the
 * policy names (every such role is guarded, `commander` included) makes its holder an approver only
 * if they are eligible. An ineligible holder keeps the role (coordination), is recorded in
 * `ineligible`, and approves nothing through it; a user or group the policy names still counts for
 * them. Without `eligibility`, or when nothing is configured, every holder approves (the behaviour
 * before eligibility existed).
 */
export function snapshotApprovers(
  policy: ApprovalPolicy,
  roles: Record<string, string>,
  groupMembers: Record<string, string[]>,
  eligibility?: CommandEligibility,
): ApproverSnapshot {
  const leftOut = (holder: string | null) => !!holder && !!eligibility?.configured && eligibility.ineligibleHolders.includes(holder);
  const ineligible = Object.fromEntries(policy.roles.filter((r) => leftOut(roles[r] ?? null)).map((r) => [r, roles[r]!]));
  return {
    roles: Object.fromEntries(policy.roles.map((r) => [r, r in ineligible ? null : (roles[r] ?? null)])),
    users: [...policy.users],
    usergroups: Object.fromEntries(policy.usergroups.map((g) => [g, [...new Set(groupMembers[g] ?? [])]])),
    ...(Object.keys(ineligible).length ? { ineligible } : {}),
  };
}

/** Everyone the snapshot lets approve. */
export function eligibleApprovers(s: ApproverSnapshot): Set<string> {
  return new Set([...Object.values(s.roles).filter((u): u is string => !!u), ...s.users, ...Object.values(s.usergroups).flat()]);
}

/**
 * Who could ever approve a proposal: the approvers fixed when it was made, less the proposing
 * person when the policy forbids approving one's own proposal (Claude, an agent or a runbook is
 * never a Slack user). Empty: nobody can, and the proposal can never run.
 */
export function possibleApprovers(approvers: ApproverSnapshot, policy: ApprovalPolicy, proposer: { kind: string; id: string }): string[] {
  return [...eligibleApprovers(approvers)].filter((u) => policy.allow_self_approval || proposer.kind !== 'user' || u !== proposer.id);
}

/**
 * The decision on a click, as data: who may approve is the policy and the snapshot (the approval
 * message and the refusal name them, in slack/blocks/approval.ts).
 */
export type CanApprove = { ok: true } | { ok: false; reason: 'self_approval' | 'not_allowed' | 'nobody' };

export interface CanApproveInput {
  policy: ApprovalPolicy;
  userId: string;
  /** The proposing person's Slack id; for Claude or an agent, their name (never equal to a user id). */
  proposerId: string;
  /** Who could approve when it was proposed. Role changes after that grant nothing. */
  approvers: ApproverSnapshot;
}

/**
 * May this person approve? Self-approval is checked first: a proposer who also holds the
 * commander role is still refused when the policy forbids approving one's own proposal. Only the
 * snapshot taken at proposal time counts, so taking a role later cannot make anyone an approver.
 * `nobody`: nobody but the proposer (or nobody at all) could ever approve it, e.g. a proposal on
 * an incident that had no commander yet.
 */
export function canApprove(input: CanApproveInput): CanApprove {
  const { policy, userId, proposerId, approvers } = input;
  if (userId === proposerId && !policy.allow_self_approval) return { ok: false, reason: 'self_approval' };
  const eligible = eligibleApprovers(approvers);
  if (eligible.has(userId)) return { ok: true };
  if (!policy.allow_self_approval) eligible.delete(proposerId);
  return { ok: false, reason: eligible.size === 0 ? 'nobody' : 'not_allowed' };
}

// -- role authority ---------------------------------------------------------------------------

/**
 * Roles that carry approval power: `commander` and every role an action's policy names. Only
 * these are guarded; other roles (scribe, communications) anyone in the channel may hand out.
 */
export function protectedRoles(policies: readonly ApprovalPolicy[]): Set<string> {
  return new Set(['commander', ...policies.flatMap((p) => p.roles)]);
}

export interface RoleAuthorityInput {
  role: string;
  actorId: string;
  protectedRoles: Set<string>;
  /** The incident's roles now: role → holder. */
  roles: Record<string, string>;
  /** The person who declared the incident; null when an alert or a backend created it. */
  declaredBy: string | null;
  /** The actor is named by some action's policy (a user, or a member of a user group it names). */
  isPolicyApprover: boolean;
  /** The actor is eligible for command (`approvals.eligible_commanders`, or the responders; policy people always are). */
  isEligibleCommander: boolean;
  /** The team has said who is eligible for command (`eligibilityConfigured`). */
  eligibilityConfigured: boolean;
  /** The current commander (if any) is eligible for command; read only when `eligibilityConfigured`. */
  commanderEligible: boolean;
}

/**
 * Who could have assigned the role instead, as data: the commander (named), the declarer (named,
 * while the incident has no commander), or someone eligible to take command (an incident nobody
 * declared, or one whose commander is not eligible: named); an approver named in the action
 * policies always could.
 */
export type RoleAuthority =
  | { ok: true; via: string }
  | { ok: false; only: 'commander' | 'declarer'; holder: string }
  | { ok: false; only: 'eligible'; ineligibleCommander?: string };

/**
 * Approval authority can be given, never taken. A guarded role may be assigned by an approver a
 * policy names, and:
 * - when the team has said who is eligible for command: by the commander or a guarded-role holder
 *   if they are eligible; while no eligible person commands (none does, or an ineligible declarer
 *   does: anyone may declare), by anyone eligible, who may also take command. An ineligible
 *   commander cannot hand out approval power, to themselves or anyone else;
 * - otherwise (the behaviour before eligibility existed): by the current commander or any
 *   guarded-role holder, or, while the incident has no commander, by its declarer; an incident
 *   nobody declared by someone eligible.
 * Everyone else is refused.
 */
export function mayAssignRole(input: RoleAuthorityInput): RoleAuthority {
  const { role, actorId, roles } = input;
  if (!input.protectedRoles.has(role)) return { ok: true, via: 'unguarded role' };
  if (input.isPolicyApprover) return { ok: true, via: 'policy approver' };
  const commander = roles.commander ?? null;
  const holdsGuarded = commander === actorId || [...input.protectedRoles].some((r) => roles[r] === actorId);
  if (input.eligibilityConfigured) {
    const eligibleCommander = commander && input.commanderEligible ? commander : null;
    if (input.isEligibleCommander && (!eligibleCommander || holdsGuarded)) return { ok: true, via: eligibleCommander ? 'eligible role holder' : 'eligible' };
    if (eligibleCommander) return { ok: false, only: 'commander', holder: eligibleCommander };
    return { ok: false, only: 'eligible', ...(commander ? { ineligibleCommander: commander } : {}) };
  }
  if (holdsGuarded) return { ok: true, via: commander === actorId ? 'commander' : 'role holder' };
  if (!commander && input.declaredBy && input.declaredBy === actorId) return { ok: true, via: 'declarer' };
  if (!commander && !input.declaredBy && input.isEligibleCommander) return { ok: true, via: 'eligible commander' };
  if (commander) return { ok: false, only: 'commander', holder: commander };
  if (input.declaredBy) return { ok: false, only: 'declarer', holder: input.declaredBy };
  return { ok: false, only: 'eligible' };
}

export interface Decision {
  approved: boolean;
  /** Distinct people who approved, in vote order. */
  approvers: string[];
  needed: number;
  remaining: number;
}

/** Enough distinct approvers? A person who votes twice counts once (the two-person rule). */
export function tallyVotes(votes: readonly { userId: string }[], policy: Pick<ApprovalPolicy, 'min_approvals'>): Decision {
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
