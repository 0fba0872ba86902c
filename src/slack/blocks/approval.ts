import { wasExecuted, type ActionDefinition, type ApprovalPolicy } from '../../domain/actions.js';
import type { ApproverSnapshot, CanApprove } from '../../domain/approval-policy.js';
import type { Block } from '../../ports/chat.js';
import { withdrawalOf, withdrawalReason } from '../../domain/records.js';
import type { Approval } from '../../ports/store.js';
import { Actions, ApprovalBlocks, FormBlocks, INPUT, Markers, Views } from '../ids.js';
import { actions, clip, context, escapeText, mrkdwn, plain, section, time, user } from './common.js';

/**
 * Pure builders for the approval gate: the approval message (one message per proposal, updated in
 * place as it moves through its states), the deny modal and the propose modal. Everything a
 * proposer typed is escaped, so a parameter cannot ping `<!channel>` or forge a link.
 */
export const escapeMrkdwn = escapeText;

const roleName = (r: string) => `the ${r.replace(/_/g, ' ')}`;
const group = (id: string) => `<!subteam^${id}>`;
const person = (id: string) => `<@${id}>`;

/** "a, b or c" */
function orList(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/**
 * Why a role holder approves nothing through the role: not eligible for command (see
 * `snapshotApprovers`): a commander who declared, or someone an ineligible commander made `ops_lead`.
 */
const INELIGIBLE = (role: string, id: string) =>
  `${person(id)} ${role === 'commander' ? 'commands the incident' : 'holds it'} but is not eligible for command, so the role gives them no approval: a role an action policy names approves only for people in \`approvals.eligible_commanders\` (or the \`responders\` when that is unset) or named by an action policy`;

/** The approvers a policy names, as Slack mrkdwn; with a snapshot, role holders at proposal time are named too. */
export function describeApprovers(policy: ApprovalPolicy, snapshot?: ApproverSnapshot | null): string {
  const parts = [
    ...policy.roles.map((r) => {
      if (!snapshot) return roleName(r);
      const holder = snapshot.roles[r];
      const leftOut = snapshot.ineligible?.[r];
      if (!holder && leftOut) return `${roleName(r)} (${INELIGIBLE(r, leftOut)})`;
      return `${roleName(r)} (${holder ? person(holder) : 'nobody held it when this was proposed'})`;
    }),
    ...policy.usergroups.map(group),
    ...policy.users.map(person),
  ];
  return parts.length ? orList(parts) : 'nobody (no approver is configured)';
}

/** "needs 1 approval from the commander or <!subteam^S1>" */
export function describePolicy(policy: ApprovalPolicy, snapshot?: ApproverSnapshot | null): string {
  const n = policy.min_approvals;
  const count = n === 1 ? '1 approval' : `${n} approvals from different people`;
  const from =
    policy.roles.length + policy.usergroups.length + policy.users.length ? ` from ${describeApprovers(policy, snapshot)}` : ', but no approver is configured';
  const self = policy.allow_self_approval ? '' : '; the proposer cannot approve their own proposal';
  return `needs ${count}${from}${self}`;
}

/** The refusal a person sees, naming who may act and, when nobody can, what to do instead. */
export function approvalRefusal(
  verdict: Exclude<CanApprove, { ok: true }>,
  policy: ApprovalPolicy,
  approvers: ApproverSnapshot,
  click: 'approve' | 'deny',
): string {
  if (verdict.reason === 'self_approval')
    return `:no_entry: You proposed this action, so someone else must approve it: ${describeApprovers(policy, approvers)}.`;
  if (verdict.reason === 'nobody') {
    const leftOut = Object.entries(approvers.ineligible ?? {});
    const noCommander = policy.roles.includes('commander') && !approvers.roles.commander;
    const why = leftOut.length
      ? `${leftOut.map(([r, u]) => `${roleName(r)} when this was proposed, ${INELIGIBLE(r, u)}`).join('; ')}; and nobody else the policy names could approve it`
      : noCommander
        ? 'the incident had no commander when this was proposed, and nobody else the policy names could approve it'
        : 'nobody the policy names could approve it when it was proposed';
    const fix = leftOut.length
      ? `Someone eligible for command must hold ${orList(leftOut.map(([r]) => (r === 'commander' ? 'command' : `*${r}*`)))} (${leftOut.map(([r]) => `\`/incident role ${r} @someone\``).join(', ')}, run by someone eligible or an approver the policies name), then `
      : noCommander
        ? "Take command first (the card's *I'll take command* button, or `/incident role commander @someone` by someone allowed to), then "
        : 'Add approvers to the action policy in firebreak.yml, or ';
    return `:no_entry: Nobody can ${click} this proposal: ${why}. ${fix}propose the action again.`;
  }
  const base = click === 'approve' ? 'You may not approve this action.' : 'You may not deny this action.';
  return `:no_entry: ${base} It ${describePolicy(policy, approvers).replace(/; the proposer.*$/, '')}. Who may approve was fixed when it was proposed${click === 'deny' ? '; the proposer can withdraw it' : ''}.`;
}

export function proposerLabel(a: Pick<Approval, 'proposedBy' | 'proposerKind'>): string {
  switch (a.proposerKind) {
    case 'user':
      return user(a.proposedBy);
    case 'claude':
      return ':robot_face: Claude';
    case 'agent':
      return `:gear: agent \`${escapeMrkdwn(a.proposedBy)}\``;
    case 'runbook':
      return `:clipboard: runbook \`${escapeMrkdwn(a.proposedBy)}\` (started automatically)`;
  }
}

