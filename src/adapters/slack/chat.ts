import { ErrorCode as SlackErrorCode, type WebAPICallResult, LogLevel, type Logger as SlackLogger } from '@slack/web-api';
import { request } from 'undici';
import type { Logger } from '../../log.js';
import { ChatError } from '../../errors.js';
import type { Block, Chat, ChatMessage } from '../../ports/chat.js';
import { DEFAULT_RETRY, retryDecision, type AttemptOutcome, type RetryPolicyOptions } from '../http/retry.js';
import { createTokenBucketLimiter, DeadlineUnreachable, defaultSleep, type RateLimiter } from '../http/token-bucket.js';
import { slackBucket, slackBucketLimit } from './tiers.js';
import { TtlCache } from './ttl-cache.js';
import { createSlackApiClient, type SlackApiClient } from './web-api.js';

export interface SlackChatOptions {
  token: string;
  apiUrl: string;
  logger: Logger;
  /** How many times a failed call may be repeated (see `call`). Tests pass 0 to see errors at once. */
  retries?: number;
  /** Client-side pacing under Slack's tiers; by default one limiter per client (see tiers.ts). */
  limiter?: RateLimiter;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Epoch ms; the clock requests' arrival is stamped with, for the trigger budget (default Date.now). */
  now?: () => number;
}

/**
 * How long after a request arrives its trigger_id may still be sent to views.open / views.push.
 * Slack honours a trigger for about 3 s from when it sent the request; the rest is for the
 * request's own trip to us and the call's trip to Slack.
 */
export const TRIGGER_BUDGET_MS = 2500;

/**
 * The ChatError code of a form that could not open in time: the call was not sent because the
 * pacer could not let it out before the trigger's budget ran out (under a burst of clicks beyond
 * the views.open tier). `userMessage` words it as Slack's own `expired_trigger_id`.
 */
export const TRIGGER_NOT_SENT = 'trigger_not_sent';

type UserInfo = Readonly<{ id: string; name: string; email: string | null; isBot: boolean; deleted: boolean }>;

/**
 * How long a users.info answer is reused (`SlackChat.userInfo`), per process. A name or email
 * changed in Slack shows within `ttlMs`. `user_not_found` is kept too, but only briefly: Slack
 * never reuses a user id, so an unknown id (a typo in firebreak.yml, a mention copied from another
 * workspace) stays unknown and a draft naming it would otherwise ask once per mention; short, so
 * an id that becomes visible (a Slack Connect partner joining) is not hidden for long. Bounded: an
 * incident involves a few dozen people, a busy day a few hundred.
 */
export const USER_CACHE = { ttlMs: 5 * 60_000, notFoundTtlMs: 60_000, maxEntries: 1000 };

