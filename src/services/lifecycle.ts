import { backendLabel, canTransition, incidentLabel, isOpen, STATUSES, type Incident, type IncidentStatus } from '../domain/incident.js';
import { SEVERITIES, type Severity } from '../domain/severity.js';
import { AppError, BackendError } from '../errors.js';
import { eligibilityConfigured, mayAssignRole, protectedRoles, type RoleAuthority, type RoleAuthorityInput } from '../domain/approval-policy.js';
import type { IncidentPatch } from '../ports/store.js';
import type { Deps } from './deps.js';
import { observeResolved, remediationQuestionJob } from './insights.js';
import { scheduleReminder } from './reminders.js';
import { z } from 'zod';
import { defineJob } from './jobs.js';
import { changeNote, refreshJob, timelineText, updateNote } from './incident-views.js';
import { postmortemJob } from './summaries.js';
import { runbookFeedbackJob } from './runbooks.js';
import { approvalsWithdrawOnCloseJob } from './approvals.js';

/** A backend write, queued so a backend outage never loses a change made in Slack. */
const BackendOp = z.discriminatedUnion('op', [
  z.object({ op: z.literal('transition'), to: z.enum(STATUSES), message: z.string() }),
  z.object({ op: z.literal('severity'), severity: z.enum(SEVERITIES) }),
  z.object({ op: z.literal('role'), role: z.string(), userId: z.string() }),
  z.object({ op: z.literal('timeline'), text: z.string(), at: z.string() }),
]);
export type BackendOp = z.output<typeof BackendOp>;

/** One change pushed to the backend, in order of enqueue; no key (every change is sent). */
export const backendSyncJob = defineJob({
  kind: 'backend.sync',
  payload: z.intersection(z.object({ incidentId: z.string().min(1) }), BackendOp),
  run: (deps, p) => syncToBackend(deps, p),
});

export const lifecycleJobs = [backendSyncJob];

export async function incidentInChannel(deps: Deps, channelId: string): Promise<Incident> {
  const incident = await deps.store.findIncidentByChannel(channelId);
  if (!incident) throw new AppError('incident.not_in_channel', 'This is not an incident channel. Run this in an `inc-*` channel, or `/incident list`.');
  return incident;
}

export async function requireIncident(deps: Deps, id: string): Promise<Incident> {
  const incident = await deps.store.getIncident(id);
  if (!incident) throw new AppError('incident.not_found', 'That incident no longer exists.');
  return incident;
}

/** Apply a patch with optimistic concurrency: re-read and retry when another writer got in first. */
async function patchIncident(
  deps: Deps,
  id: string,
  make: (i: Incident) => Omit<IncidentPatch, 'updatedAt'> | null,
): Promise<{ before: Incident; after: Incident } | null> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = await requireIncident(deps, id);
    const patch = make(before);
    if (!patch) return null;
    const after = await deps.store.updateIncident(id, { ...patch, updatedAt: deps.clock.now() }, { expectedVersion: before.version });
    if (after) return { before, after };
  }
  throw new AppError('input.invalid', 'The incident is changing too fast; try again.');
}

async function afterChange(
  deps: Deps,
  incident: Incident,
  actor: string,
  action: string,
  detail: Record<string, unknown>,
  timeline: string,
  ops: BackendOp[],
): Promise<void> {
  const at = deps.clock.now();
  await deps.store.audit({ at, incidentId: incident.id, actor, action, detail });
  await deps.store.addTimeline({ incidentId: incident.id, at, kind: action.split('.')[1] ?? action, text: timeline, author: actor });
  for (const op of ops) await deps.jobs.enqueue(backendSyncJob, { incidentId: incident.id, ...op });
  // Keyed by version: a repeated enqueue for the same change is dropped, every new change renders.
  await deps.jobs.enqueue(refreshJob, { incidentId: incident.id }, { key: `${incident.id}:${incident.version}` });
}

