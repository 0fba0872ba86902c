import { backendLabel, incidentLabel, type Incident } from '../../domain/incident.js';
import { SEVERITIES, SEVERITY_EMOJI } from '../../domain/severity.js';
import type { Block } from '../../ports/chat.js';
import type { DeclareOutcome } from '../../services/declare.js';
import { Actions, DeclareBlocks, FormBlocks, INPUT, Markers, Views, numbered } from '../ids.js';
import { actions, channelLink, clip, context, divider, escapeText, fields, header, link, mrkdwn, plain, section, time, user } from './common.js';
import { timelineMrkdwn } from '../mrkdwn.js';

const STATUS_EMOJI: Record<Incident['status'], string> = {
  investigating: ':mag:',
  mitigated: ':adhesive_bandage:',
  resolved: ':white_check_mark:',
  cancelled: ':no_entry_sign:',
};

export function statusLine(i: Incident): string {
  return `${STATUS_EMOJI[i.status]} ${i.status}`;
}

/** `withholdDetails`: a private incident's channel that is public; the title is not shown. */
export function topicFor(i: Incident, roles: Record<string, string>, opts: { withholdDetails?: boolean } = {}): string {
  const commander = roles.commander ?? i.commanderId;
  const title = opts.withholdDetails ? PRIVATE_TITLE : escapeText(i.title);
  return clip(`${i.severity.toUpperCase()} | ${i.status} | IC: ${commander ? user(commander) : 'unassigned'} | ${title}`, 250);
}

/** What stands for a private incident's title where it must not show (its channel while that is public). */
const PRIVATE_TITLE = '(private incident)';

/**
 * The pinned incident card: the state of the incident at a glance, with the lifecycle buttons.
 * `withholdDetails`: a private incident's channel that is public; no title, no description.
 */
export function incidentCard(
  i: Incident,
  roles: Record<string, string>,
  opts: { backendUrl?: string | null; runbooks?: { id: string; title: string }[]; withholdDetails?: boolean } = {},
): { text: string; blocks: Block[] } {
  const title = opts.withholdDetails ? PRIVATE_TITLE : i.title;
  const roleLines = Object.entries(roles)
    .filter(([r]) => r !== 'commander')
    .map(([r, u]) => `${r}: ${user(u)}`);
  const blocks: Block[] = [
    header(`${incidentLabel(i)} ${title}`, Markers.card(i.id)),
    fields([
      ['Severity', `${SEVERITY_EMOJI[i.severity]} ${i.severity}`],
      ['Status', statusLine(i)],
      ['Commander', user(roles.commander ?? i.commanderId)],
      ['Services', i.services.length ? escapeText(i.services.join(', ')) : '_none given_'],
    ]),
  ];
  if (opts.withholdDetails) blocks.push(context(':lock: A private incident: its title and description are not shown while this channel is public.'));
  else if (i.description) blocks.push(section(clip(escapeText(i.description), 2900)));
  const ctx = [`Declared ${time(i.createdAt)} by ${user(i.declaredBy)}`, originText(i)];
  if (roleLines.length) ctx.push(roleLines.join(' · '));
  if (i.alertCount > 0) ctx.push(`:rotating_light: ${i.alertCount} alert${i.alertCount === 1 ? '' : 's'}`);
  if (opts.backendUrl ?? i.backendUrl) ctx.push(link(opts.backendUrl ?? i.backendUrl, `Open in ${backendLabel(i.backend)}`));
  blocks.push(context(ctx.join(' · ')));
  if (i.status !== 'resolved' && i.status !== 'cancelled') {
    blocks.push(
      actions(`card_actions:${i.id}`, [
        { text: 'Update status', actionId: Actions.cardUpdateStatus, value: i.id },
        { text: 'Change severity', actionId: Actions.cardChangeSeverity, value: i.id },
        { text: 'Assign role', actionId: Actions.cardAssignRole, value: i.id },
        { text: 'Summarize', actionId: Actions.cardSummarize, value: i.id },
        { text: 'Propose action', actionId: Actions.cardProposeAction, value: i.id },
        { text: 'Page', actionId: Actions.cardPage, value: i.id },
        { text: 'Resolve', actionId: Actions.cardResolve, value: i.id, style: 'primary' },
        // Only while nobody commands: who may press it is decided by the role rules, not by seeing it.
        ...((roles.commander ?? i.commanderId) ? [] : [{ text: "I'll take command", actionId: Actions.cardTakeCommand, value: i.id }]),
      ]),
    );
    // Runbooks that apply to this incident, offered to start (docs/runbooks.md).
    const offers = (opts.runbooks ?? []).slice(0, 5);
    if (offers.length) {
      blocks.push(context(`:clipboard: ${offers.length === 1 ? 'A runbook applies' : 'Runbooks apply'} to this incident:`));
      blocks.push(
        actions(
          `card_runbooks:${i.id}`,
          offers.map((r, n) => ({ text: `Run: ${r.title}`, actionId: numbered(Actions.runbookStart, n), value: `${r.id} ${i.id}` })),
        ),
      );
    }
  } else {
    blocks.push(context(i.resolvedAt ? `${statusLine(i)} ${time(i.resolvedAt)}` : statusLine(i)));
  }
  return { text: `${incidentLabel(i)} ${escapeText(title)} — ${i.severity}, ${i.status}`, blocks };
}

