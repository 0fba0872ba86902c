import { z } from 'zod';
import { computeFigures, filterFacts, isoWeek, sliceFigures, weeklyTrend, type IncidentFacts } from '../domain/insights.js';
import { severityRank, type Severity } from '../domain/severity.js';
import { homeView } from '../slack/blocks/incident.js';
import { AppError, ChatError } from '../errors.js';
import { digestComment, homeInsightsBlocks, periodLabel, remediationQuestion, statsComment, type StatsView } from '../slack/blocks/insights.js';
import type { Block } from '../ports/chat.js';
import type { Approval, ApprovalStatus } from '../ports/store.js';
import type { Incident } from '../domain/incident.js';
import type { RemediationVerdict } from '../ports/insights-store.js';
import type { Deps } from './deps.js';
import { defineJob } from './jobs.js';
import { postOnce, stepWithIntent } from './steps.js';
import { Markers } from '../slack/ids.js';

/**
 * `/incident stats`, the weekly digest and the App Home figures: one computation (domain/insights.ts)
 * over the store's facts, one chart (the ChartRenderer port), posted as a file with the figures.
 */

const DAY = 86_400_000;
export const DIGEST_JOB = 'insights.digest';

export interface StatsQuery {
  days: number;
  service: string | null;
  severity: Severity | null;
}

export interface StatsReport extends StatsView {
  from: Date;
  to: Date;
  facts: IncidentFacts[];
}

/** The figures for the last `days` and the `days` before, with slices and the weekly trend inputs. */
export async function buildStats(deps: Deps, q: StatsQuery, now: Date = deps.clock.now()): Promise<StatsReport> {
  const to = now;
  const from = new Date(to.getTime() - q.days * DAY);
  const before = new Date(from.getTime() - q.days * DAY);
  const all = await deps.store.listIncidentFacts({ from: before, to });
  const filters = { service: q.service, severity: q.severity };
  const facts = filterFacts(all, { from, to, ...filters });
  return {
    ...q,
    from,
    to,
    facts,
    current: computeFigures(facts),
    previous: computeFigures(filterFacts(all, { from: before, to: from, ...filters })),
    bySeverity: sliceFigures(facts, 'severity'),
    byRunbook: sliceFigures(facts, 'runbook'),
  };
}

/** Render the trend chart and upload it with the figures to `channelId`. */
async function postChart(deps: Deps, channelId: string, report: StatsReport, comment: string, filename?: string): Promise<void> {
  const chart = await deps.charts.renderTrend({ title: `Incidents — ${periodLabel(report)}`, weeks: weeklyTrend(report.facts, report.from, report.to) });
  await deps.chat.uploadFile({
    channelId,
    filename: filename ?? `incident-stats-${report.to.toISOString().slice(0, 10)}-${report.days}d.png`,
    title: `Incident figures, ${periodLabel(report)}`,
    bytes: chart.png,
    initialComment: comment,
  });
}

/**
 * `/incident stats`: the chart and the figures, posted in the channel the command came from. Where
 * the bot cannot post (a DM, a channel it is not in), the figures come back privately instead.
 */
export async function postStats(deps: Deps, q: StatsQuery, ctx: { channelId: string; userId: string }): Promise<{ text: string } | null> {
  const report = await buildStats(deps, q);
  const comment = statsComment(report);
  try {
    await postChart(deps, ctx.channelId, report, `${comment}\n_Asked for by <@${ctx.userId}>._`);
    return null;
  } catch (err) {
    if (err instanceof ChatError && ['not_in_channel', 'channel_not_found', 'is_archived'].includes(err.slackError)) {
      return { text: `${comment}\n:information_source: Invite Firebreak to this channel to get the chart here.` };
    }
    if (err instanceof ChatError && err.slackError === 'missing_scope') {
      deps.logger.warn({ err }, 'the Slack app lacks files:write: charts cannot be uploaded (update the app from manifest.yml and reinstall)');
      return {
        text: `${comment}\n:information_source: The chart needs the Slack app's \`files:write\` scope: an admin updates the app from manifest.yml and reinstalls it.`,
      };
    }
    throw err;
  }
}

