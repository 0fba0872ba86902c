import { namedId } from '../domain/named-id.js';
import { z } from 'zod';
import { incidentLabel, isOpen, type Incident } from '../domain/incident.js';
import { withdrawalOf, withdrawalReason } from '../domain/records.js';
import {
  FEEDBACK_ANSWERS,
  FINISHED_RUN,
  capOutput,
  canRetry,
  canSkip,
  describeOperators,
  mayOperate,
  nextMove,
  runStarter,
  runStatusFor,
  type FeedbackAnswer,
  type RunStarter,
  type RunStatus,
} from '../domain/runbook-run.js';
import { agentStartRefusal, alertLabels, unmetConditions, unvouchedCommands, type Runbook, type RunbookStep } from '../domain/runbook.js';
import { TemplateError, renderArgvTemplate, renderTemplate, renderUrlTemplate, type TemplateVars } from '../domain/runbook-template.js';
import { AppError, ChatError } from '../errors.js';
import type { Approval } from '../ports/store.js';
import type { RunbookRun, RunbookStepPatch, RunbookStepRecord } from '../ports/runbook-store.js';
import { StepRunError, type StepRunners } from '../ports/step-runners.js';
import {
  diagnosisMessage,
  diagnosisNeedsFile,
  outputNeedsFile,
  runbookList,
  runbookMessage,
  stepOutputMessage,
  type OutputFile,
} from '../slack/blocks/runbook.js';
import { Markers } from '../slack/ids.js';
import { escapeText } from '../slack/mrkdwn.js';
import { proposeAction, withdrawApproval } from './approvals.js';
import { actionSpecs } from './claude-proposals.js';
import type { Deps } from './deps.js';
import { defineJob, PermanentJobError } from './jobs.js';
import { backendSyncJob, requireIncident } from './lifecycle.js';
import { applicableRunbooks, runbookMatchInput } from './runbook-offers.js';
import { postOnce, step as recordedStep } from './steps.js';
import { buildSummaryContext } from './summaries.js';

/**
 * Runbooks in the incident (docs/runbooks.md). A run is a row per step in the store; each step is
 * executed by its own job, keyed by (run, step, attempt), so it is started once:
 *
 * - the job moves the step pending → running (compare-and-set), runs it, and records the outcome
 *   before it enqueues the next step's job. A job that finds its step already `running` was
 *   resumed after its worker died mid-step: the step becomes `unknown` and waits for a person
 *   (retry or skip), never run again blindly, the same rule as the approval gate;
 * - an `action` step is a proposal through the gate like anyone's: read-only actions run at once,
 *   risky ones wait for Approve; the run waits for the approval's outcome (`approval.settled`),
 *   and a denied or expired approval stops it;
 * - a `check` step waits for a person's click; `http` and `command` steps run through the step
 *   runners port; `diagnose` asks Claude with the earlier outputs as data.
 *
 * Every outcome goes to the checklist message (updated in place), the thread (outputs), the
 * timeline and the backend.
 */

/** `incidentId` is there for the dead-job notice (it is posted in the incident's channel). */
const StepJob = z.object({ runId: z.string().min(1), index: z.number().int().min(0), attempt: z.number().int().min(0), incidentId: z.string().optional() });
const RunJob = z.object({ runId: z.string().min(1), incidentId: z.string().optional() });
const IncidentJob = z.object({ incidentId: z.string().min(1) });
const ApprovalJob = z.object({ approvalId: z.string().min(1) });

const flowId = (runId: string) => `runbook:${runId}`;
export const ACTIVE_RUN: readonly RunStatus[] = ['running', 'waiting', 'blocked'];
const ACTIVE: RunStatus[] = [...ACTIVE_RUN];

/** The starter as the timeline and the audit name it: a mention, `automatically`, or the agent (escaped). */
function starterText(s: RunStarter): string {
  return s.kind === 'auto' ? 'automatically' : s.kind === 'agent' ? `by agent \`${escapeText(s.name)}\`` : `by <@${s.userId}>`;
}
const starterActor = (s: RunStarter) => (s.kind === 'auto' ? 'system' : s.kind === 'agent' ? s.name : s.userId);

// -- starting ---------------------------------------------------------------------------------

export interface StartInput {
  incidentId: string;
  runbookId: string;
  /** A Slack user id, `auto`, or an agent (`agentStarter(name)`, domain/runbook-run.ts). */
  startedBy: string;
}

/**
 * Start a runbook in an incident's channel. An automatic start is made once per incident and
 * runbook; a manual one (a person's or an agent's) is refused while the same runbook is still
 * active in the incident. An agent may start only a runbook whose steps it may cause to run
 * (agentStartRefusal); its risky steps wait for a person's Approve like every proposal.
 */
export async function startRunbook(deps: Deps, input: StartInput): Promise<{ run: RunbookRun; created: boolean }> {
  const rb = deps.config.runbooks.find((r) => r.id === input.runbookId);
  if (!rb) {
    const known = deps.config.runbooks.map((r) => `\`${r.id}\``).join(', ') || 'none is configured';
    throw new AppError('input.invalid', `Unknown runbook \`${input.runbookId}\`. Runbooks: ${known}.`);
  }
  const starter = runStarter(input.startedBy);
  if (starter.kind === 'agent') {
    const refusal = agentStartRefusal(rb);
    if (refusal) throw new AppError('agent.forbidden', `An agent cannot start this runbook: ${refusal}. Nothing was started.`);
  }
  const incident = await requireIncident(deps, input.incidentId);
  const commands = unvouchedCommands(rb);
  if (commands.length && starter.kind === 'user' && !(await isOperator(deps, rb.policy, incident.id, starter.userId))) {
    await deps.store.audit({
      at: deps.clock.now(),
      incidentId: incident.id,
      actor: starter.userId,
      action: 'runbook.refused',
      detail: { runbook: rb.id, click: 'start' },
    });
    throw new AppError(
      'approval.not_allowed',
      `:no_entry: Runbook \`${rb.id}\` runs command step${commands.length === 1 ? '' : 's'} not declared read_only (${commands.join(', ')}): no Approve guards ${commands.length === 1 ? 'it' : 'them'}, so only the people its policy names start it. Who may start it: ${describeOperators({ ...rb.policy }).replace(/,? or the person who started it$/, '')}. Nothing was started.`,
    );
  }
  if (!incident.channelId)
    throw new AppError('input.invalid', `${incidentLabel(incident)} has no Slack channel yet; a runbook reports there. Try again in a moment.`);
  if (!isOpen(incident.status))
    throw new AppError('incident.bad_transition', `${incidentLabel(incident)} is ${incident.status}; runbooks run only in open incidents.`);
  // An agent gets no more than a person is offered: the runbooks that apply to the incident (the
  // card's offers). Starting another is a person's call, made by hand in Slack.
  if (starter.kind === 'agent') {
    const unmet = unmetConditions(rb, await runbookMatchInput(deps, incident));
    if (unmet.length) throw notApplicable(rb, incident, unmet);
  }
  const auto = starter.kind === 'auto';
  const previous = (await deps.store.listRunbookRuns({ incidentId: incident.id })).filter((r) => r.runbookId === rb.id);
  const active = previous.find((r) => ACTIVE.includes(r.status));
  if (active && !auto)
    throw new AppError(
      'runbook.already_running',
      `Runbook \`${rb.id}\` is already running in this incident; nothing new was started. Cancel that run first to start it again.`,
      { runId: active.id, status: active.status },
    );
  // Concurrent starts of the same runbook compute the same key: one run is created.
  const dedupeKey = auto ? `auto:${incident.id}:${rb.id}` : `manual:${incident.id}:${rb.id}:${previous.length}`;
  const now = deps.clock.now();
  const res = await deps.store.createRunbookRun({
    id: deps.newId(),
    incidentId: incident.id,
    runbookId: rb.id,
    runbook: rb,
    startedBy: input.startedBy,
    channelId: incident.channelId,
    dedupeKey,
    createdAt: now,
  });
  if (!res.created) return res;
  const run = res.run;
  await deps.store.audit({
    at: now,
    incidentId: incident.id,
    actor: starterActor(starter),
    action: 'runbook.started',
    detail: { runbook: rb.id, run: run.id, auto, ...(starter.kind === 'agent' ? { agent: starter.name } : {}) },
  });
  await timeline(deps, run, `start`, `Runbook *${escapeText(rb.title)}* started ${starterText(starter)}`, now);
  await showOrRetryLater(deps, run.id);
  await advance(deps, run.id);
  return res;
}

