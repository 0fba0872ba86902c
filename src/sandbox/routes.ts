import { existsSync } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Config } from '../config.js';
import { ALERT_SOURCES } from '../domain/alert.js';
import type { Logger } from '../log.js';
import { BodyTooLargeError, readBody, sendJson, type Route } from '../http/routes.js';
import { SlackDriver, type SlackEmulator } from '../emulator/slack/index.js';
import { alertSecret, sampleAlert } from './alerts.js';
import { isLoopbackHost } from './host.js';
import { typedMentions } from './mentions.js';
import { safeEqual } from '../webhooks/verify.js';
import type { DemoExecutor } from './demo-executor.js';
import type { DemoPager } from './demo-pager.js';
import { projectState } from './state.js';

/**
 * The console's HTTP API, served under `/sandbox` on the bot's own server. Every write goes
 * through the SlackDriver, i.e. as a signed request to the bot's real `/slack/events`, or through
 * the bot's real webhook routes: the console never reaches into the bot's internals.
 *
 * Local by construction, against cross-site requests and DNS rebinding: every sandbox route needs
 * a loopback Host name (unless SANDBOX_ALLOW_REMOTE) and, when a browser sends one, an Origin of the
 * same host; every API call needs the per-run token, and every POST an application/json body (so a
 * plain HTML form or a `text/plain` fetch from another site cannot reach it). Refusals are 403 and
 * change nothing. Limits: one workspace; whoever has the printed URL can act as anyone in it.
 */
export interface SandboxRoutesOptions {
  emulator: SlackEmulator;
  config: Config;
  signingSecret: string;
  logger: Logger;
  /** The per-run token every `/sandbox/api/*` call must carry (header, or `?token=` for GETs). */
  token: string;
  /** SANDBOX_ALLOW_REMOTE: any Host name is served (the token still guards the API). */
  allowRemote?: boolean;
  /** The sandbox's demo executor, whose received calls the console shows. */
  executor?: Pick<DemoExecutor, 'url' | 'calls'>;
  /** The sandbox's pager (PagerDuty Events v2), whose received pages the console shows. */
  pager?: Pick<DemoPager, 'pages'>;
}

export const TOKEN_HEADER = 'x-sandbox-token';

const MAX_BODY = 256 * 1024;
/** State changes arrive in bursts (a declare is ~15 API calls): one push per burst is enough. */
const PUSH_THROTTLE_MS = 100;
/** Keeps proxies and browsers from dropping an idle stream. */
const HEARTBEAT_MS = 20_000;

const UserId = z.string().regex(/^[UW][A-Z0-9]+$/, 'a user id such as U0ALICE01');
const ChannelId = z.string().regex(/^[CGD][A-Z0-9]+$/, 'a channel id such as C0GENERAL1');
const Ts = z.string().regex(/^\d+\.\d+$/, 'a message ts such as 1700000000.000100');

const MessageBody = z.object({ user: UserId, channel: ChannelId, text: z.string().trim().min(1).max(40_000), threadTs: Ts.optional() });
const ClickBody = z
  .object({
    user: UserId,
    channel: ChannelId.optional(),
    ts: Ts.optional(),
    /** The message is an ephemeral shown to `user` (Slack sends no message body for those). */
    ephemeral: z.boolean().optional(),
    viewId: z.string().min(1).optional(),
    actionId: z.string().min(1).max(255),
    blockId: z.string().max(255).optional(),
    value: z.string().max(2000).optional(),
  })
  .refine((b) => (b.viewId ? !b.channel && !b.ts : b.channel && b.ts), { message: 'give either channel and ts (a message) or viewId (a modal)' });
