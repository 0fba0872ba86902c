import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type {
  EmuFile,
  EmuBookmark,
  EmuChannel,
  EmuEphemeral,
  EmuMessage,
  EmuPin,
  EmuResponsePost,
  EmuResponseUrl,
  EmuTrigger,
  EmuUser,
  EmuUsergroup,
  EmuView,
  WorkspaceChange,
} from './types.js';

/**
 * The workspace model: users, channels with their messages, threads, reactions, pins and
 * bookmarks, views, home tabs, ephemerals, trigger ids and response URLs.
 *
 * It holds primitives only; Slack's rules (who may post where, which error) live in the method
 * handlers, so this class can also be driven directly by the driver and the sandbox console.
 * Every mutation emits one `change` event on `events`.
 *
 * Limits: in memory, one process; no enterprise grids, no DMs/MPIMs, no files.
 */
export interface WorkspaceOptions {
  teamId: string;
  teamDomain: string;
  botUserId: string;
  botId: string;
  appId: string;
  clock: () => number;
  /** Seed the default people, group and channels (default true). */
  seed?: boolean;
}

export const DEFAULT_TEAM_ID = 'T0FIRE01';
export const DEFAULT_BOT_USER_ID = 'U0FIREBOT1';
export const DEFAULT_BOT_ID = 'B0FIREBOT1';
export const DEFAULT_APP_ID = 'A0FIREBRK';
export const GENERAL_CHANNEL_ID = 'C0GENERAL1';
export const INCIDENTS_CHANNEL_ID = 'C0INCIDENTS';

/** The people seeded into every workspace, for tests that need names and emails. */
export const SEED_PEOPLE = [
  { id: 'U0ALICE01', name: 'alice', real: 'Alice Nakamura', email: 'alice@example.com', title: 'Staff SRE', admin: true },
  { id: 'U0BOB0001', name: 'bob', real: 'Bob Okafor', email: 'bob@example.com', title: 'SRE Lead', admin: false },
  { id: 'U0CAROL01', name: 'carol', real: 'Carol Jiménez', email: 'carol@example.com', title: 'Platform Engineer', admin: false },
  { id: 'U0DAVE001', name: 'dave', real: 'Dave Lindqvist', email: 'dave@example.com', title: 'Backend Engineer', admin: false },
  { id: 'U0ERIN001', name: 'erin', real: 'Erin Walsh', email: 'erin@example.com', title: 'Engineering Manager', admin: false },
] as const;

export const SRE_LEADS_GROUP_ID = 'S0SRELEADS';

const TS_MICROS = 1_000_000;

function formatTs(micros: number): string {
  return `${Math.floor(micros / TS_MICROS)}.${String(micros % TS_MICROS).padStart(6, '0')}`;
}

/** Compare Slack timestamps numerically ("1732540000.000100"). */
export function compareTs(a: string, b: string): number {
  return tsMicros(a) - tsMicros(b);
}

export function tsMicros(ts: string): number {
  const [s = '0', f = ''] = ts.split('.');
  return Number(s) * TS_MICROS + Number(f.padEnd(6, '0').slice(0, 6));
}

export class WorkspaceState {
  readonly events = new EventEmitter();
  readonly teamId: string;
  readonly teamDomain: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly appId: string;
  readonly clock: () => number;

  readonly users = new Map<string, EmuUser>();
  readonly usergroups = new Map<string, EmuUsergroup>();
  readonly channels = new Map<string, EmuChannel>();
  readonly views = new Map<string, EmuView>();
  /** user id → view id of the published home tab. */
  readonly homes = new Map<string, string>();
  readonly ephemerals: EmuEphemeral[] = [];
  readonly triggers = new Map<string, EmuTrigger>();
  readonly responseUrls = new Map<string, EmuResponseUrl>();
  readonly responsePosts: EmuResponsePost[] = [];
  /** Files from files.getUploadURLExternal: bytes arrive at the upload URL, then are shared. */
  readonly files = new Map<string, EmuFile>();

  private lastTsMicros = 0;
  private seq = 0;

  constructor(opts: WorkspaceOptions) {
    this.teamId = opts.teamId;
    this.teamDomain = opts.teamDomain;
    this.botUserId = opts.botUserId;
    this.botId = opts.botId;
    this.appId = opts.appId;
    this.clock = opts.clock;
    // Many listeners (SSE clients of the console) are normal.
    this.events.setMaxListeners(0);
    this.addUser({
      id: this.botUserId,
      name: 'firebreak',
      realName: 'Firebreak',
      isBot: true,
      botId: this.botId,
    });
    if (opts.seed !== false) this.seedDefaults();
  }

  // -- time and ids ---------------------------------------------------------------------------

  nowSec(): number {
    return Math.floor(this.clock() / 1000);
  }

