import { incidentLabel, type Incident } from '../../domain/incident.js';
import type { Block } from '../../ports/chat.js';
import { Markers } from '../ids.js';
import { context, escapeText, header, section, user } from './common.js';
import { markdownToBlocks } from './postmortem.js';
import { mentionedUserIds, slackRefsToMarkdown } from '../mrkdwn.js';

/**
 * The messages Claude's writing is shown in: the brief after declare, the streamed catch-up
 * summary and the post-mortem draft. Each carries its marker (`postOnce` finds it again after a
 * crash). Claude's text is untrusted and escaped here; the plain summary written from the record
 * (`fallback`) comes escaped already, with its date tokens and mentions meant to stay live.
 */

export interface MarkedMessage {
  marker: string;
  text: string;
  blocks: Block[];
}

/** The brief right after declare. */
export function briefMessage(incident: Incident, brief: { text: string; fallback: boolean }): MarkedMessage {
  const marker = Markers.brief(incident.id);
  return {
    marker,
    text: `Brief for ${incidentLabel(incident)}`,
    blocks: [
      header(`Brief: ${incidentLabel(incident)}`, marker),
      ...chunks(brief.text, brief.fallback),
      context(brief.fallback ? 'Plain summary from the record (Claude unavailable)' : 'Written by Claude from the declaration. Check before acting.'),
    ],
  };
}

/**
 * The `n`th catch-up summary, streamed into one message: `placeholder` while the channel is read,
 * `render` as Claude writes (`done` adds the footer saying who wrote it).
 */
export function summaryMessage(incident: Incident, n: string, requestedBy: string) {
  const marker = Markers.summary(incident.id, n);
  const title = `Summary of ${incidentLabel(incident)} (requested by ${user(requestedBy)})`;
  return {
    title,
    placeholder: [section(`*${title}*`, marker), section(':hourglass_flowing_sand: Reading the channel…')],
    render: (text: string, done: boolean, fallback = false): Block[] => [
      section(`*${title}*`, marker),
      ...chunks(text || '…', fallback),
      ...(done
        ? [context(fallback ? 'Plain summary from the record (Claude unavailable)' : 'Written by Claude from this channel. Check before acting.')]
        : [context(':writing_hand: writing…')]),
    ],
  };
}

/**
 * The post-mortem draft as Block Kit (the Markdown stays for the backend): its first heading carries
 * the marker, or a heading is added; a footer says who wrote it. At most 50 blocks, Slack's limit.
 */
export function postmortemMessage(incident: Incident, draft: { markdown: string; fallback: boolean }): MarkedMessage {
  const label = incidentLabel(incident);
  const marker = Markers.postmortem(incident.id);
  const body = markdownToBlocks(draft.markdown, 48, { fromRecord: draft.fallback });
  const first = body[0];
  const head = first?.type === 'header' ? [{ ...first, block_id: marker }] : [header(`Post-mortem draft: ${label}`, marker), ...(first ? [first] : [])];
  // The skeleton's own first line already says Claude was unavailable; the footer does not repeat it.
  const blocks = [
    ...head,
    ...body.slice(1),
    context(draft.fallback ? 'Skeleton from the record. Edit before publishing.' : 'Drafted by Claude. Edit before publishing.'),
  ];
  return { marker, text: `Post-mortem draft for ${label}`, blocks };
}

/** The backend never made a post-mortem document to save the draft in; Firebreak stops waiting. `withheld`: see `postmortemWithheldMessage`. */
export function postmortemGaveUpMessage(incident: Incident, backend: string, minutes: number, opts: { withheld?: boolean } = {}): MarkedMessage {
  const marker = `${Markers.postmortem(incident.id)}:gave-up`;
  const where = opts.withheld
    ? `The draft is on the ${backend} timeline where it has one (not posted here: ${WHY_WITHHELD})`
    : `The draft is the one posted here (and on the ${backend} timeline where it has one)`;
  const text = `${backend} has no post-mortem document for ${incidentLabel(incident)} after ${minutes} minutes. ${where}; Firebreak stops waiting.`;
  return { marker, text, blocks: [section(text, marker)] };
}

/** Why a private incident's details stay out of its channel while Slack does not say the channel is private. */
const WHY_WITHHELD = 'this incident is private and this channel is public';

/** In place of the post-mortem draft, in a private incident's public channel: no title, no timeline, only where the draft goes. */
export function postmortemWithheldMessage(incident: Incident, backend: string): MarkedMessage {
  const marker = Markers.postmortem(incident.id);
  const text =
    `:lock: The post-mortem draft for ${incidentLabel(incident)} is ready, and not shown here: ${WHY_WITHHELD}. ` +
    `It is saved to ${backend} with the incident. Once this channel is private, \`/incident postmortem\` posts a new draft here.`;
  return { marker, text, blocks: [section(text, marker)] };
}

/** A summary asked for in a private incident's public channel: answered to the one who asked only, saying why. */
export function summaryPrivately(incident: Incident, summary: { text: string; fallback: boolean }): string {
  const body = summary.fallback ? summary.text : escapeText(summary.text);
  return `:lock: Summary of ${incidentLabel(incident)}, shown to you only (not posted in the channel: ${WHY_WITHHELD}).\n\n${body}`;
}

/** Split long text into section blocks within Block Kit's 3,000-character limit, at line breaks. */
function chunks(text: string, fromRecord = false) {
  const out: ReturnType<typeof section>[] = [];
  let cur = '';
  for (const line of (fromRecord ? text : escapeText(text)).split('\n')) {
    if (`${cur}\n${line}`.length > 2900) {
      if (cur) out.push(section(cur));
      cur = line.slice(0, 2900);
    } else cur = cur ? `${cur}\n${line}` : line;
  }
  if (cur) out.push(section(cur));
  return out.slice(0, 45);
}

/**
 * A post-mortem draft as a backend keeps it (read outside Slack): mentions as `@Name` from `names`
 * (user id → Slack's name for them), Slack's other references as plain Markdown.
 */
export function postmortemForBackend(markdown: string, names: ReadonlyMap<string, string>): string {
  return slackRefsToMarkdown(markdown, names);
}

export { mentionedUserIds };