const SubmitBody = z.object({
  user: UserId,
  viewId: z.string().min(1),
  values: z.record(z.string(), z.record(z.string(), z.union([z.string(), z.array(z.string()), z.null()]))),
});
const CloseBody = z.object({ user: UserId, viewId: z.string().min(1) });
const ReactionBody = z.object({ user: UserId, channel: ChannelId, ts: Ts, name: z.string().regex(/^[a-z0-9_+-]{1,100}$/, 'an emoji name such as eyes') });
const AlertBody = z.object({ source: z.enum(ALERT_SOURCES) });

/** The repository root: the nearest folder above this module with a package.json (src/ under tsx, dist/src/ after tsc). */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`sandbox: no package.json above ${from}`);
    dir = up;
  }
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
};

class BadRequest extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readJson<T>(req: IncomingMessage, schema: z.ZodType<T>): Promise<T> {
  let raw: Buffer;
  try {
    raw = await readBody(req, MAX_BODY);
  } catch (err) {
    if (err instanceof BodyTooLargeError) throw new BadRequest(413, err.message);
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new BadRequest(400, 'the body must be JSON');
  }
  const r = schema.safeParse(parsed);
  if (!r.success) throw new BadRequest(400, r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  return r.data;
}

/** The reason to refuse a request, or null to serve it. Pure: headers, method, path and the run's token. */
export function refuseSandboxRequest(req: Pick<IncomingMessage, 'headers' | 'method' | 'url'>, token: string, allowRemote = false): string | null {
  const hostHeader = String(req.headers.host ?? '');
  const hostName = hostHeader.replace(/:\d+$/, '');
  if (!hostName) return 'missing Host header';
  if (!allowRemote && !isLoopbackHost(hostName)) return `Host ${hostName} is not a loopback name: the sandbox answers only on localhost`;
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${hostHeader}` && origin !== `https://${hostHeader}`) return `Origin ${origin} does not match this sandbox`;
  if (req.headers['sec-fetch-site'] === 'cross-site') return 'cross-site request';
  const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
  if (!url.pathname.startsWith('/sandbox/api/')) return null;
  if (req.method === 'POST' && !/^application\/json\s*(;|$)/i.test(String(req.headers['content-type'] ?? '')))
    return 'state-changing calls must send Content-Type: application/json';
  const given = req.headers[TOKEN_HEADER] ?? (req.method === 'GET' ? url.searchParams.get('token') : null);
  if (typeof given !== 'string' || !safeEqual(given, token))
    return 'missing or wrong sandbox token: open the URL Firebreak printed at start (it carries ?token=...)';
  return null;
}

export function sandboxRoutes(opts: SandboxRoutesOptions): { routes: Route[]; notify(): void; close(): void } {
  const { emulator, config, signingSecret, logger, executor, pager } = opts;
  const state = emulator.state;
  const assetsDir = join(packageRoot(), 'assets', 'sandbox');
  const drivers = new Map<string, SlackDriver>();
  /** Validation errors the bot answered a view submission with, shown on the fields until the next submit. */
  const viewErrors = new Map<string, Record<string, string>>();

  /**
   * The bot listens on the same server as these routes, so the request's own local address and
   * port reach it; known only once main has called listen(), hence built per request and cached.
   */
  function botBase(req: IncomingMessage): string {
    const addr = req.socket.localAddress ?? '127.0.0.1';
    const host = addr.includes(':') ? `[${addr}]` : addr;
    return `http://${host}:${req.socket.localPort}`;
  }
  function driverFor(req: IncomingMessage): SlackDriver {
    const url = `${botBase(req)}/slack/events`;
    let d = drivers.get(url);
    if (!d) {
      d = new SlackDriver({ emulator, requestUrl: url, signingSecret });
      drivers.set(url, d);
    }
    return d;
  }

  /** Who and what `@name` and `#name` can mean, as the client resolves them when a person types. */
  const directory = () => ({ users: [...state.users.values()], usergroups: [...state.usergroups.values()], channels: [...state.channels.values()] });

  function mustUser(id: string): void {
    const u = state.users.get(id);
    if (!u || u.is_bot) throw new BadRequest(404, `no person ${id} in the workspace`);
  }
  function mustChannel(id: string): void {
    if (!state.channel(id)) throw new BadRequest(404, `no channel ${id}`);
  }

  /**
   * Acting in a public channel one is not in joins it first, as Slack's "Join channel" does when
   * you post in a channel you were previewing; without it the bot's ephemeral replies to that
   * person fail with user_not_in_channel. A private channel is refused, as Slack would. Checks
   * that the person and the channel exist first.
   */
  async function actInChannel(req: IncomingMessage, user: string, channelId: string): Promise<void> {
    mustUser(user);
    mustChannel(channelId);
    const ch = state.channel(channelId);
    if (!ch || ch.members.includes(user)) return;
    if (ch.is_private) throw new BadRequest(403, `${state.users.get(user)?.name ?? user} is not a member of the private channel #${ch.name}`);
    state.addMembers(ch.id, [user]);
    state.postMessage(ch.id, { user, text: `<@${user}> has joined the channel`, subtype: 'channel_join' });
    await driverFor(req).event({ type: 'member_joined_channel', user, channel: ch.id, channel_type: 'C', team: emulator.teamId });
  }

  // -- live updates ---------------------------------------------------------------------------
  const clients = new Set<ServerResponse>();
  let seq = 0;
  let pending: NodeJS.Timeout | null = null;
  const onChange = () => {
    if (pending) return;
    pending = setTimeout(() => {
      pending = null;
      seq += 1;
      for (const res of clients) res.write(`event: change\ndata: ${JSON.stringify({ seq })}\n\n`);
    }, PUSH_THROTTLE_MS);
  };
  state.events.on('change', onChange);
  const heartbeat = setInterval(() => {
    for (const res of clients) res.write(': keep-alive\n\n');
  }, HEARTBEAT_MS);
  heartbeat.unref();

  /** Wrap a handler: bad input → 4xx with a sentence, a driver refusal → 409, anything else → 500 upstream. */
  const api =
    (fn: (req: IncomingMessage, res: ServerResponse) => Promise<void>) =>
    async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      try {
        await fn(req, res);
      } catch (err) {
        if (err instanceof BadRequest) return sendJson(res, err.status, { ok: false, error: err.message });
        // The driver throws plain Errors naming what a person could not do ("no element with action_id ...").
        if (err instanceof Error && err.message.startsWith('SlackDriver:'))
          return sendJson(res, 409, { ok: false, error: err.message.replace(/^SlackDriver:\s*/, '') });
        throw err;
      }
    };