  /** A message ts: from the clock, strictly increasing across the whole workspace. */
  nextTs(): string {
    const micros = Math.max(Math.floor(this.clock() * 1000), this.lastTsMicros + 100);
    this.lastTsMicros = micros;
    return formatTs(micros);
  }

  /** A Slack-looking id: prefix + 9 uppercase base-36 characters, unique in this workspace. */
  newId(prefix: string): string {
    this.seq += 1;
    const n = (this.seq + 46_656).toString(36).toUpperCase();
    return `${prefix}0${n.padStart(8, '0')}`;
  }

  emit(change: Omit<WorkspaceChange, 'at'>): void {
    this.events.emit('change', { ...change, at: this.clock() } satisfies WorkspaceChange);
  }

  // -- people -------------------------------------------------------------------------------------

  addUser(u: { id: string; name: string; realName: string; email?: string; title?: string; isBot?: boolean; botId?: string; admin?: boolean }): EmuUser {
    const user: EmuUser = {
      id: u.id,
      team_id: this.teamId,
      name: u.name,
      real_name: u.realName,
      deleted: false,
      is_bot: u.isBot ?? false,
      is_admin: u.admin ?? false,
      tz: 'Europe/London',
      profile: {
        real_name: u.realName,
        display_name: u.name,
        ...(u.email ? { email: u.email } : {}),
        ...(u.title ? { title: u.title } : {}),
        ...(u.botId ? { bot_id: u.botId } : {}),
        image_48: `https://avatars.example.com/${u.id}_48.png`,
      },
    };
    this.users.set(user.id, user);
    return user;
  }

  userByEmail(email: string): EmuUser | undefined {
    const needle = email.toLowerCase();
    for (const u of this.users.values()) if (u.profile.email?.toLowerCase() === needle) return u;
    return undefined;
  }

  addUsergroup(g: { id: string; handle: string; name: string; description?: string; users: string[] }): EmuUsergroup {
    const group: EmuUsergroup = {
      id: g.id,
      team_id: this.teamId,
      name: g.name,
      handle: g.handle,
      description: g.description ?? '',
      users: [...g.users],
      is_usergroup: true,
      date_create: this.nowSec(),
    };
    this.usergroups.set(group.id, group);
    return group;
  }

  // -- channels ---------------------------------------------------------------------------------

  channelByName(name: string): EmuChannel | undefined {
    for (const c of this.channels.values()) if (c.name === name) return c;
    return undefined;
  }

  channel(id: string): EmuChannel | undefined {
    return this.channels.get(id);
  }

  createChannel(c: { name: string; creator: string; isPrivate?: boolean; id?: string; members?: string[]; isGeneral?: boolean }): EmuChannel {
    const now = this.nowSec();
    const channel: EmuChannel = {
      id: c.id ?? this.newId('C'),
      name: c.name,
      is_channel: !c.isPrivate,
      is_group: !!c.isPrivate,
      is_im: false,
      is_private: !!c.isPrivate,
      is_archived: false,
      is_general: !!c.isGeneral,
      created: now,
      creator: c.creator,
      topic: { value: '', creator: '', last_set: 0 },
      purpose: { value: '', creator: '', last_set: 0 },
      members: [...new Set([c.creator, ...(c.members ?? [])])],
      messages: [],
      pins: [],
      bookmarks: [],
    };
    this.channels.set(channel.id, channel);
    this.emit({ kind: 'channel.created', channel: channel.id, user: c.creator, detail: { name: channel.name } });
    return channel;
  }

  addMembers(channelId: string, userIds: string[]): string[] {
    const ch = this.mustChannel(channelId);
    const added = userIds.filter((u) => !ch.members.includes(u));
    ch.members.push(...added);
    for (const u of added) this.emit({ kind: 'member.joined', channel: ch.id, user: u });
    return added;
  }

  setTopic(channelId: string, topic: string, by: string): void {
    const ch = this.mustChannel(channelId);
    ch.topic = { value: topic, creator: by, last_set: this.nowSec() };
    this.emit({ kind: 'channel.updated', channel: ch.id, user: by, detail: { topic } });
  }

  // -- messages ---------------------------------------------------------------------------------

  /** Top-level messages plus replies, oldest first. */
  messages(channelId: string): EmuMessage[] {
    return this.channels.get(channelId)?.messages ?? [];
  }

  message(channelId: string, ts: string): EmuMessage | undefined {
    return this.channels.get(channelId)?.messages.find((m) => m.ts === ts);
  }

