import type { Block } from '../../ports/chat.js';
import { clip, escapeText, header, link, section, time } from './common.js';
import { escapeKeepingUserMentions } from '../mrkdwn.js';

/**
 * A post-mortem draft is Markdown (that is what the backend stores). Slack does not render
 * Markdown, so in the channel it is shown as Block Kit: `#`/`##` headings become header blocks,
 * paragraphs and lists become section blocks in Slack's mrkdwn (`**b**` → `*b*`, `- ` → `• `,
 * `[t](u)` → `<u|t>`), and the UTC times of the draft become `<!date>` tokens each reader sees in
 * their own time zone. Slack's limits hold: 150 characters per header, 3,000 per section, and at
 * most `maxBlocks` blocks (what does not fit is cut with a note, never silently).
 */
export function markdownToBlocks(md: string, maxBlocks = 45, opts: { fromRecord?: boolean } = {}): Block[] {
  const blocks: Block[] = [];
  let para: string[] = [];
  const flush = () => {
    const text = para.join('\n').trim();
    para = [];
    if (!text) return;
    for (const piece of splitAt(text, 2900)) blocks.push(section(piece));
  };
  for (const raw of md.split(/\r?\n/)) {
    const h = /^(#{1,6})\s+(.*)$/.exec(raw);
    if (h) {
      flush();
      blocks.push(header(plainHeading(h[2]!)));
      continue;
    }
    if (/^\s*([-*_])\s*\1\s*\1[\s\-*_]*$/.test(raw)) {
      flush();
      blocks.push({ type: 'divider' });
      continue;
    }
    para.push(inline(raw, opts.fromRecord === true));
  }
  flush();
  if (blocks.length <= maxBlocks) return blocks;
  const kept = blocks.slice(0, maxBlocks - 1);
  kept.push(section(`_…${blocks.length - kept.length} more parts of the draft are not shown here; the full draft is saved with the incident._`));
  return kept;
}

/**
 * Inline Markdown → Slack mrkdwn for one line. The draft is Claude's (untrusted): the line is
 * escaped first, so a mention or a disguised link in it stays inert text; Markdown links become
 * links the bot writes itself (checked http(s) URL, label escaped). The skeleton Firebreak builds
 * from its record when Claude is unavailable (`fromRecord`) keeps its user mentions live (who
 * declared, who approved); nothing else in it can ping either.
 */
function inline(line: string, fromRecord: boolean): string {
  const links: string[] = [];
  // Links are held aside as \u0001n\u0001 (any such character in the draft itself is dropped first).
  const held = line
    .replace(/\u0001/g, '')
    .replace(/\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g, (_m, t: string, u: string) => `\u0001${links.push(link(u, t)) - 1}\u0001`);
  return dates(
    (fromRecord ? escapeKeepingUserMentions : escapeText)(held)
      .replace(/^(\s*)[-*+]\s+/, '$1• ')
      .replace(/\*\*(.+?)\*\*|__(.+?)__/g, (_m, a: string | undefined, b: string | undefined) => `*${a ?? b}*`),
  ).replace(/\u0001(\d+)\u0001/g, (_m, n: string) => links[Number(n)] ?? '');
}

/** A heading's text without Markdown emphasis (header blocks are plain text). */
const plainHeading = (s: string) => clip(s.replace(/\*\*|__|`/g, '').trim(), 150);

/** "2024-04-05 14:00 UTC" (the draft's one time format) → a date token with that as its fallback. */
const dates = (s: string) =>
  s.replace(/\b(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?(?: ?UTC|Z)/g, (m, y: string, mo: string, d: string, h: string, mi: string) => {
    const at = new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi));
    return Number.isNaN(at.getTime()) ? m : time(at);
  });

/** Split at line breaks into pieces of at most `n` characters (a single longer line is cut). */
function splitAt(text: string, n: number): string[] {
  const out: string[] = [];
  let cur = '';
  for (const line of text.split('\n')) {
    if (cur && `${cur}\n${line}`.length > n) {
      out.push(cur);
      cur = '';
    }
    cur = cur ? `${cur}\n${line}` : line;
    while (cur.length > n) {
      out.push(cur.slice(0, n));
      cur = cur.slice(n);
    }
  }
  if (cur) out.push(cur);
  return out;
}