/** An agent's start of a runbook that does not apply to the incident, with the conditions it does not meet. */
function notApplicable(rb: Runbook, incident: Incident, unmet: string[]): AppError {
  return new AppError(
    'runbook.not_applicable',
    `Runbook \`${rb.id}\` does not apply to ${incidentLabel(incident)} (${unmet.join('; ')}). An agent may start only the runbooks that apply to the incident, ` +
      'those the incident card offers (list_runbooks with the incident: `applies`); a person may start another from Slack. Nothing was started.',
    { runbook: rb.id, unmet },
  );
}

/** `/incident runbook [id]`: list what applies, or start one. */
export async function runbookCommand(deps: Deps, incident: Incident, runbookId: string | null, userId: string): Promise<string | null> {
  if (!runbookId) {
    const applying = await applicableRunbooks(deps, incident);
    return runbookList(
      applying,
      deps.config.runbooks.filter((r) => !applying.includes(r)),
    );
  }
  await startRunbook(deps, { incidentId: incident.id, runbookId, startedBy: userId });
  return null;
}

/** After the declare flow: start every `auto: true` runbook that applies (once per incident and runbook). */
export async function autoStartRunbooks(deps: Deps, incidentId: string): Promise<number> {
  const incident = await deps.store.getIncident(incidentId);
  if (!incident?.channelId || !isOpen(incident.status)) return 0;
  const matching = (await applicableRunbooks(deps, incident)).filter((rb) => rb.auto);
  let started = 0;
  for (const rb of matching) {
    const { created } = await startRunbook(deps, { incidentId, runbookId: rb.id, startedBy: 'auto' });
    if (created) started++;
  }
  return started;
}

// -- moving a run forward -------------------------------------------------------------------------

/**
 * Decide the run's next move from its steps, record the run's status, and enqueue the next step's
 * job (keyed, so a repeated advance enqueues it once). Idempotent.
 */
export async function advance(deps: Deps, runId: string): Promise<void> {
  const run = await deps.store.getRunbookRun(runId);
  if (!run) return;
  // Cancelled: nothing more starts, but a step that was already running shows how it ended.
  if (run.status === 'cancelled') return showOrRetryLater(deps, runId);
  const steps = await deps.store.listRunbookSteps(runId);
  const move = nextMove(steps.map((s) => ({ index: s.index, status: s.status, continueOnFailure: run.runbook.steps[s.index]?.continueOnFailure ?? false })));
  const status = runStatusFor(move);
  const now = deps.clock.now();
  if (status !== run.status) {
    const finished = FINISHED_RUN.includes(status);
    const moved = await deps.store.transitionRunbookRun(runId, ACTIVE.concat(finished ? [] : ['succeeded', 'failed']), status, {
      finishedAt: finished ? now : null,
    });
    if (moved && finished) {
      const failures = move.kind === 'finished' ? move.failures : 0;
      const text =
        status === 'succeeded'
          ? `Runbook *${escapeText(run.runbook.title)}* finished${failures ? ` (${failures} step${failures === 1 ? '' : 's'} failed and were allowed to)` : ''}`
          : `Runbook *${escapeText(run.runbook.title)}* stopped at step ${(move.kind === 'stopped' ? move.index : 0) + 1}: ${escapeText(stepTitle(run.runbook, move.kind === 'stopped' ? move.index : 0))}`;
      await deps.store.audit({
        at: now,
        incidentId: run.incidentId,
        actor: 'system',
        action: status === 'succeeded' ? 'runbook.finished' : 'runbook.stopped',
        detail: { runbook: run.runbookId, run: run.id },
      });
      await timeline(deps, run, `end:${steps.map((s) => s.attempt).join('.')}`, text, now);
    }
  }
  if (move.kind === 'start') {
    const step = steps.find((s) => s.index === move.index)!;
    await deps.jobs.enqueue(runbookStepJob, { runId, index: step.index, attempt: step.attempt, incidentId: run.incidentId });
  }
  await showOrRetryLater(deps, runId);
}

