/**
 * The data model of the emulated Slack workspace. Shapes follow what Slack's Web API returns
 * (snake_case, `ts` strings), so a handler can hand a stored object back to a client as-is.
 * Everything here is plain JSON: `WorkspaceState.snapshot()` serialises it for the sandbox console.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: unknown };

export interface EmuUser {
  id: string;
  team_id: string;
  name: string;
  real_name: string;
  deleted: boolean;
  is_bot: boolean;
  is_admin: boolean;
  tz: string;
  profile: {
    real_name: string;
    display_name: string;
    email?: string;
    title?: string;
    bot_id?: string;
    image_48: string;
  };
}

export interface EmuReaction {
  name: string;
  users: string[];
  count: number;
}

export interface EmuMessage {
  type: 'message';
  ts: string;
  /** Author; for bot posts the bot's user id, as Slack reports it. */
  user?: string;
  bot_id?: string;
  app_id?: string;
  subtype?: string;
  text: string;
  blocks?: unknown[];
  attachments?: unknown[];
  metadata?: unknown;
  thread_ts?: string;
  reply_count?: number;
  reply_users?: string[];
  latest_reply?: string;
  reactions?: EmuReaction[];
  edited?: { user: string; ts: string };
  pinned_to?: string[];
  /** Files shared with the message (files.completeUploadExternal). */
  files?: {
    id: string;
    name: string;
    title: string;
    mimetype: string;
    filetype: string;
    size: number;
    url_private: string;
    original_w?: number;
    original_h?: number;
  }[];
  upload?: boolean;
  team: string;
}

export interface EmuFile {
  id: string;
  name: string;
  title: string;
  /** Declared in files.getUploadURLExternal; the upload must match it. */
  length: number;
  user: string;
  created: number;
  bytes: Buffer | null;
  mimetype: string | null;
  /** Channels it was shared to by files.completeUploadExternal. */
  channels: string[];
  completed: boolean;
}

export interface EmuPin {
  type: 'message';
  channel: string;
  message: EmuMessage;
  created: number;
  created_by: string;
}

export interface EmuBookmark {
  id: string;
  channel_id: string;
  title: string;
  link: string;
  emoji: string | null;
  icon_url: string | null;
  type: 'link';
  date_created: number;
  date_updated: number;
  rank: string;
  last_updated_by_user_id: string;
}

export interface EmuChannel {
  id: string;
  name: string;
  is_channel: boolean;
  is_group: boolean;
  is_im: boolean;
  is_private: boolean;
  is_archived: boolean;
  is_general: boolean;
  created: number;
  creator: string;
  topic: { value: string; creator: string; last_set: number };
  purpose: { value: string; creator: string; last_set: number };
  members: string[];
  /** All messages including thread replies, ordered by ts ascending. */
  messages: EmuMessage[];
  pins: EmuPin[];
  bookmarks: EmuBookmark[];
}

export interface EmuUsergroup {
  id: string;
  team_id: string;
  name: string;
  handle: string;
  description: string;
  users: string[];
  is_usergroup: true;
  date_create: number;
}

export interface EmuView {
  id: string;
  team_id: string;
  type: 'modal' | 'home';
  /** The user the view is shown to. */
  user_id: string;
  title?: unknown;
  submit?: unknown;
  close?: unknown;
  blocks: unknown[];
  private_metadata: string;
  callback_id: string;
  external_id: string;
  clear_on_close: boolean;
  notify_on_close: boolean;
  state: { values: Record<string, Record<string, unknown>> };
  hash: string;
  root_view_id: string;
  previous_view_id: string | null;
  app_id: string;
  bot_id: string;
  /** False once closed/cleared: a closed modal cannot be updated. */
  open: boolean;
}

export interface EmuEphemeral {
  channel: string;
  user: string;
  ts: string;
  text: string;
  blocks?: unknown[];
  thread_ts?: string;
  /** Where it came from: a Web API call or a response_url post. */
  via: 'api' | 'response_url';
}

export interface EmuTrigger {
  id: string;
  user: string;
  issuedAt: number;
  used: boolean;
}

/** A response_url the emulator handed out with a slash command or an interaction. */
export interface EmuResponseUrl {
  id: string;
  channel: string;
  user: string;
  /** The message the interaction came from, for replace_original / delete_original. */
  messageTs: string | null;
  issuedAt: number;
  uses: number;
}

/** One POST received on a response_url, kept for inspection. */
export interface EmuResponsePost {
  id: string;
  at: number;
  body: unknown;
  ok: boolean;
  error?: string;
}

/** A change to the workspace, streamed to the sandbox console. */
export interface WorkspaceChange {
  kind:
    | 'channel.created'
    | 'channel.updated'
    | 'member.joined'
    | 'message.posted'
    | 'message.updated'
    | 'message.deleted'
    | 'ephemeral.posted'
    | 'reaction.added'
    | 'pin.added'
    | 'bookmark.added'
    | 'view.opened'
    | 'view.updated'
    | 'view.closed'
    | 'home.published'
    | 'trigger.issued'
    | 'response_url.posted';
  at: number;
  channel?: string;
  user?: string;
  ts?: string;
  viewId?: string;
  detail?: unknown;
}

/** One Web API call as the emulator saw it. `args` never contains the token. */
export interface CallRecord {
  method: string;
  args: Record<string, unknown>;
  at: number;
  ok: boolean;
  error?: string;
  /** HTTP status sent; 0 when the socket was dropped or the call was left hanging. */
  status: number;
  durationMs: number;
}
