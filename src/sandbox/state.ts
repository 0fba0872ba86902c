import { plainSlackText, type WorkspaceSnapshot } from '../emulator/slack/index.js';
import type { EmuEphemeral, EmuMessage } from '../emulator/slack/types.js';
import type { DemoCall } from './demo-executor.js';

/**
 * The workspace as the console draws it: per channel its messages, topic, pins and bookmarks;
 * per person the modal they have open (the top of their view stack) and their ephemerals.
 * Trigger ids, response URLs and closed views stay out: nobody sees those in Slack.
 */
export interface ConsoleState {
  team: { id: string; domain: string };
  botUserId: string;
  users: Array<{ id: string; name: string; realName: string; title: string | null; isBot: boolean }>;
  usergroups: Array<{ id: string; handle: string; name: string; users: string[] }>;
  channels: Array<{
    id: string;
    name: string;
    isPrivate: boolean;
    isArchived: boolean;
    topic: string;
    purpose: string;
    members: string[];
    messages: EmuMessage[];
    pins: Array<{ ts: string; text: string }>;
    bookmarks: Array<{ title: string; link: string; emoji: string | null }>;
  }>;
  /** user id → their open modal, with the field errors the bot last answered a submit with. */
  views: Record<string, { id: string; title: unknown; submit: unknown; close: unknown; blocks: unknown[]; callbackId: string; errors: Record<string, string> }>;
  /** user id → their ephemeral messages, oldest first. */
  ephemerals: Record<string, EmuEphemeral[]>;
  /** The calls the sandbox's demo executor received (added by the state route). */
  executorCalls?: DemoCall[];
}

export function projectState(s: WorkspaceSnapshot, viewErrors: ReadonlyMap<string, Record<string, string>>): ConsoleState {
  const views: ConsoleState['views'] = {};
  // Views are stored in the order they opened; a pushed view comes after its parent, so the last open one is on top.
  for (const v of s.views) {
    if (v.type !== 'modal' || !v.open) continue;
    views[v.user_id] = {
      id: v.id,
      title: v.title,
      submit: v.submit,
      close: v.close,
      blocks: v.blocks,
      callbackId: v.callback_id,
      errors: viewErrors.get(v.id) ?? {},
    };
  }
  const ephemerals: ConsoleState['ephemerals'] = {};
  for (const e of s.ephemerals) {
    ephemerals[e.user] ??= [];
    ephemerals[e.user]!.push(e);
  }
  return {
    team: s.team,
    botUserId: s.bot.user_id,
    users: s.users.map((u) => ({ id: u.id, name: u.name, realName: u.real_name, title: u.profile.title ?? null, isBot: u.is_bot })),
    usergroups: s.usergroups.map((g) => ({ id: g.id, handle: g.handle, name: g.name, users: g.users })),
    channels: s.channels.map((c) => ({
      id: c.id,
      name: c.name,
      isPrivate: c.is_private,
      isArchived: c.is_archived,
      topic: c.topic.value,
      purpose: c.purpose.value,
      members: c.members,
      messages: c.messages,
      // A pin preview is plain text, as in Slack: date tokens show their fallback, mentions their names.
      pins: c.pins.map((p) => ({
        ts: p.message.ts,
        text: plainSlackText(p.message.text, {
          user: (id) => s.users.find((u) => u.id === id)?.name,
          channel: (id) => s.channels.find((x) => x.id === id)?.name,
        }),
      })),
      bookmarks: c.bookmarks.map((b) => ({ title: b.title, link: b.link, emoji: b.emoji })),
    })),
    views,
    ephemerals,
  };
}
