import type { TranscriptLine } from '../../ports/summarizer.js';

/**
 * Pure formatting of a channel transcript for a prompt, and the budget rule that decides what
 * fits. No I/O here; the Anthropic adapter and its templates use these.
 *
 * Budget rule (stated once, relied on by the prompts and the tests):
 * - Tokens are *estimated* as ceil(characters / 4). That is an approximation of Claude's
 *   tokenizer, not a count; keep the budget well under the model's context window.
 * - Only whole messages are kept. Priority goes to the newest: messages are taken newest first
 *   while they fit, and the first one that does not fit ends the selection, so the kept messages
 *   are always one contiguous, most recent run (no silent gaps in the middle).
 * - Everything older is left out and counted in `omitted`, so the prompt can say
 *   "N earlier messages omitted".
 * - The one exception: when the newest message alone exceeds the budget, it is cut to fit and
 *   ends with an explicit "[truncated N chars]" marker. A message is never cut silently.
 */

/** Tag names that delimit untrusted data in the prompts. Data may not contain them verbatim. */
export const DATA_TAGS = ['transcript', 'timeline', 'incident', 'previous_summary', 'roles', 'actions', 'step_outputs', 'step_output'] as const;

const TAG_PATTERN = new RegExp(`<(/?)\\s*(${DATA_TAGS.join('|')})\\b`, 'gi');

/** Deterministic token estimate used for every budget decision: ceil(chars / 4). */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * Make untrusted text unable to open or close one of our delimiter tags: `</transcript>` in a
 * Slack message becomes `‹/transcript>`, so the data cannot appear to end early. Other text is
 * left untouched.
 */
export function neutralizeDelimiters(text: string): string {
  return text.replace(TAG_PATTERN, (_m, slash: string, tag: string) => `‹${slash}${tag}`);
}

/**
 * Slack timestamps are epoch seconds with a microsecond suffix ("1712345678.000100"); anything
 * else (an ISO string) is shown as given.
 */
export function formatLineTime(ts: string): string {
  if (/^\d{9,11}(\.\d+)?$/.test(ts)) {
    const d = new Date(Math.floor(Number(ts) * 1000));
    return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  }
  return ts;
}

/**
 * One attributed line: `[2024-04-05 14:03:22 UTC] @alice: text`, bots marked `@deploybot (bot):`.
 * Continuation lines of a multi-line message are indented, so every line visibly belongs to the
 * attributed message above it.
 */
export function formatTranscriptLine(line: TranscriptLine): string {
  const who = `@${line.author}${line.isBot ? ' (bot)' : ''}`;
  const text = neutralizeDelimiters(line.text).replace(/\r\n?/g, '\n').replace(/\n/g, '\n    ');
  return `[${formatLineTime(line.ts)}] ${who}: ${text}`;
}

/**
 * Order of two message timestamps: numeric when both are Slack-style numbers, otherwise string
 * order (which is chronological for ISO-8601 UTC strings).
 */
export function compareTs(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (a.trim() !== '' && b.trim() !== '' && Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Lines strictly newer than `ts` (all lines when `ts` is null/undefined). */
export function linesSince(lines: TranscriptLine[], ts: string | null | undefined): TranscriptLine[] {
  if (ts == null || ts === '') return lines;
  return lines.filter((l) => compareTs(l.ts, ts) > 0);
}

export interface FittedTranscript {
  /** Formatted lines, oldest first. */
  lines: string[];
  /** How many of the input messages are in `lines`. */
  kept: number;
  /** How many older messages were left out for the budget. */
  omitted: number;
  /** Characters cut from the newest message when it alone exceeded the budget (0 otherwise). */
  truncatedChars: number;
  /** Estimated tokens of `lines` joined by newlines. */
  tokens: number;
  /** Timestamp of the newest message given (kept or not), or null for none. */
  newestTs: string | null;
}

/** Apply the budget rule above. `lines` may come in any order; the result is oldest first. */
export function fitTranscript(lines: TranscriptLine[], maxTokens: number): FittedTranscript {
  const sorted = [...lines].sort((a, b) => compareTs(a.ts, b.ts));
  const budget = Math.max(0, Math.floor(maxTokens));
  const newestTs = sorted.length > 0 ? sorted[sorted.length - 1]!.ts : null;
  const kept: string[] = [];
  let used = 0;
  let truncatedChars = 0;

  for (let i = sorted.length - 1; i >= 0; i--) {
    const formatted = formatTranscriptLine(sorted[i]!);
    // +1 character for the newline that joins it to the next line.
    const cost = estimateTokens(kept.length === 0 ? formatted : `${formatted}\n`);
    if (used + cost <= budget) {
      kept.push(formatted);
      used += cost;
      continue;
    }
    if (kept.length === 0 && budget > 0) {
      const cut = truncateToBudget(formatted, budget);
      if (cut) {
        kept.push(cut.text);
        used += estimateTokens(cut.text);
        truncatedChars = cut.removed;
      }
    }
    break;
  }

  kept.reverse();
  return {
    lines: kept,
    kept: kept.length,
    omitted: sorted.length - kept.length,
    truncatedChars,
    tokens: estimateTokens(kept.join('\n')),
    newestTs,
  };
}

/** Cut `text` so that it plus an explicit marker fits `budget` tokens; null if even the marker does not fit. */
function truncateToBudget(text: string, budget: number): { text: string; removed: number } | null {
  const maxChars = budget * 4;
  // Reserve room for the marker with the largest number it could carry, so the result never
  // exceeds the budget whatever the digit count of the final number.
  const keep = maxChars - ` [truncated ${text.length} chars]`.length;
  if (keep <= 0) return null;
  const removed = text.length - keep;
  return { text: `${text.slice(0, keep)} [truncated ${removed} chars]`, removed };
}

/**
 * The transcript as it goes into a prompt: a trusted notice about omissions *outside* the
 * delimiters, then the attributed lines inside `<transcript>` tags. Line text has been passed
 * through `neutralizeDelimiters`, so nothing inside can close the tag.
 */
export function renderTranscriptBlock(fitted: FittedTranscript): string {
  const notes: string[] = [];
  if (fitted.omitted > 0) notes.push(`(${fitted.omitted} earlier messages omitted to fit the length budget.)`);
  if (fitted.truncatedChars > 0) notes.push(`(The newest message was cut; it ends with a [truncated N chars] marker.)`);
  if (fitted.kept === 0 && fitted.omitted === 0) notes.push('(No channel messages.)');
  const body = fitted.lines.join('\n');
  return `${notes.length ? `${notes.join('\n')}\n` : ''}<transcript>\n${body}${body ? '\n' : ''}</transcript>`;
}
