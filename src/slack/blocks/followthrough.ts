import { backendLabel, incidentLabel, type Incident } from '../../domain/incident.js';
import type { OnCallPerson } from '../../domain/oncall.js';
import type { Block } from '../../ports/chat.js';
import type { Followup, Page } from '../../ports/followthrough-store.js';
import { Actions, FormBlocks, INPUT, Markers, Views, personText } from '../ids.js';
import { actions, context, escapeText, header, plain, section, time, user } from './common.js';

/** Pages, update reminders and follow-ups as Slack messages. Everything a person typed is escaped. */

export function pagePosted(p: Page, incident: Incident): { text: string; blocks: Block[] } {
  const msg = p.message ? `: ${escapeText(p.message)}` : '';
  const text = `:rotating_light: Paged *${personText(p.targetName)}* for ${incidentLabel(incident)} (requested by ${user(p.pagedBy)})${msg}`;
  const ctx = [`paged ${time(p.sentAt ?? p.createdAt)}`];
  if (p.ackedAt) ctx.push(`:white_check_mark: acknowledged by ${acker(p)} ${time(p.ackedAt)}`);
  return { text, blocks: [section(text, Markers.page(p.targetKey)), context(ctx.join(' · '))] };
}

/** Who acknowledged: the Slack user the bot resolved as a mention; else the source's name, as text. */
function acker(p: Page): string {
  if (p.ackedByUser) return user(p.ackedByUser);
  return p.ackedByName ? escapeText(p.ackedByName) : 'someone (the source did not say who)';
}

/** Said in the incident channel when a paged person acknowledges. */
export function pageAcknowledged(p: Page): { text: string; blocks: Block[] } {
  const text = `:white_check_mark: ${acker(p)} acknowledged the page to *${personText(p.targetName)}*${p.ackedAt ? ` at ${time(p.ackedAt)}` : ''}.`;
  return { text, blocks: [section(text, Markers.pageAck(p.targetKey))] };
}

export function pageFailed(p: Page, why: string): string {
  return `:warning: Paging *${personText(p.targetName)}* failed: ${escapeText(why)}. Page them another way.`;
}

export function pageModal(i: Incident, targets: string[]): Block {
  return {
    type: 'modal',
    callback_id: Views.page,
    private_metadata: i.id,
    title: plain('Page someone', 24),
    submit: plain('Page', 24),
    blocks: [
      targets.length
        ? {
            type: 'input',
            block_id: FormBlocks.target,
            label: plain('Team or escalation policy'),
            optional: true,
            element: { type: 'static_select', action_id: INPUT, options: targets.slice(0, 100).map((t) => ({ text: plain(t, 75), value: t })) },
          }
        : section('No paging targets are configured in firebreak.yml; pick a person below.'),
      { type: 'input', block_id: FormBlocks.user, label: plain('…or a person'), optional: true, element: { type: 'users_select', action_id: INPUT } },
      {
        type: 'input',
        block_id: FormBlocks.message,
        optional: true,
        label: plain('Message'),
        element: { type: 'plain_text_input', action_id: INPUT, multiline: true, max_length: 1000 },
      },
    ],
  };
}

export function reminderNudge(i: Incident, commanderId: string | null, minutes: number, dueMs: number): { text: string; blocks: Block[] } {
  const who = commanderId ? `<@${commanderId}>` : 'Commander';
  const text = `:alarm_clock: ${who}, no update on ${incidentLabel(i)} for ${minutes} minutes. Post one with \`/incident update <text>\`.`;
  return {
    text,
    blocks: [
      section(text, Markers.reminder(i.id, dueMs)),
      actions(`reminder_actions:${i.id}`, [
        { text: 'Snooze 30 min', actionId: Actions.reminderSnooze, value: `${i.id}|30` },
        { text: 'Snooze 1 hour', actionId: Actions.reminderSnoozeLong, value: `${i.id}|60` },
      ]),
    ],
  };
}