/**
 * The post in the announcement channel; updated in place as the incident changes. Its last line is
 * the latest `/incident update` (timeline text, stored escaped), except for a private incident:
 * that would tell what it is about.
 */
export function announcement(
  i: Incident,
  roles: Record<string, string>,
  opts: { noChannelReason?: string | null; latest?: { text: string; at: Date; author: string | null } | null } = {},
): { text: string; blocks: Block[] } {
  const closed = i.status === 'resolved' || i.status === 'cancelled';
  if (i.private) {
    // A private incident (a security matter, say) is announced without its title, description or
    // channel: people learn that it exists and how severe it is, not what it is about.
    return {
      text: `${closed ? i.status.toUpperCase() : 'New private incident'}: ${incidentLabel(i)} (${i.severity}, ${i.status})`,
      blocks: [
        section(`*${closed ? `${statusLine(i)}: ` : `${SEVERITY_EMOJI[i.severity]} `}${incidentLabel(i)} (private incident)*`, Markers.announce(i.id)),
        fields([
          ['Severity', i.severity],
          ['Status', statusLine(i)],
          ['Commander', user(roles.commander ?? i.commanderId)],
        ]),
        context('Details are restricted to the incident channel members.'),
      ],
    };
  }
  const title = closed
    ? `${statusLine(i)}: ${incidentLabel(i)} ${escapeText(i.title)}`
    : `${SEVERITY_EMOJI[i.severity]} ${incidentLabel(i)} ${escapeText(i.title)}`;
  return {
    text: `${closed ? i.status.toUpperCase() : 'New incident'}: ${incidentLabel(i)} ${escapeText(i.title)} (${i.severity}, ${i.status})`,
    blocks: [
      section(`*${clip(title, 2900)}*`, Markers.announce(i.id)),
      fields([
        ['Severity', i.severity],
        ['Status', statusLine(i)],
        ['Commander', user(roles.commander ?? i.commanderId)],
        ['Channel', channelLink(i.channelId, i.channelName)],
      ]),
      context(`${originText(i)} · declared ${time(i.createdAt)}${i.backendUrl ? ` · ${link(i.backendUrl, backendLabel(i.backend))}` : ''}`),
      // An open incident without a channel says why, and offers one (opened by the resumable declare flow).
      ...(!closed && !i.channelId && opts.noChannelReason
        ? [
            context(`:information_source: No channel: ${escapeText(opts.noChannelReason)}`),
            actions(`announce_actions:${i.id}`, [{ text: 'Open a channel', actionId: Actions.announceOpenChannel, value: i.id }]),
          ]
        : []),
      ...(opts.latest
        ? [
            section(
              `:loudspeaker: *Latest update* ${time(opts.latest.at)}${opts.latest.author ? ` from ${user(opts.latest.author)}` : ''}: ${clip(opts.latest.text, 2500)}`,
              `announce_latest:${i.id}`,
            ),
          ]
        : []),
    ],
  };
}

/** "origin: incident.io", "origin: alert (datadog)": a backend by its display name, the source only when it says more. */
function originText(i: Pick<Incident, 'origin' | 'source'>): string {
  return `origin: ${escapeText(backendLabel(i.origin))}${i.source && i.source !== i.origin ? ` (${escapeText(i.source)})` : ''}`;
}

/** Why an incident created outside Slack got no channel (null when it should have one). */
export function noChannelReason(i: Incident, minSeverity: string, below: boolean): string | null {
  if (i.channelId || !below) return null;
  return `incidents ${i.origin === 'alert' ? 'opened by alerts' : `created in ${backendLabel(i.origin)}`} get one automatically from *${minSeverity}* up (\`announce.auto_channel_min_severity\`), and this one is ${i.severity}.`;
}

