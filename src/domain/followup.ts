/**
 * Follow-ups (action items), pure: the `/incident followup <text> [@owner] [due:YYYY-MM-DD]`
 * grammar and the states a follow-up goes through.
 */
export type FollowupSource = 'command' | 'shortcut' | 'claude';
export type FollowupState = 'open' | 'done';

export interface FollowupDraft {
  text: string;
  ownerId: string | null;
  /** YYYY-MM-DD */
  due: string | null;
}

const MENTION = /^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$/;
const DUE = /^due:(\d{4}-\d{2}-\d{2})$/i;

/** A calendar date that exists (2026-02-30 does not). */
export function isCalendarDate(s: string): boolean {
  const m = s.match(/^(\d{4})-(\d{2})-(\d{2})$/);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === s;
}

/** Parse the text after `followup`. The owner and due date may stand anywhere; the rest is the text. */
export function parseFollowup(input: string): { ok: true; draft: FollowupDraft } | { ok: false; error: string } {
  let ownerId: string | null = null;
  let due: string | null = null;
  const words: string[] = [];
  for (const tok of input.trim().split(/\s+/).filter(Boolean)) {
    const mention = tok.match(MENTION);
    const d = tok.match(DUE);
    if (mention && !ownerId) ownerId = mention[1]!;
    else if (d) {
      if (due) return { ok: false, error: 'Give one due date: `due:YYYY-MM-DD`.' };
      if (!isCalendarDate(d[1]!)) return { ok: false, error: `\`${d[1]}\` is not a date; use \`due:YYYY-MM-DD\`.` };
      due = d[1]!;
    } else if (/^due:/i.test(tok)) return { ok: false, error: `\`${tok}\` is not a date; use \`due:YYYY-MM-DD\`.` };
    else words.push(tok);
  }
  const text = words.join(' ').trim();
  if (!text) return { ok: false, error: 'Say what needs doing: `/incident followup <text> [@owner] [due:YYYY-MM-DD]`.' };
  if (text.length > 500) return { ok: false, error: 'A follow-up is at most 500 characters.' };
  return { ok: true, draft: { text, ownerId, due } };
}

/**
 * The follow-ups a post-mortem draft proposes: the bullet items of its "Prevention" section (the
 * prompt asks for each as a task). Pure text in, task texts out; markdown emphasis is stripped.
 */
export function proposedFollowups(markdown: string, max = 10): string[] {
  const out: string[] = [];
  let inSection = false;
  for (const line of markdown.split('\n')) {
    const h = line.match(/^#{1,3}\s+(.*)$/);
    if (h) {
      inSection = /^(prevention|follow-?ups|action items)\b/i.test(h[1]!.trim());
      continue;
    }
    if (!inSection) continue;
    const b = line.match(/^\s*(?:[-*•]|\d+[.)])\s+(?:\[[ x]\]\s*)?(.+)$/);
    if (!b) continue;
    const text = b[1]!
      .replace(/\*\*|__|`/g, '')
      .replace(/\s*\((?:suggestion|suggested|to confirm)\)\s*$/i, '')
      .trim();
    if (text.length >= 3 && !out.includes(text)) out.push(text.slice(0, 500));
    if (out.length >= max) break;
  }
  return out;
}

/**
 * The line a follow-up's description carries in the backend, naming our follow-up id: how a retry
 * after a lost answer finds the one the first attempt made instead of creating a second.
 */
export function followupMarker(idempotencyKey: string): string {
  return `(firebreak-followup:${idempotencyKey})`;
}

/** The description with the marker as its last line. */
export function withFollowupMarker(description: string, idempotencyKey: string): string {
  return `${description}\n\n${followupMarker(idempotencyKey)}`;
}