/** One parameter as mrkdwn. Backticks inside a value would end the code span early; a look-alike keeps it readable. */
const paramText = (k: string, v: unknown) => `\`${escapeMrkdwn(k)}\` = \`${escapeMrkdwn(String(v)).replace(/`/g, 'ˋ')}\``;

/** Section text limit with room for a heading. */
const SECTION_ROOM = 2900;

/**
 * The parameters in full, as section blocks: one line each, packed into sections; a value whose
 * escaped text is longer than a section continues in the next (cut between characters, never
 * inside an `&amp;` entity). Nothing is clipped: what runs is what is shown.
 */
export function paramSections(params: Record<string, unknown>): Block[] {
  const entries = Object.entries(params);
  if (!entries.length) return [section('*Parameters* _none_')];
  const texts: string[] = [];
  let cur = '*Parameters*';
  const push = (line: string) => {
    if (cur.length + 1 + line.length > SECTION_ROOM) {
      texts.push(cur);
      cur = line;
    } else cur = `${cur}\n${line}`;
  };
  for (const [k, v] of entries) {
    const line = paramText(k, v);
    if (line.length <= SECTION_ROOM - 20) {
      push(line);
      continue;
    }
    // Too long for one section: the value in pieces, each its own code span.
    const value = escapeMrkdwn(String(v)).replace(/`/g, 'ˋ');
    const pieces: string[] = [];
    for (let at = 0; at < value.length; ) {
      let end = Math.min(value.length, at + 2400);
      const amp = value.lastIndexOf('&', end - 1);
      if (end < value.length && amp >= at && value.indexOf(';', amp) >= end) end = amp; // never cut an entity
      pieces.push(value.slice(at, end));
      at = end;
    }
    pieces.forEach((piece, n) => push(n === 0 ? `\`${escapeMrkdwn(k)}\` = \`${piece}\`` : `_(\`${escapeMrkdwn(k)}\` continued)_ \`${piece}\``));
  }
  texts.push(cur);
  return texts.map((t) => section(t));
}

export interface ApprovalView {
  approval: Approval;
  actionTitle: string;
  /** `describePolicy` of the snapshot. */
  policyText: string;
  /** Distinct approvers so far (vote order). */
  approvers: string[];
  needed: number;
  incidentLabel: string;
}

const STATUS_ICON: Record<Approval['status'], string> = {
  pending: ':raised_hand:',
  approved: ':hourglass_flowing_sand:',
  executing: ':hourglass_flowing_sand:',
  succeeded: ':white_check_mark:', // 'not executed' too: the decision is the outcome
  failed: ':x:',
  denied: ':no_entry:',
  expired: ':hourglass:',
  unknown: ':warning:',
};

/** The people who approved it, as mentions ("<@A> and <@B>"). */
function approvedBy(v: ApprovalView): string {
  const a = v.approval;
  return v.approvers.length ? v.approvers.map((u) => user(u)).join(' and ') : a.decidedBy ? user(a.decidedBy) : 'someone';
}

