import type { IncidentStatus } from '../../domain/incident.js';
import type { Severity } from '../../domain/severity.js';
import { escapeText, user } from './common.js';

/**
 * The words of the notes the bot writes about an incident: in its timeline (stored as Slack-safe
 * mrkdwn, shown as is by the card, `/incident status` and the post-mortem) and in its channel.
 * Services describe what happened as data; services/incident-views.ts hands them these builders.
 */

/** A change to an incident made in Slack, by `actor`. */
export type IncidentChange =
  | { kind: 'status'; from: IncidentStatus; to: IncidentStatus; actor: string; message: string }
  | { kind: 'severity'; from: Severity; to: Severity; actor: string }
  /** `guarded`: the role carries approval power (proposals made before keep their approvers). */
  | { kind: 'role'; role: string; userId: string; previous: string | null; actor: string; guarded: boolean };

export function changeNote(c: IncidentChange): string {
  switch (c.kind) {
    case 'status':
      return `Status ${c.from} → *${c.to}* by ${user(c.actor)}${c.message ? `: ${escapeText(c.message)}` : ''}`;
    case 'severity':
      return `Severity ${c.from} → *${c.to}* by ${user(c.actor)}`;
    case 'role': {
      const how = c.userId === c.actor ? 'took the role' : `set by ${user(c.actor)}`;
      return (
        `:busts_in_silhouette: ${user(c.userId)} is now *${escapeText(c.role)}*${c.previous ? `, taking over from ${user(c.previous)}` : ''} (${how})` +
        (c.guarded ? '. Proposals made before this keep the approvers they had.' : '')
      );
    }
  }
}

/** A status update posted in the channel; `via: 'agent'`: `actor` is an agent's name. */
export function updateNote(u: { text: string; actor: string; via?: 'agent' }): string {
  const from = u.via === 'agent' ? `via agent \`${escapeText(u.actor)}\`` : `from ${user(u.actor)}`;
  return `:loudspeaker: *Update* ${from}: ${escapeText(u.text)}`;
}

/** Untrusted text (what a person or an agent typed, an alert's title) as a timeline entry stores it. */
export function timelineText(untrusted: string): string {
  return escapeText(untrusted);
}

/** The running total of an alert that keeps firing, in the incident's thread. */
export function firedAgainNote(total: number): string {
  return `:repeat: Fired again: ${total} alert${total === 1 ? '' : 's'} in total so far.`;
}

/** An alert resolved at its source; `resolves`: the incident is resolved with it. */
export function resolvedAtSourceNote(alert: { source: string; title: string }, resolves: boolean): string {
  return `:white_check_mark: Resolved at the source (${escapeText(alert.source)}): ${escapeText(alert.title)}.${resolves ? '' : ' The incident stays open until someone resolves it.'}`;
}

/**
 * A change made in the backend (Rootly, incident.io) and applied here: the fields that changed.
 * `withholdDetails`: the note goes where a private incident's details must not (its channel while
 * that is public), so a new title is said to have changed, not shown.
 */
export function backendChangeNote(backend: string, before: BackendFields, after: BackendFields, opts: { withholdDetails?: boolean } = {}): string {
  const changes: string[] = [];
  if (after.status !== before.status) changes.push(`status → *${after.status}*`);
  if (after.severity !== before.severity) changes.push(`severity → *${after.severity}*`);
  if (after.title !== before.title) changes.push(opts.withholdDetails ? 'title changed (not shown in this channel)' : `title → “${escapeText(after.title)}”`);
  if (after.private && !before.private) changes.push('made *private*');
  return `Updated in ${backend}: ${changes.join(', ')}`;
}

/**
 * Posted in an incident's channel when the incident turns private in the backend while the channel
 * is public: Slack does not let the bot make it private (only an Enterprise Grid admin API can), so
 * a person must, and until then the bot keeps the new details out of it.
 */
export function publicChannelOfPrivateIncidentNote(backend: string, commanderId: string | null): string {
  return (
    `:warning: ${commanderId ? `${user(commanderId)} ` : ''}This incident is now *private* in ${escapeText(backend)}, but this channel is *public*: ` +
    'anyone in the workspace can find and read it. Make the channel private (click its name → *Settings* → ' +
    '*Change to a private channel*; workspace owners and admins can) and check who has joined. ' +
    'Firebreak leaves the new details out of this channel.'
  );
}

/** A storm's timeline entry when one of its alerts is split out into its own incident. */
export function splitOutNote(title: string, seq: number): string {
  return `Split out "${escapeText(title)}" into its own incident (incident ${seq})`;
}

interface BackendFields {
  status: IncidentStatus;
  severity: Severity;
  title: string;
  private: boolean;
}
