/**
 * The chat surface (Slack). Services talk to this port, never to the Web API client directly,
 * so the domain flows read the same against the real workspace, the emulator, and tests.
 * Block Kit payloads are plain objects built by the pure builders in src/slack/blocks/.
 *
 * Errors: the adapter throws `ChatError` with Slack's error string as `slackError`
 * (e.g. `name_taken`, `channel_not_found`, `expired_trigger_id`).
 */
export type Block = Record<string, unknown>;

export interface ChatMessage {
  ts: string;
  user: string | null;
  botId: string | null;
  text: string;
  threadTs?: string | null;
  /** block_ids of the message's blocks (the bot marks its own messages to find them again). */
  blockIds?: string[];
  /** Files shared with the message (an upload's file name is its marker: the bot finds it again). */
  files?: { id: string; name: string }[];
}

export interface Chat {
  /** Create a channel; throws ChatError('name_taken') if the name exists. */
  createChannel(name: string, isPrivate: boolean): Promise<{ id: string; name: string }>;
  /** A channel of this name the bot can see, with who created it (user id) and whether it is private. */
  findChannelByName(name: string): Promise<{ id: string; name: string; creator: string | null; isPrivate: boolean } | null>;
  /**
   * Whether a channel is private (conversations.info `is_private`); null when Slack does not say
   * (not found, not visible to the bot, a scope missing). A transient failure throws ChatError.
   */
  channelIsPrivate(channelId: string): Promise<boolean | null>;
  invite(channelId: string, userIds: string[]): Promise<void>;
  setTopic(channelId: string, topic: string): Promise<void>;
  post(channelId: string, text: string, blocks?: Block[], opts?: { threadTs?: string }): Promise<{ ts: string; channel: string }>;
  update(channelId: string, ts: string, text: string, blocks?: Block[]): Promise<void>;
  postEphemeral(channelId: string, userId: string, text: string, blocks?: Block[]): Promise<void>;
  pin(channelId: string, ts: string): Promise<void>;
  addBookmark(channelId: string, title: string, link: string): Promise<void>;
  /**
   * Open a modal with a request's trigger_id. `receivedAt` is when that request reached us: a
   * trigger too old to be sent in time (Slack honours one ~3 s) is not sent, and the call throws
   * ChatError (`trigger_not_sent`, or Slack's `expired_trigger_id`).
   */
  openView(triggerId: string, view: Block, request: { receivedAt: Date }): Promise<{ viewId: string }>;
  publishHome(userId: string, view: Block): Promise<void>;
  /**
   * Upload a file and share it in a channel as one message (files.getUploadURLExternal, the bytes
   * to the upload URL, files.completeUploadExternal). Needs the `files:write` scope.
   */
  uploadFile(f: {
    channelId: string;
    filename: string;
    title: string;
    bytes: Uint8Array;
    initialComment?: string;
    threadTs?: string;
  }): Promise<{ fileId: string }>;
  /** Oldest first; `oldest` and `latest` exclusive. Pages internally. With `latest` and `limit`, the newest `limit` before it. */
  history(channelId: string, opts?: { oldest?: string; latest?: string; limit?: number }): Promise<ChatMessage[]>;
  getMessage(channelId: string, ts: string): Promise<ChatMessage | null>;
  /** Replies in a thread, oldest first (the parent excluded). */
  replies(channelId: string, threadTs: string): Promise<ChatMessage[]>;
  listBookmarks(channelId: string): Promise<{ title: string; link: string }[]>;
  /** `deleted`: a deactivated account (Slack keeps its id). */
  userInfo(userId: string): Promise<{ id: string; name: string; email: string | null; isBot: boolean; deleted?: boolean } | null>;
  /** The Slack user id with this email, or null (users.lookupByEmail; scope users:read.email). */
  lookupByEmail(email: string): Promise<string | null>;
  /** Members of a Slack user group (for approval policies naming a group). */
  usergroupMembers(usergroupId: string): Promise<string[]>;
  permalink(channelId: string, ts?: string): string;
  /** The bot's own user id (from auth.test). */
  botUserId(): string | null;
}