/**
 * The headline: the outcome first, once decided ("Approved by @alice · ran", "· failed",
 * "· not executed"), so nobody reads a request that was settled long ago. "ran" is only written
 * when an executor really ran.
 */
export function approvalHeadline(v: ApprovalView): string {
  const a = v.approval;
  const decided = a.requiresApproval ? `Approved by ${approvedBy(v)}` : 'Read-only, no approval needed';
  switch (a.status) {
    case 'pending':
      return a.requiresApproval ? 'Approval requested' : 'Action';
    case 'approved':
    case 'executing':
      return `${decided} · running`;
    case 'succeeded':
      return wasExecuted(a.result) ? `${decided} · ran` : `${decided} · not executed`;
    case 'failed':
      return `${decided} · failed`;
    case 'unknown':
      return `${decided} · outcome unknown`;
    case 'denied': {
      const w = withdrawalOf(a);
      if (w?.because === 'runbook_cancelled') return 'Withdrawn: the runbook run was cancelled';
      if (w) return `Withdrawn: ${withdrawalReason(w, user, escapeMrkdwn)}`;
      return a.decidedBy === a.proposedBy && a.proposerKind === 'user' ? `Withdrawn by <@${a.decidedBy}>` : `Denied by <@${a.decidedBy}>`;
    }
    case 'expired':
      return 'Expired, not approved in time';
  }
}

/** The status line under the details: progress while pending, then what happened and when. */
function statusLine(v: ApprovalView): string {
  const a = v.approval;
  const when = a.decidedAt ? ` ${time(a.decidedAt)}` : '';
  const resultText = (a.result as { summary?: unknown } | null)?.summary;
  switch (a.status) {
    case 'pending':
      return v.needed > 1
        ? `*Waiting for approval*: ${v.approvers.length} of ${v.needed}${v.approvers.length ? ` (${approvedBy(v)})` : ''}`
        : '*Waiting for approval*';
    case 'approved':
    case 'executing':
      return `Approved${when}. *Running…*`;
    case 'succeeded':
      if ((a.result as { detail?: { dryRun?: unknown } } | null)?.detail?.dryRun === true)
        return `*Not executed* (sandbox dry run): ${escapeMrkdwn(String(resultText ?? 'nothing was sent'))}`;
      return wasExecuted(a.result)
        ? `*Ran*${resultText ? `: ${escapeMrkdwn(String(resultText))}` : ''}${a.requiresApproval ? ` (approved${when})` : ''}`
        : a.requiresApproval
          ? `*Not executed*: no executor is configured for this action, so nothing ran. Do it by hand; the approval${when} is the go-ahead.`
          : '*Not executed*: no executor is configured for this action, so nothing ran. Do it by hand.';
    case 'failed':
      return `*Failed*: ${escapeMrkdwn(a.error ?? 'unknown error')}`;
    case 'unknown':
      return '*Outcome unknown — check before retrying.* Firebreak stopped while the action was running, so it is not run again automatically.';
    case 'denied': {
      const w = withdrawalOf(a);
      if (w) return `*Nothing was run*: withdrawn${when} because ${withdrawalReason(w, user, escapeMrkdwn)}. It can no longer be approved.`;
      return `*Nothing was run*${when ? ` (decided${when})` : ''}${a.denyReason ? `. Reason: ${escapeMrkdwn(a.denyReason)}` : ''}`;
    }
    case 'expired':
      return `*Expired* ${time(a.expiresAt)}: not approved in time. Propose it again if it is still needed.`;
  }
}

