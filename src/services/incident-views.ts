import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Incident } from '../domain/incident.js';
import type { Block } from '../ports/chat.js';
import { atLeast } from '../domain/severity.js';
import { AppError } from '../errors.js';
import { section } from '../slack/blocks/common.js';
import { announcement, incidentCard, noChannelReason, topicFor } from '../slack/blocks/incident.js';
import { STORM_PAGE_SIZE, stormListPage, type StormMember } from '../slack/blocks/storm.js';
import { Markers } from '../slack/ids.js';
import type { Deps } from './deps.js';
import { defineJob } from './jobs.js';
import { runbookOffers } from './runbook-offers.js';
import { postOnce, type StepRun } from './steps.js';

type RoleAssignments = Record<string, string>;

/**
 * The words of the notes services write into an incident's timeline and channel: services describe
 * what happened as data (`IncidentChange`, the update's text) and take the words from here.
 */
export {
  backendChangeNote,
  changeNote,
  firedAgainNote,
  publicChannelOfPrivateIncidentNote,
  resolvedAtSourceNote,
  splitOutNote,
  timelineText,
  updateNote,
  type IncidentChange,
} from '../slack/blocks/notes.js';
export type { StormMember } from '../slack/blocks/storm.js';
export {
  briefMessage,
  mentionedUserIds,
  postmortemForBackend,
  postmortemGaveUpMessage,
  postmortemMessage,
  postmortemWithheldMessage,
  summaryMessage,
  summaryPrivately,
} from '../slack/blocks/summary.js';

/**
 * What Slack shows of an incident, in one place: the card pinned in its channel, the channel topic,
 * and the announcement in ANNOUNCE_CHANNEL. The declare flow posts them (each once, through
 * `postOnce`); lifecycle changes, alerts and backend events refresh them from the store.
 * Modelled on Netflix Dispatch's `incident/messaging.py`.
 */

/** The announcement channel (ANNOUNCE_CHANNEL), or null when announcements are off. */
export function announceChannel(deps: Deps): string | null {
  return deps.config.env.ANNOUNCE_CHANNEL ?? null;
}

/**
 * Whether an incident of this origin and severity gets a channel of its own. A private incident
 * made in the backend (incident.io) gets none automatically: its members work in the backend's own
 * private channel, and the bot cannot know who they are, so a channel of ours would either be empty
 * or invite the wrong people. Someone may still open one ("Open a channel": 'always').
 */
export function wantsChannel(deps: Deps, incident: Incident, channel: 'always' | 'auto'): boolean {
  if (channel === 'always') return true;
  if (incident.private && incident.origin !== 'slack') return false;
  return atLeast(incident.severity, deps.config.file.announce.auto_channel_min_severity);
}

function announcementFor(
  deps: Deps,
  incident: Incident,
  roles: RoleAssignments,
  below: boolean,
  latest: { text: string; at: Date; author: string | null } | null = null,
) {
  return announcement(incident, roles, { noChannelReason: noChannelReason(incident, deps.config.file.announce.auto_channel_min_severity, below), latest });
}

/**
 * setTopic is a tier-2 method (about 20 a minute) and posts a notice in the channel: call it only
 * when the topic text actually changes.
 */
async function setTopicIfChanged(deps: Deps, incidentId: string, channelId: string, topic: string): Promise<void> {
  const key = `topic:${incidentId}`;
  if ((await deps.store.getKv<string>(key)) === topic) return;
  await deps.chat.setTopic(channelId, topic);
  await deps.store.setKv(key, topic);
}

/** The channel topic, set once per text. `withholdDetails`: see `incidentCard`. */
export async function setIncidentTopic(
  deps: Deps,
  incident: Incident,
  channelId: string,
  roles: RoleAssignments,
  opts: { withholdDetails?: boolean } = {},
): Promise<void> {
  await setTopicIfChanged(deps, incident.id, channelId, topicFor(incident, roles, opts));
}

/** The card, with a Run button for each configured runbook that applies (docs/runbooks.md). It does not show the channel. */
export async function cardFor(
  deps: Deps,
  incident: Incident,
  roles: RoleAssignments,
  opts: { withholdDetails?: boolean } = {},
): Promise<{ text: string; blocks: Block[] }> {
  return incidentCard(incident, roles, { runbooks: await runbookOffers(deps, incident), ...opts });
}

