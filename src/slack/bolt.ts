import { randomUUID } from 'node:crypto';
import { unescape as qsUnescape } from 'node:querystring';
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App, HTTPReceiver, ViewSubmitAction } from '@slack/bolt';
// Bolt's own modules, not its index: the index also loads the Express and AWS Lambda receivers
// (express and its middleware: ~1.7 MB of heap for the life of the process) that this bot never
// uses. The package has no `exports` map, so these paths are ordinary files of the published
// package; the typecheck fails if a Bolt upgrade moves them. LogLevel is @slack/logger's enum,
// which @slack/web-api re-exports as Bolt's index does.
import boltApp from '@slack/bolt/dist/App.js';
import httpReceiver from '@slack/bolt/dist/receivers/HTTPReceiver.js';
import type { BufferedIncomingMessage } from '@slack/bolt/dist/receivers/BufferedIncomingMessage.js';
import { bufferIncomingMessage, parseHTTPRequestBody } from '@slack/bolt/dist/receivers/HTTPModuleFunctions.js';
import { LogLevel } from '@slack/web-api';
import { slackLogger, type SlackChat } from '../adapters/slack/chat.js';
import { leanFetch } from '../adapters/slack/web-api.js';
import type { SlackConnection } from '../config.js';
import { ChatError } from '../errors.js';
import { ackAfterFirstCall, afterAcks, noteArrival } from './ack.js';
import { slackSignatureValid } from './signature.js';
import { COMMAND } from './ids.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Clock } from '../ports/clock.js';
import type { Store } from '../ports/store.js';

export interface BoltParts {
  bolt: App;
  /** HTTP mode: the receiver whose request listener serves `/slack/events`. */
  receiver: HTTPReceiver | null;
  /** HTTP mode: what serves `/slack/events` (clicks and `/incident` acked at once, the rest through the receiver). */
  requestListener: ((req: IncomingMessage, res: ServerResponse) => void) | null;
}

/**
 * Bolt for the configured connection: an HTTP receiver (acks before the listener finishes, 2.9 s
 * unhandled-request timeout) or Socket Mode (acks timed into the same histogram the HTTP server
 * feeds). Every request first passes the workspace and app checks and the replay check; then
 * listeners. In HTTP mode clicks and `/incident` commands are acked before that (`ackFirst`).
 */
export function buildBolt(
  slack: SlackConnection,
  opts: {
    slackApiUrl: string;
    logger: Logger;
    metrics: Metrics;
    chat: SlackChat;
    store: Store;
    clock: Clock;
    /**
     * From one parse of an `/incident`'s text: the answer its ack carries when it needs no I/O (help,
     * a parse error), else null; and whether its work starts before its ack is written (a
     * declaration, whose channel is what every responder waits for).
     */
    commandEarly: (text: string) => CommandEarly;
    /**
     * The ack of a modal submitted with this callback id and these values, when it needs no I/O:
     * the field errors, or null (close it). Undefined: not acked early (the receiver answers).
     */
    viewAck?: (callbackId: string, values: ViewValues) => object | null | undefined;
    /** Whether the work of a modal submitted with this callback id (acked early and empty) starts before its ack, as a declaration's does. */
    viewWorkFirst?: (callbackId: string) => boolean;
  },
): BoltParts {
  const { logger, metrics, chat, store, clock, slackApiUrl } = opts;
  const boltLogger = slackLogger(logger.child({ component: 'bolt' }));
  let receiver: HTTPReceiver | null = null;
  let bolt: App;
  if (slack.mode === 'socket') {
    bolt = new boltApp.default({
      token: slack.botToken,
      appToken: slack.appToken,
      socketMode: true,
      logger: boltLogger,
      logLevel: LogLevel.WARN,
      clientOptions: { slackApiUrl, fetch: leanFetch },
      installerOptions: { clientOptions: { slackApiUrl } },
      convoStore: false,
      deferInitialization: true,
    });
    socketAcks(bolt, metrics, logger, clock);
  } else {
    receiver = new httpReceiver.default({
      signingSecret: slack.signingSecret,
      endpoints: '/slack/events',
      processBeforeResponse: false,
      logger: boltLogger,
      logLevel: LogLevel.WARN,
      unhandledRequestTimeoutMillis: 2900,
      // Runs after the signature is verified: the signature goes to the context, where the
      // replay check below finds it.
      // The arrival time too (stamped by ackFirst as the request came in): a modal's trigger_id is
      // good for ~3 s from then (adapters/slack/chat.ts, TRIGGER_BUDGET_MS).
      customPropertiesExtractor: (req) => ({
        slackSignature: String(req.headers['x-slack-signature'] ?? ''),
        receivedAt: arrivals.get(req) ?? clock.now().getTime(),
      }),
    });
    // convoStore off: the bot keeps no per-conversation state in Bolt (the store is ours), and the
    // middleware would cost every request a lookup before the ack.
    bolt = new boltApp.default({
      token: slack.botToken,
      receiver,
      logger: boltLogger,
      logLevel: LogLevel.WARN,
      convoStore: false,
      clientOptions: { slackApiUrl, retryConfig: { retries: 2 }, fetch: leanFetch },
      deferInitialization: true,
    });
  }
  bolt.error(async (err) => {
    logger.error({ err, errorId: randomUUID().slice(0, 8) }, 'unhandled error in a Slack listener');
  });
  bolt.use(async (args) => {
    const foreign = foreignRequest(args.body as SlackBody, chat);
    if (foreign) {
      // A request for another workspace (a shared signing secret, a misrouted app) changes nothing
      // here. Nor does one for another app (a signing secret shared between apps of one workspace):
      // its button ids and commands may look like ours, but its user never saw our messages.
      logger.warn(foreign.fields, foreign.message);
      if ('ack' in args && typeof args.ack === 'function') await (args.ack as () => Promise<void>)();
      return;
    }
    // A replayed request (same signature within Slack's five-minute window) is acknowledged and
    // ignored: no second effect. The store holds the signatures, so every replica sees them.
    const sig = (args.context as { slackSignature?: string }).slackSignature;
    if (sig && !(await store.markProcessed(`slack-sig:${sig.slice(0, 80)}`, clock.now()))) {
      logger.warn('replayed Slack request ignored');
      if ('ack' in args && typeof args.ack === 'function') await (args.ack as () => Promise<void>)();
      return;
    }
    await args.next();
  });
  const requestListener =
    receiver && slack.mode !== 'socket'
      ? ackFirst({
          bolt,
          receiver,
          signingSecret: slack.signingSecret,
          chat,
          logger,
          clock,
          commandEarly: opts.commandEarly,
          viewAck: opts.viewAck ?? (() => undefined),
          viewWorkFirst: opts.viewWorkFirst ?? (() => false),
        })
      : null;
  return { bolt, receiver, requestListener };
}

