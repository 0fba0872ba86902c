import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { answerAt } from '../answer-at.js';
import { SlackApiError, type MethodContext, type MethodHandler } from './args.js';
import { FaultPlan, type Fault } from './faults.js';
import { METHODS } from './methods/index.js';
import { handleResponseUrl } from './responses.js';
import { DEFAULT_APP_ID, DEFAULT_BOT_ID, DEFAULT_BOT_USER_ID, DEFAULT_TEAM_ID, WorkspaceState } from './state.js';
import { SocketModeServer } from './socket-mode.js';
import { defaultBotScopes, requireScopes } from './scopes.js';
import { RateLimiter } from './tiers.js';
import type { CallRecord, WorkspaceChange } from './types.js';
import { isLoopbackHost } from '../../sandbox/host.js';

/**
 * The Slack Web API emulator: a real HTTP server on loopback that answers `POST /api/<method>`
 * like slack.com does (form or JSON bodies, Bearer tokens, HTTP 200 `{ok:false,error}` errors,
 * 429 + Retry-After), over an inspectable in-memory workspace (`state`).
 *
 * Also served:
 * - `POST /response/<id>`: the response_url Slack hands out with commands and interactions.
 * - Socket Mode (when `appToken` is given): `apps.connections.open` and the WebSocket upgrade on
 *   `/link/?ticket=…`; see socket-mode.ts.
 * - `GET /_emulator/state` (JSON snapshot), `GET /_emulator/calls` (call log),
 *   `GET /_emulator/events` (server-sent events: `change` for the workspace, `call` per API call),
 *   for the sandbox console.
 *
 * Limits: one workspace, one app, bot token plus optional user tokens; only the methods in
 * `methods/`; rate limits per method (and per channel for chat.postMessage), not per token.
 */
export interface SlackEmulatorOptions {
  /** The token the bot uses; any other token is `invalid_auth`. */
  botToken: string;
  /** Extra user tokens: token → user id (for calls made "as a person"). */
  userTokens?: Record<string, string>;
  port?: number;
  host?: string;
  /** Milliseconds since epoch; drives message ts, trigger expiry, rate-limit refill. */
  clock?: () => number;
  teamId?: string;
  teamDomain?: string;
  botUserId?: string;
  botId?: string;
  appId?: string;
  /** 'enforce' (default) answers 429 like Slack; 'off' never limits. */
  rateLimits?: 'enforce' | 'off';
  /** Fixed delay added to every Web API call (the benchmark's per-fake latency). */
  latencyMs?: number;
  /** Seed the default people, user group and channels (default true). */
  seed?: boolean;
  /** Random source for fault probabilities (tests make it deterministic). */
  random?: () => number;
  /** The app-level token (`xapp-…`) that may open Socket Mode connections; none → Socket Mode refused. */
  appToken?: string;
  /** Socket Mode server → client ping period in ms (default 5000; 0 disables). */
  socketPingIntervalMs?: number;
  /**
   * The bot token's scopes (default: `oauth_config.scopes.bot` of the project's manifest.yml). A
   * method needing a scope not listed answers `missing_scope`, as Slack does; see scopes.ts.
   */
  scopes?: readonly string[];
}

export interface SlackEmulator {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `<url>/api/`, the value for WebClient's `slackApiUrl` and SLACK_API_URL. */
  readonly apiUrl: string;
  readonly port: number;
  readonly botToken: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly teamId: string;
  readonly appId: string;
  /** The bot token's granted scopes. */
  readonly scopes: readonly string[];
  readonly state: WorkspaceState;
  /** Socket Mode: open connections, envelope delivery (the driver's `transport: 'socket'`), disconnects. */
  readonly socketMode: SocketModeServer;
  /** `change` (WorkspaceChange) on every state change; `call` (CallRecord) after every API call. */
  readonly events: WorkspaceState['events'];
  /** Make `method` (or `'*'`) misbehave; see Fault. */
  inject(method: string, fault: Fault): void;
  clearFaults(method?: string): void;
  /** Call log, oldest first, optionally for one method. */
  calls(method?: string): CallRecord[];
  clearCalls(): void;
  setRateLimits(mode: 'enforce' | 'off'): void;
  /** Refill every bucket. */
  resetRateLimits(): void;
  setLatency(ms: number): void;
  /** Issue a trigger id for `user` (the driver does this for commands and clicks). */
  issueTrigger(user: string): string;
  /** A response_url for an interaction in `channel` by `user`, optionally tied to a message. */
  issueResponseUrl(r: { channel: string; user: string; messageTs?: string | null }): string;
  /**
   * Stop serving. Stop Socket Mode clients (the bot) first: a client that loses its socket
   * reconnects, and @slack/socket-mode retries apps.connections.open ~100 times against the closed
   * port, keeping the test process alive.
   */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 5 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Arguments from the query string and the body, whichever encoding the client used. */
function parseArgs(req: IncomingMessage, raw: string, url: URL): Record<string, unknown> | null {
  const args: Record<string, unknown> = Object.fromEntries(url.searchParams);
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (raw.length === 0) return args;
  if (type === 'application/json') {
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
      return { ...args, ...(parsed as Record<string, unknown>) };
    } catch {
      return null;
    }
  }
  return { ...args, ...Object.fromEntries(new URLSearchParams(raw)) };
}