/** The step job: run one attempt of one step, exactly once (see the header of this file). */
export async function runStepJob(deps: Deps, runners: StepRunners, job: z.infer<typeof StepJob>): Promise<void> {
  const run = await deps.store.getRunbookRun(job.runId);
  if (!run) return;
  const step = await deps.store.getRunbookStep(job.runId, job.index);
  if (!step || step.attempt !== job.attempt) return;
  const def = run.runbook.steps[job.index];
  if (!def) return;
  switch (step.status) {
    case 'pending': {
      if (run.status === 'cancelled' || FINISHED_RUN.includes(run.status)) return;
      // Checked where the step would start: a run does not go on in a resolved or cancelled incident
      // (no more calls with the team's secrets, no commands, no proposals).
      const incident = await deps.store.getIncident(run.incidentId);
      if (!incident || !isOpen(incident.status)) return stopForClosedIncident(deps, run, incident);
      if (def.kind === 'check') {
        const waiting = await deps.store.transitionRunbookStep(
          run.id,
          step.index,
          ['pending'],
          'waiting_check',
          { startedAt: deps.clock.now() },
          { attempt: job.attempt },
        );
        if (waiting)
          await deps.store.audit({
            at: deps.clock.now(),
            incidentId: run.incidentId,
            actor: 'system',
            action: 'runbook.check_waiting',
            detail: { run: run.id, step: def.id },
          });
        return advance(deps, run.id);
      }
      const claimed = await deps.store.transitionRunbookStep(
        run.id,
        step.index,
        ['pending'],
        'running',
        { startedAt: deps.clock.now() },
        { attempt: job.attempt },
      );
      if (!claimed) return runStepJob(deps, runners, job);
      await showOrRetryLater(deps, run.id);
      await executeStep(deps, runners, run, def, claimed);
      return;
    }
    case 'running': {
      // An action step whose proposal was made before the job died: the step waits on that proposal
      // (the gate still decides; nothing runs by itself).
      if (def.kind === 'action') {
        const proposed = await deps.store.getApproval(stepApprovalId(run.id, step.index, step.attempt));
        if (proposed) {
          if (!(await waitOnProposal(deps, run, def, { index: step.index, attempt: job.attempt }, proposed))) return runStepJob(deps, runners, job);
          return;
        }
      }
      // Only this job starts this attempt of this step. Finding it running means an earlier run of
      // this very job died after starting it (a crash, a lost lease): the step may or may not have
      // had its effect. A person decides; it is never run again on its own.
      const marked = await deps.store.transitionRunbookStep(
        run.id,
        step.index,
        ['running'],
        'unknown',
        {
          finishedAt: deps.clock.now(),
          error: 'Outcome unknown: Firebreak stopped while this step was running, so it is not run again on its own. Check its effect, then retry or skip it.',
        },
        { attempt: job.attempt },
      );
      if (!marked) return runStepJob(deps, runners, job);
      await deps.store.audit({
        at: deps.clock.now(),
        incidentId: run.incidentId,
        actor: 'system',
        action: 'runbook.step_unknown',
        detail: { run: run.id, step: def.id, attempt: job.attempt },
      });
      return recordOutcome(deps, run, marked);
    }
    default:
      // Outcome already recorded (the job died after recording it): finish its effects, move on.
      return recordOutcome(deps, run, step);
  }
}

async function executeStep(deps: Deps, runners: StepRunners, run: RunbookRun, def: RunbookStep, step: RunbookStepRecord): Promise<void> {
  const max = deps.config.file.runbooks.max_output_chars;
  const fail = (error: string, patch: RunbookStepPatch = {}) => finishStep(deps, run, step, 'failed', { ...patch, error });
  let vars: TemplateVars;
  try {
    vars = await templateVars(deps, run);
  } catch (err) {
    return fail(`could not read the incident: ${(err as Error).message}`);
  }
  const render = (t: string) => renderTemplate(t, vars);
  try {
    switch (def.kind) {
      case 'http': {
        const h = def.http;
        const secrets: string[] = [];
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(h.headers)) {
          if (typeof v === 'string') headers[k] = render(v);
          else {
            const value = deps.config.runbookEnv[v.env];
            if (!value) return fail(`the variable ${v.env} (header ${k}) is not set`);
            headers[k] = value;
            secrets.push(value);
          }
        }
        const url = renderUrlTemplate(h.url, vars);
        if (new URL(url).origin !== new URL(h.url.replace(/\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g, 'x')).origin)
          return fail('the filled-in URL points at another host than the runbook names; nothing was sent');
        const res = await runners.http({
          method: h.method,
          url,
          headers,
          ...(h.body !== undefined ? { body: render(h.body) } : {}),
          timeoutMs: h.timeout_ms,
          maxChars: max,
        });
        const capped = capOutput(res.body, max, secrets);
        const ok = h.expect_status ? h.expect_status.includes(res.status) : res.status >= 200 && res.status < 300;
        const patch: RunbookStepPatch = { output: capped.text, detail: { status_code: res.status, truncated: res.truncated || capped.truncated } };
        if (!ok) return fail(`HTTP ${res.status} (expected ${h.expect_status ? h.expect_status.join(' or ') : '2xx'})`, patch);
        return finishStep(deps, run, step, 'done', { ...patch, detail: { ...patch.detail, summary: `HTTP ${res.status}` } });
      }
      case 'command': {
        if (!deps.config.file.runbooks.allow_commands)
          return fail('command steps are disabled on this Firebreak (runbooks.allow_commands is false); nothing was run');
        const c = def.command;
        // Checked when the agent started the run; checked again here, where the command would run.
        if (runStarter(run.startedBy).kind === 'agent' && !c.read_only)
          return fail('an agent started this run and this command is not declared read_only; nothing was run');
        if (runStarter(run.startedBy).kind === 'auto' && !c.read_only)
          return fail('this run started automatically and this command is not declared read_only; nothing was run');
        const env: Record<string, string> = {};
        for (const name of ['PATH', ...c.env]) if (deps.config.runbookEnv[name] !== undefined) env[name] = deps.config.runbookEnv[name]!;
        const argv = c.argv.map((a) => renderArgvTemplate(a, vars));
        const res = await runners.command({ argv, ...(c.cwd ? { cwd: c.cwd } : {}), env, timeoutMs: c.timeout_ms, maxChars: max });
        const secrets = c.env.map((n) => deps.config.runbookEnv[n] ?? '').filter(Boolean);
        const capped = capOutput(res.output, max, secrets);
        const patch: RunbookStepPatch = {
          output: capped.text,
          detail: { exit_code: res.exitCode, truncated: res.truncated || capped.truncated, ...(res.signal ? { signal: res.signal } : {}) },
        };
        if (res.timedOut) return fail(`timed out after ${c.timeout_ms} ms; the command was killed`, patch);
        if (res.exitCode !== 0) return fail(`exited with ${res.exitCode ?? res.signal}`, patch);
        return finishStep(deps, run, step, 'done', { ...patch, detail: { ...patch.detail, summary: 'exit 0' } });
      }
      case 'action':
        return proposeStepAction(deps, run, def, step, render);
      case 'diagnose':
        return diagnoseStep(deps, run, def, step, vars);
      case 'check':
        return; // never running: checks wait for a person
    }
  } catch (err) {
    if (err instanceof TemplateError || err instanceof StepRunError || err instanceof AppError) return fail(err.message);
    if (err instanceof TypeError && /URL/i.test(err.message)) return fail(`the filled-in URL is not valid: ${err.message}`);
    throw err;
  }
}

/** A step's outcome: compare-and-set from running, then its effects and the next move. */
async function finishStep(deps: Deps, run: RunbookRun, step: RunbookStepRecord, to: 'done' | 'failed', patch: RunbookStepPatch): Promise<void> {
  const now = deps.clock.now();
  const done = await deps.store.transitionRunbookStep(run.id, step.index, ['running'], to, { ...patch, finishedAt: now }, { attempt: step.attempt });
  if (!done) return; // someone else recorded it (a resumed job marked it unknown after our lease ran out)
  await deps.store.audit({
    at: now,
    incidentId: run.incidentId,
    actor: 'system',
    action: to === 'done' ? 'runbook.step_done' : 'runbook.step_failed',
    detail: { run: run.id, step: done.stepId, error: done.error },
  });
  return recordOutcome(deps, run, done);
}

