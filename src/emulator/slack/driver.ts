import { createHmac, randomBytes } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { SlackEmulator } from './server.js';
import { SOCKET_ACK_TIMEOUT_MS, type EnvelopeType } from './socket-mode.js';
import type { EmuMessage, EmuView } from './types.js';

/**
 * Slack's side of the conversation towards the bot: builds slash commands, block actions, view
 * submissions and Events API callbacks exactly as Slack sends them, signs them with the signing
 * secret (`v0=hex(HMAC-SHA256(secret, "v0:" + ts + ":" + body))`) and POSTs them to the bot's
 * request URL. Trigger ids and response URLs come from the emulator, so the bot's follow-up
 * Web API calls (views.open, response_url posts) are checked against them.
 *
 * With `transport: 'socket'` the same payloads travel as Socket Mode envelopes over the bot's
 * connection(s) to the emulator instead (slash_commands / interactive / events_api); the result
 * is then `{status: 200, body: <ack payload>}`, or `status: 0, timedOut: true` when the bot does
 * not ack within 3 s (where Slack gives up and shows the person an error).
 *
 * Limits: message shortcuts only (no global shortcuts), no enterprise grid fields beyond nulls.
 */
export interface SlackDriverOptions {
  emulator: SlackEmulator;
  /** 'http' (default): signed POSTs to `requestUrl`. 'socket': envelopes over the emulator's Socket Mode connections. */
  transport?: 'http' | 'socket';
  /** The bot's request URL, e.g. `http://127.0.0.1:3000/slack/events` (HTTP transport). */
  requestUrl?: string;
  /** Signs HTTP requests; unused over the socket (Slack does not sign envelopes). */
  signingSecret?: string;
  /** Socket transport: how long Slack waits for an ack (default 3000 ms). */
  ackTimeoutMs?: number;
  /**
   * Socket transport: when an event is not acked in time it is redelivered after each of these
   * delays, with `retry_attempt` 1, 2, … and `retry_reason: 'timeout'` (Slack: immediately, 1 min,
   * 5 min). Default none, like the HTTP transport, which sends retries only when asked.
   */
  eventRetryDelaysMs?: number[];
  /** Milliseconds since epoch used for the signature timestamp (date a request in the past). */
  clock?: () => number;
  /** The slash command name (default `/incident`). */
  command?: string;
  /** The legacy verification token Slack still puts in payloads. */
  verificationToken?: string;
}

export interface DriverResponse {
  status: number;
  /** Parsed JSON when the bot answered JSON, else the text ('' for an empty ack). */
  body: unknown;
  text: string;
  headers: Record<string, string>;
  /** Wall time until the full response arrived. */
  ms: number;
  /**
   * When the request left (epoch ms, fractional): handed to the socket (HTTP), or the envelope
   * delivered (socket transport). What came before (building and signing it) is Slack's work.
   */
  sentAt: number;
  /** Socket transport: no ack arrived within the ack timeout (status is then 0). */
  timedOut?: boolean;
  /** Socket transport: the envelope that carried the request (the last one, after retries). */
  envelopeId?: string;
}

export interface SendOptions {
  /** Sign the request (default true). Headers passed to send() override the computed ones. */
  sign?: boolean;
  /** Sign with this secret instead (a wrong secret forges a bad signature). */
  secret?: string;
  /** Signature timestamp in seconds (default: the driver's clock). */
  timestamp?: number;
  contentType?: string;
}

export interface SlashResult extends DriverResponse {
  triggerId: string;
  responseUrl: string;
}

export type MessageRef = { channel: string; ts: string /** An ephemeral message shown to the clicking user. */; ephemeral?: boolean };
export type ViewRef = { viewId: string };

export interface ClickOptions {
  user: string;
  /** Override the element's value (buttons) or choose an option by value (selects, overflow). */
  value?: string;
  /** Disambiguate when several blocks carry the same action_id. */
  blockId?: string;
  /**
   * The `api_app_id` the payload names (default this emulator's app): another app of the same
   * workspace sharing the signing secret sends its own.
   */
  apiAppId?: string;
}