/** Args that @slack/web-api JSON-stringifies; decoded so the call log shows structures, not strings. */
const JSON_ARGS = new Set(['blocks', 'attachments', 'view', 'metadata']);

function decodeJsonArgs(args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...args };
  for (const key of JSON_ARGS) {
    const v = out[key];
    if (typeof v !== 'string') continue;
    try {
      out[key] = JSON.parse(v) as unknown;
    } catch {
      // Left as the string: the handler's schema rejects it with a message.
    }
  }
  return out;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'x-slack-req-id': randomBytes(16).toString('hex'),
    ...headers,
  });
  res.end(text);
}

export async function startSlackEmulator(opts: SlackEmulatorOptions): Promise<SlackEmulator> {
  if (!opts.botToken) throw new Error('startSlackEmulator: botToken is required');
  const clock = opts.clock ?? Date.now;
  const state = new WorkspaceState({
    teamId: opts.teamId ?? DEFAULT_TEAM_ID,
    teamDomain: opts.teamDomain ?? 'acme',
    botUserId: opts.botUserId ?? DEFAULT_BOT_USER_ID,
    botId: opts.botId ?? DEFAULT_BOT_ID,
    appId: opts.appId ?? DEFAULT_APP_ID,
    clock,
    seed: opts.seed ?? true,
  });
  const tokens = new Map<string, { user: string; isBot: boolean }>([[opts.botToken, { user: state.botUserId, isBot: true }]]);
  for (const [token, user] of Object.entries(opts.userTokens ?? {})) tokens.set(token, { user, isBot: false });

  const botScopes: ReadonlySet<string> = new Set(opts.scopes ?? defaultBotScopes());
  const faults = new FaultPlan(opts.random);
  const limiter = new RateLimiter(clock);
  let rateMode = opts.rateLimits ?? 'enforce';
  let latencyMs = opts.latencyMs ?? 0;
  let log: CallRecord[] = [];
  const sse = new Set<ServerResponse>();
  let baseUrl = '';
  const socketMode = new SocketModeServer({
    appId: state.appId,
    ...(opts.appToken ? { appToken: opts.appToken } : {}),
    ...(opts.socketPingIntervalMs !== undefined ? { pingIntervalMs: opts.socketPingIntervalMs } : {}),
  });
  // Socket Mode's one Web API method lives here, not in methods/: it needs the socket server and
  // takes the app-level token that every other method refuses.
  const SOCKET_OPEN = 'apps.connections.open';

  function record(rec: Omit<CallRecord, 'durationMs'>, startedAt: number): void {
    const full: CallRecord = { ...rec, durationMs: Date.now() - startedAt };
    log.push(full);
    state.events.emit('call', full);
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, method: string, url: URL): Promise<void> {
    const started = Date.now();
    const arrived = performance.now();
    const at = clock();
    const raw = await readBody(req);
    const parsed = parseArgs(req, raw, url);
    const { token: bodyToken, ...args } = decodeJsonArgs(parsed ?? {});
    let scopeHeader: Record<string, string> = {};
    // The configured latency is Slack's whole answer time, its own work included: the answer goes
    // out `latencyMs` after the request arrived, not after the emulator's work plus `latencyMs`
    // (the benchmark's "answered after L" means exactly L, however long the emulator took to
    // validate blocks or update its state; reading the body is part of it too). An injected fault's
    // latency still delays the work.
    const answerDue = arrived + latencyMs;
    const answer = (status: number, body: Record<string, unknown>, headers?: Record<string, string>) => {
      const send = () => {
        sendJson(res, status, body, { ...scopeHeader, ...headers });
        const ok = body.ok === true;
        record({ method, args, at, ok, status, ...(ok ? {} : { error: String(body.error) }) }, started);
      };
      answerAt(answerDue, send);
    };

    const handler: MethodHandler | undefined = method === SOCKET_OPEN ? () => socketMode.open() : METHODS[method];
    if (!handler) return answer(404, { ok: false, error: 'unknown_method' });
    if (parsed === null) return answer(200, { ok: false, error: 'invalid_json' });

    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : typeof bodyToken === 'string' ? bodyToken : undefined;
    if (!token) return answer(200, { ok: false, error: 'not_authed' });
    // Slack's token-type rules: only an app-level token opens Socket Mode, and an app-level token
    // is good for nothing else.
    const isApp = socketMode.isAppToken(token);
    const who = isApp ? { user: state.botUserId, isBot: true } : tokens.get(token);
    if (!who) return answer(200, { ok: false, error: 'invalid_auth' });
    if ((method === SOCKET_OPEN) !== isApp) return answer(200, { ok: false, error: 'not_allowed_token_type' });
    // Slack names the token's scopes on every answer (the SDK reads them into response_metadata),
    // and refuses a method whose scope was not granted before looking at anything else.
    const scopes: ReadonlySet<string> = who.isBot && !isApp ? botScopes : new Set();
    if (who.isBot && !isApp) {
      scopeHeader = { 'x-oauth-scopes': [...botScopes].join(',') };
      try {
        requireScopes(method, botScopes, { state, args });
      } catch (err) {
        if (err instanceof SlackApiError) return answer(200, { ok: false, error: err.error, ...err.extra });
        throw err;
      }
    }

    const fault = faults.next(method);
    if (fault?.latencyMs) await sleep(fault.latencyMs);
    if (fault?.hang && !fault.after) {
      // Left open on purpose; close() destroys the socket.
      record({ method, args, at, ok: false, error: 'hang', status: 0 }, started);
      return;
    }
    if (fault?.drop && !fault.after) {
      res.socket?.destroy();
      record({ method, args, at, ok: false, error: 'dropped', status: 0 }, started);
      return;
    }
    if (fault && (fault.status !== undefined || fault.error !== undefined)) {
      const status = fault.status ?? 200;
      const headers: Record<string, string> = status === 429 ? { 'retry-after': '1' } : {};
      const error = fault.error ?? (status === 429 ? 'ratelimited' : 'fatal_error');
      return answer(status, { ok: false, error }, headers);
    }

    if (rateMode === 'enforce' && method !== SOCKET_OPEN) {
      const channel = typeof args.channel === 'string' ? args.channel : undefined;
      const decision = limiter.take(method, channel);
      if (!decision.allowed) {
        return answer(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(decision.retryAfterSec) });
      }
    }

    const ctx: MethodContext = { state, args, actor: who.user, isBot: who.isBot, scopes, baseUrl };
    let status = 200;
    let body: Record<string, unknown>;
    try {
      body = { ok: true, ...(await handler(ctx)) };
    } catch (err) {
      if (err instanceof SlackApiError) {
        body = { ok: false, error: err.error, ...err.extra };
      } else {
        // A bug in the emulator, not a Slack answer: say so loudly.
        status = 500;
        body = { ok: false, error: 'emulator_internal_error', detail: err instanceof Error ? err.message : String(err) };
      }
    }
    if (fault?.drop && fault.after) {
      res.socket?.destroy();
      record({ method, args, at, ok: false, error: 'dropped_after', status: 0 }, started);
      return;
    }
    if (fault?.hang && fault.after) {
      // Done, but never answered (left open; close() destroys the socket).
      record({ method, args, at, ok: false, error: 'hang_after', status: 0 }, started);
      return;
    }
    answer(status, body);
  }

  async function handleResponse(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const raw = await readBody(req);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return sendJson(res, 400, { ok: false, error: 'invalid_payload' });
    }
    const startedAt = Date.now();
    const r = handleResponseUrl(state, id, body);
    // In the call log as `response_url`, so a test can see everything the bot sent to Slack.
    record(
      {
        method: 'response_url',
        args: (body && typeof body === 'object' ? body : { body }) as Record<string, unknown>,
        at: startedAt,
        ok: r.status < 300,
        status: r.status,
      },
      startedAt,
    );
    sendJson(res, r.status, r.body);
  }

  /**
   * The upload URL from files.getUploadURLExternal: the raw bytes (or one multipart file part) in
   * the body. Slack answers 200 "OK - <length>"; an unknown or already-used URL is 404.
   */
  async function handleUpload(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const file = state.files.get(id);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let bytes: Buffer = Buffer.concat(chunks);
    const type = req.headers['content-type'] ?? '';
    const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(type);
    if (boundary && type.startsWith('multipart/form-data')) bytes = firstMultipartPart(bytes, boundary[1] ?? boundary[2]!);
    if (!file || file.bytes !== null) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    file.bytes = bytes;
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`OK - ${bytes.length}`);
  }

  /** url_private of a shared file (Slack requires the bot token; so does the emulator). */
  function handleFile(req: IncomingMessage, res: ServerResponse, id: string): void {
    const file = state.files.get(id);
    const auth = req.headers.authorization?.replace(/^Bearer /, '');
    if (!auth || !tokens.has(auth)) return void res.writeHead(403, { 'content-type': 'text/plain' }).end('Forbidden');
    if (!file?.completed || !file.bytes) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
    res.writeHead(200, { 'content-type': file.mimetype ?? 'application/octet-stream', 'content-length': file.bytes.length }).end(file.bytes);
  }

  function handleEvents(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(': connected\n\n');
    const onChange = (c: WorkspaceChange) => res.write(`event: change\ndata: ${JSON.stringify(c)}\n\n`);
    const onCall = (c: CallRecord) => res.write(`event: call\ndata: ${JSON.stringify(c)}\n\n`);
    state.events.on('change', onChange);
    state.events.on('call', onCall);
    sse.add(res);
    res.on('close', () => {
      state.events.off('change', onChange);
      state.events.off('call', onCall);
      sse.delete(res);
    });
  }

  // Bound to loopback (the sandbox, the tests): only requests naming a loopback host are served. A
  // web page in the operator's browser that rebinds its own name to 127.0.0.1 (DNS rebinding) sends
  // its own name as Host, and would otherwise read `/_emulator/state` and the call log, which need
  // no token, and reach `/response/...`.
  const loopbackOnly = isLoopbackHost(opts.host ?? '127.0.0.1');
  const server: Server = createServer((req, res) => {
    if (loopbackOnly && !isLoopbackHost((req.headers.host ?? '').replace(/:\d+$/, ''))) return sendJson(res, 403, { ok: false, error: 'forbidden_host' });
    const url = new URL(req.url ?? '/', 'http://emulator.local');
    const path = url.pathname;
    const route = async () => {
      if (path.startsWith('/api/') && (req.method === 'POST' || req.method === 'GET')) {
        return handleApi(req, res, decodeURIComponent(path.slice(5)), url);
      }
      if (path.startsWith('/response/') && req.method === 'POST') return handleResponse(req, res, decodeURIComponent(path.slice(10)));
      if (path.startsWith('/upload/v1/') && req.method === 'POST') return handleUpload(req, res, decodeURIComponent(path.slice(11)));
      if (path.startsWith('/files/') && req.method === 'GET') return handleFile(req, res, decodeURIComponent(path.slice(7)));
      if (req.method === 'GET' && path === '/_emulator/state') return sendJson(res, 200, state.snapshot());
      if (req.method === 'GET' && path === '/_emulator/calls') return sendJson(res, 200, log);
      if (req.method === 'GET' && path === '/_emulator/events') return handleEvents(res);
      sendJson(res, 404, { ok: false, error: 'not_found' });
    };
    route().catch((err: unknown) => {
      sendJson(res, 500, { ok: false, error: 'emulator_internal_error', detail: err instanceof Error ? err.message : String(err) });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  socketMode.attach(server, baseUrl);

  return {
    url: baseUrl,
    apiUrl: `${baseUrl}/api/`,
    port,
    botToken: opts.botToken,
    botUserId: state.botUserId,
    botId: state.botId,
    teamId: state.teamId,
    appId: state.appId,
    scopes: [...botScopes],
    state,
    socketMode,
    events: state.events,
    inject: (method, fault) => faults.add(method, fault),
    clearFaults: (method) => faults.clear(method),
    calls: (method) => (method === undefined ? [...log] : log.filter((c) => c.method === method)),
    clearCalls: () => {
      log = [];
    },
    setRateLimits: (mode) => {
      rateMode = mode;
    },
    resetRateLimits: () => limiter.reset(),
    setLatency: (ms) => {
      latencyMs = ms;
    },
    issueTrigger: (user) => state.issueTrigger(user).id,
    issueResponseUrl: (r) => `${baseUrl}/response/${state.issueResponseUrl(r).id}`,
    close: async () => {
      // Upgraded sockets are no longer the HTTP server's: close them first or close() never returns.
      await socketMode.close();
      for (const res of sse) res.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The content of the first part of a multipart/form-data body. */
function firstMultipartPart(body: Buffer, boundary: string): Buffer {
  const delim = Buffer.from(`--${boundary}`);
  const start = body.indexOf(delim);
  if (start < 0) return body;
  const headersEnd = body.indexOf('\r\n\r\n', start);
  if (headersEnd < 0) return body;
  const end = body.indexOf(Buffer.from(`\r\n--${boundary}`), headersEnd + 4);
  return body.subarray(headersEnd + 4, end < 0 ? body.length : end);
}
