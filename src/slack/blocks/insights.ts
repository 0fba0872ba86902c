import { change, formatDuration, type Figures, type Ratio, type Summary } from '../../domain/insights.js';
import { SEVERITIES, SEVERITY_EMOJI, type Severity } from '../../domain/severity.js';
import type { Block } from '../../ports/chat.js';
import { Actions, Markers } from '../ids.js';
import { actions, clip, context, divider, escapeText, header, section, time, user } from './common.js';

/** What the figures builders need: the period's figures, the previous period's, and slices. */
export interface StatsView {
  days: number;
  service: string | null;
  severity: Severity | null;
  current: Figures;
  previous: Figures;
  bySeverity: Map<string, Figures>;
  byRunbook: Map<string, Figures>;
}

/** Untrusted text (a service name typed in a command) is shown as text, never as markup or a mention. */
const esc = (s: string) => escapeText(s).replace(/[*_~`]/g, '');

function pct(r: number): string {
  return `${Math.round(r * 1000) / 10}%`;
}

/** ▼ 20% / ▲ 5% against the previous period (lower is better for durations). */
function trend(now: number | null | undefined, before: number | null | undefined): string {
  const c = change(now, before);
  if (c === null) return '';
  if (Math.abs(c) < 0.005) return ' (no change)';
  return ` (${c < 0 ? '▼' : '▲'} ${Math.round(Math.abs(c) * 100)}% vs previous)`;
}

function duration(name: string, now: Summary | null, before: Summary | null): string {
  if (!now) return `*${name}*: no data`;
  return `*${name}*: median ${formatDuration(now.medianMs)} · p90 ${formatDuration(now.p90Ms)} · mean ${formatDuration(now.meanMs)} (${now.n})${trend(now.medianMs, before?.medianMs)}`;
}

function rate(name: string, now: Ratio | null, before: Ratio | null, of: string): string {
  if (!now) return `*${name}*: no ${of} in this period`;
  const pp = before ? Math.round((now.rate - before.rate) * 1000) / 10 : null;
  const delta = pp === null ? '' : pp === 0 ? ' (no change)' : ` (${pp > 0 ? '+' : ''}${pp} pts vs previous)`;
  return `*${name}*: ${pct(now.rate)} (${now.numerator} of ${now.denominator} ${of})${delta}`;
}

export function periodLabel(v: Pick<StatsView, 'days' | 'service' | 'severity'>): string {
  const filters = [v.service ? `service ${esc(v.service)}` : null, v.severity ? `severity ${v.severity}` : null].filter(Boolean);
  return `last ${v.days} days${filters.length ? ` · ${filters.join(' · ')}` : ''}`;
}

/** The four figures with the change against the previous period, as mrkdwn lines. */
export function figuresText(v: StatsView): string {
  const c = v.current;
  const p = v.previous;
  const sev = SEVERITIES.map((s) => `${SEVERITY_EMOJI[s]} ${v.bySeverity.get(s)?.incidents ?? 0}`).join('  ');
  const rb = v.byRunbook.get('runbook');
  const hand = v.byRunbook.get('none');
  const mttr = (f: Figures | undefined) => (f?.mttr ? `${formatDuration(f.mttr.medianMs)} (${f.mttr.n})` : 'n/a');
  return [
    `*Incidents*: ${c.incidents}${trend(c.incidents, p.incidents).replace('▼', '↓').replace('▲', '↑')}   ${sev}`,
    duration('MTTA', c.mtta, p.mtta),
    duration('MTTR', c.mttr, p.mttr),
    duration('Time to mitigate', c.mttm, p.mttm),
    rate('False-positive remediations', c.falsePositive, p.falsePositive, 'executed'),
    rate('Post-mortems completed', c.postmortem, p.postmortem, 'resolved'),
    `*Runbook vs by hand*: median MTTR ${mttr(rb)} vs ${mttr(hand)}`,
  ].join('\n');
}

/** The message text that goes with the chart (files.completeUploadExternal `initial_comment`). */
export function statsComment(v: StatsView): string {
  return `:bar_chart: *Incident figures — ${periodLabel(v)}*\n${figuresText(v)}\n_Definitions: docs/insights.md. Median and p90 beside the mean; changes are against the ${v.days} days before._`;
}

/** Weekly digest: the same figures for the last 7 days. */
export function digestComment(v: StatsView, week: string): string {
  return `:calendar: *Weekly incident digest — ${week}*\n${figuresText(v)}`;
}

/** App Home section: the last 30 days. */
export function homeInsightsBlocks(v: StatsView): Block[] {
  return [divider(), header('Last 30 days'), section(figuresText(v)), context('`/incident stats 30d` posts the chart. Definitions: docs/insights.md.')];
}

/** One executed remediation in the post-resolve question, with its answer once given. */
export interface RemediationItem {
  approvalId: string;
  /** e.g. `rollback_deployment service=api version=v41 (succeeded)`: untrusted, escaped here. */
  text: string;
  answer: { answer: string; answeredBy: string; answeredAt: Date } | null;
}

/**
 * After resolve, in the incident channel: was each remediation proposed outside a runbook needed?
 * (A runbook asks on its own message.) The first block carries the marker, found again after a crash.
 */
export function remediationQuestion(v: { incidentId: string; commanderId: string | null; items: RemediationItem[] }): { text: string; blocks: Block[] } {
  const marker = Markers.remediationQuestion(v.incidentId);
  const who = v.commanderId ? `${user(v.commanderId)}, the` : 'The';
  const blocks: Block[] = [
    section(
      `${who} incident is resolved: was each remediation that ran needed? The answers make the false-positive remediation rate (\`/incident stats\`).`,
      marker,
    ),
  ];
  for (const item of v.items.slice(0, 15)) {
    const a = item.answer;
    blocks.push(section(`${escapeText(clip(item.text, 300))}${a ? `\nAnswered *${a.answer}* by ${user(a.answeredBy)} at ${time(a.answeredAt)}` : ''}`));
    blocks.push(
      actions(`remediation_needed:${item.approvalId}`, [
        { text: 'Yes, needed', actionId: Actions.remediationNeededYes, value: item.approvalId },
        { text: 'No, not needed', actionId: Actions.remediationNeededNo, value: item.approvalId },
        { text: 'Unsure', actionId: Actions.remediationNeededUnsure, value: item.approvalId },
      ]),
    );
  }
  if (v.items.length > 15) blocks.push(context(`${v.items.length - 15} more not shown.`));
  return { text: 'Was each remediation needed?', blocks };
}