/**
 * The effects of a recorded outcome, each idempotent (keyed): the output in the thread, the
 * timeline (store and backend), then the next move. Repeating it after a crash repeats nothing.
 */
async function recordOutcome(deps: Deps, run: RunbookRun, step: RunbookStepRecord): Promise<void> {
  if (['done', 'failed', 'denied', 'unknown', 'skipped'].includes(step.status)) {
    const def = run.runbook.steps[step.index];
    const tag =
      step.status === 'done'
        ? 'done'
        : step.status === 'skipped'
          ? 'skipped'
          : step.status === 'unknown'
            ? 'OUTCOME UNKNOWN'
            : step.status === 'denied'
              ? 'not approved'
              : 'FAILED';
    const text = `Runbook *${escapeText(run.runbook.title)}* step ${step.index + 1} (${escapeText(def?.title ?? step.stepId)}) ${tag}${step.status === 'skipped' && step.actor ? ` by <@${step.actor}>` : ''}${step.error ? `: ${escapeText(step.error.slice(0, 300))}` : ''}`;
    await timeline(deps, run, `step:${step.index}:${step.attempt}:${step.status}`, text, step.finishedAt ?? deps.clock.now());
    if (def?.kind !== 'diagnose' && step.status !== 'skipped')
      await postStepOutput(deps, run.id, step).catch((err) => deps.logger.warn({ err, runId: run.id }, 'posting a step output failed'));
  }
  await advance(deps, run.id);
}

async function postStepOutput(deps: Deps, runId: string, step: RunbookStepRecord): Promise<void> {
  const run = await ensureMessage(deps, runId);
  if (!run?.messageTs) return;
  const marker = Markers.runbookOutput(run.id, step.index, step.attempt);
  const file = step.output && outputNeedsFile(step.output) ? await attachOutput(deps, run, step, step.output, 'output') : null;
  await postOnce(
    deps,
    flowId(run.id),
    `output:${step.index}:${step.attempt}`,
    run.channelId,
    marker,
    () => stepOutputMessage(marker, run.runbook, step, file),
    { threadTs: run.messageTs },
  );
}

/**
 * An output too long for its thread message goes whole into a text file in the thread (the
 * message shows its start and names the file): nothing is cut without saying where the rest is.
 * Recorded per step attempt, so a repeated outcome uploads it once; if the process dies between
 * the upload and the record, the file may be uploaded twice (Slack offers no lookup without
 * `files:read`), which loses nothing. A refused upload (no `files:write`, the bot removed from the
 * channel) is recorded with Slack's reason, which the message then gives.
 */
async function attachOutput(deps: Deps, run: RunbookRun, step: RunbookStepRecord, text: string, what: 'output' | 'diagnosis'): Promise<OutputFile> {
  const name = `${run.runbookId}-step-${step.index + 1}-${step.stepId}${step.attempt ? `-attempt-${step.attempt + 1}` : ''}-${what}.txt`.replace(
    /[^A-Za-z0-9._-]/g,
    '_',
  );
  return recordedStep(deps, flowId(run.id), `${what}-file:${step.index}:${step.attempt}`, async (): Promise<OutputFile> => {
    try {
      await deps.chat.uploadFile({
        channelId: run.channelId,
        threadTs: run.messageTs ?? undefined,
        filename: name,
        title: `${run.runbook.title}, step ${step.index + 1} (${stepTitle(run.runbook, step.index)}): ${what}`,
        bytes: Buffer.from(text, 'utf8'),
      });
      return { name, error: null };
    } catch (err) {
      if (!(err instanceof ChatError)) throw err;
      deps.logger.warn({ runId: run.id, step: step.index, error: err.slackError }, 'attaching a long step output as a file failed');
      const why =
        err.slackError === 'missing_scope' ? 'the Slack app lacks files:write; update it from manifest.yml and reinstall' : `Slack answered ${err.slackError}`;
      return { name, error: why };
    }
  });
}

// -- action steps: through the approval gate ------------------------------------------------------

async function proposeStepAction(
  deps: Deps,
  run: RunbookRun,
  def: Extract<RunbookStep, { kind: 'action' }>,
  step: RunbookStepRecord,
  render: (t: string) => string,
): Promise<void> {
  const params: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(def.action.params)) params[k] = typeof v === 'string' ? render(v) : v;
  const starter = runStarter(run.startedBy);
  const reason = `Runbook “${run.runbook.title}”, step ${step.index + 1}: ${def.title}${def.action.reason ? ` — ${render(def.action.reason)}` : ''}`;
  // Started by a person: that person proposes it (they cannot approve their own risky step).
  // Started automatically: the runbook proposes it. Started by an agent: the agent proposes it,
  // and only a person can approve. In every case a risky action waits for a person's Approve;
  // a read-only one runs at once (declaredInRunbook: the team wrote the action and its params).
  // A retried step is proposed by the person who pressed Retry: they chose to run it again (after a
  // denial, say), so, like any proposer, they cannot approve it themselves.
  const retrier = step.attempt > 0 && step.actor && runStarter(step.actor).kind === 'user' ? step.actor : null;
  const proposer = retrier
    ? { proposedBy: retrier, proposerKind: 'user' as const }
    : starter.kind === 'auto'
      ? { proposedBy: run.runbookId, proposerKind: 'runbook' as const }
      : starter.kind === 'agent'
        ? { proposedBy: starter.name, proposerKind: 'agent' as const }
        : { proposedBy: starter.userId, proposerKind: 'user' as const };
  const approval = await proposeAction(deps, {
    id: stepApprovalId(run.id, step.index, step.attempt),
    incidentId: run.incidentId,
    actionId: def.action.id,
    rawParams: params,
    reason,
    ...proposer,
    declaredInRunbook: true,
  });
  await waitOnProposal(deps, run, def, step, approval);
}

/**
 * The step now waits on its proposal: record the approval id (running → waiting_approval); withdraw
 * the proposal if a cancel landed meanwhile (the cancel saw the step running, not waiting); then
 * apply an outcome that may already be in (a read-only action is fast). False when the step was no
 * longer running at this attempt (another job moved it).
 */
async function waitOnProposal(
  deps: Deps,
  run: RunbookRun,
  def: Extract<RunbookStep, { kind: 'action' }>,
  step: { index: number; attempt: number },
  approval: Approval,
): Promise<boolean> {
  const waiting = await deps.store.transitionRunbookStep(
    run.id,
    step.index,
    ['running'],
    'waiting_approval',
    { approvalId: approval.id, detail: { approval: approval.id, action: def.action.id, needs_approval: approval.requiresApproval } },
    { attempt: step.attempt },
  );
  if (!waiting) return false;
  const latest = await deps.store.getRunbookRun(run.id);
  if (latest?.status === 'cancelled' && approval.requiresApproval) await withdrawForRun(deps, run, approval.id, latest.cancelledBy ?? 'system');
  await advance(deps, run.id);
  await applyApprovalOutcome(deps, (await deps.store.getApproval(approval.id)) ?? approval);
  return true;
}

