import { namedId } from '../domain/named-id.js';
import { effectivePolicy, parsePolicy, possibleApprovers, validateParams } from '../domain/approval-policy.js';
import { incidentLabel, isOpen, type Incident, type IncidentStatus } from '../domain/incident.js';
import { agentStarter, runStarter } from '../domain/runbook-run.js';
import { agentStartRefusal, stepWaitsFor, unmetConditions, type Runbook } from '../domain/runbook.js';
import type { Severity } from '../domain/severity.js';
import { AppError } from '../errors.js';
import type { Approval } from '../ports/store.js';
import type { RunbookRun, RunbookStepRecord } from '../ports/runbook-store.js';
import type { Deps } from './deps.js';
import { policyInWords, proposeAction, refuseIfClosed, refuseIfStanding } from './approvals.js';
import { addTimelineNote, postUpdate } from './lifecycle.js';
import { runbookMatchInput } from './runbook-offers.js';
import { ACTIVE_RUN, startRunbook } from './runbooks.js';
import { latestSummary } from './summaries.js';

/**
 * What an AI agent may do, whatever the transport (MCP at `/mcp`, or the signed webhook
 * `POST /webhooks/agents/proposals`): read incidents, post attributed updates and notes, and
 * propose actions to the approval gate. Nothing here approves or executes: a proposal waits for a
 * person's Approve in Slack like any other. Every text an agent sends is untrusted and is escaped
 * before it reaches Slack.
 */
export type AgentScope = 'read' | 'update' | 'propose' | 'runbooks';

export interface AgentPrincipal {
  name: string;
  scopes: readonly AgentScope[];
  /**
   * Only incidents matching every given field are visible (null: all but the private ones). A
   * private incident is visible only with `private: true`: its title, channel and messages are for
   * its channel's members.
   */
  incidents: { severities?: readonly Severity[]; services?: readonly string[]; private?: boolean } | null;
}

export function requireScope(agent: AgentPrincipal, scope: AgentScope): void {
  if (!agent.scopes.includes(scope))
    throw new AppError('agent.forbidden', `Agent ${agent.name} lacks the \`${scope}\` scope (it has: ${agent.scopes.join(', ')}). Nothing was done.`);
}

function visible(agent: AgentPrincipal, i: Incident): boolean {
  const f = agent.incidents;
  if (i.private && f?.private !== true) return false;
  if (!f) return true;
  if (f.severities && !f.severities.includes(i.severity)) return false;
  if (f.services && !i.services.some((s) => f.services!.includes(s))) return false;
  return true;
}

/**
 * An incident named by our id, its number (`INC-42` or `42`), its channel id or its backend id.
 * One the agent may not see is "not found", so its filter does not leak what exists.
 */
