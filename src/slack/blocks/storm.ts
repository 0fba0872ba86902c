import type { Block } from '../../ports/chat.js';
import { Actions, Markers } from '../ids.js';
import { channelLink, clip, context, escapeText, section, time, user } from './common.js';

/** One alert (one fingerprint) collected by a storm incident, as its list shows it. */
export interface StormMember {
  /** The first alert of this fingerprint in the storm: the Split out button carries its id. */
  alertId: string;
  title: string;
  service: string | null;
  source: string;
  firstSeen: Date;
  /** Set once the alert was split out into its own incident. */
  splitOut: { channelId: string | null; label: string; by: string } | null;
}

/** The block of one alert in the list (unique in the message: the alert id). */
export const stormMemberBlock = (alertId: string) => `storm-alert:${alertId}`;

/** Alerts per list message: a message holds at most 50 blocks (a header and a footer besides). */
export const STORM_PAGE_SIZE = 40;

/**
 * One page of a storm's alert list. Pages are numbered from 0 and hold a fixed slice of the members
 * in arrival order, so a full page no longer changes (only the last page is edited as alerts come),
 * apart from a Split out turning into a link to the new incident.
 */
export function stormListPage(
  incidentId: string,
  page: number,
  members: StormMember[],
  total: { alerts: number; members: number; splitOut: number },
): { text: string; blocks: Block[] } {
  const from = page * STORM_PAGE_SIZE + 1;
  const to = from + members.length - 1;
  const blocks: Block[] = [section(`:cyclone: *Alerts in this storm* (${from}–${to} of ${total.members})`, Markers.stormList(incidentId, page))];
  for (const m of members) {
    const where = [m.service ? escapeText(m.service) : null, escapeText(m.source), `first ${time(m.firstSeen)}`].filter(Boolean).join(' · ');
    const line = `*${clip(escapeText(m.title), 200)}*\n${where}`;
    if (m.splitOut) {
      blocks.push(
        section(
          `${line}\n:arrow_right: split out by ${user(m.splitOut.by)} into ${m.splitOut.channelId ? channelLink(m.splitOut.channelId) : escapeText(m.splitOut.label)}`,
          stormMemberBlock(m.alertId),
        ),
      );
    } else {
      blocks.push({
        type: 'section',
        block_id: stormMemberBlock(m.alertId),
        text: { type: 'mrkdwn', text: clip(line, 3000) },
        accessory: { type: 'button', text: { type: 'plain_text', text: 'Split out', emoji: true }, action_id: Actions.stormSplitOut, value: m.alertId },
      });
    }
  }
  const stormed = total.members - total.splitOut;
  const split = total.splitOut ? ` · ${total.splitOut} split out` : '';
  blocks.push(
    context(
      `${total.alerts} alert${total.alerts === 1 ? '' : 's'} in this storm so far, from ${stormed} distinct source${stormed === 1 ? '' : 's'}${split} · *Split out* opens an incident of its own for one of them`,
    ),
  );
  return { text: `Alerts in this storm (${from}–${to} of ${total.members})`, blocks };
}