/** What the early HTTP ack does with an `/incident` command (`commandEarly`). */
export interface CommandEarly {
  answer: object | null;
  workFirst: boolean;
}

type SlackBody = { api_app_id?: string; team_id?: string; team?: { id?: string } | null };
type ViewValues = ViewSubmitAction['view']['state']['values'];

/**
 * Whether a request is for another workspace or another app than ours, with the log line saying
 * which. The ids are cached (auth.test and bots.info at start); before they are known nothing is
 * refused on them.
 */
function foreignRequest(body: SlackBody, chat: SlackChat): { fields: Record<string, string>; message: string } | null {
  const team = body.team_id ?? body.team?.id;
  const ours = chat.teamId();
  if (ours && team && team !== ours) return { fields: { team }, message: 'Slack request for another workspace refused' };
  const app = body.api_app_id;
  const ourApp = chat.appId();
  if (ourApp && app && app !== ourApp) return { fields: { apiAppId: app }, message: 'Slack request for another app refused' };
  return null;
}

/** Slack's interactive payloads are a few KB; Bolt's own limit is 4 MB. */
const BODY_LIMIT = 4 * 1024 * 1024;

/**
 * Button clicks (`block_actions`) and `/incident` commands are acked as soon as Bolt's own
 * signature check (`slackSignatureValid`: Bolt's rules, the HMAC and the five-minute window) has passed, and handed
 * to Bolt afterwards, one per loop turn (`afterAcks`) with a no-op `ack`. Under a burst each ack
 * then costs about what a bare server's does, and none waits behind the listener chain and store
 * work of the ones before it. The workspace, app and replay checks still run in Bolt's middleware
 * before any listener, so a replayed or foreign request is acked and has no effect, as before.
 *
 * - A click needs nothing in its ack but a 200: Slack ignores the body. Nor does it need its
 *   payload parsed first: a body that begins as a `block_actions` payload (`looksLikeClick`) is
 *   acked once its signature holds, and parsed after the ack, by the receiver's parser, with the
 *   rest of its work. That parse (querystring, then JSON carrying the whole message the button is
 *   on) was a third of a click's CPU before its ack. A signed body that turns out not to be a
 *   `block_actions` object is ignored with a warning (Slack sends no such thing).
 * - A command's ack may carry its answer. The ones that need no I/O (help, a parse error:
 *   `commandEarly`) are answered in the ack right here and not handed to Bolt at all: they have no
 *   effect to guard, so a replayed one is simply answered again. Every other command is acked
 *   empty, as its listener did (its answer follows through `respond()`). A command for another
 *   workspace or app is checked here first (the ids are cached) and goes through the receiver,
 *   whose middleware refuses it, so it never gets our help text.
 *
 * - A modal submission whose ack needs no I/O (`viewAck`: the declare modal, whose ack is its
 *   field errors or nothing) likewise: errors are answered here and not handed to Bolt; a valid
 *   one is acked empty (the modal closes) and handed to Bolt. Checked for another workspace or app
 *   first, as a command is.
 *
 * Everything else (other view submissions, events, options, shortcuts), a request that fails the
 * check, and `ssl_check` go through the receiver as before, with the body already read: Bolt
 * answers them and logs the refusals.
 */