/** Withdraw the approval a step of this (cancelled or stopped) run waits for; null when it was no longer pending. */
function withdrawForRun(deps: Deps, run: RunbookRun, approvalId: string, by: string): Promise<Approval | null> {
  return withdrawApproval(deps, approvalId, { because: 'runbook_cancelled', runId: run.id, runbook: run.runbook.title, by });
}

/**
 * The approval id of one attempt of an action step, derived from (run, step, attempt): a job that
 * died after proposing and before recording the id finds the proposal on resume, so the step waits
 * on it instead of leaving it behind, pending and approvable, while a retry proposes another.
 */
export function stepApprovalId(runId: string, index: number, attempt: number): string {
  return namedId(`runbook-step-approval:${runId}:${index}:${attempt}`);
}

/** `approval.settled`: if a runbook step waits on this approval, record its outcome. */
export async function applyApprovalOutcome(deps: Deps, a: Approval): Promise<void> {
  const step = await deps.store.findRunbookStepByApproval(a.id);
  if (step?.status !== 'waiting_approval') return;
  const run = await deps.store.getRunbookRun(step.runId);
  if (!run) return;
  const by = a.decidedBy ? ` by <@${a.decidedBy}>` : '';
  let to: 'done' | 'failed' | 'unknown' | 'denied';
  let patch: RunbookStepPatch;
  switch (a.status) {
    case 'succeeded':
      to = 'done';
      patch = {
        output: a.result ? capOutput(JSON.stringify(a.result, null, 2), deps.config.file.runbooks.max_output_chars).text : null,
        detail: { ...step.detail, approval_status: a.status, summary: a.requiresApproval ? `approved${by}` : 'read-only, ran at once' },
      };
      break;
    case 'failed':
      to = 'failed';
      patch = { error: `the action failed: ${a.error ?? 'unknown error'}`, detail: { ...step.detail, approval_status: a.status } };
      break;
    case 'unknown':
      to = 'unknown';
      patch = { error: a.error ?? 'the action outcome is unknown; check before retrying', detail: { ...step.detail, approval_status: a.status } };
      break;
    case 'denied': {
      to = 'denied';
      const w = withdrawalOf(a);
      patch = {
        error:
          w?.because === 'runbook_cancelled'
            ? `approval withdrawn: the run was cancelled${w.by === 'system' ? '' : ` by <@${w.by}>`}`
            : w
              ? `approval withdrawn: ${withdrawalReason(
                  w,
                  (id) => `<@${id}>`,
                  (t) => t,
                )}. The runbook stops here.`
              : `denied${by}${a.denyReason ? `: ${a.denyReason}` : ''}. The runbook stops here.`,
        detail: { ...step.detail, approval_status: w ? 'withdrawn' : a.status },
      };
      break;
    }
    case 'expired':
      to = 'denied';
      patch = { error: 'the approval expired without a decision. The runbook stops here.', detail: { ...step.detail, approval_status: a.status } };
      break;
    default:
      return; // still pending, approved or executing
  }
  // Who decided, so the checklist can show the "by <@…>" of the summary or error as a mention.
  if (a.decidedBy) patch = { ...patch, detail: { ...(patch.detail ?? step.detail), decided_by: a.decidedBy } };
  const moved = await deps.store.transitionRunbookStep(step.runId, step.index, ['waiting_approval'], to, { ...patch, finishedAt: deps.clock.now() });
  if (!moved) return;
  await deps.store.audit({
    at: deps.clock.now(),
    incidentId: run.incidentId,
    approvalId: a.id,
    actor: 'system',
    action: `runbook.step_${to}`,
    detail: { run: run.id, step: moved.stepId },
  });
  await recordOutcome(deps, run, moved);
}

// -- diagnose -------------------------------------------------------------------------------------

async function diagnoseStep(
  deps: Deps,
  run: RunbookRun,
  def: Extract<RunbookStep, { kind: 'diagnose' }>,
  step: RunbookStepRecord,
  vars: TemplateVars,
): Promise<void> {
  const steps = await deps.store.listRunbookSteps(run.id);
  const evidence = steps
    .filter((s) => s.index < step.index && s.output !== null && (s.status === 'done' || s.status === 'failed'))
    .map((s) => ({ step: s.stepId, title: run.runbook.steps[s.index]?.title ?? s.stepId, status: s.status, output: s.output ?? '' }));
  const ctx = await buildSummaryContext(deps, run.incidentId);
  const offered = actionSpecs(deps).filter((a) => !def.diagnose.actions || def.diagnose.actions.includes(a.id));
  const d = await deps.summarizer.diagnose({ ...ctx, evidence, instruction: def.diagnose.prompt ? renderTemplate(def.diagnose.prompt, vars) : '' }, offered);
  const recorded = await deps.store.transitionRunbookStep(
    run.id,
    step.index,
    ['running'],
    'done',
    {
      finishedAt: deps.clock.now(),
      output: d.text,
      detail: {
        confidence: d.confidence ?? 'not stated',
        evidence: d.evidence.join(', '),
        summary: d.fallback ? 'Claude unavailable' : `confidence ${d.confidence ?? 'not stated'}`,
      },
    },
    { attempt: step.attempt },
  );
  if (!recorded) return;
  const withMessage = await ensureMessage(deps, run.id);
  if (withMessage?.messageTs) {
    const marker = Markers.runbookOutput(run.id, step.index, step.attempt);
    const post = async () => {
      const file = diagnosisNeedsFile(d.text) ? await attachOutput(deps, withMessage, recorded, d.text, 'diagnosis') : null;
      await postOnce(
        deps,
        flowId(run.id),
        `output:${step.index}:${step.attempt}`,
        run.channelId,
        marker,
        () => diagnosisMessage(marker, { ...d, proposals: d.proposals.length }, file),
        { threadTs: withMessage.messageTs! },
      );
    };
    await post().catch((err) => deps.logger.warn({ err, runId: run.id }, 'posting the diagnosis failed'));
  }
  // Claude's proposals are proposals like any other: the gate decides; they never run on their own.
  for (const p of d.proposals) {
    await proposeAction(deps, {
      incidentId: run.incidentId,
      actionId: p.actionId,
      rawParams: p.params,
      reason: p.rationale,
      proposedBy: 'claude',
      proposerKind: 'claude',
    }).catch((err) => {
      if (!(err instanceof AppError)) throw err;
      deps.logger.warn({ runId: run.id, code: err.code, msg: err.message }, 'dropped a proposal from the diagnosis');
    });
  }
  return recordOutcome(deps, run, recorded);
}