/** App Home: the open incidents, most severe first, then the last 30 days' figures. */
/** The App Home: `first` (e.g. the person's open follow-ups), the open incidents, then the last 30 days' figures. */
export async function publishHome(deps: Deps, userId: string, first: Block[] = []): Promise<void> {
  const open = await deps.store.listOpenIncidents();
  open.sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || b.createdAt.getTime() - a.createdAt.getTime());
  const view = homeView(open);
  let figures: Block[] = [];
  try {
    figures = homeInsightsBlocks(await buildStats(deps, { days: 30, service: null, severity: null }));
  } catch (err) {
    // The open incidents matter more than the figures: publish them regardless.
    deps.logger.warn({ err }, 'computing the App Home figures failed');
  }
  await deps.chat.publishHome(userId, { ...view, blocks: [...first, ...(view.blocks as Block[]), ...figures].slice(0, 100) });
}

const digestPayload = z.object({
  week: z.string().regex(/^\d{4}-W\d{2}$/),
  /** The channel it goes to (jobs enqueued before it was in the payload use the configured one). */
  channel: z.string().min(1).optional(),
});
const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;

/** The digest's file name: the marker it is found by in the channel after a crash. */
export const digestFilename = (week: string) => `incident-digest-${week}.png`;

/**
 * The weekly digest, once per ISO week and channel across replicas and crashes. Every replica
 * enqueues the job keyed by the week and channel when the configured day and hour have come: the
 * key makes it one job, run by one worker. The post is a step with an intent: the intent is
 * recorded before anything goes to Slack, so a run that finds an intent without a result (the
 * process died, or Slack's answer was lost, after the upload may have been shared) first looks in
 * the channel for the digest by its file name (or, posted without the chart, by its block marker)
 * and adopts it instead of posting again.
 */
export const digestJob = defineJob({
  kind: DIGEST_JOB,
  payload: digestPayload,
  key: (p) => (p.channel ? `${p.week}:${p.channel}` : p.week),
  run: async (deps, p) => {
    const channel = p.channel ?? deps.config.file.insights.digest.channel;
    if (!channel) return;
    // Recorded by releases that keyed the digest by the week alone.
    if ((await deps.store.getStep(`digest:${p.week}`, 'posted')) !== undefined) return;
    const filename = digestFilename(p.week);
    const marker = Markers.digest(p.week);
    await stepWithIntent(deps, `digest:${p.week}:${channel}`, 'posted', {
      find: async ({ oldest }) => {
        const found = (await deps.chat.history(channel, { oldest, limit: 1000 })).find(
          (m) => m.files?.some((f) => f.name === filename) || m.blockIds?.includes(marker),
        );
        return found ? { at: deps.clock.now().toISOString(), ts: found.ts, adopted: true } : undefined;
      },
      run: async () => {
        const report = await buildStats(deps, { days: 7, service: null, severity: null });
        const text = digestComment(report, p.week);
        try {
          await postChart(deps, channel, report, text, filename);
        } catch (err) {
          if (!(err instanceof ChatError && err.slackError === 'missing_scope')) throw err;
          deps.logger.warn({ err }, 'the Slack app lacks files:write: the weekly digest goes out without its chart');
          await deps.chat.post(channel, text, [{ type: 'section', block_id: marker, text: { type: 'mrkdwn', text } }]);
        }
        return { at: deps.clock.now().toISOString() };
      },
    });
  },
});

// -- "was this remediation needed?" for remediations proposed outside a runbook -------------------

/** Approval states in which a remediation ran (or may have: `unknown`), as the figures count them. */
const EXECUTED: ApprovalStatus[] = ['succeeded', 'failed', 'unknown'];
const questionFlow = (incidentId: string) => `remediations:${incidentId}`;

/**
 * The incident's executed remediations (actions that needed approval and ran) that no runbook
 * step proposed: a runbook asks about its own on its message (services/runbooks.ts).
 */
async function remediationsOutsideRunbooks(deps: Deps, incidentId: string): Promise<Approval[]> {
  const out: Approval[] = [];
  for (const a of await deps.store.listApprovals({ incidentId, status: EXECUTED })) {
    if (a.requiresApproval && !(await deps.store.findRunbookStepByApproval(a.id))) out.push(a);
  }
  return out.sort((x, y) => x.createdAt.getTime() - y.createdAt.getTime());
}

async function renderRemediationQuestion(deps: Deps, incident: Incident, approvals: Approval[]) {
  const answers = await deps.store.listRemediationAnswers({ incidentId: incident.id });
  const roles = await deps.store.getRoles(incident.id);
  return remediationQuestion({
    incidentId: incident.id,
    commanderId: roles.commander ?? incident.commanderId,
    items: approvals.map((a) => ({
      approvalId: a.id,
      text: `\`${a.actionId}\` ${Object.entries(a.params)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(' ')} (${a.status})`,
      answer: answers.find((x) => x.approvalId === a.id) ?? null,
    })),
  });
}