const severityOptions = SEVERITIES.map((s) => ({ text: plain(`${s}`), value: s }));

export function declareModal(opts: { declarer: string; privateMetadata: string; title?: string; severity?: string }): Block {
  return {
    type: 'modal',
    callback_id: Views.declare,
    private_metadata: opts.privateMetadata,
    title: plain('Declare an incident', 24),
    submit: plain('Declare', 24),
    close: plain('Cancel', 24),
    blocks: [
      {
        type: 'input',
        block_id: DeclareBlocks.title,
        label: plain('Title'),
        element: {
          type: 'plain_text_input',
          action_id: INPUT,
          max_length: 200,
          ...(opts.title ? { initial_value: opts.title } : {}),
          placeholder: plain('API 500 error rate spike'),
        },
      },
      {
        type: 'input',
        block_id: DeclareBlocks.severity,
        label: plain('Severity'),
        element: {
          type: 'static_select',
          action_id: INPUT,
          options: severityOptions,
          ...(opts.severity ? { initial_option: severityOptions.find((o) => o.value === opts.severity) } : {}),
        },
      },
      {
        type: 'input',
        block_id: DeclareBlocks.description,
        optional: true,
        label: plain('What is happening?'),
        element: { type: 'plain_text_input', action_id: INPUT, multiline: true, max_length: 2900 },
      },
      {
        type: 'input',
        block_id: DeclareBlocks.commander,
        label: plain('Incident commander'),
        element: { type: 'users_select', action_id: INPUT, initial_user: opts.declarer },
      },
      {
        type: 'input',
        block_id: DeclareBlocks.services,
        optional: true,
        label: plain('Affected services (comma-separated)'),
        element: { type: 'plain_text_input', action_id: INPUT, max_length: 500 },
      },
      {
        type: 'input',
        block_id: DeclareBlocks.private,
        optional: true,
        label: plain('Visibility'),
        element: { type: 'checkboxes', action_id: INPUT, options: [{ text: plain('Private incident (private channel)'), value: 'private' }] },
      },
    ],
  };
}

/** The answer to a declaration from Slack. */
export function declareReply(outcome: DeclareOutcome): { text: string; blocks?: Block[] } {
  switch (outcome.kind) {
    case 'similar_open':
      return duplicatePrompt(outcome.similar, outcome.draftId);
    case 'already_declared':
      return { text: `*${incidentLabel(outcome.incident)} ${escapeText(outcome.incident.title)}* was already declared.` };
    case 'declared': {
      const i = outcome.incident;
      const refused = outcome.commanderRefused;
      return {
        text:
          `${SEVERITY_EMOJI[i.severity]} Declared *${incidentLabel(i)} ${escapeText(i.title)}* (${i.severity}). Opening the incident channel and inviting responders…` +
          (refused
            ? `\n:information_source: <@${refused.userId}> ${refused.why}, so it cannot command (command carries approval power): you command this incident. Hand it to a person with \`/incident role commander @someone\`.`
            : ''),
      };
    }
  }
}

/** Offered instead of silently declaring a duplicate. `draftId` refers to the stored declaration. */
export function duplicatePrompt(existing: Incident, draftId: string): { text: string; blocks: Block[] } {
  return {
    text: `A similar incident is already open: ${incidentLabel(existing)} ${escapeText(existing.title)}`,
    blocks: [
      section(
        `:eyes: A similar incident is already open: *${incidentLabel(existing)} ${escapeText(clip(existing.title, 200))}* (${existing.severity}, ${existing.status}) in ${channelLink(existing.channelId, existing.channelName)}.\nJoin it, or declare a new one anyway?`,
      ),
      actions(`duplicate:${draftId}`, [
        { text: `Join #${clip(existing.channelName ?? 'incident', 60)}`, actionId: Actions.duplicateJoin, value: existing.id, style: 'primary' },
        { text: 'Declare anyway', actionId: Actions.duplicateDeclareAnyway, value: draftId },
      ]),
    ],
  };
}