// -- people: confirm, retry, skip, cancel, feedback -------------------------------------------------

/** Does the runbook policy name this person (a role they hold now, the users, the user groups)? `startedBy` gives the starter's right too. */
async function isOperator(deps: Deps, policy: Runbook['policy'], incidentId: string, userId: string, startedBy = 'auto'): Promise<boolean> {
  const roles = await deps.store.getRoles(incidentId);
  const base = { userId, roles, startedBy };
  if (mayOperate(policy, { ...base, groupMembers: new Set() })) return true;
  if (!policy.usergroups.length) return false;
  const lists = await Promise.all(policy.usergroups.map((g) => deps.chat.usergroupMembers(g)));
  return mayOperate(policy, { ...base, groupMembers: new Set(lists.flat()) });
}

async function authorize(deps: Deps, run: RunbookRun, userId: string, what: string): Promise<void> {
  const policy = run.runbook.policy;
  const ok = await isOperator(deps, policy, run.incidentId, userId, run.startedBy);
  if (!ok) {
    await deps.store.audit({
      at: deps.clock.now(),
      incidentId: run.incidentId,
      actor: userId,
      action: 'runbook.refused',
      detail: { run: run.id, click: what },
    });
    throw new AppError('approval.not_allowed', `:no_entry: You may not ${what} in this runbook. Who may: ${describeOperators(policy)}.`);
  }
}

async function loadRun(deps: Deps, runId: string): Promise<RunbookRun> {
  const run = await deps.store.getRunbookRun(runId);
  if (!run) throw new AppError('input.invalid', 'That runbook run does not exist.');
  return run;
}

export async function confirmCheck(deps: Deps, input: { runId: string; index: number; userId: string }): Promise<string> {
  const run = await loadRun(deps, input.runId);
  await authorize(deps, run, input.userId, 'confirm a step');
  await requireOpenIncident(deps, run);
  const now = deps.clock.now();
  const done = await deps.store.transitionRunbookStep(run.id, input.index, ['waiting_check'], 'done', { actor: input.userId, actedAt: now, finishedAt: now });
  if (!done) return 'That step is not waiting for a confirmation any more.';
  await deps.store.audit({
    at: now,
    incidentId: run.incidentId,
    actor: input.userId,
    action: 'runbook.check_confirmed',
    detail: { run: run.id, step: done.stepId },
  });
  await timeline(
    deps,
    run,
    `check:${input.index}:${done.attempt}`,
    `Runbook *${escapeText(run.runbook.title)}* step ${input.index + 1} (${escapeText(stepTitle(run.runbook, input.index))}) confirmed by <@${input.userId}>`,
    now,
  );
  await advance(deps, run.id);
  return `:white_check_mark: Step ${input.index + 1} confirmed.`;
}

export async function retryStep(deps: Deps, input: { runId: string; index: number; userId: string }): Promise<string> {
  const run = await loadRun(deps, input.runId);
  await authorize(deps, run, input.userId, 'retry a step');
  await requireOpenIncident(deps, run);
  if (run.status === 'cancelled') return 'That run was cancelled; start the runbook again instead.';
  if (run.status === 'running') return 'Wait until the run stops before retrying a step.';
  const step = await deps.store.getRunbookStep(run.id, input.index);
  if (!step || !canRetry(step.status)) return 'Only a failed step, or one whose outcome is unknown, can be retried.';
  const now = deps.clock.now();
  const reset = await deps.store.transitionRunbookStep(
    run.id,
    input.index,
    [step.status],
    'pending',
    {
      attempt: step.attempt + 1,
      error: null,
      output: null,
      approvalId: null,
      startedAt: null,
      finishedAt: null,
      detail: {},
      actor: input.userId,
      actedAt: now,
    },
    { attempt: step.attempt },
  );
  if (!reset) return 'Someone else acted on that step first.';
  await deps.store.transitionRunbookRun(run.id, ['failed', 'blocked', 'succeeded', 'waiting'], 'running', { finishedAt: null });
  await deps.store.audit({
    at: now,
    incidentId: run.incidentId,
    actor: input.userId,
    action: 'runbook.step_retried',
    detail: { run: run.id, step: reset.stepId, from: step.status, attempt: reset.attempt },
  });
  await timeline(
    deps,
    run,
    `retry:${input.index}:${reset.attempt}`,
    `Runbook *${escapeText(run.runbook.title)}* step ${input.index + 1} retried by <@${input.userId}> (was ${step.status})`,
    now,
  );
  await advance(deps, run.id);
  return `:repeat: Retrying step ${input.index + 1}.`;
}

export async function skipStep(deps: Deps, input: { runId: string; index: number; userId: string }): Promise<string> {
  const run = await loadRun(deps, input.runId);
  await authorize(deps, run, input.userId, 'skip a step');
  await requireOpenIncident(deps, run);
  if (run.status === 'cancelled') return 'That run was cancelled.';
  const step = await deps.store.getRunbookStep(run.id, input.index);
  if (!step || !canSkip(step.status)) return 'Only a failed step, a step whose outcome is unknown, or a check can be skipped.';
  const now = deps.clock.now();
  const skipped = await deps.store.transitionRunbookStep(
    run.id,
    input.index,
    [step.status],
    'skipped',
    { actor: input.userId, actedAt: now, finishedAt: now },
    { attempt: step.attempt },
  );
  if (!skipped) return 'Someone else acted on that step first.';
  await deps.store.transitionRunbookRun(run.id, ['failed', 'blocked', 'waiting'], 'running', { finishedAt: null });
  await deps.store.audit({
    at: now,
    incidentId: run.incidentId,
    actor: input.userId,
    action: 'runbook.step_skipped',
    detail: { run: run.id, step: skipped.stepId, from: step.status },
  });
  await recordOutcome(deps, run, skipped);
  return `:fast_forward: Step ${input.index + 1} skipped.`;
}

export async function cancelRun(deps: Deps, input: { runId: string; userId: string }): Promise<string> {
  const run = await loadRun(deps, input.runId);
  await authorize(deps, run, input.userId, 'cancel the run');
  const now = deps.clock.now();
  const cancelled = await deps.store.transitionRunbookRun(run.id, ACTIVE, 'cancelled', { cancelledBy: input.userId, finishedAt: now });
  if (!cancelled) return `That run already ${run.status === 'cancelled' ? 'was cancelled' : 'finished'}.`;
  await deps.store.audit({ at: now, incidentId: run.incidentId, actor: input.userId, action: 'runbook.cancelled', detail: { run: run.id } });
  await timeline(deps, run, 'cancel', `Runbook *${escapeText(run.runbook.title)}* cancelled by <@${input.userId}>; no further step starts`, now);
  // A step waiting for approval: the approval is withdrawn, so nobody can approve what no longer
  // belongs to a live run. One approved in the meantime is running already: say so.
  const withdrawn: number[] = [];
  const running: number[] = [];
  for (const s of await deps.store.listRunbookSteps(run.id)) {
    if (s.status !== 'waiting_approval' || !s.approvalId) continue;
    const w = await withdrawForRun(deps, run, s.approvalId, input.userId);
    if (w) withdrawn.push(s.index + 1);
    else if (['approved', 'executing', 'succeeded', 'failed', 'unknown'].includes((await deps.store.getApproval(s.approvalId))?.status ?? ''))
      running.push(s.index + 1);
  }
  await showOrRetryLater(deps, run.id);
  const parts = [':no_entry_sign: Run cancelled. A step already running finishes; no further step starts.'];
  if (withdrawn.length) parts.push(`The approval that step ${withdrawn.join(', ')} waited for is withdrawn: it can no longer be approved.`);
  if (running.length) parts.push(`Step ${running.join(', ')} was approved before the cancel; its action goes ahead (see its approval message).`);
  return parts.join(' ');
}