export async function changeStatus(deps: Deps, incidentId: string, to: IncidentStatus, actor: string, message = ''): Promise<Incident> {
  const res = await patchIncident(deps, incidentId, (i) => {
    if (i.status === to) return null;
    if (!canTransition(i.status, to)) throw new AppError('incident.bad_transition', `${incidentLabel(i)} is ${i.status}; it cannot become ${to}.`);
    return { status: to, resolvedAt: to === 'resolved' || to === 'cancelled' ? deps.clock.now() : null };
  });
  if (!res) return requireIncident(deps, incidentId);
  const { before, after } = res;
  const text = changeNote({ kind: 'status', from: before.status, to, actor, message });
  await afterChange(deps, after, actor, `incident.${to === 'investigating' ? 'reopened' : to}`, { from: before.status, to, message }, text, [
    { op: 'transition', to, message },
  ]);
  if (after.channelId) await deps.chat.post(after.channelId, text).catch((err) => deps.logger.warn({ err }, 'posting status change failed'));
  // Nothing is approved in a closed incident: its pending approvals are withdrawn (a job, so it
  // survives a crash; approve() also refuses in a closed incident should the job not have run).
  if (to === 'resolved' || to === 'cancelled')
    await deps.jobs.enqueue(
      approvalsWithdrawOnCloseJob,
      { incidentId, status: to, by: actor, at: (after.resolvedAt ?? deps.clock.now()).toISOString() },
      { key: `${incidentId}:${after.version}` },
    );
  if (to === 'investigating') await scheduleReminder(deps, incidentId);
  if (to === 'resolved') {
    observeResolved(deps, after);
    await deps.jobs.enqueue(postmortemJob, { incidentId }, { key: `${incidentId}:${after.version}` });
    await deps.jobs.enqueue(runbookFeedbackJob, { incidentId }, { key: `${incidentId}:${after.version}` });
    await deps.jobs.enqueue(remediationQuestionJob, { incidentId }, { key: `${incidentId}:${after.version}` });
  }
  return after;
}

export async function changeSeverity(deps: Deps, incidentId: string, severity: Severity, actor: string): Promise<Incident> {
  const res = await patchIncident(deps, incidentId, (i) => {
    if (!isOpen(i.status)) throw new AppError('incident.bad_transition', `${incidentLabel(i)} is ${i.status}; reopen it before changing severity.`);
    return i.severity === severity ? null : { severity };
  });
  if (!res) return requireIncident(deps, incidentId);
  const text = changeNote({ kind: 'severity', from: res.before.severity, to: severity, actor });
  await afterChange(deps, res.after, actor, 'incident.severity_changed', { from: res.before.severity, to: severity }, text, [{ op: 'severity', severity }]);
  await scheduleReminder(deps, incidentId); // the cadence follows the severity
  if (res.after.channelId) await deps.chat.post(res.after.channelId, text).catch((err) => deps.logger.warn({ err }, 'posting severity change failed'));
  return res.after;
}

/**
 * Reads a user group's members from Slack, each group once per reader (a decision that asks about
 * several people reads a group once). By default a group Slack cannot list counts as empty, with a
 * warning; `fail` turns that into an error instead (the gate: a proposal whose approvers cannot be
 * fixed is not made).
 */
export function groupReader(deps: Deps, fail?: (g: string, err: unknown) => never): (g: string) => Promise<string[]> {
  const read = new Map<string, Promise<string[]>>();
  const load = (g: string) =>
    deps.chat.usergroupMembers(g).catch((err: unknown) => {
      if (fail) fail(g, err);
      deps.logger.warn({ err, usergroup: g }, 'reading user group members failed; counted as not a member');
      return [] as string[];
    });
  return (g) => read.get(g) ?? read.set(g, load(g)).get(g)!;
}

/**
 * Users and user groups that approval policies (or the command list) name, resolved against Slack
 * only when asked. `members` reads a group; by default a group Slack cannot list counts as not a
 * member (the gate passes its own reader, which reads each group once and fails the proposal).
 */
export async function namedIn(
  deps: Deps,
  userId: string,
  users: readonly string[],
  groups: readonly string[],
  members: (g: string) => Promise<string[]> = groupReader(deps),
): Promise<boolean> {
  if (users.includes(userId)) return true;
  for (const g of groups) if ((await members(g)).includes(userId)) return true;
  return false;
}

/**
 * Who is eligible for command: `approvals.eligible_commanders`, or the `responders` when that is
 * unset, plus the users and user groups the approval policies name (they always are). Decides
 * whether a commander's role makes them an approver (`resolveApprovers`); `checkRoleAuthority`
 * below applies the same two lists, apart, to who may take over an incident nobody declared.
 */
export function commandEligibles(deps: Deps): { configured: boolean; users: string[]; usergroups: string[] } {
  const file = deps.config.file;
  const eligible = file.approvals.eligible_commanders ?? { users: file.responders, usergroups: [] };
  const policies = deps.config.actions.filter((a) => a.requires_approval).map((a) => a.policy);
  return {
    configured: eligibilityConfigured(file.approvals.eligible_commanders, file.responders),
    users: [...new Set([...eligible.users, ...policies.flatMap((p) => p.users)])],
    usergroups: [...new Set([...eligible.usergroups, ...policies.flatMap((p) => p.usergroups)])],
  };
}

/**
 * May `actor` hand out `role` on this incident? See `mayAssignRole` for the rules. Refusals are
 * audited and thrown as `role.not_allowed` (an ephemeral answer to the person).
 */
