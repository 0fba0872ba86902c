import { canRetry, canSkip, formatElapsed, runStarter, type StepStatus } from '../../domain/runbook-run.js';
import type { Runbook } from '../../domain/runbook.js';
import type { Block } from '../../ports/chat.js';
import type { RunbookRun, RunbookStepRecord } from '../../ports/runbook-store.js';
import type { RemediationAnswer } from '../../ports/insights-store.js';
import { Actions, isSlackId, Markers, numbered } from '../ids.js';
import { actions, clip, context, escapeText, section, time, type ButtonSpec } from './common.js';

/**
 * Pure builders for runbooks: the one live checklist message per run (updated in place), the
 * thread posts carrying step outputs, and the `/incident runbook` list. Step outputs, errors and
 * diagnoses come from systems and from Claude: everything of theirs is escaped before it is shown.
 */
/** Untrusted text (outputs, errors, Claude's diagnosis) and config text alike go through the one escape. */
const esc = (s: string) => escapeText(s);

const STEP_ICON: Record<StepStatus, string> = {
  pending: ':white_circle:',
  running: ':hourglass_flowing_sand:',
  waiting_approval: ':raised_hand:',
  waiting_check: ':ballot_box_with_check:',
  done: ':white_check_mark:',
  failed: ':x:',
  denied: ':no_entry:',
  skipped: ':fast_forward:',
  unknown: ':warning:',
};

const STEP_WORD: Record<StepStatus, string> = {
  pending: 'pending',
  running: 'running',
  waiting_approval: 'waiting for approval',
  waiting_check: 'waiting for a person to confirm',
  done: 'done',
  failed: 'failed',
  denied: 'stopped: not approved',
  skipped: 'skipped',
  unknown: 'outcome unknown — check, then retry or skip',
};

const RUN_HEAD: Record<RunbookRun['status'], string> = {
  running: ':arrow_forward: Running',
  waiting: ':raised_hand: Waiting',
  blocked: ':warning: Stopped: a step needs a person',
  succeeded: ':white_check_mark: Finished',
  failed: ':x: Stopped',
  cancelled: ':no_entry_sign: Cancelled',
};

export interface RunView {
  run: RunbookRun;
  steps: RunbookStepRecord[];
  now: Date;
  incidentLabel: string;
  /** Action steps to ask about after resolve (the automated remediations), with their action text. */
  remediations: { index: number; approvalId: string; text: string }[];
  feedback: RemediationAnswer[];
  commanderId: string | null;
}

/**
 * An action step's summary and error name who decided its approval ("approved by <@U1>"): that
 * one mention, which Firebreak recorded itself (`detail.decided_by`), is shown as a mention after
 * the escape; any other `<@…>` in the text (an output, a deny reason) stays inert.
 */
function withDecider(s: RunbookStepRecord, escaped: string): string {
  const id = s.detail.decided_by;
  return typeof id === 'string' && isSlackId(id) ? escaped.replaceAll(`&lt;@${id}&gt;`, `<@${id}>`) : escaped;
}

function stepLine(rb: Runbook, s: RunbookStepRecord, now: Date): string {
  const def = rb.steps[s.index];
  const title = esc(def?.title ?? s.stepId);
  const elapsed = s.startedAt ? ` · ${formatElapsed((s.finishedAt ?? now).getTime() - s.startedAt.getTime())}${s.finishedAt ? '' : ' so far'}` : '';
  const bits = [`${STEP_ICON[s.status]} *${s.index + 1}. ${clip(title, 150)}* — ${STEP_WORD[s.status]}${elapsed}`];
  if (def?.continueOnFailure && (s.status === 'failed' || s.status === 'pending')) bits.push('_(may fail)_');
  if (s.status === 'done' && s.actor && def?.kind === 'check') bits.push(`by <@${s.actor}> at ${time(s.actedAt ?? s.updatedAt)}`);
  if (s.status === 'skipped' && s.actor) bits.push(`by <@${s.actor}>`);
  if (typeof s.detail.summary === 'string' && s.detail.summary) bits.push(`· ${withDecider(s, esc(clip(s.detail.summary, 200)))}`);
  let line = bits.join(' ');
  if (s.error && (s.status === 'failed' || s.status === 'denied' || s.status === 'unknown')) line += `\n      ${withDecider(s, esc(clip(s.error, 400)))}`;
  return line;
}

