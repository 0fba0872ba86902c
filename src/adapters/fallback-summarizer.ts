import { incidentLabel } from '../domain/incident.js';
import { formatDuration, formatUtc as utc } from '../domain/time.js';
import type { Clock } from '../ports/clock.js';
import { systemClock } from '../ports/clock.js';
import type { TimelineEntry } from '../ports/store.js';
import type { DiagnosisResult, ProposalsResult, SummaryContext, SummaryResult, Summarizer } from '../ports/summarizer.js';
import { time } from '../slack/blocks/common.js';
import { escapeKeepingUserMentions, escapeText, inertAngles } from '../slack/mrkdwn.js';

/**
 * The summary Firebreak posts when Claude is not configured or fails: built only from the
 * record, roles, timeline and message counts, so it cannot be wrong about anything it does not
 * know. Results carry `fallback: true`; the message that shows them says "Claude unavailable"
 * once (the brief and summary texts do not repeat it). It proposes no actions. Brief and summary
 * are Slack text, so their times are `<!date>` tokens each reader sees in their own time zone;
 * the post-mortem is Markdown for the backend, with UTC times. Brief and summary are ready mrkdwn:
 * every value from the record (title, description, services, roles, timeline texts) is escaped
 * here, so the caller posts them as they are and the date tokens and mentions stay live.
 */

export interface FallbackSummarizerOptions {
  clock?: Clock;
  /** How many of the latest timeline entries a summary lists (default 8). */
  lastEntries?: number;
}

export function createFallbackSummarizer(opts: FallbackSummarizerOptions = {}): Summarizer {
  const clock = opts.clock ?? systemClock;
  const lastN = opts.lastEntries ?? 8;

  const header = (ctx: SummaryContext, utc: (d: Date) => string): string[] => {
    const i = ctx.incident;
    const end = i.resolvedAt ?? clock.now();
    const lines = [
      `*${incidentLabel(i)}: ${escapeText(i.title)}*`,
      `• Severity: *${i.severity}* · Status: *${i.status}*`,
      `• Commander: ${mention(i.commanderId ?? ctx.roles.commander ?? null)}`,
    ];
    const others = Object.entries(ctx.roles).filter(([role]) => role !== 'commander');
    if (others.length) lines.push(`• Roles: ${others.map(([role, user]) => `${escapeText(role)} ${mention(user)}`).join(', ')}`);
    lines.push(`• Services: ${i.services.length ? i.services.map((s) => `\`${escapeText(s)}\``).join(', ') : 'none recorded'}`);
    lines.push(`• Declared: ${utc(i.createdAt)} · ${i.resolvedAt ? 'Lasted' : 'Open for'} ${formatDuration(end.getTime() - i.createdAt.getTime())}`);
    return lines;
  };

  const counts = (ctx: SummaryContext): string => {
    const humans = ctx.transcript.filter((l) => !l.isBot);
    const people = new Set(humans.map((l) => l.author)).size;
    return `• Channel: ${ctx.transcript.length} messages (${humans.length} from ${people} people, ${ctx.transcript.length - humans.length} from bots)`;
  };

  // Record text: its people stay mentions (who declared, who approved); nothing else in it can ping
  // (a pinned message's own mentions are made inert by entryText).
  const entries = (ctx: SummaryContext, n: number): string[] =>
    ctx.timeline.slice(-n).map((e) => `• ${time(e.at)} — ${escapeKeepingUserMentions(entryText(e))}`);

  const result = (text: string): SummaryResult => ({ text, fallback: true, requestId: null, coveredThroughTs: null });

  return {
    async brief(ctx) {
      const lines = header(ctx, time);
      if (ctx.incident.description.trim()) lines.push(`• Description: ${escapeText(oneLine(ctx.incident.description))}`);
      return result(lines.join('\n'));
    },

    async summarize(ctx) {
      const lines = [...header(ctx, time), counts(ctx)];
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
        `# ${incidentLabel(i)}: ${inertAngles(i.title)} — post-mortem draft`,
        '',
        `_Automatic draft (Claude unavailable): filled from the incident record; the team completes it._`,
        '',
        '## Summary',
        `${inertAngles(i.title)}. Severity ${i.severity}, status ${i.status}, ${i.resolvedAt ? 'lasted' : 'open for'} ${duration} (declared ${utc(i.createdAt)}${i.resolvedAt ? `, resolved ${utc(i.resolvedAt)}` : ''}).`,
        ...(i.description.trim() ? ['', inertAngles(i.description.trim())] : []),
        '',
        '## Root Cause',
        todo,
        '',
        '## Trigger',
        trigger ? `${utc(trigger.at)} — ${entryText(trigger)}` : todo,
        '',
        '## Impact',
        `Severity ${i.severity}. Services: ${i.services.length ? inertAngles(i.services.join(', ')) : 'none recorded'}. Duration ${duration}.${i.alertCount ? ` ${i.alertCount} alerts.` : ''}`,
        '',
        '## Timeline',
        ...(ctx.timeline.length ? ctx.timeline.map((e) => `- ${utc(e.at)} — ${entryText(e)}`) : ['_No timeline entries recorded._']),
        '',
        '## Resolution',
        ...(resolution.length ? resolution.map((e) => `- ${utc(e.at)}: ${entryBody(e)}`) : [todo]),
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

/**
 * One timeline entry in words: its kind as words (`severity changed`, not `severity_changed`),
 * then the text, and the author only when the text does not already name them.
 */
export function entryText(e: Pick<TimelineEntry, 'kind' | 'author' | 'text'>): string {
  const text = entryBody(e);
  const named = e.author && (text.includes(`<@${e.author}>`) || text.includes(`@${e.author}`));
  const by = e.author && !named ? ` by ${mention(e.author)}` : '';
  return `${e.kind.replace(/[_.]+/g, ' ')}${by}: ${text}`;
}

/**
 * An entry's text on one line. A pinned message is someone else's Slack text, not the record's:
 * its mentions (and `<!channel>`) stay inert wherever the skeleton is shown. Every other entry is
 * record text (untrusted parts escaped when it was written, its people written as `<@U…>`).
 */
function entryBody(e: Pick<TimelineEntry, 'kind' | 'text'>): string {
  return oneLine(e.kind === 'pin' ? inertAngles(e.text) : e.text);
}

function mention(user: string | null): string {
  if (!user) return 'not assigned';
  // Slack user ids render as mentions; anything else (a name) is shown as text.
  return /^[UW][A-Z0-9]{2,}$/.test(user) ? `<@${user}>` : `@${inertAngles(user)}`;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
}