export type SubmitValues = Record<string, Record<string, string | string[] | null>>;

export interface EventOptions {
  retryNum?: number;
  retryReason?: string;
  /** Reuse an event id (a redelivery); default a fresh one. */
  eventId?: string;
}

export interface EventResult extends DriverResponse {
  eventId: string;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every interactive element in a block list, with the block it sits in. */
function elementsOf(blocks: unknown[]): Array<{ blockId: string; element: Obj; block: Obj }> {
  const out: Array<{ blockId: string; element: Obj; block: Obj }> = [];
  for (const b of blocks) {
    if (!isObj(b)) continue;
    const blockId = typeof b.block_id === 'string' ? b.block_id : '';
    if (isObj(b.accessory)) out.push({ blockId, element: b.accessory, block: b });
    if (isObj(b.element)) out.push({ blockId, element: b.element, block: b });
    if (Array.isArray(b.elements)) for (const e of b.elements) if (isObj(e) && typeof e.action_id === 'string') out.push({ blockId, element: e, block: b });
  }
  return out;
}

function optionsOf(el: Obj): Obj[] {
  const direct = Array.isArray(el.options) ? el.options.filter(isObj) : [];
  const grouped = Array.isArray(el.option_groups)
    ? el.option_groups.filter(isObj).flatMap((g) => (Array.isArray(g.options) ? g.options.filter(isObj) : []))
    : [];
  return [...direct, ...grouped];
}

function optionFor(el: Obj, value: string): Obj {
  const found = optionsOf(el).find((o) => o.value === value);
  if (!found) throw new Error(`SlackDriver: no option with value "${value}" in ${String(el.action_id)}`);
  return found;
}

/** What an element shows before anyone touches it (initial_value, initial_user, initial_option...). */
function initialValueOf(el: Obj): string | string[] | undefined {
  if (typeof el.initial_value === 'string') return el.initial_value;
  for (const k of ['initial_user', 'initial_date', 'initial_time', 'initial_conversation', 'initial_channel'])
    if (typeof el[k] === 'string') return el[k] as string;
  if (isObj(el.initial_option) && typeof el.initial_option.value === 'string') return el.initial_option.value;
  for (const k of ['initial_users', 'initial_conversations', 'initial_channels']) if (Array.isArray(el[k])) return el[k] as string[];
  if (Array.isArray(el.initial_options)) return (el.initial_options as Obj[]).map((o) => String(o.value));
  return undefined;
}

/** A state.values entry the way Slack reports each element type. */
function stateValue(el: Obj, v: string | string[] | null | undefined): Obj {
  const type = String(el.type);
  const one = Array.isArray(v) ? v[0] : v;
  const many = v === null || v === undefined ? [] : Array.isArray(v) ? v : [v];
  switch (type) {
    case 'static_select':
    case 'external_select':
    case 'radio_buttons':
      return { type, selected_option: one == null ? null : optionFor(el, one) };
    case 'multi_static_select':
    case 'multi_external_select':
    case 'checkboxes':
      return { type, selected_options: many.map((x) => optionFor(el, x)) };
    case 'users_select':
      return { type, selected_user: one ?? null };
    case 'multi_users_select':
      return { type, selected_users: many };
    case 'conversations_select':
      return { type, selected_conversation: one ?? null };
    case 'multi_conversations_select':
      return { type, selected_conversations: many };
    case 'channels_select':
      return { type, selected_channel: one ?? null };
    case 'multi_channels_select':
      return { type, selected_channels: many };
    case 'datepicker':
      return { type, selected_date: one ?? null };
    case 'timepicker':
      return { type, selected_time: one ?? null };
    default:
      // plain_text_input, email_text_input, url_text_input, number_input
      return { type, value: one ?? null };
  }
}

export class SlackDriver {
  private readonly emu: SlackEmulator;
  private readonly requestUrl: string;
  private readonly secret: string;
  private readonly clock: () => number;
  readonly command: string;
  private readonly verificationToken: string;
  readonly transport: 'http' | 'socket';
  private readonly ackTimeoutMs: number;
  private readonly eventRetryDelaysMs: number[];