/** The checklist: one message per run, redrawn from the store on every change. */
export function runbookMessage(v: RunView): { text: string; blocks: Block[] } {
  const { run } = v;
  const rb = run.runbook;
  const starter = runStarter(run.startedBy);
  const who =
    starter.kind === 'auto'
      ? 'automatically (it matches this incident)'
      : starter.kind === 'agent'
        ? `by :gear: agent \`${esc(starter.name)}\` (its risky steps wait for a person's Approve)`
        : `by <@${starter.userId}>`;
  const head = `:clipboard: *Runbook: ${esc(rb.title)}* (\`${rb.id}\`) in ${esc(v.incidentLabel)}\n${RUN_HEAD[run.status]} · started ${who} at ${time(run.createdAt)}${run.finishedAt ? ` · ${formatElapsed(run.finishedAt.getTime() - run.createdAt.getTime())} in all` : ''}${run.cancelledBy ? ` · cancelled by <@${run.cancelledBy}>` : ''}`;
  const blocks: Block[] = [section(head, Markers.runbook(run.id))];
  const lines = v.steps.map((s) => stepLine(rb, s, v.now));
  // Several sections, each well under Slack's 3000 characters.
  let chunk: string[] = [];
  let size = 0;
  for (const l of lines) {
    if (chunk.length && size + l.length > 2800) {
      blocks.push(section(chunk.join('\n')));
      chunk = [];
      size = 0;
    }
    chunk.push(l);
    size += l.length + 1;
  }
  if (chunk.length) blocks.push(section(chunk.join('\n')));

  const active = run.status !== 'cancelled' && run.status !== 'succeeded' && run.status !== 'failed';
  const buttons: ButtonSpec[] = [];
  for (const s of v.steps) {
    const value = `${run.id} ${s.index}`;
    if (s.status === 'waiting_check' && run.status !== 'cancelled')
      buttons.push({ text: `Confirm step ${s.index + 1}`, actionId: numbered(Actions.runbookCheck, s.index), value, style: 'primary' });
    if (run.status !== 'cancelled' && run.status !== 'running' && canRetry(s.status))
      buttons.push({ text: `Retry step ${s.index + 1}`, actionId: numbered(Actions.runbookRetry, s.index), value });
    if (run.status !== 'cancelled' && run.status !== 'running' && canSkip(s.status))
      buttons.push({ text: `Skip step ${s.index + 1}`, actionId: numbered(Actions.runbookSkip, s.index), value });
  }
  if (active) buttons.push({ text: 'Cancel run', actionId: Actions.runbookCancel, value: run.id, style: 'danger' });
  if (buttons.length) blocks.push(actions(`runbook_buttons:${run.id}`, buttons.slice(0, 25)));
  blocks.push(context('Outputs are in the thread. Read-only steps run at once; risky actions wait for approval.'));

  if (run.feedbackAskedAt && v.remediations.length) {
    blocks.push(section(`*After resolve:* ${v.commanderId ? `<@${v.commanderId}>, was` : 'Was'} each automated remediation needed?`));
    for (const r of v.remediations.slice(0, 10)) {
      const answer = v.feedback.find((f) => f.approvalId === r.approvalId);
      const value = `${run.id} ${r.index}`;
      blocks.push(
        section(
          `${r.index + 1}. ${esc(clip(r.text, 300))}${answer ? `\nAnswered *${answer.answer}* by <@${answer.answeredBy}> at ${time(answer.answeredAt)}` : ''}`,
        ),
      );
      blocks.push(
        actions(`runbook_feedback:${run.id}:${r.index}`, [
          { text: 'Yes, needed', actionId: Actions.runbookFeedbackYes, value },
          { text: 'No, not needed', actionId: Actions.runbookFeedbackNo, value },
          { text: 'Unsure', actionId: Actions.runbookFeedbackUnsure, value },
        ]),
      );
    }
  }
  const done = v.steps.filter((s) => s.status === 'done' || s.status === 'skipped').length;
  return { text: clip(`Runbook ${rb.title}: ${run.status}, ${done} of ${v.steps.length} steps done`, 3000), blocks: blocks.slice(0, 50) };
}

/** A step's output in the run's thread: inline up to a size, the rest said to be cut. */
/** The most a code block of output may take in a section (Slack's limit is 3000, fences included). */
const OUTPUT_BLOCK_MAX = 2900;
/** How much of a long output the message shows when the whole of it is in a file. */
const EXCERPT_MAX = 1200;