export async function checkRoleAuthority(deps: Deps, incident: Incident, role: string, userId: string, actor: string): Promise<void> {
  const policies = deps.config.actions.filter((a) => a.requires_approval).map((a) => a.policy);
  const guarded = protectedRoles(policies);
  if (!guarded.has(role)) return;
  const roles = await deps.store.getRoles(incident.id);
  const eligibles = commandEligibles(deps);
  const members = groupReader(deps); // a group several questions name is read once
  const eligible = (u: string) => namedIn(deps, u, eligibles.users, eligibles.usergroups, members);
  // Asked from Slack only as far as the answer needs: without eligibility configured the commander,
  // a role holder or the declarer are allowed with no read at all.
  const input: RoleAuthorityInput = {
    role,
    actorId: actor,
    protectedRoles: guarded,
    roles,
    declaredBy: incident.declaredBy,
    isPolicyApprover: false,
    isEligibleCommander: false,
    eligibilityConfigured: eligibles.configured,
    commanderEligible: false,
  };
  if (mayAssignRole(input).ok) return;
  if (eligibles.configured) {
    input.isEligibleCommander = await eligible(actor);
    const commander = roles.commander;
    input.commanderEligible = !!commander && (commander === actor ? input.isEligibleCommander : await eligible(commander));
    if (mayAssignRole(input).ok) return;
  }
  input.isPolicyApprover = await namedIn(
    deps,
    actor,
    policies.flatMap((p) => p.users),
    [...new Set(policies.flatMap((p) => p.usergroups))],
    members,
  );
  const verdict = mayAssignRole(input);
  if (verdict.ok) return;
  const reason = roleRefusalReason(verdict);
  await deps.store.audit({ at: deps.clock.now(), incidentId: incident.id, actor, action: 'incident.role_refused', detail: { role, userId, reason } });
  const self = userId === actor;
  throw new AppError(
    'role.not_allowed',
    `You may not ${self ? `take the *${role}* role` : `make <@${userId}> *${role}*`}: it carries approval power, and ${reason}. Nothing changed.`,
    { role, userId },
  );
}

/** Who could have assigned the role instead, in words (the refusal and its audit entry). */
function roleRefusalReason(verdict: Exclude<RoleAuthority, { ok: true }>): string {
  switch (verdict.only) {
    case 'commander':
      return `only the commander (<@${verdict.holder}>) or an approver named in the action policies can`;
    case 'declarer':
      return `only the declarer (<@${verdict.holder}>) or an approver named in the action policies can, while the incident has no commander`;
    case 'eligible': {
      const who =
        'only someone eligible to take command (`approvals.eligible_commanders` in firebreak.yml, or the `responders` when that is unset) or an approver named in the action policies can';
      return verdict.ineligibleCommander ? `its commander (<@${verdict.ineligibleCommander}>) is not eligible for command, so ${who}` : who;
    }
  }
}

/**
 * Why `userId` cannot hold a role that approves, or null when they can. An app (this bot or any
 * other bot user) never presses Approve nor hands command on, and a deactivated account cannot
 * sign in: an incident commanded by one could be taken over only by an approver a policy names.
 * When Slack cannot be asked, nobody is refused on this ground.
 */
export async function notAPerson(deps: Deps, userId: string): Promise<string | null> {
  // Slackbot's users.info says is_bot: false; it is no person either.
  if (userId === deps.chat.botUserId() || userId === 'USLACKBOT') return 'is an app, not a person';
  const u = await deps.chat.userInfo(userId).catch(() => null);
  if (u?.isBot) return 'is an app, not a person';
  if (u?.deleted) return 'is a deactivated account';
  return null;
}

export async function assignRole(deps: Deps, incidentId: string, role: string, userId: string, actor: string): Promise<Incident> {
  if (!deps.config.file.roles.includes(role)) throw new AppError('input.invalid', `Unknown role \`${role}\`. Roles: ${deps.config.file.roles.join(', ')}.`);
  const incident = await requireIncident(deps, incidentId);
  await checkRoleAuthority(deps, incident, role, userId, actor);
  const previous = (await deps.store.getRoles(incidentId))[role] ?? null;
  if (previous === userId) return incident;
  const guarded = protectedRoles(deps.config.actions.filter((a) => a.requires_approval).map((a) => a.policy)).has(role);
  const why = guarded ? await notAPerson(deps, userId) : null;
  if (why)
    throw new AppError('role.not_allowed', `<@${userId}> ${why}, so it cannot hold the *${role}* role: it carries approval power. Nothing changed.`, {
      role,
      userId,
    });
  await deps.store.setRole(incidentId, role, userId);
  let after = incident;
  if (role === 'commander') after = (await patchIncident(deps, incidentId, () => ({ commanderId: userId })))?.after ?? incident;
  const text = changeNote({ kind: 'role', role, userId, previous, actor, guarded });
  await afterChange(deps, after, actor, 'incident.role_assigned', { role, userId, previous }, text, [{ op: 'role', role, userId }]);
  if (after.channelId) {
    await deps.chat.invite(after.channelId, [userId]).catch((err) => deps.logger.warn({ err }, 'inviting role holder failed'));
    await deps.chat.post(after.channelId, text).catch((err) => deps.logger.warn({ err }, 'posting role change failed'));
  }
  return after;
}