function ackFirst(o: {
  bolt: App;
  receiver: HTTPReceiver;
  signingSecret: string;
  chat: SlackChat;
  logger: Logger;
  clock: Clock;
  commandEarly: (text: string) => CommandEarly;
  viewAck: (callbackId: string, values: ViewValues) => object | null | undefined;
  viewWorkFirst: (callbackId: string) => boolean;
}): (req: IncomingMessage, res: ServerResponse) => void {
  const { bolt, receiver, signingSecret, chat, logger, clock, commandEarly, viewAck, viewWorkFirst } = o;
  return (req, res) => {
    noteArrival();
    arrivals.set(req, clock.now().getTime());
    // Bolt's own buffering (raw-body): it stops reading at the limit instead of draining the rest,
    // and the receiver reads a body already buffered from `rawBody` (as on serverless platforms).
    bufferIncomingMessage(req, BODY_LIMIT).then(
      (buffered) => handle(buffered, res),
      (err: { status?: number }) => {
        if (err?.status !== 413) return void res.destroy();
        res.writeHead(413, { 'content-type': 'application/json', connection: 'close' }).end('{"ok":false,"error":"body too large"}');
      },
    );
  };
  function handle(req: BufferedIncomingMessage, res: ServerResponse): void {
    const text = req.rawBody.toString();
    const signature = String(req.headers['x-slack-signature'] ?? '');
    const timestamp = Number(req.headers['x-slack-request-timestamp']);
    // Slack's wall clock, not the injected one (see slackSignatureValid and server.ts).
    const signed = () => slackSignatureValid({ secret: signingSecret, body: text, signature, timestamp, nowMs: Date.now() });
    if (looksLikeClick(req, text)) {
      if (!signed()) return receiver.requestListener(req, res);
      res.writeHead(200).end();
      afterAcks(() => {
        // The payload is parsed here, after the ack, by the receiver's own parser.
        const body = clickBody(req);
        if (body) dispatch('click', body, signature, arrivals.get(req));
        else logger.warn('a signed request that looked like a click is not one: ignored');
      });
      return;
    }
    const early = ackableEarly(req, viewAck);
    if (early === null || !signed() || (early.kind !== 'click' && foreignRequest(early.body, chat))) {
      receiver.requestListener(req, res);
      return;
    }
    // One parse of a command's text decides both what its ack carries and when it is written.
    const command = early.kind === 'command' ? commandEarly(typeof early.body.text === 'string' ? early.body.text : '') : null;
    const answer = command ? command.answer : early.kind === 'view' ? early.ack : null;
    if (answer) {
      // With its length, the answer goes out in one write with the headers (without, Node sends it
      // chunked: three buffers through writev, ~50 µs more per ack on loopback here).
      const body = JSON.stringify(answer);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
      return;
    }
    const workFirst = command ? command.workFirst : early.kind === 'view' && viewWorkFirst(String((early.body.view as { callback_id?: unknown }).callback_id));
    if (workFirst) {
      // A declaration: its work starts now, and the ack follows its first Slack call (the channel)
      // onto the wire instead of going ahead of it. Writing the ack and waiting a loop turn for the
      // work (afterAcks) took 0.6–1.3 ms at the median before `conversations.create` left, up to
      // 4.8 (marks in the declare bench); the ack is still written within about a loop turn.
      dispatch(early.kind, early.body, signature, arrivals.get(req));
      void ackAfterFirstCall().then(() => {
        if (!res.destroyed) res.writeHead(200).end();
      });
      return;
    }
    res.writeHead(200).end();
    afterAcks(() => {
      dispatch(early.kind, early.body, signature, arrivals.get(req));
    });
  }
  function dispatch(kind: 'click' | 'command' | 'view', body: Record<string, unknown>, signature: string, receivedAt: number | undefined): void {
    const customProperties = { slackSignature: signature, receivedAt: receivedAt ?? clock.now().getTime(), ackedEarly: true };
    bolt
      .processEvent({ body, ack: async () => undefined, retryNum: undefined, retryReason: undefined, customProperties })
      .catch((err: unknown) => logger.error({ err, kind }, 'a Slack request failed after its ack'));
  }
}