/** Bridges @slack/web-api's logger interface to pino. */
export function slackLogger(logger: Logger): SlackLogger {
  const child = logger.child({ component: 'slack-web-api' });
  let level = LogLevel.WARN;
  // Bolt logs several debug lines per request: format them only when someone will read them.
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (...m: unknown[]) => {
      if (child.isLevelEnabled(level)) child[level](m.map(String).join(' '));
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

/** Invite errors about a person rather than the channel or the call: skip that person, go on. */
const PER_USER_INVITE_ERRORS = new Set([
  'already_in_channel',
  'user_not_found',
  'cant_invite_self',
  'cant_invite',
  'user_is_restricted',
  'user_is_ultra_restricted',
  'ura_max_channels',
  'user_disabled',
  'invalid_users',
]);

/**
 * Methods that may be sent twice without a second effect: reads, and writes whose repeat is a
 * no-op for us (an update to the same content, a pin that is `already_pinned`, an invite that is
 * `already_in_channel`). Everything else (postMessage, create, bookmarks.add, ...) is repeated only
 * when Slack certainly did not act on it; otherwise the caller's step records decide (see
 * services/steps.ts), which look for the effect before doing it again.
 */
const SAFE_TO_REPEAT = new Set([
  'auth.test',
  'bots.info',
  'conversations.list',
  'conversations.info',
  'conversations.history',
  'conversations.replies',
  'bookmarks.list',
  'users.info',
  'users.lookupByEmail',
  'usergroups.users.list',
  'chat.update',
  'conversations.setTopic',
  'conversations.invite',
  'pins.add',
  'views.update',
  'views.publish',
  // Only hands out an upload URL: a repeat costs an unused URL, nothing else.
  'files.getUploadURLExternal',
]);

/** Slack answers that mean "not done, try later" without an HTTP error status. */
const TRANSIENT_SLACK_ERRORS = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout']);
/** ChatError codes of a call Slack did not answer (rate limit, transport, platform trouble): the caller may ask again. */
const UNANSWERED = new Set(['ratelimited', 'request_failed', ...TRANSIENT_SLACK_ERRORS]);
/** Connection errors raised before the request left this machine: nothing was sent. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Where a failed call stands: the error the caller sees, and the outcome the retry policy reads. */
interface SlackFailure {
  chat: ChatError;
  outcome: AttemptOutcome;
}

/**
 * Maps a Web API failure to the shared retry policy's terms:
 * - `ratelimited` is a 429 (Slack did nothing; wait as long as Retry-After says);
 * - a transient platform error (`internal_error`, ...) is treated as a 5xx: Slack may have acted;
 * - any other platform error is Slack's answer (HTTP 200, `ok: false`): final;
 * - an HTTP error keeps its status; a connection error is a transport failure, not sent when it
 *   failed before the request left this machine.
 */
function classifySlackFailure(err: unknown): SlackFailure {
  const e = err as { code?: string; data?: { error?: string }; retryAfter?: number; statusCode?: number; original?: { code?: string }; message?: string };
  if (e.code === SlackErrorCode.RateLimitedError) {
    const retryAfterMs = (e.retryAfter ?? 1) * 1000;
    return {
      chat: new ChatError('ratelimited', 'Slack rate limit', { retryAfterMs, cause: err }),
      outcome: { kind: 'response', status: 429, serverWaitMs: retryAfterMs },
    };
  }
  if (e.code === SlackErrorCode.PlatformError && e.data?.error) {
    const status = TRANSIENT_SLACK_ERRORS.has(e.data.error) ? 500 : 200;
    return { chat: new ChatError(e.data.error, undefined, { cause: err }), outcome: { kind: 'response', status, serverWaitMs: null } };
  }
  const original = e.original?.code ?? '';
  const detail = e.code === SlackErrorCode.HTTPError ? `HTTP ${e.statusCode}` : original || e.message || String(err);
  const chat = new ChatError('request_failed', `Slack request failed: ${detail}`, { cause: err });
  if (e.code === SlackErrorCode.HTTPError && typeof e.statusCode === 'number')
    return { chat, outcome: { kind: 'response', status: e.statusCode, serverWaitMs: null } };
  return { chat, outcome: { kind: 'transport', error: 'connection', sent: !NOT_SENT.has(original) } };
}

/** The Chat port over the Slack Web API. Paces itself under the method tiers. */
export class SlackChat implements Chat {
  readonly client: SlackApiClient;
  private readonly limiter: RateLimiter;
  private bot: { userId: string; teamId: string; url: string; appId: string | null } | null = null;

  private readonly logger: Logger;
  private readonly policy: RetryPolicyOptions;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly users: TtlCache<UserInfo | null>;
  private readonly channelPrivacy: TtlCache<boolean | null>;
  /** Per message (`channel:ts`) with an edit on its way: the newest edit waiting behind it (see `update`). */
  private readonly edits = new Map<
    string,
    { next: { args: Record<string, unknown>; waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> } | null }
  >();

  constructor(opts: SlackChatOptions & { client?: SlackApiClient }) {
    this.logger = opts.logger.child({ component: 'slack-chat' });
    // Slack's waits are short (Retry-After of a few seconds); a longer one is passed to the caller.
    this.policy = { ...DEFAULT_RETRY, maxAttempts: 1 + (opts.retries ?? 4), maxRetryAfterMs: 30_000 };
    this.sleep = opts.sleep ?? defaultSleep;
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.client = opts.client ?? createSlackApiClient({ token: opts.token, apiUrl: opts.apiUrl });
    this.limiter = opts.limiter ?? createTokenBucketLimiter({ buckets: slackBucketLimit, sleep: this.sleep });
    this.users = new TtlCache({ maxEntries: USER_CACHE.maxEntries, now: this.now });
    this.channelPrivacy = new TtlCache({ maxEntries: 1000, now: this.now });
  }

  /**
   * One Web API call under the shared retry policy (`retryDecision`, adapters/http/retry.ts). The
   * per-method idempotency table (`SAFE_TO_REPEAT`) is its input: a 429 or a refused connection is
   * repeated for any method; a 5xx, a transient platform error or a dropped connection only for
   * methods safe to repeat (for the others the outcome is unknown and the caller's step decides);
   * anything else (channel_not_found, invalid_blocks, ...) is Slack's answer. With a `deadline`
   * (epoch ms) a call that could only go out after it, paced or waiting to repeat, is not sent:
   * `DeadlineUnreachable`.
   */
  private async call<T extends WebAPICallResult>(method: string, args: Record<string, unknown>, channel?: string, deadline?: number): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      // The pacer keeps its own time (its waits are real sleeps): it is given what is left.
      await this.limiter.take(slackBucket(method, channel), deadline === undefined ? undefined : deadline - this.now());
      try {
        return (await this.client.apiCall(method, args)) as T;
      } catch (err) {
        const f = classifySlackFailure(err);
        const d = retryDecision(f.outcome, { attempt, idempotent: SAFE_TO_REPEAT.has(method), policy: this.policy, random: this.random });
        if (!d.retry) throw f.chat;
        if (deadline !== undefined && this.now() + d.delayMs > deadline) throw new DeadlineUnreachable(method, d.delayMs);
        this.logger.debug({ method, attempt, error: f.chat.slackError, waitMs: d.delayMs }, 'Slack call failed; retrying');
        await this.sleep(d.delayMs);
      }
    }
  }

  /**
   * auth.test: learns the bot user id and the workspace URL; proves the token works. Then
   * bots.info on auth.test's `bot_id` learns the app id (`users:read`), which every request Slack
   * sends us names as `api_app_id`. Without it (an older token, a scope removed, Slack unsure) the
   * bot starts all the same and checks the workspace only: a warning says so.
   */
  async init(): Promise<{ userId: string; teamId: string; url: string; appId: string | null }> {
    const r = await this.call<WebAPICallResult & { user_id?: string; team_id?: string; url?: string; bot_id?: string }>('auth.test', {});
    let appId: string | null = null;
    if (r.bot_id) {
      try {
        const b = await this.call<WebAPICallResult & { bot?: { app_id?: string } }>('bots.info', { bot: r.bot_id });
        appId = b.bot?.app_id || null;
      } catch (err) {
        this.logger.warn(
          { error: err instanceof ChatError ? err.slackError : String(err) },
          'bots.info failed: the app id is unknown, so requests are checked for the workspace only',
        );
      }
    }
    this.bot = { userId: r.user_id ?? '', teamId: r.team_id ?? '', url: r.url ?? 'https://slack.com/', appId };
    return this.bot;
  }

  /** The workspace the token belongs to (auth.test), once init() ran. */
  teamId(): string | null {
    return this.bot?.teamId || null;
  }

  /** This app's id (bots.info on auth.test's bot), once init() ran; null when Slack did not say. */
  appId(): string | null {
    return this.bot?.appId || null;
  }

  botUserId(): string | null {
    return this.bot?.userId ?? null;
  }

  async createChannel(name: string, isPrivate: boolean) {
    const r = await this.call<WebAPICallResult & { channel?: { id: string; name: string } }>('conversations.create', { name, is_private: isPrivate });
    return { id: r.channel!.id, name: r.channel!.name };
  }

  async findChannelByName(name: string) {
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const r = await this.call<WebAPICallResult & { channels?: { id: string; name: string; creator?: string; is_private?: boolean }[] }>(
        'conversations.list',
        {
          limit: 1000,
          types: 'public_channel,private_channel',
          exclude_archived: true,
          ...(cursor ? { cursor } : {}),
        },
      );
      const hit = r.channels?.find((c) => c.name === name);
      if (hit) return { id: hit.id, name: hit.name, creator: hit.creator ?? null, isPrivate: hit.is_private === true };
      cursor = r.response_metadata?.next_cursor || undefined;
      if (!cursor) break;
    }
    return null;
  }

  /**
   * Through a per-process cache: every card refresh of a private incident asks, and conversations.info
   * is tier 3. A private channel is remembered for 10 minutes; a public one (or Slack not saying)
   * for 30 s, so a channel a person has just made private shows its details again soon after.
   */
  async channelIsPrivate(channelId: string): Promise<boolean | null> {
    return this.channelPrivacy.load(
      channelId,
      async () => {
        try {
          const r = await this.call<WebAPICallResult & { channel?: { is_private?: boolean } }>('conversations.info', { channel: channelId });
          return typeof r.channel?.is_private === 'boolean' ? r.channel.is_private : null;
        } catch (err) {
          // Not knowing is an answer (channel_not_found, missing_scope, ...); a failure to ask is not.
          if (err instanceof ChatError && !UNANSWERED.has(err.slackError)) return null;
          throw err;
        }
      },
      (p) => (p === true ? 10 * 60_000 : 30_000),
    );
  }

  async invite(channelId: string, userIds: string[]) {
    const users = [...new Set(userIds)].filter((u) => u && u !== this.bot?.userId);
    if (!users.length) return;
    try {
      await this.call('conversations.invite', { channel: channelId, users: users.join(',') });
    } catch (err) {
      // Everyone already in the channel is success for us: the flow may be resuming.
      if (err instanceof ChatError && err.slackError === 'already_in_channel') return;
      // One bad person (deactivated, a guest, a typo in the responders list) must not keep the
      // others out of the incident channel: invite one by one and report who could not be added.
      if (err instanceof ChatError && PER_USER_INVITE_ERRORS.has(err.slackError) && users.length > 1) {
        const refused: string[] = [];
        for (const u of users) {
          try {
            await this.call('conversations.invite', { channel: channelId, users: u });
          } catch (e) {
            if (!(e instanceof ChatError) || !PER_USER_INVITE_ERRORS.has(e.slackError)) throw e;
            if (e.slackError !== 'already_in_channel') refused.push(`${u} (${e.slackError})`);
          }
        }
        if (refused.length) this.logger.warn({ channelId, refused }, 'some people could not be invited to the incident channel');
        return;
      }
      if (err instanceof ChatError && PER_USER_INVITE_ERRORS.has(err.slackError)) {
        this.logger.warn({ channelId, users, error: err.slackError }, 'could not invite to the incident channel');
        return;
      }
      throw err;
    }
  }

  async setTopic(channelId: string, topic: string) {
    await this.call('conversations.setTopic', { channel: channelId, topic: topic.slice(0, 250) });
  }

  async post(channelId: string, text: string, blocks?: Block[], opts?: { threadTs?: string }) {
    const r = await this.call<WebAPICallResult & { ts?: string; channel?: string }>(
      'chat.postMessage',
      { channel: channelId, text, ...(blocks ? { blocks } : {}), ...(opts?.threadTs ? { thread_ts: opts.threadTs } : {}), unfurl_links: false },
      channelId,
    );
    return { ts: r.ts!, channel: r.channel ?? channelId };
  }

  /**
   * Edits of one message leave one at a time, and an edit asked for while another is on its way
   * replaces any still waiting behind it: Slack keeps the last edit it received, so an older render
   * held up by a 429, the pacer or a retry must never land after a newer one (an approval message
   * rendered "approved" while the action ran, arriving after the one that says it ran, would leave
   * the channel believing it never did). Each caller is answered when its own content, or newer
   * content for the same message, has been written (or has failed).
   */
  async update(channelId: string, ts: string, text: string, blocks?: Block[]) {
    const args = { channel: channelId, ts, text, ...(blocks ? { blocks } : {}) };
    const key = `${channelId}:${ts}`;
    const queued = this.edits.get(key);
    if (queued) {
      return new Promise<void>((resolve, reject) => {
        if (queued.next) {
          queued.next.args = args;
          queued.next.waiters.push({ resolve, reject });
        } else queued.next = { args, waiters: [{ resolve, reject }] };
      });
    }
    this.edits.set(key, { next: null });
    try {
      await this.call('chat.update', args);
    } finally {
      this.sendNextEdit(key);
    }
  }

  /** The newest edit that waited behind the one just settled, if any (see `update`). */
  private sendNextEdit(key: string): void {
    const queued = this.edits.get(key);
    const next = queued?.next;
    if (!queued || !next) {
      this.edits.delete(key);
      return;
    }
    queued.next = null;
    this.call('chat.update', next.args)
      .then(
        () => {
          for (const w of next.waiters) w.resolve();
        },
        (err: unknown) => {
          for (const w of next.waiters) w.reject(err);
        },
      )
      .finally(() => this.sendNextEdit(key));
  }

  async postEphemeral(channelId: string, userId: string, text: string, blocks?: Block[]) {
    await this.call('chat.postEphemeral', { channel: channelId, user: userId, text, ...(blocks ? { blocks } : {}) });
  }

  async pin(channelId: string, ts: string) {
    try {
      await this.call('pins.add', { channel: channelId, timestamp: ts });
    } catch (err) {
      if (err instanceof ChatError && err.slackError === 'already_pinned') return;
      throw err;
    }
  }

  async addBookmark(channelId: string, title: string, link: string) {
    await this.call('bookmarks.add', { channel_id: channelId, title, type: 'link', link });
  }

  async openView(triggerId: string, view: Block, request: { receivedAt: Date }) {
    const r = await this.withTrigger('views.open', request.receivedAt, (deadline) =>
      this.call<WebAPICallResult & { view?: { id: string } }>('views.open', { trigger_id: triggerId, view }, undefined, deadline),
    );
    return { viewId: r.view?.id ?? '' };
  }

  /**
   * A views.open / views.push call spending a trigger_id: sent only while the trigger is fresh
   * enough (`TRIGGER_BUDGET_MS` from the request's arrival). Under a burst beyond the method's
   * tier a late click would otherwise wait in the pacer for minutes, holding its payload, to send a
   * trigger Slack refuses; it is refused here at once instead, taking no token, and Slack's own
   * `expired_trigger_id` comes back the same way: the caller tells the person to click again (and
   * logs the one line, `reportToUser`, with the method, the wait and the trigger's age as `detail`).
   */
  private async withTrigger<T>(method: 'views.open' | 'views.push', receivedAt: Date, send: (deadline: number) => Promise<T>): Promise<T> {
    const arrived = receivedAt.getTime();
    try {
      return await send(arrived + TRIGGER_BUDGET_MS);
    } catch (err) {
      const ageMs = this.now() - arrived;
      if (err instanceof DeadlineUnreachable)
        throw new ChatError(TRIGGER_NOT_SENT, `${method} not sent: the trigger would expire before Slack could be called`, {
          cause: err,
          detail: { method, waitMs: err.waitMs, ageMs },
        });
      if (err instanceof ChatError && err.slackError === 'expired_trigger_id')
        throw new ChatError(err.slackError, `Slack refused an expired trigger (${method})`, { cause: err, detail: { method, ageMs } });
      throw err;
    }
  }

  async publishHome(userId: string, view: Block) {
    await this.call('views.publish', { user_id: userId, view });
  }

  async uploadFile(f: { channelId: string; filename: string; title: string; bytes: Uint8Array; initialComment?: string; threadTs?: string }) {
    const r = await this.call<WebAPICallResult & { upload_url?: string; file_id?: string }>('files.getUploadURLExternal', {
      filename: f.filename,
      length: f.bytes.byteLength,
    });
    if (!r.upload_url || !r.file_id) throw new ChatError('invalid_response', 'Slack gave no upload URL');
    // The upload URL is not a Web API method: plain bytes, no token (the URL is the credential).
    const res = await request(r.upload_url, {
      method: 'POST',
      body: f.bytes,
      headers: { 'content-type': 'application/octet-stream' },
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    await res.body.text();
    if (res.statusCode !== 200) throw new ChatError('upload_failed', `Slack refused the file upload (HTTP ${res.statusCode})`);
    await this.call(
      'files.completeUploadExternal',
      {
        files: [{ id: r.file_id, title: f.title }],
        channel_id: f.channelId,
        ...(f.initialComment ? { initial_comment: f.initialComment } : {}),
        ...(f.threadTs ? { thread_ts: f.threadTs } : {}),
      },
      f.channelId,
    );
    return { fileId: r.file_id };
  }

  async history(channelId: string, opts: { oldest?: string; latest?: string; limit?: number } = {}): Promise<ChatMessage[]> {
    const out: ChatMessage[] = [];
    let cursor: string | undefined;
    const max = opts.limit ?? 5000;
    while (out.length < max) {
      const r = await this.call<WebAPICallResult & { messages?: RawMessage[]; has_more?: boolean }>('conversations.history', {
        channel: channelId,
        limit: Math.min(200, max - out.length),
        ...(opts.oldest ? { oldest: opts.oldest } : {}),
        ...(opts.latest ? { latest: opts.latest } : {}),
        ...(cursor ? { cursor } : {}),
      });
      for (const m of r.messages ?? []) out.push(toMessage(m));
      cursor = r.response_metadata?.next_cursor || undefined;
      if (!cursor || !r.has_more) break;
    }
    return out.sort((a, b) => Number(a.ts) - Number(b.ts));
  }

  async getMessage(channelId: string, ts: string): Promise<ChatMessage | null> {
    const r = await this.call<WebAPICallResult & { messages?: RawMessage[] }>('conversations.history', {
      channel: channelId,
      latest: ts,
      inclusive: true,
      limit: 1,
    });
    const m = r.messages?.find((x) => x.ts === ts);
    return m ? toMessage(m) : null;
  }

  async replies(channelId: string, threadTs: string): Promise<ChatMessage[]> {
    const out: ChatMessage[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 50; page++) {
      const r = await this.call<WebAPICallResult & { messages?: RawMessage[]; has_more?: boolean }>('conversations.replies', {
        channel: channelId,
        ts: threadTs,
        limit: 200,
        ...(cursor ? { cursor } : {}),
      });
      for (const m of r.messages ?? []) if (m.ts !== threadTs) out.push(toMessage(m));
      cursor = r.response_metadata?.next_cursor || undefined;
      if (!cursor || !r.has_more) break;
    }
    return out.sort((a, b) => Number(a.ts) - Number(b.ts));
  }

  async listBookmarks(channelId: string) {
    const r = await this.call<WebAPICallResult & { bookmarks?: { title?: string; link?: string }[] }>('bookmarks.list', { channel_id: channelId });
    return (r.bookmarks ?? []).map((b) => ({ title: b.title ?? '', link: b.link ?? '' }));
  }

  /**
   * users.info, through the per-process cache (`USER_CACHE`): during an incident the same few
   * people are looked up again and again (role changes, follow-up owners, pages, names in the
   * post-mortem draft). Concurrent lookups of one id share one call; a failure is not kept.
   */
  async userInfo(userId: string): Promise<UserInfo | null> {
    return this.users.load(
      userId,
      async () => {
        try {
          const r = await this.call<
            WebAPICallResult & {
              user?: { id: string; name?: string; real_name?: string; is_bot?: boolean; deleted?: boolean; profile?: { email?: string; real_name?: string } };
            }
          >('users.info', { user: userId });
          const u = r.user!;
          return Object.freeze({
            id: u.id,
            name: u.real_name ?? u.profile?.real_name ?? u.name ?? u.id,
            email: u.profile?.email ?? null,
            isBot: !!u.is_bot,
            deleted: u.deleted === true,
          });
        } catch (err) {
          if (err instanceof ChatError && err.slackError === 'user_not_found') return null;
          throw err;
        }
      },
      (u) => (u ? USER_CACHE.ttlMs : USER_CACHE.notFoundTtlMs),
    );
  }

  async lookupByEmail(email: string) {
    try {
      const r = await this.call<WebAPICallResult & { user?: { id: string } }>('users.lookupByEmail', { email });
      return r.user?.id ?? null;
    } catch (err) {
      if (err instanceof ChatError && err.slackError === 'users_not_found') return null;
      throw err;
    }
  }

  async usergroupMembers(usergroupId: string) {
    const r = await this.call<WebAPICallResult & { users?: string[] }>('usergroups.users.list', { usergroup: usergroupId });
    return r.users ?? [];
  }

  /**
   * Can the bot post in `channelId` (the announcement channel)? conversations.info tells membership
   * and privacy; the token's scopes come back on every answer (x-oauth-scopes). A member posts
   * anywhere; a non-member only in a public channel, and only with chat:write.public. Answers a
   * sentence for the operator, or null when posting will work. Throws on a transient failure.
   */
  async postingProblem(channelId: string): Promise<string | null> {
    let r: WebAPICallResult & { channel?: { is_member?: boolean; is_private?: boolean; is_archived?: boolean } };
    try {
      r = await this.call('conversations.info', { channel: channelId });
    } catch (err) {
      if (!(err instanceof ChatError)) throw err;
      if (err.slackError === 'channel_not_found')
        return 'channel not found (a private channel is invisible until the bot is invited: /invite @firebreak there)';
      if (err.slackError === 'missing_scope') return 'the app lacks channels:read/groups:read: reinstall it from manifest.yml';
      if (err.slackError === 'request_failed' || err.slackError === 'ratelimited' || err.slackError === 'internal_error') throw err;
      return `Slack answered ${err.slackError}`;
    }
    const ch = r.channel ?? {};
    if (ch.is_archived) return 'the channel is archived';
    if (ch.is_member) return null;
    if (ch.is_private) return 'the bot is not a member of this private channel: /invite @firebreak there';
    if ((r.response_metadata?.scopes ?? []).includes('chat:write.public')) return null;
    return 'the bot is not a member and the app lacks chat:write.public: reinstall the app from manifest.yml, or /invite @firebreak there';
  }

  permalink(channelId: string, ts?: string): string {
    const base = (this.bot?.url ?? 'https://slack.com/').replace(/\/?$/, '/');
    return ts ? `${base}archives/${channelId}/p${ts.replace('.', '')}` : `${base}archives/${channelId}`;
  }
}

interface RawMessage {
  ts: string;
  user?: string;
  bot_id?: string;
  text?: string;
  thread_ts?: string;
  subtype?: string;
  blocks?: { block_id?: string }[];
  files?: { id?: string; name?: string }[];
}

function toMessage(m: RawMessage): ChatMessage & { blockIds: string[] } {
  return {
    ts: m.ts,
    user: m.user ?? null,
    botId: m.bot_id ?? null,
    text: m.text ?? '',
    threadTs: m.thread_ts ?? null,
    blockIds: (m.blocks ?? []).map((b) => b.block_id ?? '').filter(Boolean),
    ...(m.files?.length ? { files: m.files.map((f) => ({ id: f.id ?? '', name: f.name ?? '' })) } : {}),
  };
}