/** Inside a code block nothing is formatted; backtick runs are broken so the block cannot end early. */
const codeBody = (out: string) => esc(out.replace(/```/g, '`\u200b``'));

/** The longest start of `text` whose rendering (`render`) stays within `max` characters. */
function fittingStart(text: string, max: number, render: (s: string) => string): string {
  let n = Math.min(text.length, max);
  while (n > 0 && render(text.slice(0, n)).length > max) n = Math.floor(n * 0.85);
  return text.slice(0, n);
}

/**
 * Does this output fit in the thread message, escaped, as one code block? When it does not, the
 * whole of it goes into a file in the thread and the message shows its start (`stepOutputMessage`).
 */
export function outputNeedsFile(output: string): boolean {
  return codeBody(output).length + 6 > OUTPUT_BLOCK_MAX;
}

/** Does Claude's diagnosis fit in its thread message? When it does not, it is attached as a file too. */
export function diagnosisNeedsFile(text: string): boolean {
  return esc(text).length > 2900;
}

/** A long output's file in the thread: its name, and why it could not be attached, if it was not. */
export interface OutputFile {
  name: string;
  error: string | null;
}

/** How the thread message shows an output: whole, or its start and where the rest is. */
function outputBlocks(out: string, file: OutputFile | null | undefined): Block[] {
  if (!outputNeedsFile(out)) return [section(`\`\`\`${codeBody(out)}\`\`\``)];
  const start = fittingStart(out, EXCERPT_MAX, codeBody);
  const where = !file
    ? 'The rest is kept with the step in Firebreak; it could not be attached here.'
    : file.error
      ? `The full output could not be attached as a file (${esc(clip(file.error, 200))}); it is kept with the step in Firebreak.`
      : `The full output is attached in this thread as \`${esc(file.name)}\`.`;
  return [
    section(`\`\`\`${codeBody(start)}\`\`\``),
    context(`Showing the first ${start.length.toLocaleString('en-US')} of ${out.length.toLocaleString('en-US')} characters. ${where}`),
  ];
}

export function stepOutputMessage(marker: string, rb: Runbook, s: RunbookStepRecord, file?: OutputFile | null): { text: string; blocks: Block[] } {
  const def = rb.steps[s.index];
  const title = `${STEP_ICON[s.status]} *${s.index + 1}. ${esc(clip(def?.title ?? s.stepId, 150))}* — ${STEP_WORD[s.status]}`;
  const facts = Object.entries(s.detail)
    .filter(([k, v]) => k !== 'summary' && k !== 'decided_by' && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'))
    .map(([k, v]) => `${k}: ${esc(String(v))}`)
    .join(' · ');
  const blocks: Block[] = [section(title + (facts ? `\n${clip(facts, 500)}` : ''), marker)];
  if (s.error) {
    const err = fittingStart(s.error, 2890, esc);
    blocks.push(section(`${esc(err)}${err.length < s.error.length ? '…' : ''}`));
  }
  const out = s.output ?? '';
  if (out) blocks.push(...outputBlocks(out, file));
  return { text: clip(`Step ${s.index + 1} ${STEP_WORD[s.status]}`, 300), blocks };
}

/** The Claude diagnosis, posted in the thread (its text escaped: it is model output). */
export function diagnosisMessage(
  marker: string,
  d: { text: string; confidence: string | null; evidence: string[]; fallback: boolean; proposals: number },
  file?: OutputFile | null,
): { text: string; blocks: Block[] } {
  const whole = !diagnosisNeedsFile(d.text);
  const shown = whole ? esc(d.text) : esc(fittingStart(d.text, EXCERPT_MAX * 2, esc));
  const blocks: Block[] = [
    section(`:stethoscope: *Diagnosis*${d.confidence ? ` — confidence *${esc(d.confidence)}*` : ''}`, marker),
    section(shown),
    ...(whole
      ? []
      : [
          context(
            `Showing the first part of the diagnosis. ${file && !file.error ? `The whole of it is attached in this thread as \`${esc(file.name)}\`.` : `It could not be attached as a file${file?.error ? ` (${esc(clip(file.error, 200))})` : ''}; it is kept with the step in Firebreak.`}`,
          ),
        ]),
    context(
      [
        d.fallback
          ? 'Claude unavailable: the step outputs, not an analysis.'
          : 'Written by Claude from the incident, the channel and the step outputs. Check before acting.',
        d.evidence.length ? `Evidence used: ${esc(clip(d.evidence.join(', '), 500))}` : '',
        d.proposals ? `${d.proposals} proposed action${d.proposals === 1 ? '' : 's'} posted for approval.` : '',
      ]
        .filter(Boolean)
        .join(' · '),
    ),
  ];
  return { text: clip(`Diagnosis: ${d.text}`, 300), blocks };
}

/** `/incident runbook`: the runbooks that apply here, then the others. */
export function runbookList(applying: Runbook[], others: Runbook[]): string {
  const line = (rb: Runbook) =>
    `• \`${rb.id}\` *${esc(rb.title)}* — ${rb.steps.length} step${rb.steps.length === 1 ? '' : 's'}${rb.auto ? ', starts automatically' : ''}${rb.description ? `: ${esc(clip(rb.description, 150))}` : ''}`;
  if (!applying.length && !others.length) return 'No runbooks are configured. See docs/runbooks.md to add one to `firebreak.yml`.';
  const parts = [applying.length ? `*Runbooks that apply to this incident*\n${applying.map(line).join('\n')}` : '*No runbook applies to this incident.*'];
  if (others.length) parts.push(`*Other runbooks*\n${others.map(line).join('\n')}`);
  parts.push('Start one with `/incident runbook <id>`.');
  return parts.join('\n');
}