  /** While a batch is being built, each request waits here, built and signed, until all are (`batch`). */
  private held: Promise<void> | null = null;

  private readonly httpAgent = new HttpAgent({ keepAlive: true });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true });

  constructor(opts: SlackDriverOptions) {
    this.emu = opts.emulator;
    this.transport = opts.transport ?? 'http';
    if (this.transport === 'http' && (!opts.requestUrl || !opts.signingSecret)) {
      throw new Error('SlackDriver: the HTTP transport needs requestUrl and signingSecret');
    }
    this.requestUrl = opts.requestUrl ?? '';
    this.secret = opts.signingSecret ?? '';
    this.ackTimeoutMs = opts.ackTimeoutMs ?? SOCKET_ACK_TIMEOUT_MS;
    this.eventRetryDelaysMs = opts.eventRetryDelaysMs ?? [];
    this.clock = opts.clock ?? Date.now;
    this.command = opts.command ?? '/incident';
    this.verificationToken = opts.verificationToken ?? 'legacyVerificationTok3n';
  }

  /** The two headers Slack signs a request with. */
  sign(body: string, opts: { timestamp?: number; secret?: string } = {}): Record<string, string> {
    const ts = opts.timestamp ?? Math.floor(this.clock() / 1000);
    const hex = createHmac('sha256', opts.secret ?? this.secret)
      .update(`v0:${ts}:${body}`)
      .digest('hex');
    return { 'x-slack-request-timestamp': String(ts), 'x-slack-signature': `v0=${hex}` };
  }

  /**
   * Every HTTP request `fn` starts is built and signed first, and then all of them leave together,
   * as a burst from Slack arrives: each request made by a sender of its own. A request's time
   * (`ms`) starts as it leaves, not behind the building and signing of the others in the burst,
   * which is the load generator's work, done on the same cores as the server's (the ack bench).
   * `fn` must start its requests without awaiting anything first (as `Promise.all` over `slash`,
   * `click` or `send` does).
   */
  batch<T>(fn: () => Promise<T>): Promise<T> {
    let release!: () => void;
    this.held = new Promise((r) => (release = r));
    try {
      return fn();
    } finally {
      this.held = null;
      release();
    }
  }

  /** POST a raw body; signed unless `sign: false`; `headers` override anything computed. */
  async send(body: string, headers: Record<string, string> = {}, opts: SendOptions = {}): Promise<DriverResponse> {
    if (!this.requestUrl) throw new Error('SlackDriver: send() is HTTP only; this driver uses the socket transport');
    const signed = opts.sign === false ? {} : this.sign(body, opts);
    const all: Record<string, string> = {
      'content-type': opts.contentType ?? 'application/x-www-form-urlencoded',
      'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
      ...signed,
      ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
    };
    if (this.held) await this.held;
    const started = performance.now();
    const res = await this.post(body, all);
    const text = res.text;
    const ms = performance.now() - started;
    let parsed: unknown = text;
    if (text !== '') {
      try {
        parsed = JSON.parse(text) as unknown;
      } catch {
        parsed = text;
      }
    }
    return { status: res.status, body: parsed, text, headers: res.headers, ms, sentAt: res.sentAt };
  }

  /**
   * One POST over kept-alive connections, as Slack's senders keep theirs. node:http, not fetch: the
   * driver is the load generator of the benchmarks, and fetch's streams cost it about a millisecond
   * of its own CPU per request, which it shares with the emulator and the fakes.
   */
  private post(body: string, headers: Record<string, string>): Promise<{ status: number; text: string; headers: Record<string, string>; sentAt: number }> {
    const url = new URL(this.requestUrl);
    const tls = url.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (tls ? httpsRequest : httpRequest)(
        url,
        { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent: tls ? this.httpsAgent : this.httpAgent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: flatHeaders(res.headers), sentAt }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      const sentAt = performance.timeOrigin + performance.now();
      req.end(body);
    });
  }

  private user(id: string): { id: string; username: string; name: string; team_id: string } {
    const u = this.emu.state.users.get(id);
    if (!u) throw new Error(`SlackDriver: unknown user ${id}`);
    return { id: u.id, username: u.name, name: u.name, team_id: this.emu.teamId };
  }

  private channelName(id: string): string {
    return this.emu.state.channel(id)?.name ?? 'unknown';
  }

  private team(): { id: string; domain: string } {
    return { id: this.emu.teamId, domain: this.emu.state.teamDomain };
  }

  private sendPayload(payload: Obj): Promise<DriverResponse> {
    if (this.transport === 'socket') return this.envelope('interactive', payload);
    return this.send(new URLSearchParams({ payload: JSON.stringify(payload) }).toString());
  }

  /**
   * One Socket Mode envelope, answered like an HTTP response so callers need not care which
   * transport ran: the ack payload is the body (`{}` for a bare ack, whose text is '' as over HTTP).
   */
  private async envelope(type: EnvelopeType, payload: Obj, o: { retryAttempt?: number; retryReason?: string } = {}): Promise<DriverResponse> {
    const sentAt = performance.timeOrigin + performance.now();
    const r = await this.emu.socketMode.deliver(type, payload, { ...o, ackTimeoutMs: this.ackTimeoutMs });
    if (!r.acked) return { status: 0, body: null, text: '', headers: {}, ms: r.ms, sentAt, timedOut: true, envelopeId: r.envelopeId };
    const text = Object.keys(r.payload).length === 0 ? '' : JSON.stringify(r.payload);
    return { status: 200, body: r.payload, text, headers: {}, ms: r.ms, sentAt, envelopeId: r.envelopeId };
  }

  /** A slash command, form-encoded in Slack's field order, with a fresh trigger id and response URL. */
  async slash(text: string, o: { user: string; channel: string; command?: string }): Promise<SlashResult> {
    const user = this.user(o.user);
    const triggerId = this.emu.issueTrigger(o.user);
    const responseUrl = this.emu.issueResponseUrl({ channel: o.channel, user: o.user });
    const form = new URLSearchParams({
      token: this.verificationToken,
      team_id: this.emu.teamId,
      team_domain: this.emu.state.teamDomain,
      channel_id: o.channel,
      channel_name: this.channelName(o.channel),
      user_id: user.id,
      user_name: user.username,
      command: o.command ?? this.command,
      text,
      api_app_id: this.emu.appId,
      is_enterprise_install: 'false',
      response_url: responseUrl,
      trigger_id: triggerId,
    });
    const res = this.transport === 'socket' ? await this.envelope('slash_commands', Object.fromEntries(form)) : await this.send(form.toString());
    return { ...res, triggerId, responseUrl };
  }

  /**
   * Click an element on a message or a view. The element must exist there (a person cannot press
   * a button that is not shown): the driver throws otherwise, naming what it looked for.
   */
  async click(target: MessageRef | ViewRef, actionId: string, o: ClickOptions): Promise<DriverResponse & { triggerId: string }> {
    const user = this.user(o.user);
    const triggerId = this.emu.issueTrigger(o.user);
    let blocks: unknown[];
    let context: Obj;
    if ('viewId' in target) {
      const view = this.emu.state.view(target.viewId);
      if (!view?.open) throw new Error(`SlackDriver: no open view ${target.viewId}`);
      blocks = view.blocks;
      context = { container: { type: 'view', view_id: view.id }, view: this.viewPayload(view) };
    } else if (target.ephemeral) {
      // Buttons on an ephemeral message: Slack sends no `message`, only the container and a response_url.
      const eph = this.emu.state.ephemeralsFor(o.user, target.channel).find((e) => e.ts === target.ts);
      if (!eph) throw new Error(`SlackDriver: no ephemeral message ${target.channel}/${target.ts} for ${o.user}`);
      blocks = eph.blocks ?? [];
      context = {
        container: { type: 'message', message_ts: eph.ts, channel_id: target.channel, is_ephemeral: true },
        channel: { id: target.channel, name: this.channelName(target.channel) },
        response_url: this.emu.issueResponseUrl({ channel: target.channel, user: o.user, messageTs: null }),
      };
    } else {
      const msg = this.emu.state.message(target.channel, target.ts);
      if (!msg) throw new Error(`SlackDriver: no message ${target.channel}/${target.ts}`);
      blocks = msg.blocks ?? [];
      const responseUrl = this.emu.issueResponseUrl({ channel: target.channel, user: o.user, messageTs: msg.ts });
      context = {
        container: {
          type: 'message',
          message_ts: msg.ts,
          channel_id: target.channel,
          is_ephemeral: false,
          ...(msg.thread_ts ? { thread_ts: msg.thread_ts } : {}),
        },
        channel: { id: target.channel, name: this.channelName(target.channel) },
        message: structuredClone(msg) satisfies EmuMessage,
        response_url: responseUrl,
      };
    }
    const hit = elementsOf(blocks).find((e) => e.element.action_id === actionId && (o.blockId === undefined || e.blockId === o.blockId));
    if (!hit) throw new Error(`SlackDriver: no element with action_id "${actionId}"${o.blockId ? ` in block "${o.blockId}"` : ''}`);
    const el = hit.element;
    const action: Obj = {
      action_id: actionId,
      block_id: hit.blockId,
      type: el.type,
      action_ts: (this.clock() / 1000).toFixed(6),
    };
    if (el.type === 'button') {
      action.text = el.text;
      if (o.value !== undefined || el.value !== undefined) action.value = o.value ?? el.value;
      if (el.style !== undefined) action.style = el.style;
    } else if (o.value !== undefined) {
      Object.assign(action, stateValue(el, o.value));
    }
    const payload: Obj = {
      type: 'block_actions',
      user,
      api_app_id: o.apiAppId ?? this.emu.appId,
      token: this.verificationToken,
      trigger_id: triggerId,
      team: this.team(),
      enterprise: null,
      is_enterprise_install: false,
      state: { values: {} },
      ...context,
      actions: [action],
    };
    return { ...(await this.sendPayload(payload)), triggerId };
  }

  /**
   * A message shortcut ("More actions" on a message), sent as Slack does: `type: message_action`
   * with the shortcut's `callback_id`, the message, the channel, a trigger id and a response_url.
   */
  async messageShortcut(ref: MessageRef, callbackId: string, o: { user: string }): Promise<DriverResponse & { triggerId: string }> {
    const msg = this.emu.state.message(ref.channel, ref.ts);
    if (!msg) throw new Error(`SlackDriver: no message ${ref.channel}/${ref.ts}`);
    const triggerId = this.emu.issueTrigger(o.user);
    const payload: Obj = {
      type: 'message_action',
      token: this.verificationToken,
      action_ts: (this.clock() / 1000).toFixed(6),
      team: this.team(),
      user: this.user(o.user),
      channel: { id: ref.channel, name: this.channelName(ref.channel) },
      is_enterprise_install: false,
      enterprise: null,
      callback_id: callbackId,
      trigger_id: triggerId,
      response_url: this.emu.issueResponseUrl({ channel: ref.channel, user: o.user, messageTs: null }),
      message_ts: msg.ts,
      message: structuredClone(msg) satisfies EmuMessage,
    };
    return { ...(await this.sendPayload(payload)), triggerId };
  }

  private viewPayload(view: EmuView): Obj {
    const { user_id: _u, open: _o, ...rest } = view;
    return structuredClone(rest);
  }

  /**
   * Submit a modal. `values` is `{ [blockId]: { [actionId]: value } }`; each becomes the state
   * entry Slack sends for that element's type. Input blocks not mentioned are sent empty, as
   * Slack does. The bot's ack then acts on the view like Slack: empty → closed,
   * `update` → replaced, `push` → pushed, `clear` → the whole stack closed, `errors` → left open.
   */
  async submitView(viewId: string, values: SubmitValues, o: { user: string }): Promise<DriverResponse> {
    const view = this.emu.state.view(viewId);
    if (!view?.open) throw new Error(`SlackDriver: no open view ${viewId}`);
    const user = this.user(o.user);
    const stateValues: Record<string, Record<string, unknown>> = {};
    const given = new Set<string>();
    for (const { blockId, element, block } of elementsOf(view.blocks)) {
      if (block.type !== 'input') continue;
      const actionId = String(element.action_id ?? '');
      const v = values[blockId]?.[actionId];
      if (v !== undefined) given.add(`${blockId}/${actionId}`);
      // An input the person left alone is reported with its initial value, as Slack does.
      stateValues[blockId] = { ...(stateValues[blockId] ?? {}), [actionId]: stateValue(element, v === undefined ? initialValueOf(element) : v) };
    }
    for (const [blockId, byAction] of Object.entries(values)) {
      for (const actionId of Object.keys(byAction)) {
        if (!given.has(`${blockId}/${actionId}`)) {
          throw new Error(`SlackDriver: view ${viewId} has no input "${blockId}/${actionId}"`);
        }
      }
    }
    view.state = { values: stateValues };
    const payload: Obj = {
      type: 'view_submission',
      team: this.team(),
      user,
      api_app_id: this.emu.appId,
      token: this.verificationToken,
      trigger_id: this.emu.issueTrigger(o.user),
      view: this.viewPayload(view),
      response_urls: [],
      is_enterprise_install: false,
      enterprise: null,
    };
    const res = await this.sendPayload(payload);
    if (res.status === 200) this.applyViewAck(view, res.body);
    return res;
  }

  private applyViewAck(view: EmuView, body: unknown): void {
    const state = this.emu.state;
    const action = isObj(body) ? body.response_action : undefined;
    if (action === 'errors') return;
    if (action === 'update' && isObj(body) && isObj(body.view)) {
      state.putView({ ...view, ...this.viewFields(body.view), hash: `${state.nowSec()}.${randomBytes(4).toString('hex')}` }, 'view.updated');
      return;
    }
    if (action === 'push' && isObj(body) && isObj(body.view)) {
      const id = state.newId('V');
      state.putView({ ...view, ...this.viewFields(body.view), id, previous_view_id: view.id, state: { values: {} } }, 'view.opened');
      return;
    }
    if (action === 'clear') {
      for (const v of state.views.values()) if (v.root_view_id === view.root_view_id && v.open) state.closeView(v.id);
      return;
    }
    state.closeView(view.id);
  }

  private viewFields(v: Obj): Partial<EmuView> {
    return {
      blocks: Array.isArray(v.blocks) ? v.blocks : [],
      ...(v.title !== undefined ? { title: v.title } : {}),
      ...(v.submit !== undefined ? { submit: v.submit } : {}),
      ...(v.close !== undefined ? { close: v.close } : {}),
      private_metadata: typeof v.private_metadata === 'string' ? v.private_metadata : '',
      callback_id: typeof v.callback_id === 'string' ? v.callback_id : '',
    };
  }

  /** An Events API callback around `event`; `retryNum` adds Slack's retry headers. */
  async event(event: Obj, o: EventOptions = {}): Promise<EventResult> {
    const eventId = o.eventId ?? `Ev${randomBytes(5).toString('hex').toUpperCase()}`;
    const now = this.clock();
    const envelope = {
      token: this.verificationToken,
      team_id: this.emu.teamId,
      context_team_id: this.emu.teamId,
      context_enterprise_id: null,
      api_app_id: this.emu.appId,
      event: { event_ts: (now / 1000).toFixed(6), ...event },
      type: 'event_callback',
      event_id: eventId,
      event_time: Math.floor(now / 1000),
      authorizations: [{ enterprise_id: null, team_id: this.emu.teamId, user_id: this.emu.botUserId, is_bot: true, is_enterprise_install: false }],
      is_ext_shared_channel: false,
      event_context: `4-${Buffer.from(eventId).toString('base64url')}`,
    };
    if (this.transport === 'socket') {
      // Slack redelivers an unacked event as a new envelope with the same event_id.
      let attempt = o.retryNum;
      let res = await this.envelope('events_api', envelope, attempt !== undefined ? { retryAttempt: attempt, retryReason: o.retryReason ?? 'timeout' } : {});
      for (const delay of this.eventRetryDelaysMs) {
        if (!res.timedOut) break;
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        attempt = (attempt ?? 0) + 1;
        res = await this.envelope('events_api', envelope, { retryAttempt: attempt, retryReason: 'timeout' });
      }
      return { ...res, eventId };
    }
    const headers: Record<string, string> = {};
    if (o.retryNum !== undefined) {
      headers['x-slack-retry-num'] = String(o.retryNum);
      headers['x-slack-retry-reason'] = o.retryReason ?? 'http_timeout';
    }
    const res = await this.send(JSON.stringify(envelope), headers, { contentType: 'application/json' });
    return { ...res, eventId };
  }

  /** Slack's URL verification handshake; a correct bot echoes the challenge. */
  urlVerification(challenge = randomBytes(16).toString('hex')): Promise<DriverResponse> {
    // Socket Mode has no request URL to verify; send() says so.
    const body = JSON.stringify({ token: this.verificationToken, challenge, type: 'url_verification' });
    return this.send(body, {}, { contentType: 'application/json' });
  }

  /** A person adds a reaction: recorded in the workspace, then `reaction_added` is delivered. */
  async reaction(channel: string, ts: string, user: string, name: string): Promise<EventResult> {
    const msg = this.emu.state.message(channel, ts);
    if (!msg) throw new Error(`SlackDriver: no message ${channel}/${ts}`);
    this.emu.state.addReaction(channel, ts, user, name);
    return this.event({
      type: 'reaction_added',
      user,
      reaction: name,
      item: { type: 'message', channel, ts },
      ...(msg.user ? { item_user: msg.user } : {}),
    });
  }

  /** A person posts in a channel (or a thread): recorded, then the `message` event is delivered. */
  async userMessage(channel: string, user: string, text: string, o: { threadTs?: string } = {}): Promise<EventResult & { ts: string }> {
    this.user(user);
    const msg = this.emu.state.postMessage(channel, { user, text, ...(o.threadTs ? { threadTs: o.threadTs } : {}) });
    const res = await this.event({
      type: 'message',
      channel,
      user,
      text,
      ts: msg.ts,
      ...(msg.thread_ts ? { thread_ts: msg.thread_ts } : {}),
      team: this.emu.teamId,
      channel_type: this.emu.state.channel(channel)?.is_private ? 'group' : 'channel',
      event_ts: msg.ts,
    });
    return { ...res, ts: msg.ts };
  }

  /** A person opens the app's Home tab. */
  appHomeOpened(user: string): Promise<EventResult> {
    this.user(user);
    const home = this.emu.state.homeView(user);
    return this.event({
      type: 'app_home_opened',
      user,
      channel: `D${user.slice(1)}`,
      tab: 'home',
      ...(home ? { view: this.viewPayload(home) } : {}),
    });
  }
}

/** Response headers as fetch gives them: one string per name, repeated ones joined. */
function flatHeaders(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}