export function onCallList(rows: { service: string; people: OnCallPerson[] | null; error?: string }[]): string {
  if (!rows.length) return 'No services are mapped to on-call schedules in firebreak.yml (`oncall.services`).';
  return [
    '*On call now*',
    ...rows.map((r) => {
      if (r.error) return `• *${escapeText(r.service)}*: could not be looked up (${escapeText(r.error)})`;
      if (!r.people?.length) return `• *${escapeText(r.service)}*: nobody on call`;
      const who = r.people.map((p) => (p.slackUserId ? `<@${p.slackUserId}>` : escapeText(p.name ?? p.email ?? 'someone'))).join(', ');
      const until = r.people[0]?.until;
      return `• *${escapeText(r.service)}*: ${who}${until ? ` until ${time(until)}` : ''}`;
    }),
  ].join('\n');
}

const followupLine = (f: Followup) =>
  `${f.state === 'done' ? ':white_check_mark:' : ':black_square_button:'} ${escapeText(f.text)} — ${f.ownerId ? user(f.ownerId) : '_no owner_'}${f.due ? ` · due ${f.due}` : ''}${f.backendUrl ? ` · <${f.backendUrl}|open>` : ''}`;

export function followupCreated(f: Followup, backend: string): string {
  return `:memo: Follow-up added by ${user(f.createdBy)}: ${escapeText(f.text)}${f.ownerId ? ` (owner ${user(f.ownerId)})` : ''}${f.due ? `, due ${f.due}` : ''}${backend !== 'local' ? ` — recording it in ${backendLabel(backend)}` : ''}`;
}

export function followupList(i: Incident, list: Followup[]): { text: string; blocks: Block[] } {
  if (!list.length)
    return { text: `No follow-ups on ${incidentLabel(i)} yet. Add one with \`/incident followup <text> [@owner] [due:YYYY-MM-DD]\`.`, blocks: [] };
  const open = list.filter((f) => f.state === 'open').length;
  const text = `*Follow-ups of ${incidentLabel(i)}* (${open} open of ${list.length})\n${list.map(followupLine).join('\n')}`;
  return { text, blocks: [section(text)] };
}

/** Claude's proposed follow-ups: nothing is created until a person presses Add. */
export function followupSuggestions(i: Incident, suggestions: { id: string; text: string }[]): { text: string; blocks: Block[] } {
  const blocks: Block[] = [
    section(`:bulb: *Suggested follow-ups for ${incidentLabel(i)}* (from the post-mortem draft). Add the ones worth doing:`, Markers.suggestions(i.id)),
  ];
  for (const s of suggestions.slice(0, 20)) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: escapeText(s.text).slice(0, 2900) },
      accessory: { type: 'button', text: plain('Add', 75), action_id: Actions.followupAccept, value: s.id },
    });
  }
  return { text: `Suggested follow-ups for ${incidentLabel(i)}`, blocks };
}

export function followupModal(privateMetadata: string, text: string): Block {
  return {
    type: 'modal',
    callback_id: Views.followup,
    private_metadata: privateMetadata,
    title: plain('New follow-up', 24),
    submit: plain('Add', 24),
    blocks: [
      {
        type: 'input',
        block_id: FormBlocks.message,
        label: plain('What needs doing'),
        element: { type: 'plain_text_input', action_id: INPUT, multiline: true, initial_value: text.slice(0, 500), max_length: 500 },
      },
      { type: 'input', block_id: FormBlocks.owner, optional: true, label: plain('Owner'), element: { type: 'users_select', action_id: INPUT } },
      { type: 'input', block_id: FormBlocks.due, optional: true, label: plain('Due'), element: { type: 'datepicker', action_id: INPUT } },
    ],
  };
}

/** The App Home section with a person's open follow-ups. */
export function homeFollowups(list: (Followup & { incidentLabel: string })[]): Block[] {
  if (!list.length) return [];
  return [
    header('Your open follow-ups'),
    section(
      list
        .slice(0, 40)
        .map((f) => `${followupLine(f)} · ${f.incidentLabel}`)
        .join('\n'),
    ),
  ];
}
