import { z } from 'zod';
import { SlackApiError, errorWithMessages, parseArgs, zBool, zJson, zTs, type MethodContext, type MethodHandler } from '../args.js';
import { MAX_MESSAGE_BLOCKS, MAX_MESSAGE_TEXT, validateBlocks } from '../blockkit.js';
import { permalink, renderMessage } from './render.js';
import { requireMember, requireNotArchived, visibleChannel } from './conversations.js';
import { CHAT_WRITE_PUBLIC } from '../scopes.js';

const contentArgs = {
  text: z.string().optional(),
  blocks: zJson(z.array(z.unknown())).optional(),
  attachments: zJson(z.array(z.unknown())).optional(),
};

/**
 * The checks every message-carrying method shares: some content, text length, valid blocks.
 * Exported for the response_url endpoint, which follows the same rules.
 */
export function checkContent(c: { text?: string | undefined; blocks?: unknown[] | undefined; attachments?: unknown[] | undefined }): void {
  const hasText = typeof c.text === 'string' && c.text.trim() !== '';
  if (!hasText && !(c.blocks && c.blocks.length > 0) && !(c.attachments && c.attachments.length > 0)) {
    throw new SlackApiError('no_text');
  }
  if ((c.text?.length ?? 0) > MAX_MESSAGE_TEXT) throw new SlackApiError('msg_too_long');
  if (c.blocks !== undefined) {
    const problems = validateBlocks(c.blocks, { max: MAX_MESSAGE_BLOCKS });
    if (problems.length > 0) throw errorWithMessages('invalid_blocks', problems);
  }
}

/** A thread_ts naming a reply is moved to that reply's parent, as Slack does. */
function threadRoot(ctx: MethodContext, channel: string, threadTs: string | undefined): string | undefined {
  if (!threadTs) return undefined;
  const parent = ctx.state.message(channel, threadTs);
  return parent ? (parent.thread_ts ?? parent.ts) : undefined;
}

const postMessageArgs = z.object({
  channel: z.string().optional(),
  thread_ts: zTs.optional(),
  reply_broadcast: zBool.optional(),
  metadata: zJson(z.unknown()).optional(),
  ...contentArgs,
});
const postMessage: MethodHandler = (ctx) => {
  const a = parseArgs(postMessageArgs, ctx.args);
  const ch = visibleChannel(ctx, a.channel);
  requireNotArchived(ch);
  // chat:write.public lets an app post in a public channel it has not joined; nothing else does.
  if (!(ctx.isBot && !ch.is_private && ctx.scopes.has(CHAT_WRITE_PUBLIC))) requireMember(ctx, ch);
  checkContent(a);
  const threadTs = threadRoot(ctx, ch.id, a.thread_ts);
  const msg = ctx.state.postMessage(ch.id, {
    user: ctx.actor,
    asBot: ctx.isBot,
    text: a.text ?? '',
    ...(a.blocks ? { blocks: a.blocks } : {}),
    ...(a.attachments ? { attachments: a.attachments } : {}),
    ...(a.metadata ? { metadata: a.metadata } : {}),
    ...(threadTs ? { threadTs } : {}),
  });
  return { channel: ch.id, ts: msg.ts, message: renderMessage(ctx.state, msg) };
};

const updateArgs = z.object({ channel: z.string().optional(), ts: zTs.optional(), ...contentArgs });
const update: MethodHandler = (ctx) => {
  const a = parseArgs(updateArgs, ctx.args);
  const ch = visibleChannel(ctx, a.channel);
  const msg = a.ts ? ctx.state.message(ch.id, a.ts) : undefined;
  if (!msg) throw new SlackApiError('message_not_found');
  if (msg.user !== ctx.actor) throw new SlackApiError('cant_update_message');
  checkContent(a);
  const updated = ctx.state.updateMessage(ch.id, msg.ts, {
    by: ctx.actor,
    ...(a.text !== undefined ? { text: a.text } : {}),
    ...(a.blocks !== undefined ? { blocks: a.blocks } : {}),
    ...(a.attachments !== undefined ? { attachments: a.attachments } : {}),
  });
  return { channel: ch.id, ts: updated.ts, text: updated.text, message: renderMessage(ctx.state, updated) };
};

const delArgs = z.object({ channel: z.string().optional(), ts: zTs.optional() });
const del: MethodHandler = (ctx) => {
  const a = parseArgs(delArgs, ctx.args);
  const ch = visibleChannel(ctx, a.channel);
  const msg = a.ts ? ctx.state.message(ch.id, a.ts) : undefined;
  if (!msg) throw new SlackApiError('message_not_found');
  if (msg.user !== ctx.actor) throw new SlackApiError('cant_delete_message');
  ctx.state.deleteMessage(ch.id, msg.ts, ctx.actor);
  return { channel: ch.id, ts: msg.ts };
};

const postEphemeralArgs = z.object({ channel: z.string().optional(), user: z.string().optional(), thread_ts: zTs.optional(), ...contentArgs });
const postEphemeral: MethodHandler = (ctx) => {
  const a = parseArgs(postEphemeralArgs, ctx.args);
  const ch = visibleChannel(ctx, a.channel);
  if (!a.user || !ctx.state.users.has(a.user)) throw new SlackApiError('user_not_found');
  requireMember(ctx, ch);
  if (!ch.members.includes(a.user)) throw new SlackApiError('user_not_in_channel');
  checkContent(a);
  const eph = ctx.state.addEphemeral({
    channel: ch.id,
    user: a.user,
    text: a.text ?? '',
    via: 'api',
    ...(a.blocks ? { blocks: a.blocks } : {}),
    ...(a.thread_ts ? { thread_ts: a.thread_ts } : {}),
  });
  return { message_ts: eph.ts };
};

const getPermalinkArgs = z.object({ channel: z.string().optional(), message_ts: zTs.optional() });
const getPermalink: MethodHandler = (ctx) => {
  const a = parseArgs(getPermalinkArgs, ctx.args);
  const ch = visibleChannel(ctx, a.channel);
  const msg = a.message_ts ? ctx.state.message(ch.id, a.message_ts) : undefined;
  if (!msg) throw new SlackApiError('message_not_found');
  return { channel: ch.id, permalink: permalink(ctx.state, ch.id, msg.ts, msg.thread_ts) };
};

export const chatMethods: Record<string, MethodHandler> = {
  'chat.postMessage': postMessage,
  'chat.update': update,
  'chat.delete': del,
  'chat.postEphemeral': postEphemeral,
  'chat.getPermalink': getPermalink,
};