/** A status update. `via: 'agent'`: `actor` is an agent's name, and the update says it came via that agent. */
export async function postUpdate(deps: Deps, incidentId: string, text: string, actor: string, opts: { via?: 'agent' } = {}): Promise<{ ts: string | null }> {
  const incident = await requireIncident(deps, incidentId);
  const at = deps.clock.now();
  const agent = opts.via === 'agent';
  await deps.store.audit({ at, incidentId, actor, action: 'incident.update_posted', detail: { text, ...(agent ? { via: 'agent' } : {}) } });
  await deps.store.addTimeline({ incidentId, at, kind: 'update', text: timelineText(text), author: actor });
  await deps.jobs.enqueue(backendSyncJob, {
    incidentId,
    op: 'timeline',
    text: agent ? `Update via ${actor}: ${text}` : `Update from <@${actor}>: ${text}`,
    at: at.toISOString(),
  });
  const ts = incident.channelId
    ? (await deps.chat.post(incident.channelId, updateNote({ text, actor, ...(agent ? { via: 'agent' as const } : {}) }))).ts
    : null;
  // The announcement shows the latest update; the reminder clock restarts.
  await deps.jobs.enqueue(refreshJob, { incidentId }, { key: `${incidentId}:update:${at.getTime()}` });
  await scheduleReminder(deps, incidentId);
  return { ts };
}

/** A note in the timeline (and the backend's), by a person or an agent; the text is untrusted. */
export async function addTimelineNote(deps: Deps, incidentId: string, text: string, actor: string): Promise<Date> {
  await requireIncident(deps, incidentId);
  const at = deps.clock.now();
  await deps.store.addTimeline({ incidentId, at, kind: 'note', text: timelineText(text), author: actor });
  await deps.store.audit({ at, incidentId, actor, action: 'timeline.note_added', detail: { text } });
  await deps.jobs.enqueue(backendSyncJob, { incidentId, op: 'timeline', text: `Note from ${actor}: ${text}`, at: at.toISOString() });
  return at;
}

/** A :pushpin: on a message in an incident channel adds it to the timeline, once per message. */
export async function pinToTimeline(deps: Deps, channelId: string, ts: string, actor: string): Promise<boolean> {
  const incident = await deps.store.findIncidentByChannel(channelId);
  if (!incident) return false;
  const message = await deps.chat.getMessage(channelId, ts);
  if (!message) return false;
  const at = new Date(Number(ts) * 1000);
  const added = await deps.store.addTimeline({
    incidentId: incident.id,
    at,
    kind: 'pin',
    text: message.text,
    author: message.user,
    sourceRef: `pin:${channelId}:${ts}`,
  });
  if (!added) return false;
  await deps.store.audit({ at: deps.clock.now(), incidentId: incident.id, actor, action: 'timeline.pinned', detail: { ts } });
  await deps.jobs.enqueue(backendSyncJob, { incidentId: incident.id, op: 'timeline', text: message.text, at: at.toISOString() });
  return true;
}

/** Push one queued change to the backend. */
export async function syncToBackend(deps: Deps, payload: { incidentId: string } & BackendOp): Promise<void> {
  const incident = await requireIncident(deps, payload.incidentId);
  if (!incident.backendId) throw new Error('backend record not created yet'); // retried after the declare flow
  const ref = { firebreakId: incident.id, backendId: incident.backendId };
  switch (payload.op) {
    case 'transition':
      try {
        return await deps.backend.transition(ref, payload.to, payload.message);
      } catch (err) {
        // A transition the backend's rules refuse (e.g. incident.io allows no edit to declined, nor
        // from closed back to live) cannot succeed on retry: say so in the channel once, and stop.
        if (!(err instanceof BackendError && err.code === 'backend.validation')) throw err;
        deps.logger.warn({ incidentId: incident.id, to: payload.to, err: err.message }, 'backend refused the transition');
        if (incident.channelId)
          await deps.chat
            .post(incident.channelId, `:warning: ${err.message}. Firebreak's record is ${payload.to}; change it in ${backendLabel(deps.backend.name)} by hand.`)
            .catch(() => undefined);
        return;
      }
    case 'severity':
      return deps.backend.updateIncident(ref, { severity: payload.severity });
    case 'role': {
      const u = await deps.chat.userInfo(payload.userId).catch(() => null);
      return deps.backend.assignRole(ref, payload.role, { slackUserId: payload.userId, email: u?.email ?? null, name: u?.name ?? null });
    }
    case 'timeline':
      return deps.backend.addTimelineEvent(ref, { text: payload.text, at: new Date(payload.at) });
  }
}