  /**
   * Append a message. A reply (`thread_ts` given) updates its parent's reply_count, reply_users
   * and latest_reply as Slack does; the parent gets `thread_ts` = its own ts.
   */
  postMessage(
    channelId: string,
    m: {
      user: string;
      text: string;
      blocks?: unknown[];
      attachments?: unknown[];
      threadTs?: string;
      metadata?: unknown;
      asBot?: boolean;
      subtype?: string;
      files?: EmuMessage['files'];
    },
  ): EmuMessage {
    const ch = this.mustChannel(channelId);
    const msg: EmuMessage = {
      type: 'message',
      ts: this.nextTs(),
      user: m.user,
      text: m.text,
      team: this.teamId,
      ...(m.asBot ? { bot_id: this.botId, app_id: this.appId } : {}),
      ...(m.subtype ? { subtype: m.subtype } : {}),
      ...(m.blocks ? { blocks: m.blocks } : {}),
      ...(m.attachments ? { attachments: m.attachments } : {}),
      ...(m.metadata ? { metadata: m.metadata } : {}),
      ...(m.files ? { files: m.files, upload: true } : {}),
    };
    if (m.threadTs) {
      const parent = ch.messages.find((p) => p.ts === m.threadTs);
      if (parent) {
        msg.thread_ts = parent.ts;
        parent.thread_ts = parent.ts;
        parent.reply_count = (parent.reply_count ?? 0) + 1;
        parent.reply_users = [...new Set([...(parent.reply_users ?? []), m.user])];
        parent.latest_reply = msg.ts;
      }
    }
    ch.messages.push(msg);
    this.emit({ kind: 'message.posted', channel: ch.id, user: m.user, ts: msg.ts, detail: { text: m.text, thread_ts: msg.thread_ts } });
    return msg;
  }

  updateMessage(channelId: string, ts: string, patch: { text?: string; blocks?: unknown[]; attachments?: unknown[]; by: string }): EmuMessage {
    const msg = this.message(channelId, ts);
    if (!msg) throw new Error(`no message ${channelId}/${ts}`);
    if (patch.text !== undefined) msg.text = patch.text;
    if (patch.blocks !== undefined) msg.blocks = patch.blocks;
    if (patch.attachments !== undefined) msg.attachments = patch.attachments;
    msg.edited = { user: patch.by, ts: this.nextTs() };
    this.emit({ kind: 'message.updated', channel: channelId, user: patch.by, ts, detail: { text: msg.text } });
    return msg;
  }

  deleteMessage(channelId: string, ts: string, by: string): boolean {
    const ch = this.mustChannel(channelId);
    const i = ch.messages.findIndex((m) => m.ts === ts);
    if (i < 0) return false;
    ch.messages.splice(i, 1);
    ch.pins = ch.pins.filter((p) => p.message.ts !== ts);
    this.emit({ kind: 'message.deleted', channel: channelId, user: by, ts });
    return true;
  }

  /** Add a reaction; returns false when this user already reacted with this name. */
  addReaction(channelId: string, ts: string, user: string, name: string): boolean {
    const msg = this.message(channelId, ts);
    if (!msg) throw new Error(`no message ${channelId}/${ts}`);
    msg.reactions ??= [];
    let r = msg.reactions.find((x) => x.name === name);
    if (!r) {
      r = { name, users: [], count: 0 };
      msg.reactions.push(r);
    }
    if (r.users.includes(user)) return false;
    r.users.push(user);
    r.count = r.users.length;
    this.emit({ kind: 'reaction.added', channel: channelId, user, ts, detail: { name } });
    return true;
  }

  addPin(channelId: string, ts: string, by: string): EmuPin {
    const ch = this.mustChannel(channelId);
    const msg = this.message(channelId, ts);
    if (!msg) throw new Error(`no message ${channelId}/${ts}`);
    msg.pinned_to = [...new Set([...(msg.pinned_to ?? []), channelId])];
    const pin: EmuPin = { type: 'message', channel: channelId, message: msg, created: this.nowSec(), created_by: by };
    ch.pins.push(pin);
    this.emit({ kind: 'pin.added', channel: channelId, user: by, ts });
    return pin;
  }

  pins(channelId: string): EmuPin[] {
    return this.channels.get(channelId)?.pins ?? [];
  }

  addBookmark(channelId: string, b: { title: string; link: string; emoji?: string | null; by: string }): EmuBookmark {
    const ch = this.mustChannel(channelId);
    const now = this.nowSec();
    const bookmark: EmuBookmark = {
      id: this.newId('Bk'),
      channel_id: channelId,
      title: b.title,
      link: b.link,
      emoji: b.emoji ?? null,
      icon_url: null,
      type: 'link',
      date_created: now,
      date_updated: now,
      rank: String.fromCharCode(97 + Math.min(ch.bookmarks.length, 25)),
      last_updated_by_user_id: b.by,
    };
    ch.bookmarks.push(bookmark);
    this.emit({ kind: 'bookmark.added', channel: channelId, user: b.by, detail: { title: b.title, link: b.link } });
    return bookmark;
  }

  bookmarks(channelId: string): EmuBookmark[] {
    return this.channels.get(channelId)?.bookmarks ?? [];
  }

