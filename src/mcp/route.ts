import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AgentConfig } from '../config.js';
import { BodyTooLargeError, readBody, sendJson, type Route } from '../http/routes.js';
import type { Deps } from '../services/deps.js';
import { createIngestLimiter, type IngestLimiter } from '../webhooks/ingest-limit.js';
import { safeEqual } from '../webhooks/verify.js';
import { isLoopbackHost } from '../sandbox/host.js';

/**
 * `/mcp`: the Model Context Protocol endpoint for AI agents (docs/agents.md), Streamable HTTP in
 * stateless mode: every POST gets a new server and transport, so it runs the same on any replica,
 * in HTTP and Socket Mode alike, and answers with plain JSON.
 *
 * Order per request: agents configured (503) → Origin not foreign (403) → bearer token of a
 * declared agent (401, no detail, no OAuth metadata: these are static tokens) → per-token rate
 * limit (429) → body within 1 MB (413) → JSON (400) → the SDK. The token is only compared here;
 * it is never passed on to any other API.
 */
export const MCP_PATH = '/mcp';

/**
 * The MCP SDK (and the tools built on it) cost about 20 MB of RSS: loaded only when agents are
 * configured, in the background at start-up, never on a bot that serves no agent.
 */
type McpLibs = {
  Transport: typeof import('@modelcontextprotocol/sdk/server/streamableHttp.js').StreamableHTTPServerTransport;
  buildMcpServer: typeof import('./tools.js').buildMcpServer;
};
let mcpLibs: Promise<McpLibs> | null = null;
const loadMcp = (): Promise<McpLibs> =>
  (mcpLibs ??= Promise.all([import('@modelcontextprotocol/sdk/server/streamableHttp.js'), import('./tools.js')]).then(([t, tools]) => ({
    Transport: t.StreamableHTTPServerTransport,
    buildMcpServer: tools.buildMcpServer,
  })));
const MAX_BODY = 1_000_000;

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The agent whose token this is; every configured token is compared (constant time each). */
export function authenticate(agents: readonly AgentConfig[], authorization: string | undefined): AgentConfig | null {
  const m = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  const presented = m?.[1] ?? '';
  let found: AgentConfig | null = null;
  for (const a of agents) if (safeEqual(presented, a.token) && m) found = a;
  return found;
}

/**
 * A browser page on another site must not drive the endpoint with a token it got hold of (DNS
 * rebinding, a local agent's token): an `Origin` other than ours is refused. Ours is
 * FIREBREAK_PUBLIC_URL's, or the request's own Host when that is a loopback name (a local bot, the
 * sandbox). An Origin that merely equals the Host is not enough: a page that rebinds its own name
 * to this server's address sends its own name as both. Clients that are not browsers (Claude
 * Code, SDK clients) send no Origin.
 */
function originAllowed(req: IncomingMessage, publicUrl: string | undefined): boolean {
  const origin = header(req, 'origin');
  if (origin === undefined) return true;
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return false;
  }
  if (publicUrl && o.origin === new URL(publicUrl).origin) return true;
  const host = header(req, 'host');
  return !!host && o.host === host && isLoopbackHost(o.hostname.replace(/^\[|\]$/g, ''));
}

const jsonRpcError = (res: ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}) =>
  sendJson(res, status, { jsonrpc: '2.0', error: { code, message }, id: null }, headers);

export function mcpRoutes(deps: Deps): Route[] {
  const agents = deps.config.agents;
  const now = () => deps.clock.now().getTime();
  const tokenLimiters = new Map<string, IngestLimiter>();
  const incidentLimiters = new Map<string, IngestLimiter>();
  for (const a of agents) {
    tokenLimiters.set(a.name, createIngestLimiter(a.ratePerMinute, now));
    incidentLimiters.set(a.name, createIngestLimiter(a.incidentRatePerMinute, now));
  }
  // Warm the SDK for the first agent's request; a failure shows there (the import is retried).
  if (agents.length) void loadMcp().catch(() => (mcpLibs = null));

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const outcome = (o: string) => deps.metrics.webhooks.inc({ source: 'mcp', outcome: o });
    if (agents.length === 0) {
      outcome('disabled');
      return sendJson(res, 503, { error: 'no agents are configured: declare them under agents.mcp in firebreak.yml (docs/agents.md)' });
    }
    if (!originAllowed(req, deps.config.env.FIREBREAK_PUBLIC_URL)) {
      outcome('forbidden');
      return sendJson(res, 403, { error: 'forbidden' });
    }
    const agent = authenticate(agents, header(req, 'authorization'));
    if (!agent) {
      outcome('unauthorized');
      return sendJson(res, 401, { error: 'unauthorized' });
    }
    if (req.method !== 'POST') {
      // Stateless: no server-initiated stream to open and no session to delete.
      outcome('invalid');
      return jsonRpcError(res, 405, -32000, 'Method not allowed: this server is stateless; POST JSON-RPC messages.', { allow: 'POST' });
    }
    const retry = tokenLimiters.get(agent.name)!.take(agent.name);
    if (retry !== null) {
      outcome('rate_limited');
      return jsonRpcError(res, 429, -32000, `Rate limit: more than ${agent.ratePerMinute} requests a minute from ${agent.name}.`, {
        'retry-after': String(retry),
      });
    }
    const { Transport, buildMcpServer } = await loadMcp();
    let body: unknown;
    try {
      body = JSON.parse((await readBody(req, MAX_BODY)).toString('utf8'));
    } catch (err) {
      outcome(err instanceof BodyTooLargeError ? 'too_large' : 'invalid');
      if (err instanceof BodyTooLargeError) return jsonRpcError(res, 413, -32600, `Request body larger than ${MAX_BODY} bytes.`);
      return jsonRpcError(res, 400, -32700, 'Parse error: the body is not JSON.');
    }
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    const server = buildMcpServer({
      deps,
      agent: { name: agent.name, scopes: agent.scopes, incidents: agent.incidents },
      incidentLimiter: incidentLimiters.get(agent.name)!,
      signal: ac.signal,
    });
    const transport = new Transport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    outcome('accepted');
    await transport.handleRequest(req, res, body);
  };

  return [
    { method: 'POST', path: MCP_PATH, handler },
    { method: 'GET', path: MCP_PATH, handler },
  ];
}
