import { incidentLabel } from '../domain/incident.js';
import { formatDuration, formatUtc as utc } from '../domain/transcript.js';
import type { Clock } from '../ports/clock.js';
import { systemClock } from '../ports/clock.js';
import type { DiagnosisResult, ProposalsResult, SummaryContext, SummaryResult, Summarizer } from '../ports/summarizer.js';

/**
 * The summary Firebreak posts when Claude is not configured or fails: built only from the
 * record, roles, timeline and message counts, so it cannot be wrong about anything it does not
 * know. It is labelled so nobody mistakes it for an analysis. It proposes no actions.
 */
export const FALLBACK_LABEL = '_Automatic summary (Claude unavailable)_';

export interface FallbackSummarizerOptions {
  clock?: Clock;
  /** How many of the latest timeline entries a summary lists (default 8). */
  lastEntries?: number;
}

export function createFallbackSummarizer(opts: FallbackSummarizerOptions = {}): Summarizer {
  const clock = opts.clock ?? systemClock;
  const lastN = opts.lastEntries ?? 8;

  const header = (ctx: SummaryContext): string[] => {
    const i = ctx.incident;
    const end = i.resolvedAt ?? clock.now();
    const lines = [
      `*${incidentLabel(i)}: ${i.title}*`,
      `• Severity: *${i.severity}* · Status: *${i.status}*`,
      `• Commander: ${mention(i.commanderId ?? ctx.roles.commander ?? null)}`,
    ];
    const others = Object.entries(ctx.roles).filter(([role]) => role !== 'commander');
    if (others.length) lines.push(`• Roles: ${others.map(([role, user]) => `${role} ${mention(user)}`).join(', ')}`);
    lines.push(`• Services: ${i.services.length ? i.services.map((s) => `\`${s}\``).join(', ') : 'none recorded'}`);
    lines.push(`• Declared: ${utc(i.createdAt)} · ${i.resolvedAt ? 'Lasted' : 'Open for'} ${formatDuration(end.getTime() - i.createdAt.getTime())}`);
    return lines;
  };

  const counts = (ctx: SummaryContext): string => {
    const humans = ctx.transcript.filter((l) => !l.isBot);
    const people = new Set(humans.map((l) => l.author)).size;
    return `• Channel: ${ctx.transcript.length} messages (${humans.length} from ${people} people, ${ctx.transcript.length - humans.length} from bots)`;
  };

  const entries = (ctx: SummaryContext, n: number): string[] =>
    ctx.timeline.slice(-n).map((e) => `• ${utc(e.at)} — ${e.kind}${e.author ? ` by ${mention(e.author)}` : ''}: ${oneLine(e.text)}`);

  const result = (text: string): SummaryResult => ({ text, fallback: true, requestId: null, coveredThroughTs: null });

  return {
    async brief(ctx) {
      const lines = [FALLBACK_LABEL, ...header(ctx)];
      if (ctx.incident.description.trim()) lines.push('', `> ${oneLine(ctx.incident.description)}`);
      return result(lines.join('\n'));
    },

    async summarize(ctx) {
      const lines = [FALLBACK_LABEL, ...header(ctx), counts(ctx)];
      if (ctx.timeline.length) {
        const shown = Math.min(lastN, ctx.timeline.length);
        lines.push('', `*Latest timeline* (${shown} of ${ctx.timeline.length})`, ...entries(ctx, lastN));
      }
      return result(lines.join('\n'));
    },

    async postmortem(ctx) {
      const i = ctx.incident;
      const end = i.resolvedAt ?? clock.now();
      const duration = formatDuration(end.getTime() - i.createdAt.getTime());
      const todo = '_To be written by the team._';
      const resolution = ctx.timeline.filter((e) => e.kind === 'status' || /resolv|mitigat/i.test(e.text));
      const trigger = ctx.timeline.find((e) => e.kind === 'alert' || e.kind === 'declared');
      const md = [
        `# ${incidentLabel(i)}: ${i.title} — post-mortem draft`,
        '',
        `_Automatic draft (Claude unavailable): filled from the incident record; the team completes it._`,
        '',
        '## Summary',
        `${i.title}. Severity ${i.severity}, status ${i.status}, ${i.resolvedAt ? 'lasted' : 'open for'} ${duration} (declared ${utc(i.createdAt)}${i.resolvedAt ? `, resolved ${utc(i.resolvedAt)}` : ''}).`,
        ...(i.description.trim() ? ['', i.description.trim()] : []),
        '',
        '## Root Cause',
        todo,
        '',
        '## Trigger',
        trigger ? `${utc(trigger.at)} — ${trigger.kind}: ${oneLine(trigger.text)}` : todo,
        '',
        '## Impact',
        `Severity ${i.severity}. Services: ${i.services.length ? i.services.join(', ') : 'none recorded'}. Duration ${duration}.${i.alertCount ? ` ${i.alertCount} alerts.` : ''}`,
        '',
        '## Timeline',
        ...(ctx.timeline.length
          ? ctx.timeline.map((e) => `- ${utc(e.at)} — ${e.kind}${e.author ? ` (${e.author})` : ''}: ${oneLine(e.text)}`)
          : ['_No timeline entries recorded._']),
        '',
        '## Resolution',
        ...(resolution.length ? resolution.map((e) => `- ${utc(e.at)}: ${oneLine(e.text)}`) : [todo]),
        '',
        '## Prevention',
        todo,
      ];
      return result(md.join('\n'));
    },

    async proposeActions(): Promise<ProposalsResult> {
      return { proposals: [], rejected: [], fallback: true, requestId: null };
    },

    // No analysis without Claude: say so, and list what the steps gathered so a person can read it.
    async diagnose(ctx): Promise<DiagnosisResult> {
      const lines = ['_No diagnosis: Claude is unavailable. What the steps gathered:_'];
      for (const e of ctx.evidence) lines.push(`• \`${e.step}\` (${e.status}): ${oneLine(e.output || '(no output)')}`);
      if (!ctx.evidence.length) lines.push('• (no step produced output)');
      return { text: lines.join('\n'), confidence: null, evidence: [], proposals: [], rejected: [], fallback: true, requestId: null };
    },
  };
}

function mention(user: string | null): string {
  if (!user) return 'not assigned';
  // Slack user ids render as mentions; anything else (a name) is shown as is.
  return /^[UW][A-Z0-9]{2,}$/.test(user) ? `<@${user}>` : `@${user}`;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
}