  addEphemeral(e: Omit<EmuEphemeral, 'ts'>): EmuEphemeral {
    const eph: EmuEphemeral = { ...e, ts: this.nextTs() };
    this.ephemerals.push(eph);
    this.emit({ kind: 'ephemeral.posted', channel: e.channel, user: e.user, ts: eph.ts, detail: { text: e.text } });
    return eph;
  }

  /** Ephemeral messages shown to `user` in `channel` (all of the user's when channel omitted). */
  ephemeralsFor(user: string, channel?: string): EmuEphemeral[] {
    return this.ephemerals.filter((e) => e.user === user && (channel === undefined || e.channel === channel));
  }

  // -- views, triggers, response urls -------------------------------------------------------------

  /** A trigger id in Slack's format, valid for 3 s and for one use (enforced by views.*). */
  issueTrigger(user: string): EmuTrigger {
    const now = this.clock();
    const id = `${1000000000 + this.seq++}.${Math.floor(now / 1000)}.${randomBytes(16).toString('hex')}`;
    const t: EmuTrigger = { id, user, issuedAt: now, used: false };
    this.triggers.set(id, t);
    this.emit({ kind: 'trigger.issued', user, detail: { trigger_id: id } });
    return t;
  }

  issueResponseUrl(r: { channel: string; user: string; messageTs?: string | null }): EmuResponseUrl {
    const rec: EmuResponseUrl = {
      id: `${this.teamId}-${randomBytes(12).toString('hex')}`,
      channel: r.channel,
      user: r.user,
      messageTs: r.messageTs ?? null,
      issuedAt: this.clock(),
      uses: 0,
    };
    this.responseUrls.set(rec.id, rec);
    return rec;
  }

  putView(view: EmuView, kind: 'view.opened' | 'view.updated' | 'home.published'): void {
    this.views.set(view.id, view);
    if (view.type === 'home') this.homes.set(view.user_id, view.id);
    this.emit({ kind, user: view.user_id, viewId: view.id, detail: { callback_id: view.callback_id, type: view.type } });
  }

  closeView(viewId: string): void {
    const v = this.views.get(viewId);
    if (!v) return;
    v.open = false;
    this.emit({ kind: 'view.closed', user: v.user_id, viewId });
  }

  view(viewId: string): EmuView | undefined {
    return this.views.get(viewId);
  }

  homeView(userId: string): EmuView | undefined {
    const id = this.homes.get(userId);
    return id ? this.views.get(id) : undefined;
  }

  // -- inspection -------------------------------------------------------------------------------

  /** A JSON copy of the whole workspace, for the console and for test diagnostics. */
  snapshot(): WorkspaceSnapshot {
    return structuredClone({
      team: { id: this.teamId, domain: this.teamDomain },
      bot: { user_id: this.botUserId, bot_id: this.botId, app_id: this.appId },
      users: [...this.users.values()],
      usergroups: [...this.usergroups.values()],
      channels: [...this.channels.values()],
      views: [...this.views.values()],
      homes: Object.fromEntries(this.homes),
      ephemerals: this.ephemerals,
      responsePosts: this.responsePosts,
      // Metadata only: the bytes are served by the emulator at /files/<id>.
      files: [...this.files.values()].map(({ bytes: _bytes, ...f }) => f),
    });
  }

  private mustChannel(id: string): EmuChannel {
    const ch = this.channels.get(id);
    if (!ch) throw new Error(`no channel ${id}`);
    return ch;
  }

  private seedDefaults(): void {
    for (const p of SEED_PEOPLE) {
      this.addUser({ id: p.id, name: p.name, realName: p.real, email: p.email, title: p.title, admin: p.admin });
    }
    this.addUsergroup({
      id: SRE_LEADS_GROUP_ID,
      handle: 'sre-leads',
      name: 'SRE Leads',
      description: 'Approvers for risky remediation',
      users: ['U0BOB0001', 'U0CAROL01'],
    });
    const humans = SEED_PEOPLE.map((p) => p.id);
    this.createChannel({ id: GENERAL_CHANNEL_ID, name: 'general', creator: 'U0ALICE01', members: [...humans, this.botUserId], isGeneral: true });
    this.createChannel({ id: INCIDENTS_CHANNEL_ID, name: 'incidents', creator: 'U0ALICE01', members: [...humans, this.botUserId] });
  }
}

export interface WorkspaceSnapshot {
  team: { id: string; domain: string };
  bot: { user_id: string; bot_id: string; app_id: string };
  users: EmuUser[];
  usergroups: EmuUsergroup[];
  channels: EmuChannel[];
  views: EmuView[];
  homes: Record<string, string>;
  ephemerals: EmuEphemeral[];
  files: Omit<EmuFile, 'bytes'>[];
  responsePosts: EmuResponsePost[];
}
