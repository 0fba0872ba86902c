import { namedReferencesAsWords } from '../domain/command.js';

/**
 * The one way untrusted text (alert fields, titles, descriptions, URLs, Claude's output, backend
 * webhook fields, agent input, what a person typed) reaches Slack's mrkdwn. Slack's own escaping of
 * `&`, `<` and `>` is the base: after it, `<!channel>`, `<!here>`, `<!everyone>`, `<@U…>`, `<#C…>`
 * and `<!subteam^…>` are shown as text and ping nobody, and text that was already escaped
 * (`&lt;!here&gt;`) stays text instead of turning into a mention. A disguised link
 * (`<https://evil.example|https://status.example.com>`) is shown as its real URL, with the label
 * after it as plain words, so what is clicked is what is read.
 *
 * Trusted formatting (the bot's own mentions of user ids it resolved, its own links, dates) is
 * written by the builders from typed values (`mention`, `link`, `time` in blocks/common.ts); it
 * never passes through here, and untrusted text never passes around it.
 */
const DISGUISED_LINK = /<((?:https?|mailto|ftp|slack):[^<>|\s]*)\|([^<>]*)>/gi;
const BARE_LINK = /<((?:https?|mailto|ftp):[^<>|\s]*)>/gi;

export function escapeText(untrusted: string): string {
  // A mention Slack wrote with its name (what a typed `@bob` becomes in a slash command, with
  // should_escape) reads as the plain words `@bob`: written by the bot as text (never with
  // link_names), a mention of nobody. Without a name it is escaped like any other markup.
  return namedReferencesAsWords(String(untrusted))
    .replace(DISGUISED_LINK, (_m, url: string, label: string) => (label.trim() && label.trim() !== url ? `${url} (${label.trim()})` : url))
    .replace(BARE_LINK, '$1')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/**
 * Text Firebreak built from its own record (timeline entries, stored as mrkdwn: untrusted parts
 * escaped when written, the people it recorded written as `<@U…>`), made safe to post with those
 * user mentions live: in a summary or a post-mortem skeleton that no model wrote. Every other `<`
 * and `>` is escaped, so `<!channel>`, `<!here>`, user groups, channels and disguised links stay
 * text; entities already in it (`&gt;`, `&lt;@U…&gt;`) are kept as they are, not escaped a second
 * time, so "p99 &gt; 2s" reads "p99 > 2s" and an escaped mention stays text. Limit: untrusted
 * text put beside the record (a title, a pinned message) must have its `<` and `>` escaped first
 * (`inertAngles`), or its user mentions would ping.
 */
export function escapeKeepingUserMentions(recordText: string): string {
  return String(recordText)
    .replace(DISGUISED_LINK, (_m, url: string, label: string) => (label.trim() && label.trim() !== url ? `${url} (${label.trim()})` : url))
    .replace(BARE_LINK, '$1')
    .replace(/&(?!(?:amp|lt|gt);)/g, '&amp;')
    .replace(/<(?!@[UW][A-Z0-9]{2,}>)/g, '&lt;')
    .replace(/(?<!<@[UW][A-Z0-9]{2,})>/g, '&gt;');
}

/**
 * Untrusted text (or someone else's Slack message) placed inside record text: its `<` and `>`
 * escaped, so nothing in it survives `escapeKeepingUserMentions` as a mention. Markdown readers
 * (a backend's post-mortem document) show the entities as the characters.
 */
export function inertAngles(untrusted: string): string {
  return String(untrusted).replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * A timeline entry as mrkdwn to show (the `/incident status` answer): record text with its people
 * as live mentions and nothing else active; a pinned message (someone else's Slack text, stored as
 * Slack sent it) made inert whole, its `<!channel>` and mentions included.
 */
export function timelineMrkdwn(e: { kind: string; text: string }): string {
  return escapeKeepingUserMentions(e.kind === 'pin' ? inertAngles(e.text) : e.text);
}

const SLACK_REF = /<([@#!])([^<>|\s]+)(?:\|([^<>]*))?>|<((?:https?|mailto):[^<>|\s]*)(?:\|([^<>]*))?>/g;

/** The user ids mentioned (`<@U…>`, `<@U…|label>`) in mrkdwn, each once. */
export function mentionedUserIds(text: string): string[] {
  return [...new Set([...String(text).matchAll(/<@([UW][A-Z0-9]{2,})(?:\|[^<>]*)?>/g)].map((m) => m[1]!))];
}

/**
 * Slack's reference syntax made plain for a reader outside Slack (a backend's copy of a post-mortem):
 * `<@U1>` → `@Ann Lee` (the name in `names`, else the mention's label, else the id), `<#C1|ops>` →
 * `#ops`, `<!here>` → `@here`, `<!subteam^S1|@sre>` → `@sre`, `<!date^…|2 May>` → `2 May`,
 * `<https://x|label>` → `[label](https://x)`. Entities (`&lt;`) are left as they are: Markdown
 * readers show them as the characters, and nothing here is Slack any more, so nothing pings.
 */
export function slackRefsToMarkdown(text: string, names: ReadonlyMap<string, string>): string {
  return String(text).replace(SLACK_REF, (_m, sigil?: string, ref?: string, label?: string, url?: string, urlLabel?: string) => {
    if (url) return urlLabel?.trim() && urlLabel.trim() !== url ? `[${urlLabel.trim()}](${url})` : url;
    const shown = label?.trim();
    if (sigil === '@') return `@${names.get(ref!) ?? shown?.replace(/^@/, '') ?? ref}`;
    if (sigil === '#') return `#${shown ?? ref}`;
    if (ref!.startsWith('date^')) return shown ?? '';
    if (ref!.startsWith('subteam^')) return shown ? `@${shown.replace(/^@/, '')}` : '@group';
    return `@${ref}`; // !here, !channel, !everyone
  });
}

/** A URL the bot links to itself (a backend record): only http(s), and nothing that could end the link early. */
export function safeUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return null;
    const s = u.toString();
    return /[<>|\s]/.test(s) ? null : s;
  } catch {
    return null;
  }
}