/** After resolve: ask the commander, once per incident, whether each remediation that ran was needed. */
export async function askRemediationQuestion(deps: Deps, incidentId: string): Promise<void> {
  const incident = await deps.store.getIncident(incidentId);
  if (incident?.status !== 'resolved' || !incident.channelId) return;
  const approvals = await remediationsOutsideRunbooks(deps, incidentId);
  if (!approvals.length) return;
  const msg = await renderRemediationQuestion(deps, incident, approvals);
  await postOnce(deps, questionFlow(incidentId), 'question', incident.channelId, Markers.remediationQuestion(incidentId), () => msg);
}

/** A click on the question: the commander's answer, recorded where every surface records it. */
export async function answerRemediation(deps: Deps, input: { approvalId: string; userId: string; answer: RemediationVerdict }): Promise<string> {
  const a = await deps.store.getApproval(input.approvalId);
  if (!a) throw new AppError('approval.not_found', 'That action is no longer known.');
  const incident = await deps.store.getIncident(a.incidentId);
  if (!incident) throw new AppError('incident.not_found', 'That incident is no longer known.');
  const roles = await deps.store.getRoles(incident.id);
  const commander = roles.commander ?? incident.commanderId;
  if (input.userId !== commander)
    throw new AppError('approval.not_allowed', `:no_entry: The commander (${commander ? `<@${commander}>` : 'unassigned'}) answers this.`);
  if (!a.requiresApproval || !EXECUTED.includes(a.status)) return 'That action did not run as a remediation: there is nothing to answer.';
  const now = deps.clock.now();
  const step = await deps.store.findRunbookStepByApproval(a.id);
  await deps.store.recordRemediationAnswer({
    approvalId: a.id,
    incidentId: incident.id,
    actionId: a.actionId,
    runId: step?.runId ?? null,
    stepIndex: step?.index ?? null,
    answer: input.answer,
    answeredBy: input.userId,
    answeredAt: now,
  });
  await deps.store.audit({
    at: now,
    incidentId: incident.id,
    approvalId: a.id,
    actor: input.userId,
    action: 'remediation.answered',
    detail: { answer: input.answer },
  });
  const posted = await deps.store.getStep<{ ts: string }>(questionFlow(incident.id), 'question');
  if (posted?.ts && incident.channelId) {
    const msg = await renderRemediationQuestion(deps, incident, await remediationsOutsideRunbooks(deps, incident.id));
    await deps.chat
      .update(incident.channelId, posted.ts, msg.text, msg.blocks)
      .catch((err) => deps.logger.warn({ err }, 'updating the remediation question failed'));
  }
  return `Recorded: *${input.answer}* for \`${a.actionId}\`.`;
}

/** Enqueued on resolve (keyed by version), beside the runbooks' own question. */
export const remediationQuestionJob = defineJob({
  kind: 'insights.remediation_question',
  payload: z.object({ incidentId: z.string().min(1) }),
  run: (deps, p) => askRemediationQuestion(deps, p.incidentId),
});

export const insightsJobs = [digestJob, remediationQuestionJob];

/** Called periodically by every replica: enqueue this week's digest once its day and hour have come. */
export async function scheduleDigest(deps: Deps): Promise<boolean> {
  const d = deps.config.file.insights.digest;
  if (!d.channel) return false;
  const now = deps.clock.now();
  const dueDay = WEEKDAYS.indexOf(d.day);
  // Days since the configured weekday within this ISO week (Monday-based).
  const isoDay = (now.getUTCDay() + 6) % 7;
  const dueIsoDay = (dueDay + 6) % 7;
  const due = isoDay > dueIsoDay || (isoDay === dueIsoDay && now.getUTCHours() >= d.hour);
  if (!due) return false;
  const week = isoWeek(now);
  return deps.jobs.enqueue(digestJob, { week, channel: d.channel });
}

/** Resolved-incident durations by severity for /metrics (called when an incident is resolved). */
export function observeResolved(deps: Deps, i: { severity: Severity; createdAt: Date; resolvedAt: Date | null }): void {
  if (!i.resolvedAt) return;
  deps.metrics.resolvedSeconds.observe({ severity: i.severity }, Math.max(0, (i.resolvedAt.getTime() - i.createdAt.getTime()) / 1000));
}
