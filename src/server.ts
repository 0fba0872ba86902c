import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Firebreak } from './app.js';
import { matchRoute, sendJson, type Route } from './http/routes.js';
import { webhookRoutes } from './webhooks/routes.js';
import { mcpRoutes } from './mcp/route.js';

/**
 * The bot's one HTTP server: `/slack/events` (HTTP mode) plus health, readiness, metrics, the
 * webhooks and the agents' `/mcp`, in both Slack modes. Split from app.ts so tests build the app without a port.
 */
export interface HttpServer {
  server: Server;
  /** Stop taking work: every request but `/healthz` gets 503 (shutdown, before `server.close()`). */
  drain(): void;
}

export function createHttpServer(fb: Firebreak, extraRoutes: Route[] = []): HttpServer {
  const { deps } = fb;
  const routes: Route[] = [
    { method: 'GET', path: '/healthz', handler: (_req, res) => sendJson(res, 200, { ok: true }) },
    {
      method: 'GET',
      path: '/readyz',
      handler: async (_req, res) => {
        const r = await fb.ready();
        sendJson(res, r.ok ? 200 : 503, r);
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      handler: async (_req, res) => {
        const body = await deps.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
        res.end(body);
      },
    },
    ...webhookRoutes(deps),
    ...mcpRoutes(deps),
    ...extraRoutes,
  ];
  let draining = false;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (draining && path !== '/healthz') {
      sendJson(res, 503, { ok: false, error: 'shutting down' }, { connection: 'close' });
      return;
    }
    if (path === '/slack/events' && req.method === 'POST' && fb.slackListener) {
      const started = process.hrtime.bigint();
      res.on('finish', () => {
        deps.metrics.ackSeconds.observe({ kind: 'slack' }, Number(process.hrtime.bigint() - started) / 1e9);
        deps.metrics.slackRequests.inc({ kind: 'slack', outcome: String(res.statusCode) });
      });
      // What can be refused from the headers alone is refused before the body (up to 4 MB) is
      // read: no v0 signature, or a timestamp outside Slack's five-minute window either way. Bolt
      // checks the same after buffering (the HMAC needs the body); one more than five minutes ahead
      // only here (a signed request kept for later would otherwise pass once its time came). The
      // connection is closed rather than drained. Both ends of the window are Slack's wall clock
      // (Bolt reads Date.now()), not the bot's injected clock: a request's freshness is a fact
      // about the real world, and one window read from two clocks refused every command once they
      // drifted five minutes apart.
      const refused = unsignedOrStale(req.headers['x-slack-signature'], req.headers['x-slack-request-timestamp'], Math.floor(Date.now() / 1000));
      if (refused) {
        sendJson(res, 401, { ok: false, error: refused }, { connection: 'close' });
        return;
      }
      fb.slackListener(req, res);
      return;
    }
    const route = matchRoute(routes, req.method ?? 'GET', path);
    if (!route) {
      sendJson(res, 404, { ok: false, error: 'not_found' });
      return;
    }
    Promise.resolve(route.handler(req, res)).catch((err) => {
      deps.logger.error({ err, path }, 'route failed');
      if (!res.headersSent) sendJson(res, 500, { ok: false, error: 'internal_error' });
      else res.end();
    });
  });
  server.on('close', () => (draining = true));
  return {
    server,
    drain: () => {
      draining = true;
    },
  };
}

export async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Why a Slack request is refused on its headers alone (null: read the body and check the HMAC). */
function unsignedOrStale(signature: string | string[] | undefined, timestamp: string | string[] | undefined, nowSeconds: number): string | null {
  if (typeof signature !== 'string' || !signature.startsWith('v0=')) return 'missing signature';
  const ts = Number(timestamp);
  if (typeof timestamp !== 'string' || !Number.isFinite(ts)) return 'missing request timestamp';
  if (ts > nowSeconds + 300) return 'request timestamp is in the future';
  if (ts < nowSeconds - 300) return 'request timestamp is too old';
  return null;
}