/** The cancelled run whose step proposed this approval, if there is one (see approvals.approve). */
export async function cancelledRunOf(deps: Deps, approvalId: string): Promise<RunbookRun | null> {
  const step = await deps.store.findRunbookStepByApproval(approvalId);
  if (!step) return null;
  const run = await deps.store.getRunbookRun(step.runId);
  return run?.status === 'cancelled' ? run : null;
}

/** The remediations of a run: action steps whose approval needed a person and ran. */
async function remediationsOf(
  deps: Deps,
  _run: RunbookRun,
  steps: RunbookStepRecord[],
): Promise<{ index: number; approvalId: string; text: string; actionId: string }[]> {
  const out: { index: number; approvalId: string; text: string; actionId: string }[] = [];
  for (const s of steps) {
    if (!s.approvalId) continue;
    const a = await deps.store.getApproval(s.approvalId);
    if (!a?.requiresApproval || !['succeeded', 'unknown', 'failed'].includes(a.status)) continue;
    const params = Object.entries(a.params)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    out.push({ index: s.index, approvalId: a.id, actionId: a.actionId, text: `\`${a.actionId}\` ${params} (${a.status})` });
  }
  return out;
}

/** A run whose incident is closed stops: nothing more starts in it, and the channel is told why. */
async function stopForClosedIncident(deps: Deps, run: RunbookRun, incident: Incident | null): Promise<void> {
  const now = deps.clock.now();
  const stopped = await deps.store.transitionRunbookRun(run.id, ACTIVE, 'cancelled', { finishedAt: now });
  if (!stopped) return;
  const why = incident ? `${incidentLabel(incident)} is ${incident.status}` : 'its incident no longer exists';
  await deps.store.audit({ at: now, incidentId: run.incidentId, actor: 'system', action: 'runbook.cancelled', detail: { run: run.id, reason: why } });
  await timeline(deps, run, 'cancel', `Runbook *${escapeText(run.runbook.title)}* stopped: ${why}; no further step starts`, now);
  // Its risky steps must not run afterwards: the approvals they wait for are withdrawn (a stale
  // Approve on one finds the run cancelled and withdraws it then, see approvals.approve).
  for (const s of await deps.store.listRunbookSteps(run.id))
    if (s.status === 'waiting_approval' && s.approvalId) await withdrawForRun(deps, run, s.approvalId, 'system');
  await showOrRetryLater(deps, run.id);
}

/** Confirm, retry and skip move a run forward: only while its incident is open. */
async function requireOpenIncident(deps: Deps, run: RunbookRun): Promise<void> {
  const incident = await requireIncident(deps, run.incidentId);
  if (!isOpen(incident.status))
    throw new AppError(
      'incident.bad_transition',
      `${incidentLabel(incident)} is ${incident.status}; its runbooks do not go on, so nothing was done. Reopen the incident and start the runbook again if it is still needed.`,
    );
}

/**
 * After resolve: the runs still going stop (nothing more starts in a resolved incident), and each
 * run with remediations asks the commander, on its message, whether they were needed.
 */
export async function askRemediationFeedback(deps: Deps, incidentId: string): Promise<void> {
  const incident = await deps.store.getIncident(incidentId);
  if (incident?.status !== 'resolved') return;
  for (const run of await deps.store.listRunbookRuns({ incidentId })) if (ACTIVE.includes(run.status)) await stopForClosedIncident(deps, run, incident);
  for (const run of await deps.store.listRunbookRuns({ incidentId })) {
    const steps = await deps.store.listRunbookSteps(run.id);
    const remediations = await remediationsOf(deps, run, steps);
    if (!remediations.length || run.feedbackAskedAt) continue;
    await deps.store.patchRunbookRun(run.id, { feedbackAskedAt: deps.clock.now() });
    await showRun(deps, run.id);
    const withMessage = await deps.store.getRunbookRun(run.id);
    if (withMessage?.messageTs) {
      const roles = await deps.store.getRoles(incidentId);
      const commander = roles.commander ?? incident.commanderId;
      const marker = Markers.runbookNote(run.id, 'feedback');
      await postOnce(
        deps,
        flowId(run.id),
        'feedback-note',
        run.channelId,
        marker,
        () => ({
          text: 'Was each automated remediation needed?',
          blocks: [
            {
              type: 'section',
              block_id: marker,
              text: {
                type: 'mrkdwn',
                text: `${commander ? `<@${commander}>, the` : 'The'} incident is resolved: was each automated remediation of this runbook needed? Answer on the runbook message (yes / no / unsure).`,
              },
            },
          ],
        }),
        { threadTs: withMessage.messageTs },
      );
    }
  }
}

export async function answerFeedback(deps: Deps, input: { runId: string; index: number; userId: string; answer: FeedbackAnswer }): Promise<string> {
  const run = await loadRun(deps, input.runId);
  const incident = await requireIncident(deps, run.incidentId);
  const roles = await deps.store.getRoles(run.incidentId);
  const commander = roles.commander ?? incident.commanderId;
  if (input.userId !== commander)
    throw new AppError('approval.not_allowed', `:no_entry: The commander (${commander ? `<@${commander}>` : 'unassigned'}) answers this.`);
  const step = await deps.store.getRunbookStep(run.id, input.index);
  const rem = step ? (await remediationsOf(deps, run, [step]))[0] : undefined;
  if (!rem) return 'That step is not an automated remediation.';
  await deps.store.recordRemediationAnswer({
    approvalId: rem.approvalId,
    incidentId: run.incidentId,
    actionId: rem.actionId,
    runId: run.id,
    stepIndex: input.index,
    answer: input.answer,
    answeredBy: input.userId,
    answeredAt: deps.clock.now(),
  });
  await deps.store.audit({
    at: deps.clock.now(),
    incidentId: run.incidentId,
    approvalId: rem.approvalId,
    actor: input.userId,
    action: 'runbook.remediation_feedback',
    detail: { run: run.id, answer: input.answer },
  });
  await showOrRetryLater(deps, run.id);
  return `Recorded: *${input.answer}* for step ${input.index + 1}.`;
}

