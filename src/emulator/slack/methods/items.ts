import { z } from 'zod';
import { SlackApiError, parseArgs, zBool, zTs, type MethodHandler } from '../args.js';
import { renderMessage } from './render.js';
import { requireMember, visibleChannel } from './conversations.js';

/** pins.*, bookmarks.*, reactions.*: things attached to channels and messages. */

const pinsAddArgs = z.object({ channel: z.string().optional(), timestamp: z.string().optional() });
const pinsAdd: MethodHandler = (ctx) => {
  const a = parseArgs(pinsAddArgs, ctx.args);
  const ch = visibleChannel(ctx, a.channel);
  if (!a.timestamp) throw new SlackApiError('no_item_specified');
  if (!/^\d+(\.\d+)?$/.test(a.timestamp)) throw new SlackApiError('bad_timestamp');
  requireMember(ctx, ch);
  const msg = ctx.state.message(ch.id, a.timestamp);
  if (!msg) throw new SlackApiError('message_not_found');
  if (ch.pins.some((p) => p.message.ts === msg.ts)) throw new SlackApiError('already_pinned');
  ctx.state.addPin(ch.id, msg.ts, ctx.actor);
  // Slack announces a pin in the channel with a `pinned_item` message.
  ctx.state.postMessage(ch.id, { user: ctx.actor, text: `<@${ctx.actor}> pinned a message to this channel.`, subtype: 'pinned_item', asBot: ctx.isBot });
  return {};
};

const pinsListArgs = z.object({ channel: z.string().optional() });
const pinsList: MethodHandler = (ctx) => {
  const a = parseArgs(pinsListArgs, ctx.args);
  const ch = visibleChannel(ctx, a.channel);
  const items = [...ch.pins].reverse().map((p) => ({
    type: 'message',
    channel: p.channel,
    created: p.created,
    created_by: p.created_by,
    message: renderMessage(ctx.state, p.message),
  }));
  return { items };
};

const bookmarksAddArgs = z.object({
  channel_id: z.string().optional(),
  title: z.string().min(1),
  type: z.literal('link'),
  link: z.string().optional(),
  emoji: z.string().optional(),
});
const bookmarksAdd: MethodHandler = (ctx) => {
  const a = parseArgs(bookmarksAddArgs, ctx.args);
  const ch = visibleChannel(ctx, a.channel_id);
  requireMember(ctx, ch);
  if (!a.link || !/^https?:\/\/\S+$/.test(a.link)) throw new SlackApiError('invalid_link');
  const bookmark = ctx.state.addBookmark(ch.id, { title: a.title, link: a.link, emoji: a.emoji ?? null, by: ctx.actor });
  return { bookmark };
};

const bookmarksListArgs = z.object({ channel_id: z.string().optional() });
const bookmarksList: MethodHandler = (ctx) => {
  const a = parseArgs(bookmarksListArgs, ctx.args);
  const ch = visibleChannel(ctx, a.channel_id);
  return { bookmarks: structuredClone(ch.bookmarks) };
};

const reactionsGetArgs = z.object({ channel: z.string().optional(), timestamp: zTs.optional(), full: zBool.optional() });
const reactionsGet: MethodHandler = (ctx) => {
  const a = parseArgs(reactionsGetArgs, ctx.args);
  if (!a.timestamp) throw new SlackApiError('no_item_specified');
  const ch = visibleChannel(ctx, a.channel);
  const msg = ctx.state.message(ch.id, a.timestamp);
  if (!msg) throw new SlackApiError('message_not_found');
  return { type: 'message', channel: ch.id, message: renderMessage(ctx.state, msg) };
};

const reactionsAddArgs = z.object({ channel: z.string().optional(), timestamp: zTs.optional(), name: z.string().optional() });
const reactionsAdd: MethodHandler = (ctx) => {
  const a = parseArgs(reactionsAddArgs, ctx.args);
  if (!a.timestamp) throw new SlackApiError('no_item_specified');
  if (!a.name) throw new SlackApiError('invalid_name');
  const ch = visibleChannel(ctx, a.channel);
  requireMember(ctx, ch);
  const msg = ctx.state.message(ch.id, a.timestamp);
  if (!msg) throw new SlackApiError('message_not_found');
  if (!ctx.state.addReaction(ch.id, msg.ts, ctx.actor, a.name.replace(/^:|:$/g, ''))) throw new SlackApiError('already_reacted');
  return {};
};

export const itemMethods: Record<string, MethodHandler> = {
  'pins.add': pinsAdd,
  'pins.list': pinsList,
  'bookmarks.add': bookmarksAdd,
  'bookmarks.list': bookmarksList,
  'reactions.get': reactionsGet,
  'reactions.add': reactionsAdd,
};