/** `/incident status`: the incident, its roles and the latest five timeline entries (stored escaped). */
export function statusReply(i: Incident, roles: Record<string, string>, latest: readonly { at: Date; kind: string; text: string }[]): { text: string } {
  const roleText = Object.entries(roles)
    .map(([r, u]) => `${r}: <@${u}>`)
    .join(' · ');
  const last = latest.map((t) => `• ${time(t.at)} ${timelineMrkdwn(t)}`).join('\n');
  return {
    text: `*${incidentLabel(i)} ${escapeText(i.title)}*\n${SEVERITY_EMOJI[i.severity]} ${i.severity} · ${statusLine(i)}\n${roleText || 'no roles assigned'}${last ? `\n*Latest*\n${last}` : ''}`,
  };
}

export function incidentList(incidents: Incident[]): { text: string; blocks: Block[] } {
  if (!incidents.length) return { text: 'No open incidents.', blocks: [section(':sunny: No open incidents.')] };
  // Lists are seen by anyone in the workspace: private incidents show only that they exist.
  const lines = incidents.map((i) =>
    i.private
      ? `${SEVERITY_EMOJI[i.severity]} *${incidentLabel(i)}* _private incident_ — ${i.severity}, ${i.status}, IC ${user(i.commanderId)}`
      : `${SEVERITY_EMOJI[i.severity]} *${incidentLabel(i)}* ${escapeText(clip(i.title, 120))} — ${i.severity}, ${i.status}, IC ${user(i.commanderId)} · ${channelLink(i.channelId, i.channelName)}`,
  );
  const blocks: Block[] = [header(`Open incidents (${incidents.length})`)];
  for (let k = 0; k < lines.length && blocks.length < 48; k += 10) blocks.push(section(lines.slice(k, k + 10).join('\n')));
  return { text: `${incidents.length} open incident(s)`, blocks };
}

export function homeView(incidents: Incident[]): Block {
  const list = incidentList(incidents);
  return {
    type: 'home',
    blocks: [
      header('Firebreak'),
      context('Open incidents, most severe first. `/incident` declares a new one.'),
      divider(),
      ...list.blocks.slice(incidents.length ? 1 : 0),
    ].slice(0, 100),
  };
}

export function statusModal(i: Incident): Block {
  return {
    type: 'modal',
    callback_id: Views.status,
    private_metadata: i.id,
    title: plain('Update status', 24),
    submit: plain('Update', 24),
    blocks: [
      {
        type: 'input',
        block_id: FormBlocks.status,
        label: plain('Status'),
        element: {
          type: 'static_select',
          action_id: INPUT,
          options: ['investigating', 'mitigated', 'resolved', 'cancelled'].map((s) => ({ text: plain(s), value: s })),
        },
      },
      {
        type: 'input',
        block_id: FormBlocks.message,
        optional: true,
        label: plain('Message'),
        element: { type: 'plain_text_input', action_id: INPUT, multiline: true },
      },
    ],
  };
}

export function severityModal(i: Incident): Block {
  return {
    type: 'modal',
    callback_id: Views.severity,
    private_metadata: i.id,
    title: plain('Change severity', 24),
    submit: plain('Change', 24),
    blocks: [
      {
        type: 'input',
        block_id: FormBlocks.severity,
        label: plain('Severity'),
        element: { type: 'static_select', action_id: INPUT, options: severityOptions, initial_option: severityOptions.find((o) => o.value === i.severity) },
      },
    ],
  };
}

export function roleModal(i: Incident, roles: readonly string[]): Block {
  return {
    type: 'modal',
    callback_id: Views.role,
    private_metadata: i.id,
    title: plain('Assign role', 24),
    submit: plain('Assign', 24),
    blocks: [
      {
        type: 'input',
        block_id: FormBlocks.role,
        label: plain('Role'),
        element: { type: 'static_select', action_id: INPUT, options: roles.map((r) => ({ text: plain(r), value: r })) },
      },
      { type: 'input', block_id: FormBlocks.user, label: plain('Person'), element: { type: 'users_select', action_id: INPUT } },
    ],
  };
}

export function resolveModal(i: Incident): Block {
  return {
    type: 'modal',
    callback_id: Views.resolve,
    private_metadata: i.id,
    title: plain('Resolve incident', 24),
    submit: plain('Resolve', 24),
    blocks: [
      section(`Resolve *${incidentLabel(i)} ${escapeText(clip(i.title, 200))}*?`),
      {
        type: 'input',
        block_id: FormBlocks.message,
        optional: true,
        label: plain('Resolution'),
        element: { type: 'plain_text_input', action_id: INPUT, multiline: true },
      },
    ],
  };
}

export { mrkdwn };