/**
 * Whether a private incident's channel is public, or may be (Slack did not say, or could not be
 * asked): then its details stay out of it. An incident made private in the backend keeps the public
 * channel Firebreak made for it until a person makes the channel private; the bot cannot.
 */
export async function exposedChannel(deps: Deps, incident: Incident & { channelId: string }): Promise<boolean> {
  if (!incident.private) return false;
  const isPrivate = await deps.chat.channelIsPrivate(incident.channelId).catch((err) => {
    deps.logger.warn({ err, channelId: incident.channelId }, 'could not learn whether the incident channel is private; treated as public');
    return null;
  });
  return isPrivate !== true;
}

/**
 * The card in the incident channel, posted once per flow (a retry finds it by its marker).
 * `rendered`: this call posted it from `incident` (false when an earlier run already had).
 */
export async function postIncidentCard(
  deps: Deps,
  flowId: string,
  incident: Incident & { channelId: string },
  roles: RoleAssignments,
  /** Called as the post is handed to Slack (not when an earlier run already posted it). */
  onSend?: () => void,
  how: StepRun = {},
  /** The card already rendered (`cardFor`) from this incident and these roles. */
  rendered?: { text: string; blocks: Block[] },
  /** A fresh run's card intent, recorded ahead (`recordIntent`). */
  intentRecorded?: Promise<void> | null,
): Promise<{ ts: string; rendered: boolean }> {
  const card = rendered ?? (await cardFor(deps, incident, roles));
  let sent = false;
  const posted = await postOnce(
    deps,
    flowId,
    'card',
    incident.channelId,
    Markers.card(incident.id),
    () => {
      sent = true;
      onSend?.();
      return card;
    },
    { ...how, intentRecorded },
  );
  await deps.store.updateIncident(incident.id, { cardTs: posted.ts, updatedAt: deps.clock.now() });
  return { ts: posted.ts, rendered: sent };
}

/**
 * The announcement in ANNOUNCE_CHANNEL, posted once per flow; none when the channel is not
 * configured (null). `below`: an automatic incident under the channel threshold (it says why it
 * has none). `rendered` as for the card.
 */
export async function postAnnouncement(
  deps: Deps,
  flowId: string,
  incident: Incident,
  roles: RoleAssignments,
  below: boolean,
  /** As for the card. */
  onSend?: () => void,
  how: StepRun = {},
): Promise<{ ts: string; rendered: boolean } | null> {
  const channel = announceChannel(deps);
  if (!channel) return null;
  let rendered = false;
  const posted = await postOnce(
    deps,
    flowId,
    'announce',
    channel,
    Markers.announce(incident.id),
    () => {
      rendered = true;
      onSend?.();
      return announcementFor(deps, incident, roles, below);
    },
    how,
  );
  await deps.store.updateIncident(incident.id, { announceTs: posted.ts, updatedAt: deps.clock.now() });
  return { ts: posted.ts, rendered };
}

/**
 * Re-render the card, topic and announcement from the store: idempotent, safe to repeat. `only`
 * limits it to some of them (the declare flow re-renders the card and announcement once the
 * backend link exists; the topic does not show it).
 */