/** The approval message. Buttons only while pending; their value is the approval id and nothing else. */
export function approvalMessage(v: ApprovalView): { text: string; blocks: Block[] } {
  const a = v.approval;
  const title = `${escapeMrkdwn(v.actionTitle)} (\`${escapeMrkdwn(a.actionId)}\`)`;
  const heading = `${STATUS_ICON[a.status]} *${approvalHeadline(v)}*: ${title}`;
  // Policy and expiry come before the parameters: however long they are, who may approve and
  // until when is read first.
  const lines = [heading, `*Proposed by* ${proposerLabel(a)} in ${escapeMrkdwn(v.incidentLabel)}`];
  if (a.requiresApproval) {
    lines.push(`*Policy* ${v.policyText}`);
    if (a.status === 'pending') lines.push(`*Expires* ${time(a.expiresAt)}`);
  }
  if (a.reason) lines.push(`*${a.proposerKind === 'user' ? 'Reason' : 'Rationale'}* ${escapeMrkdwn(clip(a.reason, 1500))}`);
  const blocks: Block[] = [
    section(lines.join('\n'), Markers.approval(a.id)),
    ...paramSections(a.params),
    { type: 'context', block_id: ApprovalBlocks.status, elements: [mrkdwn(statusLine(v))] },
  ];
  if (a.status === 'pending' && a.requiresApproval) {
    blocks.push(
      actions(ApprovalBlocks.buttons, [
        { text: 'Approve', actionId: Actions.approve, value: a.id, style: 'primary' },
        { text: 'Deny', actionId: Actions.deny, value: a.id, style: 'danger' },
      ]),
    );
  }
  const text = `${approvalHeadline(v)}: ${escapeMrkdwn(v.actionTitle)} (${escapeMrkdwn(a.actionId)})`;
  return { text: clip(text, 3000), blocks };
}

export function denyModal(approvalId: string, actionId: string, params: Record<string, unknown>): Block {
  return {
    type: 'modal',
    callback_id: Views.deny,
    private_metadata: approvalId,
    title: plain('Deny action', 24),
    submit: plain('Deny', 24),
    close: plain('Cancel', 24),
    blocks: [
      section(`Deny \`${escapeMrkdwn(actionId)}\`? It will not run.`),
      ...paramSections(params),
      {
        type: 'input',
        block_id: FormBlocks.reason,
        label: plain('Why is it denied?'),
        element: { type: 'plain_text_input', action_id: INPUT, multiline: true, max_length: 1000 },
      },
    ],
  };
}

/**
 * The "Propose action" modal: pick a configured action, give parameters as `key=value` lines (one
 * text box works for every action without updating the view), and a reason.
 */
export function proposeModal(incidentId: string, defs: ActionDefinition[]): Block {
  const listed = defs.slice(0, 100);
  const options = listed.map((d) => ({ text: plain(`${d.title}${d.requires_approval ? '' : ' (read-only)'}`, 75), value: d.id }));
  const help = listed
    .map((d) => {
      const ps = Object.entries(d.params).map(([k, p]) => `${k}${p.required ? '' : '?'}: ${p.enum ? p.enum.join('|') : p.type}`);
      return `\`${d.id}\` ${ps.length ? ps.join(', ') : '(no parameters)'}`;
    })
    .join('\n');
  return {
    type: 'modal',
    callback_id: Views.propose,
    private_metadata: incidentId,
    title: plain('Propose an action', 24),
    submit: plain('Propose', 24),
    close: plain('Cancel', 24),
    blocks: [
      {
        type: 'input',
        block_id: FormBlocks.action,
        label: plain('Action'),
        element: { type: 'static_select', action_id: INPUT, options },
      },
      {
        type: 'input',
        block_id: FormBlocks.params,
        optional: true,
        label: plain('Parameters, one key=value per line'),
        element: { type: 'plain_text_input', action_id: INPUT, multiline: true, max_length: 2000, placeholder: plain('service=api\nversion=v41') },
      },
      context(clip(help, 2900)),
      {
        type: 'input',
        block_id: FormBlocks.reason,
        label: plain('Reason'),
        element: { type: 'plain_text_input', action_id: INPUT, multiline: true, max_length: 1000 },
      },
    ],
  };
}

/** Parse the modal's `key=value` lines; a line without `=` is a problem named by its text. */
export function parseParamLines(text: string): { ok: true; params: Record<string, string> } | { ok: false; problems: string[] } {
  // A Map, not an object literal: a key such as `__proto__` must stay an ordinary (unknown) key.
  const params = new Map<string, string>();
  const problems: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) {
      problems.push(`line \`${clip(line, 40)}\` is not key=value`);
      continue;
    }
    const key = line.slice(0, eq).trim();
    if (params.has(key)) problems.push(`parameter \`${key}\` is given twice`);
    params.set(key, line.slice(eq + 1).trim());
  }
  return problems.length ? { ok: false, problems } : { ok: true, params: Object.fromEntries(params) };
}
