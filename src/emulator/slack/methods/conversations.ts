import { z } from 'zod';
import { SlackApiError, parseArgs, zBool, zCsv, zInt, zTs, type MethodContext, type MethodHandler } from '../args.js';
import { compareTs } from '../state.js';
import type { EmuChannel, EmuMessage } from '../types.js';
import { decodeCursor, encodeCursor, page, renderChannel, renderMessage } from './render.js';

const MAX_NAME = 80;
const MAX_TOPIC = 250;

/** A channel the caller can see: private channels exist only for their members, as in Slack. */
export function visibleChannel(ctx: MethodContext, id: unknown): EmuChannel {
  if (typeof id !== 'string' || id === '') throw new SlackApiError('channel_not_found');
  const ch = ctx.state.channel(id) ?? ctx.state.channelByName(id.replace(/^#/, ''));
  if (!ch || (ch.is_private && !ch.members.includes(ctx.actor))) throw new SlackApiError('channel_not_found');
  return ch;
}

export function requireMember(ctx: MethodContext, ch: EmuChannel): void {
  if (!ch.members.includes(ctx.actor)) throw new SlackApiError('not_in_channel');
}

export function requireNotArchived(ch: EmuChannel): void {
  if (ch.is_archived) throw new SlackApiError('is_archived');
}

/** Slack's channel-name rules, in the order Slack checks them. */
export function channelNameError(name: string): string | null {
  if (name.length === 0) return 'invalid_name_required';
  if (name.length > MAX_NAME) return 'invalid_name_maxlength';
  if (!/^[a-z0-9_-]+$/.test(name)) return 'invalid_name_specials';
  if (/^[-_]+$/.test(name)) return 'invalid_name_punctuation';
  return null;
}

/** A top-level message (not a thread reply), as conversations.history lists them. */
function isTopLevel(m: EmuMessage): boolean {
  return m.thread_ts === undefined || m.thread_ts === m.ts;
}

const createArgs = z.object({ name: z.string().optional(), is_private: zBool.optional() });
const create: MethodHandler = (ctx) => {
  const a = parseArgs(createArgs, ctx.args);
  const name = a.name ?? '';
  const problem = channelNameError(name);
  if (problem) throw new SlackApiError(problem);
  if (ctx.state.channelByName(name)) throw new SlackApiError('name_taken');
  const ch = ctx.state.createChannel({ name, creator: ctx.actor, isPrivate: a.is_private ?? false });
  ctx.state.postMessage(ch.id, { user: ctx.actor, text: `<@${ctx.actor}> has joined the channel`, subtype: 'channel_join' });
  return { channel: renderChannel(ch, ctx.actor) };
};

const infoArgs = z.object({ channel: z.string().optional(), include_num_members: zBool.optional() });
const info: MethodHandler = (ctx) => {
  const a = parseArgs(infoArgs, ctx.args);
  const ch = visibleChannel(ctx, a.channel);
  return { channel: renderChannel(ch, ctx.actor, { numMembers: a.include_num_members ?? false }) };
};

const listArgs = z.object({
  types: z.string().optional(),
  exclude_archived: zBool.optional(),
  limit: zInt.optional(),
  cursor: z.string().optional(),
});
const list: MethodHandler = (ctx) => {
  const a = parseArgs(listArgs, ctx.args);
  const types = new Set((a.types ?? 'public_channel').split(',').map((t) => t.trim()));
  const all = [...ctx.state.channels.values()].filter((ch) => {
    if (a.exclude_archived && ch.is_archived) return false;
    if (ch.is_private) return types.has('private_channel') && ch.members.includes(ctx.actor);
    return types.has('public_channel');
  });
  const p = page(all, Math.min(Math.max(a.limit ?? 100, 1), 1000), a.cursor);
  return { channels: p.items.map((ch) => renderChannel(ch, ctx.actor)), response_metadata: { next_cursor: p.nextCursor } };
};

const membersArgs = z.object({ channel: z.string().optional(), limit: zInt.optional(), cursor: z.string().optional() });
const members: MethodHandler = (ctx) => {
  const a = parseArgs(membersArgs, ctx.args);
  const ch = visibleChannel(ctx, a.channel);
  const p = page(ch.members, Math.min(Math.max(a.limit ?? 100, 1), 1000), a.cursor);
  return { members: p.items, response_metadata: { next_cursor: p.nextCursor } };
};

const joinArgs = z.object({ channel: z.string().optional() });
const join: MethodHandler = (ctx) => {
  const a = parseArgs(joinArgs, ctx.args);
  const ch = visibleChannel(ctx, a.channel);
  if (ch.is_private) throw new SlackApiError('method_not_supported_for_channel_type');
  requireNotArchived(ch);
  if (ch.members.includes(ctx.actor)) {
    return { channel: renderChannel(ch, ctx.actor), warning: 'already_in_channel', response_metadata: { warnings: ['already_in_channel'] } };
  }
  ctx.state.addMembers(ch.id, [ctx.actor]);
  ctx.state.postMessage(ch.id, { user: ctx.actor, text: `<@${ctx.actor}> has joined the channel`, subtype: 'channel_join' });
  return { channel: renderChannel(ch, ctx.actor) };
};

const inviteArgs = z.object({ channel: z.string().optional(), users: zCsv.optional() });
const invite: MethodHandler = (ctx) => {
  const a = parseArgs(inviteArgs, ctx.args);
  const ch = visibleChannel(ctx, a.channel);
  const users = a.users ?? [];
  if (users.length === 0) throw new SlackApiError('no_user');
  if (users.length > 1000) throw new SlackApiError('too_many_users');
  requireNotArchived(ch);
  requireMember(ctx, ch);
  for (const u of users) {
    if (!ctx.state.users.has(u)) throw new SlackApiError('user_not_found');
    if (u === ctx.actor) throw new SlackApiError('cant_invite_self');
  }
  const fresh = users.filter((u) => !ch.members.includes(u));
  if (fresh.length === 0) throw new SlackApiError('already_in_channel');
  ctx.state.addMembers(ch.id, fresh);
  for (const u of fresh) {
    ctx.state.postMessage(ch.id, { user: u, text: `<@${u}> has joined the channel`, subtype: 'channel_join' });
  }
  return { channel: renderChannel(ch, ctx.actor) };
};

const setTopicArgs = z.object({ channel: z.string().optional(), topic: z.string().optional() });
const setTopic: MethodHandler = (ctx) => {
  const a = parseArgs(setTopicArgs, ctx.args);
  const ch = visibleChannel(ctx, a.channel);
  requireNotArchived(ch);
  requireMember(ctx, ch);
  const topic = a.topic ?? '';
  if (topic.length > MAX_TOPIC) throw new SlackApiError('too_long');
  ctx.state.setTopic(ch.id, topic, ctx.actor);
  ctx.state.postMessage(ch.id, { user: ctx.actor, text: `set the channel topic: ${topic}`, subtype: 'channel_topic' });
  return { channel: renderChannel(ch, ctx.actor) };
};

const windowArgs = z.object({
  channel: z.string().optional(),
  oldest: zTs.optional(),
  latest: zTs.optional(),
  inclusive: zBool.optional(),
  limit: zInt.optional(),
  cursor: z.string().optional(),
});

function inWindow(m: EmuMessage, a: z.output<typeof windowArgs>): boolean {
  const inc = a.inclusive ?? false;
  if (a.oldest !== undefined) {
    const c = compareTs(m.ts, a.oldest);
    if (c < 0 || (c === 0 && !inc)) return false;
  }
  if (a.latest !== undefined) {
    const c = compareTs(m.ts, a.latest);
    if (c > 0 || (c === 0 && !inc)) return false;
  }
  return true;
}

/**
 * Newest first, as Slack returns it. `oldest`/`latest` are exclusive unless `inclusive`.
 * The cursor remembers the last ts returned, so messages posted between pages never shift a page.
 */
const history: MethodHandler = (ctx) => {
  const a = parseArgs(windowArgs, ctx.args);
  const ch = visibleChannel(ctx, a.channel);
  requireMember(ctx, ch);
  const limit = Math.min(Math.max(a.limit ?? 100, 1), 999);
  const before = decodeCursor(a.cursor);
  const all = ch.messages.filter((m) => isTopLevel(m) && inWindow(m, a) && (before === undefined || compareTs(m.ts, before) < 0)).reverse();
  return { ...messagePage(ctx, all, limit), pin_count: ch.pins.length };
};

/** One page of messages in Slack's shape; the cursor is the ts of the last message on the page. */
function messagePage(ctx: MethodContext, ordered: EmuMessage[], limit: number) {
  const items = ordered.slice(0, limit);
  const hasMore = ordered.length > limit;
  const last = items[items.length - 1];
  return {
    messages: items.map((m) => renderMessage(ctx.state, m)),
    has_more: hasMore,
    response_metadata: { next_cursor: hasMore && last ? encodeCursor(last.ts) : '' },
  };
}

const repliesArgs = windowArgs.extend({ ts: zTs });
/** The thread's parent then its replies, oldest first. */
const replies: MethodHandler = (ctx) => {
  const a = parseArgs(repliesArgs, ctx.args);
  const ch = visibleChannel(ctx, a.channel);
  requireMember(ctx, ch);
  const msg = ch.messages.find((m) => m.ts === a.ts);
  if (!msg) throw new SlackApiError('thread_not_found');
  const root = msg.thread_ts ?? msg.ts;
  const after = decodeCursor(a.cursor);
  const thread = ch.messages.filter((m) => (m.ts === root || m.thread_ts === root) && inWindow(m, a) && (after === undefined || compareTs(m.ts, after) > 0));
  const limit = Math.min(Math.max(a.limit ?? 1000, 1), 1000);
  return messagePage(ctx, thread, limit);
};

export const conversationsMethods: Record<string, MethodHandler> = {
  'conversations.create': create,
  'conversations.info': info,
  'conversations.list': list,
  'conversations.members': members,
  'conversations.join': join,
  'conversations.invite': invite,
  'conversations.setTopic': setTopic,
  'conversations.history': history,
  'conversations.replies': replies,
};