export async function refreshIncidentViews(
  deps: Deps,
  incidentId: string,
  only?: { card?: boolean; topic?: boolean; announcement?: boolean },
  /** Called once the card's edit is handed to Slack's client (not called when there is no card to edit). */
  onCardSent?: () => void,
): Promise<void> {
  const want = { card: only?.card ?? !only, topic: only?.topic ?? !only, announcement: only?.announcement ?? !only };
  const incident = await deps.store.getIncident(incidentId);
  if (!incident) throw new AppError('incident.not_found', 'That incident no longer exists.');
  const roles = await deps.store.getRoles(incidentId);
  const jobs: Promise<unknown>[] = [];
  if (incident.channelId && incident.cardTs) {
    const withholdDetails = (want.card || want.topic) && (await exposedChannel(deps, { ...incident, channelId: incident.channelId }));
    if (want.card) {
      const card = await cardFor(deps, incident, roles, { withholdDetails });
      jobs.push(deps.chat.update(incident.channelId, incident.cardTs, card.text, card.blocks));
      onCardSent?.();
    }
    if (want.topic) jobs.push(setIncidentTopic(deps, incident, incident.channelId, roles, { withholdDetails }));
  }
  const channel = announceChannel(deps);
  if (want.announcement && channel && incident.announceTs) {
    const below = incident.origin !== 'slack' && !wantsChannel(deps, incident, 'auto');
    // The latest `/incident update` is the announcement's last line (timeline text is stored escaped).
    const latest = (await deps.store.listTimeline(incidentId)).filter((t) => t.kind === 'update').at(-1) ?? null;
    const a = announcementFor(deps, incident, roles, below, latest ? { text: latest.text, at: latest.at, author: latest.author } : null);
    jobs.push(deps.chat.update(channel, incident.announceTs, a.text, a.blocks));
  }
  const results = await Promise.allSettled(jobs);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Where notes about an incident go (alerts firing again, resolved at the source): in a thread under
 * the card, or under the announcement for an incident without a channel (not a private one's). Throws (the job retries)
 * while the declare flow `flowId` has not posted yet; null when there is nowhere to post.
 */
export async function incidentThread(deps: Deps, incident: Incident, flowId: string): Promise<{ channel: string; ts: string } | null> {
  if (incident.channelId && incident.cardTs) return { channel: incident.channelId, ts: incident.cardTs };
  const channelWanted = wantsChannel(deps, incident, 'auto');
  // Never under a private incident's announcement: the announcement channel is public, and the
  // notes tell what the incident is about.
  const channel = incident.private ? null : announceChannel(deps);
  if (!channelWanted && channel && incident.announceTs) return { channel, ts: incident.announceTs };
  const steps = await deps.store.listSteps(flowId);
  const waitingForCard = channelWanted && !('card' in steps);
  const waitingForAnnounce = !channelWanted && !!channel && !('announce' in steps);
  if (waitingForCard || waitingForAnnounce) throw new Error(`incident ${incident.id} not posted yet; note waits`);
  return null;
}

/**
 * A note in an incident's thread (`incidentThread`), posted once per flow step: a retry after a lost
 * answer finds the note by its marker instead of posting it twice.
 */
export async function postThreadNote(
  deps: Deps,
  at: { flowId: string; step: string; marker: string },
  thread: { channel: string; ts: string },
  text: string,
): Promise<void> {
  await postOnce(deps, at.flowId, at.step, thread.channel, at.marker, () => ({ text, blocks: [section(text, at.marker)] }), { threadTs: thread.ts });
}

/**
 * Post or edit a storm's alert list pages (slack/blocks/storm.ts). Each page is posted once (found
 * again after a crash by its marker) and edited only when what it shows changed, so a storm costs
 * one edit per interval for its last page, not one message per alert.
 */
export async function showStormList(
  deps: Deps,
  stormId: string,
  flowId: string,
  target: { channel: string; threadTs?: string },
  list: { members: StormMember[]; alerts: number; splitOut: number },
): Promise<void> {
  const { members, alerts, splitOut } = list;
  const pages = Math.ceil(members.length / STORM_PAGE_SIZE);
  for (let p = 0; p < pages; p++) {
    const slice = members.slice(p * STORM_PAGE_SIZE, (p + 1) * STORM_PAGE_SIZE);
    const render = () => stormListPage(stormId, p, slice, { alerts, members: members.length, splitOut });
    const { text, blocks } = render();
    // The totals in the footer change with every alert: compare what the page lists, not the totals.
    const digest = createHash('sha256')
      .update(JSON.stringify(blocks.slice(0, -1)))
      .digest('hex');
    const shownKey = `storm-page:${stormId}:${p}`;
    const posted = await postOnce(
      deps,
      flowId,
      `page:${p}`,
      target.channel,
      blocks[0]!.block_id as string,
      render,
      target.threadTs ? { threadTs: target.threadTs } : {},
    );
    const shown = await deps.store.getKv<string>(shownKey);
    if (shown === undefined) {
      await deps.store.setKv(shownKey, digest);
    } else if (shown !== digest || (p === pages - 1 && (await deps.store.getKv<number>(`${shownKey}:alerts`)) !== alerts)) {
      await deps.chat.update(target.channel, posted.ts, text, blocks);
      await deps.store.setKv(shownKey, digest);
    }
    if (p === pages - 1) await deps.store.setKv(`${shownKey}:alerts`, alerts);
  }
}

/** Re-render after a change; keyed by the incident's version, so each change renders once. */
export const refreshJob = defineJob({
  kind: 'incident.refresh',
  payload: z.object({ incidentId: z.string().min(1) }),
  run: (deps, p) => refreshIncidentViews(deps, p.incidentId),
});

export const incidentViewJobs = [refreshJob];