export async function resolveIncident(deps: Deps, agent: AgentPrincipal | null, ref: string): Promise<Incident> {
  const r = ref.trim();
  const seq = /^(?:INC-)?(\d{1,9})$/i.exec(r);
  const incident =
    (seq ? await deps.store.listIncidents({ limit: 1, beforeSeq: Number(seq[1]) + 1 }).then((l) => (l[0]?.seq === Number(seq[1]) ? l[0] : null)) : null) ??
    (await deps.store.getIncident(r)) ??
    (/^[CG][A-Z0-9]+$/.test(r) ? await deps.store.findIncidentByChannel(r) : null) ??
    (await deps.store.findIncidentByBackendId(deps.backend.name, r));
  if (!incident || (agent && !visible(agent, incident))) throw new AppError('incident.not_found', `No incident \`${r.slice(0, 80)}\`.`);
  return incident;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function incidentSummary(i: Incident) {
  return {
    id: i.id,
    number: incidentLabel(i),
    title: i.title,
    severity: i.severity,
    status: i.status,
    services: i.services,
    channel_id: i.channelId,
    channel_name: i.channelName,
    backend: i.backend,
    backend_url: i.backendUrl,
    declared_at: i.createdAt.toISOString(),
    resolved_at: iso(i.resolvedAt),
  };
}

export interface ListIncidentsInput {
  status?: IncidentStatus[];
  severity?: Severity[];
  service?: string;
  since?: Date;
  text?: string;
  limit: number;
  /** Paging: the `next_cursor` of the previous page. */
  cursor?: string;
}

/** Newest first, paged by incident number. The agent's incident filter is applied in the query. */
export async function listIncidentsForAgent(deps: Deps, agent: AgentPrincipal, input: ListIncidentsInput) {
  requireScope(agent, 'read');
  const f = agent.incidents;
  const severities = input.severity && f?.severities ? input.severity.filter((s) => f.severities!.includes(s)) : (input.severity ?? f?.severities);
  const services = input.service ? (f?.services && !f.services.includes(input.service) ? [] : [input.service]) : f?.services;
  if ((severities && severities.length === 0) || (services && services.length === 0)) return { incidents: [], next_cursor: null };
  const beforeSeq = input.cursor && /^\d+$/.test(input.cursor) ? Number(input.cursor) : undefined;
  const rows = await deps.store.listIncidents({
    ...(input.status?.length ? { statuses: input.status } : {}),
    ...(severities ? { severities: [...severities] } : {}),
    ...(services ? { services: [...services] } : {}),
    ...(input.since ? { since: input.since } : {}),
    ...(input.text ? { text: input.text } : {}),
    ...(beforeSeq !== undefined ? { beforeSeq } : {}),
    limit: input.limit + 1,
  });
  const page = rows.slice(0, input.limit).filter((i) => visible(agent, i));
  return { incidents: page.map(incidentSummary), next_cursor: rows.length > input.limit ? String(rows[input.limit - 1]!.seq) : null };
}

export function approvalView(deps: Deps, a: Approval) {
  const policy = parsePolicy(a.policy);
  // Who may approve was fixed when it was proposed (null: an approval from before that, resolved
  // at click time). An empty list means nobody ever can: the agent is told, instead of waiting on
  // it until it expires.
  const approvers = a.requiresApproval && a.approvers ? possibleApprovers(a.approvers, policy, { kind: a.proposerKind, id: a.proposedBy }) : null;
  // Role holders left out because they are not eligible for command (an ineligible declarer, or
  // someone they made ops_lead): said, so the agent knows why they are not in `approvers`.
  const leftOut = Object.entries(a.approvers?.ineligible ?? {});
  const who = leftOut.map(([r, u]) => `the ${r.replace(/_/g, ' ')} when it was proposed (${u})`).join(' and ');
  const notEligible = `${who} ${leftOut.length > 1 ? 'are' : 'is'} not eligible for command (approvals.eligible_commanders, or the responders when that is unset), so the role gave them no approval`;
  const nobody =
    approvers?.length === 0 && a.status === 'pending'
      ? leftOut.length
        ? `. Nobody can approve this proposal: ${notEligible}, and nobody else the policy names could approve it. It will expire unapproved; once someone eligible holds the role, propose it again`
        : '. Nobody can approve this proposal: nobody the policy names held that role or was named when it was proposed (an incident with no commander, say). It will expire unapproved; once someone has taken command, propose it again'
      : leftOut.length && a.status === 'pending'
        ? `. Not among the approvers: ${notEligible}`
        : '';
  return {
    approval_id: a.id,
    incident_id: a.incidentId,
    action: a.actionId,
    params: a.params,
    reason: a.reason,
    proposed_by: a.proposedBy,
    proposer_kind: a.proposerKind,
    status: a.status,
    requires_approval: a.requiresApproval,
    policy: `${policyInWords(policy)}${nobody}`,
    /** Slack user ids of the people who may approve it, fixed at proposal time (null: not recorded, or no approval needed). */
    approvers,
    created_at: a.createdAt.toISOString(),
    expires_at: a.expiresAt.toISOString(),
    decided_by: a.decidedBy,
    decided_at: iso(a.decidedAt),
    deny_reason: a.denyReason,
    result: a.result ?? null,
    error: a.error,
    message_link: a.channelId && a.messageTs ? deps.chat.permalink(a.channelId, a.messageTs) : null,
  };
}

/** The record, roles, card, timeline, open approvals, follow-ups and active runbook runs of one incident. */
export async function incidentDetail(deps: Deps, agent: AgentPrincipal, ref: string) {
  requireScope(agent, 'read');
  const i = await resolveIncident(deps, agent, ref);
  const [roles, timeline, approvals, followups, runs] = await Promise.all([
    deps.store.getRoles(i.id),
    deps.store.listTimeline(i.id),
    deps.store.listApprovals({ incidentId: i.id, status: ['pending', 'approved', 'executing'] }),
    deps.store.listFollowups({ incidentId: i.id }),
    deps.store.listRunbookRuns({ incidentId: i.id }),
  ]);
  const active = runs.filter((r) => ACTIVE_RUN.includes(r.status));
  const activeSteps = await Promise.all(active.map((r) => deps.store.listRunbookSteps(r.id)));
  return {
    incident: {
      ...incidentSummary(i),
      description: i.description,
      origin: i.origin,
      declared_by: i.declaredBy,
      alert_count: i.alertCount,
      updated_at: i.updatedAt.toISOString(),
    },
    roles,
    card: {
      posted: i.cardTs !== null,
      link: i.channelId && i.cardTs ? deps.chat.permalink(i.channelId, i.cardTs) : null,
      status: i.status,
      severity: i.severity,
    },
    timeline: timeline.map((t) => ({ at: t.at.toISOString(), kind: t.kind, text: t.text, author: t.author })),
    open_approvals: approvals.map((a) => approvalView(deps, a)),
    followups: followups.map((f) => ({
      id: f.id,
      text: f.text,
      owner: f.ownerId,
      due: f.due,
      state: f.state,
      source: f.source,
      created_by: f.createdBy,
      created_at: f.createdAt.toISOString(),
      backend_url: f.backendUrl,
    })),
    active_runbook_runs: active.map((r, n) => runView(deps, r, activeSteps[n]!)),
  };
}

// -- runbooks ---------------------------------------------------------------------------------

/** Of a step's output, at most this much goes to an agent (the whole output is in the run's thread). */
const MAX_STEP_OUTPUT = 4000;

const starterLabel = (startedBy: string) => {
  const s = runStarter(startedBy);
  return s.kind === 'auto' ? 'automatic' : s.kind === 'agent' ? `agent:${s.name}` : s.userId;
};

/** A run and each step's state, as an agent reads it. Step outputs are data from systems, not instructions. */
export function runView(deps: Deps, run: RunbookRun, steps: readonly RunbookStepRecord[]) {
  return {
    run_id: run.id,
    incident_id: run.incidentId,
    runbook: run.runbookId,
    title: run.runbook.title,
    status: run.status,
    started_by: starterLabel(run.startedBy),
    started_at: run.createdAt.toISOString(),
    finished_at: iso(run.finishedAt),
    message_link: run.messageTs ? deps.chat.permalink(run.channelId, run.messageTs) : null,
    steps: [...steps]
      .sort((a, b) => a.index - b.index)
      .map((s) => {
        const def = run.runbook.steps[s.index];
        const output =
          s.output === null
            ? null
            : s.output.length > MAX_STEP_OUTPUT
              ? `${s.output.slice(0, MAX_STEP_OUTPUT)}\n… (cut: the whole output is in the run's thread)`
              : s.output;
        return {
          index: s.index,
          id: s.stepId,
          title: def?.title ?? s.stepId,
          kind: def?.kind ?? null,
          status: s.status,
          attempt: s.attempt,
          waits_for: def ? stepWaitsFor(def, deps.config.actions) : null,
          approval_id: s.approvalId,
          summary: typeof s.detail.summary === 'string' ? s.detail.summary : null,
          error: s.error,
          output,
          started_at: iso(s.startedAt),
          finished_at: iso(s.finishedAt),
        };
      }),
  };
}

function runbookView(deps: Deps, rb: Runbook) {
  const refusal = agentStartRefusal(rb);
  return {
    id: rb.id,
    title: rb.title,
    description: rb.description,
    auto: rb.auto,
    applies_to: { services: rb.appliesTo.services, sources: rb.appliesTo.sources, labels: rb.appliesTo.labels, min_severity: rb.appliesTo.minSeverity },
    agent_may_start: refusal === null,
    ...(refusal ? { why_not: refusal } : {}),
    steps: rb.steps.map((s) => ({
      id: s.id,
      title: s.title,
      kind: s.kind,
      ...(s.kind === 'action' ? { action: s.action.id } : {}),
      waits_for: stepWaitsFor(s, deps.config.actions),
    })),
  };
}

/**
 * The runbooks configured; with an incident, whether each applies to it (its severity, services,
 * origin and alert labels, as the card's offers; an agent may start only those) and the runs
 * already active there.
 */
export async function runbookCatalogue(deps: Deps, agent: AgentPrincipal, ref: string | null) {
  requireScope(agent, 'read');
  if (!ref) return { runbooks: deps.config.runbooks.map((rb) => runbookView(deps, rb)) };
  const i = await resolveIncident(deps, agent, ref);
  const [match, runs] = await Promise.all([runbookMatchInput(deps, i), deps.store.listRunbookRuns({ incidentId: i.id })]);
  return {
    incident_id: i.id,
    incident_open: isOpen(i.status),
    runbooks: deps.config.runbooks.map((rb) => {
      const active = runs.find((r) => r.runbookId === rb.id && ACTIVE_RUN.includes(r.status));
      const view = runbookView(deps, rb);
      const unmet = unmetConditions(rb, match);
      // An agent may start only a runbook that applies (start_runbook refuses the others).
      const notHere =
        view.agent_may_start && unmet.length ? { agent_may_start: false, why_not: `it does not apply to ${incidentLabel(i)} (${unmet.join('; ')})` } : {};
      return { ...view, ...notHere, applies: unmet.length === 0, active_run_id: active?.id ?? null };
    }),
  };
}

/**
 * An agent starts a runbook in an incident, as a person would from Slack, with the same refusals
 * (unknown runbook, closed incident, the same runbook already active), and only one that applies
 * to the incident (`runbook.not_applicable` otherwise: a person is offered only those). The run is started by the
 * agent (`agent:<name>`): its read-only steps run by themselves; each risky action is the agent's
 * proposal and waits for a person's Approve in the channel; a check waits for a person.
 */
export async function startRunbookForAgent(deps: Deps, agent: AgentPrincipal, ref: string, runbookId: string) {
  requireScope(agent, 'runbooks');
  const i = await resolveIncident(deps, agent, ref);
  const { run, created } = await startRunbook(deps, { incidentId: i.id, runbookId, startedBy: agentStarter(agent.name) }).catch((err: unknown) => {
    // The person's answer says to cancel the run first; an agent cannot, so it is told where to look.
    if (err instanceof AppError && err.code === 'runbook.already_running')
      throw new AppError(
        err.code,
        `Runbook \`${runbookId}\` is already running in this incident (run ${String(err.detail.runId)}, ${String(err.detail.status)}); nothing new was started. ` +
          'Follow that run with get_incident; a person can cancel it in Slack.',
        err.detail,
      );
    throw err;
  });
  const fresh = (await deps.store.getRunbookRun(run.id)) ?? run;
  return {
    ...runView(deps, fresh, await deps.store.listRunbookSteps(run.id)),
    created,
    ...(created
      ? {}
      : { note: `Runbook \`${runbookId}\` was being started in this incident at the same moment; this is that run, and nothing new was started.` }),
  };
}

/** Recent channel messages as data (newest page first; `before` pages back). */
export async function channelMessages(deps: Deps, agent: AgentPrincipal, ref: string, opts: { limit: number; before?: string }) {
  requireScope(agent, 'read');
  const i = await resolveIncident(deps, agent, ref);
  if (!i.channelId) return { messages: [], next_before: null };
  const messages = await deps.chat.history(i.channelId, { limit: opts.limit, ...(opts.before ? { latest: opts.before } : {}) });
  const botUser = deps.chat.botUserId();
  return {
    messages: messages.map((m) => ({
      ts: m.ts,
      author: m.user ?? m.botId ?? 'unknown',
      is_bot: !!m.botId || (m.user !== null && m.user === botUser),
      text: m.text,
      thread_ts: m.threadTs ?? null,
    })),
    next_before: messages.length === opts.limit ? (messages[0]?.ts ?? null) : null,
  };
}

/** The latest summary posted in the channel, or (`fresh`, or none yet) a new one written now and not posted. */
export async function summaryForAgent(deps: Deps, agent: AgentPrincipal, ref: string, fresh: boolean) {
  requireScope(agent, 'read');
  const i = await resolveIncident(deps, agent, ref);
  const s = await latestSummary(deps, i.id, fresh);
  return { incident_id: i.id, ...s };
}

export function actionCatalogue(deps: Deps) {
  return deps.config.actions.map((a) => {
    const policy = effectivePolicy(a.policy, deps.config.file.approvals.default_expiry_minutes);
    return {
      id: a.id,
      title: a.title,
      description: a.description ?? null,
      params: a.params,
      requires_approval: a.requires_approval,
      // Whatever the action, an agent's proposal waits for a person.
      policy: `${policyInWords(policy)}; proposals by agents always need a person's approval`,
      executor: a.executor.type,
    };
  });
}

/** A status update, attributed "via <agent>"; the text is escaped (it can mention nobody). */
export async function postAgentUpdate(deps: Deps, agent: AgentPrincipal, ref: string, text: string) {
  requireScope(agent, 'update');
  const i = await resolveIncident(deps, agent, ref);
  const { ts } = await postUpdate(deps, i.id, text.trim(), agent.name, { via: 'agent' });
  return { incident_id: i.id, posted: ts !== null, ts };
}

export async function addAgentNote(deps: Deps, agent: AgentPrincipal, ref: string, text: string) {
  requireScope(agent, 'update');
  const i = await resolveIncident(deps, agent, ref);
  const at = await addTimelineNote(deps, i.id, text.trim(), agent.name);
  return { incident_id: i.id, added: true, at: at.toISOString() };
}

export interface AgentProposalInput {
  incident: Incident;
  action: string;
  params: Record<string, unknown>;
  reason: string;
  /** A retried request with the same key proposes once and gets the same approval back. */
  idempotencyKey?: string | null;
}

/**
 * The one proposal path for agents (MCP and the webhook). Everything is checked before the
 * idempotency key is claimed, so a refused proposal can be corrected and resent under the same key.
 */
export async function proposeForAgent(deps: Deps, agent: AgentPrincipal, input: AgentProposalInput): Promise<{ approval: Approval; duplicate: boolean }> {
  requireScope(agent, 'propose');
  if (!visible(agent, input.incident)) throw new AppError('incident.not_found', 'No such incident.');
  const action = deps.config.actions.find((a) => a.id === input.action);
  const checked = action ? validateParams(action, input.params) : null;
  if (action && checked && !checked.ok)
    throw new AppError('action.invalid_params', `Invalid parameters for \`${action.id}\`: ${checked.problems.join('; ')}. Nothing was proposed.`);
  // Before the idempotency key is claimed, like the checks above: an agent's proposal always waits for a person.
  refuseIfClosed(input.incident, input.action);
  if (!input.incident.channelId)
    throw new AppError(
      'input.invalid',
      `${incidentLabel(input.incident)} has no Slack channel yet, so there is nowhere to ask for approval. Try again in a moment.`,
    );
  const key = input.idempotencyKey ? `agent-proposal:${agent.name}:${input.idempotencyKey.slice(0, 200)}` : null;
  // With a key, the approval's id follows from it: a retry (even one racing the first request) is
  // not refused as a second proposal of the same action by the check below, which finds the first.
  const approvalId = key ? namedId(key) : undefined;
  // The same action with the same parameters already standing: refused, naming it (before the key is claimed).
  if (action && checked?.ok) await refuseIfStanding(deps, input.incident, action.id, checked.value, approvalId);
  if (key && !(await deps.store.markProcessed(key, deps.clock.now()))) {
    // The first request may still be writing: give it a moment to record its approval id.
    for (let i = 0; i < 50; i++) {
      const id = await deps.store.getKv<string>(key);
      const existing = id ? await deps.store.getApproval(id) : null;
      if (existing) return { approval: existing, duplicate: true };
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new AppError('input.invalid', 'A proposal with this idempotency key is still being recorded; retry in a moment.');
  }
  const approval = await proposeAction(deps, {
    ...(approvalId ? { id: approvalId } : {}),
    incidentId: input.incident.id,
    actionId: input.action,
    rawParams: input.params,
    reason: input.reason,
    proposedBy: agent.name,
    proposerKind: 'agent',
  });
  if (key) await deps.store.setKv(key, approval.id);
  return { approval, duplicate: false };
}

async function agentApproval(deps: Deps, agent: AgentPrincipal, approvalId: string): Promise<Approval> {
  const a = await deps.store.getApproval(approvalId);
  if (a) {
    const incident = await deps.store.getIncident(a.incidentId);
    if (incident && visible(agent, incident)) return a;
  }
  throw new AppError('approval.not_found', `No approval \`${approvalId.slice(0, 80)}\`.`);
}

export async function approvalState(deps: Deps, agent: AgentPrincipal, approvalId: string) {
  requireScope(agent, 'read');
  return approvalView(deps, await agentApproval(deps, agent, approvalId));
}

/** States after which nothing more happens to a proposal. */
const SETTLED = new Set(['succeeded', 'failed', 'unknown', 'denied', 'expired']);

/**
 * Block until the proposal is settled (decided and, when approved, run) or `timeoutMs` passes, then
 * return its state. The agent polls again with the id while it is not settled.
 */
export async function waitForApproval(deps: Deps, agent: AgentPrincipal, approvalId: string, timeoutMs: number, signal?: AbortSignal) {
  requireScope(agent, 'read');
  const deadline = Date.now() + timeoutMs;
  let a = await agentApproval(deps, agent, approvalId);
  while (!SETTLED.has(a.status) && Date.now() < deadline && !signal?.aborted) {
    await new Promise((r) => setTimeout(r, Math.min(250, Math.max(0, deadline - Date.now()))));
    a = (await deps.store.getApproval(approvalId)) ?? a;
  }
  return { ...approvalView(deps, a), settled: SETTLED.has(a.status) };
}

/** Every tool call an agent makes, in the incident's audit log (`/incident audit`) when it names one. */
export async function auditAgentCall(deps: Deps, agent: string, tool: string, incidentId: string | null, outcome: string): Promise<void> {
  await deps.store.audit({ at: deps.clock.now(), incidentId, actor: agent, action: 'agent.tool_called', detail: { tool, outcome } });
}
