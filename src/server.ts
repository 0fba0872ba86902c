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
      // Bolt refuses a timestamp older than five minutes; one more than five minutes ahead is
      // refused here (a signed request kept for later would otherwise pass once its time came).
      // Both ends of the window are Slack's wall clock (Bolt reads Date.now()), not the bot's
      // injected clock: a request's freshness is a fact about the real world, and one window read
      // from two clocks refused every command once they drifted five minutes apart.
      const ts = Number(req.headers['x-slack-request-timestamp']);
      if (Number.isFinite(ts) && ts > Date.now() / 1000 + 300) {
        sendJson(res, 401, { ok: false, error: 'request timestamp is in the future' });
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