/**
 * When each HTTP request reached the bot (epoch ms, the injected clock), for the listeners as
 * `context.receivedAt` (see `receivedAt` in listeners/answers.ts). Keyed by the request object,
 * which the receiver is handed buffered but unchanged.
 */
const arrivals = new WeakMap<IncomingMessage, number>();

/**
 * Whether a form body is a `block_actions` payload, from its first bytes: Slack's payload JSON
 * begins with its `type`. Parsing the payload (querystring, then JSON that carries the whole
 * message the button is on, several KB) is then left until after the ack (`clickBody`). A body that
 * does not begin so is classified by the full parse before the ack (`ackableEarly`), as before.
 */
function looksLikeClick(req: BufferedIncomingMessage, text: string): boolean {
  if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') return false;
  // Cut before a partial `%XX` escape: decoding one throws inside qsUnescape, whose fallback after
  // the throw cost ~40 µs per click before its ack (CPU profile of the ack bench), ten times the decode.
  return qsUnescape(text.slice(0, CLICK_HEAD).replace(PARTIAL_ESCAPE, '')).startsWith(CLICK_START);
}
const CLICK_START = 'payload={"type":"block_actions",';
/** Enough of the encoded body for CLICK_START even if every character after `payload=` is escaped. */
const CLICK_HEAD = 'payload='.length + 3 * (CLICK_START.length - 'payload='.length);
const PARTIAL_ESCAPE = /%[0-9A-Fa-f]?$/;
/** The click's payload, parsed as the receiver parses it; null if it is not a `block_actions` object after all. */
function clickBody(req: BufferedIncomingMessage): (Record<string, unknown> & SlackBody) | null {
  try {
    const body = parseHTTPRequestBody(req) as unknown;
    return body && typeof body === 'object' && (body as { type?: unknown }).type === 'block_actions' ? (body as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * A form-encoded `block_actions` click, `/incident` command or modal submission whose ack
 * `viewAck` knows, parsed by Bolt's receiver's own parser (so both paths read the same body the
 * same way), or null for any other request.
 */
function ackableEarly(
  req: BufferedIncomingMessage,
  viewAck: (callbackId: string, values: ViewValues) => object | null | undefined,
):
  | { kind: 'click' | 'command'; body: Record<string, unknown> & SlackBody }
  | { kind: 'view'; body: Record<string, unknown> & SlackBody; ack: object | null }
  | null {
  if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') return null;
  let body: unknown;
  try {
    body = parseHTTPRequestBody(req);
  } catch {
    return null; // a `payload` that is not JSON: the receiver answers it
  }
  if (!body || typeof body !== 'object') return null;
  const form = body as Record<string, unknown>;
  if (form.type === 'block_actions') return { kind: 'click', body: form };
  if (form.type === 'view_submission') {
    const view = form.view as { callback_id?: unknown; state?: { values?: unknown } } | undefined;
    const values = view?.state?.values;
    if (typeof view?.callback_id !== 'string' || !values || typeof values !== 'object') return null;
    let ack: object | null | undefined;
    try {
      ack = viewAck(view.callback_id, values as ViewValues);
    } catch {
      return null; // values not shaped as Slack sends them: the receiver and the listener answer
    }
    return ack === undefined ? null : { kind: 'view', body: form, ack };
  }
  if (form.command !== COMMAND || form.ssl_check !== undefined) return null;
  // Repeated fields come back as arrays; Bolt's listeners and ours read strings, and Slack sends each once.
  if (Object.values(form).some((v) => typeof v !== 'string')) return null;
  return { kind: 'command', body: form };
}

/**
 * In HTTP mode the server times each request to its ack; over a socket there is no HTTP request,
 * so the same histogram is fed here, from the envelope's arrival to its ack.
 *
 * The envelope's arrival (the injected clock, as the receiver hands it to Bolt) goes into its
 * context as `receivedAt`, as `ackFirst` stamps an HTTP request's: a modal's trigger_id is good for
 * ~3 s from then (adapters/slack/chat.ts, TRIGGER_BUDGET_MS), and an envelope that waited behind
 * others before its listener ran must not count as fresh from the listener's start.
 *
 * A click no listener acked (an action id the bot does not know: a button from an older version, a
 * message of another app's, a hand-made payload) is acked once Bolt is done with it: in HTTP mode
 * `ackFirst` acks every click, but over a socket an unacked envelope makes Slack show the person
 * an error. Logged at debug: it is not the bot's fault and nothing was done.
 */
function socketAcks(bolt: App, metrics: Metrics, logger: Logger, clock: Clock): void {
  const process = bolt.processEvent.bind(bolt);
  bolt.processEvent = async (event) => {
    const started = performance.now();
    event.customProperties = { ...event.customProperties, receivedAt: clock.now().getTime() };
    const ack = event.ack;
    let acked = false;
    event.ack = async (response) => {
      acked = true;
      await ack(response);
      metrics.ackSeconds.observe({ kind: 'slack' }, (performance.now() - started) / 1000);
      metrics.slackRequests.inc({ kind: 'slack', outcome: 'acked' });
    };
    try {
      return await process(event);
    } finally {
      const body = event.body as { type?: unknown; actions?: { action_id?: unknown }[] };
      if (!acked && body.type === 'block_actions') {
        logger.debug({ actionIds: (body.actions ?? []).map((a) => String(a.action_id)) }, 'a click no listener handled was acked');
        await event.ack();
      }
    }
  };
}

/**
 * A start-up call to Slack that failed, as one line an operator can act on: which URL, what came
 * back, and which setting to check. Slack's own refusals name the token; the rest are the network.
 */
export function startupFailure(err: unknown, url: string, tokenVar: 'SLACK_BOT_TOKEN' | 'SLACK_APP_TOKEN'): Error {
  const slackError = err instanceof ChatError ? err.slackError : ((err as { data?: { error?: string } })?.data?.error ?? null);
  const refusals: Record<string, string> = {
    invalid_auth: `${tokenVar} is not valid for this workspace (copy it again from the app's settings)`,
    not_authed: `${tokenVar} was not sent`,
    account_inactive: `${tokenVar} belongs to an app that was uninstalled or a deleted account (reinstall the app)`,
    token_revoked: `${tokenVar} was revoked (reinstall the app and copy the new token)`,
    missing_scope: `${tokenVar} lacks a scope (connections:write for SLACK_APP_TOKEN; reinstall the app from manifest.yml for the bot)`,
    invalid_token: `${tokenVar} is not a token Slack accepts here (SLACK_APP_TOKEN must be the app-level xapp- token)`,
  };
  if (slackError && slackError !== 'request_failed' && slackError in refusals)
    return new Error(`Slack refused the call to ${url} (${slackError}): ${refusals[slackError]}`, { cause: err });
  const cause = rootCause(err);
  return new Error(
    `could not reach Slack at ${url} (${cause}): check SLACK_API_URL (default https://slack.com/api/), DNS, and any outbound proxy or firewall on this host`,
    { cause: err },
  );
}

/** The innermost error's code or message (ECONNREFUSED, ENOTFOUND, a TLS error...). */
function rootCause(err: unknown): string {
  // Our errors wrap with `cause`, @slack/web-api's request errors with `original`.
  let e = err as { cause?: unknown; original?: unknown; code?: unknown; message?: unknown } | undefined;
  for (let i = 0; i < 6 && e && typeof e === 'object' && (e.cause || e.original); i++) e = (e.cause ?? e.original) as typeof e;
  const code = typeof e?.code === 'string' ? e.code : null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

/**
 * Socket Mode: apps.connections.open with the app token, then a WebSocket to the URL Slack gives.
 * Either step failing stops start-up with the URL that failed (the ticket query string removed:
 * it is a single-use credential) and what to check.
 */
export async function startSocketMode(bolt: App, slackApiUrl: string): Promise<void> {
  const client = (bolt as unknown as { receiver?: { client?: EventEmitter } }).receiver?.client;
  let wsUrl: string | null = null;
  client?.on('authenticated', (r: { url?: string }) => {
    if (r.url) wsUrl = r.url.split('?')[0]!;
  });
  try {
    await bolt.start();
  } catch (err) {
    if (!wsUrl) throw startupFailure(err, `${slackApiUrl}apps.connections.open`, 'SLACK_APP_TOKEN');
    throw new Error(
      `could not open the Socket Mode WebSocket at ${wsUrl} (${rootCause(err)}): outbound WebSocket connections (wss://, port 443) must be allowed from this host; behind a proxy that blocks them, use HTTP mode (SLACK_SIGNING_SECRET) instead`,
      { cause: err },
    );
  }
}