// -- rendering --------------------------------------------------------------------------------------

/** Draw the checklist from the store: update it in place, or post it once. */
export async function showRun(deps: Deps, runId: string): Promise<void> {
  const run = await deps.store.getRunbookRun(runId);
  if (!run) return;
  const steps = await deps.store.listRunbookSteps(runId);
  const incident = await deps.store.getIncident(run.incidentId);
  const roles = await deps.store.getRoles(run.incidentId);
  const remediations = run.feedbackAskedAt ? await remediationsOf(deps, run, steps) : [];
  const feedback = run.feedbackAskedAt ? await deps.store.listRemediationAnswers({ incidentId: run.incidentId }) : [];
  const msg = runbookMessage({
    run,
    steps,
    now: deps.clock.now(),
    incidentLabel: incident ? incidentLabel(incident) : run.incidentId,
    remediations,
    feedback,
    commanderId: roles.commander ?? incident?.commanderId ?? null,
  });
  if (run.messageTs) {
    await deps.chat.update(run.channelId, run.messageTs, msg.text, msg.blocks);
    return;
  }
  const { ts } = await postOnce(deps, flowId(run.id), 'message', run.channelId, Markers.runbook(run.id), () => msg);
  await deps.store.patchRunbookRun(run.id, { messageTs: ts });
  const after = await deps.store.getRunbookRun(run.id);
  if (after && after.updatedAt.getTime() !== run.updatedAt.getTime()) await showRun(deps, run.id);
}

async function ensureMessage(deps: Deps, runId: string): Promise<RunbookRun | null> {
  const run = await deps.store.getRunbookRun(runId);
  if (run && !run.messageTs) {
    await showRun(deps, runId);
    return deps.store.getRunbookRun(runId);
  }
  return run;
}

async function showOrRetryLater(deps: Deps, runId: string): Promise<void> {
  try {
    await showRun(deps, runId);
  } catch (err) {
    deps.logger.warn({ err, runId }, 'updating the runbook message failed; a job retries it');
    await deps.jobs.enqueue(
      runbookShowJob,
      { runId, incidentId: (await deps.store.getRunbookRun(runId))?.incidentId },
      { key: `${runId}:${deps.clock.now().getTime()}` },
    );
  }
}

// -- helpers ----------------------------------------------------------------------------------------

function stepTitle(rb: Runbook, index: number): string {
  return rb.steps[index]?.title ?? `step ${index + 1}`;
}

/** A timeline entry in the store and the backend, once per `ref`. */
async function timeline(deps: Deps, run: RunbookRun, ref: string, text: string, at: Date): Promise<void> {
  const sourceRef = `runbook:${run.id}:${ref}`;
  await deps.store.addTimeline({ incidentId: run.incidentId, at, kind: 'runbook', text, author: null, sourceRef });
  await deps.jobs.enqueue(backendSyncJob, { incidentId: run.incidentId, op: 'timeline', text, at: at.toISOString() }, { key: sourceRef });
}

async function templateVars(deps: Deps, run: RunbookRun): Promise<TemplateVars> {
  const incident = await requireIncident(deps, run.incidentId);
  const roles = await deps.store.getRoles(run.incidentId);
  const alerts = incident.origin === 'alert' || incident.alertCount > 0 ? await deps.store.listAlerts({ incidentId: incident.id, limit: 20 }) : [];
  const labels: Record<string, string> = {};
  for (const a of alerts) Object.assign(labels, alertLabels(a.source, a.raw));
  const steps: TemplateVars['steps'] = {};
  for (const s of await deps.store.listRunbookSteps(run.id)) {
    let json: unknown = null;
    if (s.output) {
      try {
        json = JSON.parse(s.output);
      } catch {
        json = null;
      }
    }
    steps[s.stepId] = { status: s.status, output: s.output ?? '', status_code: typeof s.detail.status_code === 'number' ? s.detail.status_code : null, json };
  }
  return {
    incident: {
      id: incident.id,
      label: incidentLabel(incident),
      title: incident.title,
      severity: incident.severity,
      status: incident.status,
      services: incident.services,
      description: incident.description,
      origin: incident.origin,
      source: incident.source ?? '',
      channel: incident.channelId ?? '',
      commander: roles.commander ?? incident.commanderId ?? '',
    },
    alert: { source: alerts[0]?.source ?? '', labels },
    runbook: { id: run.runbook.id, title: run.runbook.title },
    steps,
  };
}

// -- jobs -----------------------------------------------------------------------------------------

/**
 * The runbook jobs' context: the services' deps and the step runners (HTTP calls and commands;
 * app.ts passes src/adapters/runbook/, tests may pass their own).
 */
export type RunbookJobContext = Deps & { stepRunners?: StepRunners };

/** One attempt of one step, keyed by (run, step, attempt): each attempt starts once. */
export const runbookStepJob = defineJob({
  kind: 'runbook.step',
  payload: StepJob,
  key: (p) => `${p.runId}:${p.index}:${p.attempt}`,
  run: (ctx: RunbookJobContext, p) => {
    if (!ctx.stepRunners) throw new PermanentJobError('runbook step runners are not configured');
    return runStepJob(ctx, ctx.stepRunners, p);
  },
});

/** Re-render a run's checklist message after a failed update (enqueued with a time-stamped key). */
export const runbookShowJob = defineJob({
  kind: 'runbook.show',
  payload: RunJob,
  run: (deps, p) => showRun(deps, p.runId),
});

/** Enqueued by the declare flow once the channel exists: starts the matching `auto` runbooks. */
export const runbookAutoStartJob = defineJob({
  kind: 'runbook.auto_start',
  payload: IncidentJob,
  key: (p) => p.incidentId,
  run: async (deps, p) => {
    await autoStartRunbooks(deps, p.incidentId);
  },
});

/** Enqueued on resolve (keyed by version): runs with automated remediations ask whether they were needed. */
export const runbookFeedbackJob = defineJob({
  kind: 'runbook.feedback',
  payload: IncidentJob,
  run: (deps, p) => askRemediationFeedback(deps, p.incidentId),
});

/**
 * Enqueued by the approval service once per outcome (keyed `<approval>:<status>`): a runbook step
 * waiting on that approval moves on; for other approvals it does nothing.
 */
export const approvalSettledJob = defineJob({
  kind: 'approval.settled',
  payload: ApprovalJob,
  run: async (deps, p) => {
    const a = await deps.store.getApproval(p.approvalId);
    if (a) await applyApprovalOutcome(deps, a);
  },
});

export const runbookJobs = [runbookStepJob, runbookShowJob, runbookAutoStartJob, runbookFeedbackJob, approvalSettledJob];

export const FeedbackAnswerSchema = z.enum(FEEDBACK_ANSWERS);