  /** What the bot answered Slack with: a non-2xx means Slack would show the person an error. */
  function botAnswer(r: { status: number; text: string }): { ok: boolean; error?: string } {
    if (r.status >= 200 && r.status < 300) return { ok: true };
    logger.warn({ status: r.status }, 'the bot refused a sandbox request');
    return { ok: false, error: `the bot answered HTTP ${r.status}${r.text ? `: ${r.text.slice(0, 200)}` : ''}` };
  }

  const routes: Route[] = (
    [
      // The bare address (what `npm start` prints the host of) opens the console.
      // The query (the run's token) goes along, so the printed URL works with or without `/sandbox`.
      {
        method: 'GET',
        path: '/',
        handler: async (req, res) =>
          void res.writeHead(302, { location: `/sandbox${new URL(req.url ?? '/', 'http://sandbox.invalid').search}`, 'cache-control': 'no-store' }).end(),
      },
      ...['/sandbox', '/sandbox/'].map((path): Route => ({ method: 'GET', path, handler: async (_req, res) => serveFile(res, join(assetsDir, 'index.html')) })),
      {
        method: 'GET',
        path: '/sandbox/assets/*',
        handler: async (req, res) => {
          const rel = decodeURIComponent((req.url ?? '').split('?')[0]!.slice('/sandbox/assets/'.length));
          const file = resolve(assetsDir, rel);
          // Only files inside the assets folder, never `..` or a symlink out of it.
          if (!rel || !file.startsWith(assetsDir + sep) || !existsSync(file)) return sendJson(res, 404, { ok: false, error: 'not_found' });
          const real = await realpath(file);
          if (!real.startsWith((await realpath(assetsDir)) + sep)) return sendJson(res, 404, { ok: false, error: 'not_found' });
          return serveFile(res, real);
        },
      },
      {
        // Files the bot uploaded (the /incident stats chart): the page shows them as images.
        method: 'GET',
        path: '/sandbox/api/files/*',
        handler: async (req, res) => {
          const id = decodeURIComponent((req.url ?? '').split('?')[0]!.slice('/sandbox/api/files/'.length));
          const file = state.files.get(id);
          if (!file?.completed || !file.bytes) return sendJson(res, 404, { ok: false, error: 'not_found' });
          res.writeHead(200, {
            'content-type': file.mimetype ?? 'application/octet-stream',
            'content-length': file.bytes.length,
            'cache-control': 'no-store',
            'x-content-type-options': 'nosniff',
          });
          res.end(file.bytes);
        },
      },
      {
        method: 'GET',
        path: '/sandbox/api/state',
        handler: (_req, res) =>
          sendJson(
            res,
            200,
            { ...projectState(state.snapshot(), viewErrors), executorCalls: executor?.calls() ?? [], pages: pager?.pages() ?? [] },
            { 'cache-control': 'no-store' },
          ),
      },
      {
        method: 'GET',
        path: '/sandbox/api/events',
        handler: (req, res) => {
          res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
          res.write(`retry: 1000\nevent: hello\ndata: ${JSON.stringify({ seq })}\n\n`);
          clients.add(res);
          req.on('close', () => clients.delete(res));
        },
      },
      {
        method: 'POST',
        path: '/sandbox/api/message',
        handler: api(async (req, res) => {
          const b = await readJson(req, MessageBody);
          await actInChannel(req, b.user, b.channel);
          const driver = driverFor(req);
          const slash = /^\/(\S+)\s*([\s\S]*)$/.exec(b.text);
          if (slash) {
            if (`/${slash[1]}` !== driver.command) throw new BadRequest(400, `/${slash[1]} is not a command here; try ${driver.command} help`);
            const r = await driver.slash(typedMentions(slash[2]!.trim(), directory(), 'slash'), { user: b.user, channel: b.channel });
            // An ack with a body is what Slack shows the person who typed the command: hand it to the
            // response_url Slack issued with the command, which renders it as Slack would.
            if (r.status === 200 && typeof r.body === 'object' && r.body !== null) {
              await fetch(r.responseUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(r.body) });
            }
            return sendJson(res, r.status === 200 ? 200 : 502, { ...botAnswer(r), kind: 'command' });
          }
          const r = await driver.userMessage(b.channel, b.user, typedMentions(b.text, directory(), 'message'), b.threadTs ? { threadTs: b.threadTs } : {});
          sendJson(res, r.status === 200 ? 200 : 502, { ...botAnswer(r), kind: 'message', ts: r.ts });
        }),
      },
      {
        method: 'POST',
        path: '/sandbox/api/click',
        handler: api(async (req, res) => {
          const b = await readJson(req, ClickBody);
          mustUser(b.user);
          const target = b.viewId ? { viewId: b.viewId } : { channel: b.channel!, ts: b.ts!, ...(b.ephemeral ? { ephemeral: true } : {}) };
          if (b.viewId && state.view(b.viewId)?.user_id !== b.user) throw new BadRequest(404, `view ${b.viewId} is not open for ${b.user}`);
          if (b.channel) await actInChannel(req, b.user, b.channel);
          const r = await driverFor(req).click(target, b.actionId, {
            user: b.user,
            ...(b.value !== undefined ? { value: b.value } : {}),
            ...(b.blockId !== undefined ? { blockId: b.blockId } : {}),
          });
          sendJson(res, r.status === 200 ? 200 : 502, botAnswer(r));
        }),
      },
      {
        method: 'POST',
        path: '/sandbox/api/submit',
        handler: api(async (req, res) => {
          const b = await readJson(req, SubmitBody);
          mustUser(b.user);
          const view = state.view(b.viewId);
          if (!view?.open || view.user_id !== b.user) throw new BadRequest(404, `view ${b.viewId} is not open for ${b.user}`);
          viewErrors.delete(b.viewId);
          const r = await driverFor(req).submitView(b.viewId, b.values, { user: b.user });
          const ack = typeof r.body === 'object' && r.body !== null ? (r.body as { response_action?: string; errors?: Record<string, string> }) : {};
          if (r.status === 200 && ack.response_action === 'errors' && ack.errors) {
            viewErrors.set(b.viewId, ack.errors);
            state.emit({ kind: 'view.updated', user: b.user, viewId: b.viewId, detail: { errors: ack.errors } });
            return sendJson(res, 200, { ok: false, errors: ack.errors });
          }
          sendJson(res, r.status === 200 ? 200 : 502, botAnswer(r));
        }),
      },
      {
        method: 'POST',
        path: '/sandbox/api/close',
        handler: api(async (req, res) => {
          const b = await readJson(req, CloseBody);
          const view = state.view(b.viewId);
          if (!view || view.user_id !== b.user) throw new BadRequest(404, `view ${b.viewId} is not open for ${b.user}`);
          // Cancel closes the modal in the workspace. Limit: no view_closed event is sent, so a
          // modal opened with notify_on_close does not tell the bot (Firebreak's modals do not ask).
          state.closeView(b.viewId);
          viewErrors.delete(b.viewId);
          sendJson(res, 200, { ok: true });
        }),
      },
      {
        method: 'POST',
        path: '/sandbox/api/reaction',
        handler: api(async (req, res) => {
          const b = await readJson(req, ReactionBody);
          await actInChannel(req, b.user, b.channel);
          const r = await driverFor(req).reaction(b.channel, b.ts, b.user, b.name);
          sendJson(res, r.status === 200 ? 200 : 502, botAnswer(r));
        }),
      },
      {
        method: 'POST',
        path: '/sandbox/api/alert',
        handler: api(async (req, res) => {
          const b = await readJson(req, AlertBody);
          const secret = alertSecret(config.env, b.source);
          if (!secret) throw new BadRequest(409, `no webhook secret is configured for ${b.source}`);
          const delivery = sampleAlert(b.source, secret);
          const r = await fetch(`${botBase(req)}/webhooks/alerts/${b.source}`, { method: 'POST', headers: delivery.headers, body: delivery.body });
          const text = await r.text();
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // Not JSON: shown as text.
          }
          sendJson(res, r.ok ? 200 : 502, { ok: r.ok, status: r.status, response: body });
        }),
      },
    ] as Route[]
  ).map((r) => ({
    ...r,
    handler: (req: IncomingMessage, res: ServerResponse) => {
      const refused = refuseSandboxRequest(req, opts.token, opts.allowRemote);
      if (refused) {
        logger.warn({ path: (req.url ?? '').split('?')[0], reason: refused.split(':')[0] }, 'sandbox request refused');
        return sendJson(res, 403, { ok: false, error: refused });
      }
      return r.handler(req, res);
    },
  }));

  return {
    routes,
    notify: onChange,
    close() {
      state.events.off('change', onChange);
      if (pending) clearTimeout(pending);
      clearInterval(heartbeat);
      for (const res of clients) res.end();
      clients.clear();
    },
  };
}

async function serveFile(res: ServerResponse, file: string): Promise<void> {
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch {
    return sendJson(res, 404, { ok: false, error: 'not_found' });
  }
  res.writeHead(200, {
    'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
    'content-length': body.length,
    // Assets change with the checkout, not per deploy: always revalidate.
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}
