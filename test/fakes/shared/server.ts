import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { answerAt } from '../../../src/emulator/answer-at.js';

/**
 * The machinery the vendor fakes share: a real node:http server on 127.0.0.1, route templates
 * written like the OpenAPI paths (`/v1/incidents/{id}/resolve`), a call log, injectable faults and
 * latency, and a sliding-window rate limit. Each fake supplies its routes and its vendor's error shapes.
 */

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface FaultSpec {
  /** Answer with this status (and `body`) instead of running the handler. */
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Extra delay before answering (the handler still runs unless another fault says otherwise). */
  latencyMs?: number;
  /** Run the handler (state changes!) then destroy the socket without answering: a lost response. */
  drop?: boolean;
  /** Never answer and never run the handler; the socket stays open until the client gives up or close(). */
  hang?: boolean;
  /**
   * Run the handler (the change is committed), then never answer: the client times out not knowing
   * it succeeded, as with a vendor that commits and then stalls past the client's timeout.
   */
  hangAfterCommit?: boolean;
  /** How many matching requests this fault applies to; default unlimited. */
  times?: number;
  /** Chance in [0,1] that a matching request is affected; default 1. */
  probability?: number;
}

export interface CallRecord {
  method: string;
  path: string;
  /** Route key such as `POST /v1/incidents`, or null when no route matched. */
  route: string | null;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
  status: number | null;
  /** The body of the answer (undefined while unanswered, or when the answer had none). */
  response?: unknown;
  /** When the request arrived and when it was answered (epoch ms; null while unanswered). */
  at: number;
  answeredAt: number | null;
}

export interface RequestContext {
  method: string;
  path: string;
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
  rawBody: string;
  route: string;
}

export interface RouteDef {
  method: string;
  template: string;
  handler: (ctx: RequestContext) => Reply | Promise<Reply>;
}

export interface FakeServerOptions {
  routes: RouteDef[];
  /** Bearer check etc.; return a reply to refuse. */
  authenticate: (ctx: RequestContext) => Reply | null;
  /** After auth and faults, before the handler (content type, body validation...). */
  precheck?: (ctx: RequestContext) => Reply | null;
  notFound: (ctx: RequestContext) => Reply;
  rateLimited: (retryAfterSeconds: number, limit: number) => Reply;
  /** Requests per window; default 10_000. */
  limit?: number;
  windowMs?: number;
  /**
   * The rate-limit windows a request counts against (Rootly: reads and writes apart, alert creation
   * also on its own); default one window for everything. Each has `limit` unless `windowLimits` names it.
   */
  windows?: (method: string, route: string | null) => string[];
  windowLimits?: Record<string, number>;
  /** The vendor's answer to a body that is not JSON; default a JSON:API `errors[]` 400. */
  malformed?: () => Reply;
  /** Send RateLimit-Limit/Remaining/Reset (Reset as epoch seconds) on every answer. */
  rateLimitHeaders?: boolean;
  latencyMs?: number;
  /** Clock for the rate-limit window; tests share it with the client's injected sleep. */
  now?: () => number;
  random?: () => number;
}

export interface FakeServer {
  url: string;
  close(): Promise<void>;
  calls(filter?: { route?: string; method?: string }): CallRecord[];
  inject(routeKey: string, fault: FaultSpec): void;
  clearFaults(): void;
  setLimit(limit: number, windowMs?: number): void;
}

interface CompiledRoute extends RouteDef {
  key: string;
  regex: RegExp;
  names: string[];
}

export async function startFakeServer(opts: FakeServerOptions): Promise<FakeServer> {
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  let limit = opts.limit ?? 10_000;
  let windowMs = opts.windowMs ?? 60_000;
  const windowHits = new Map<string, number[]>();
  const hitsOf = (w: string): number[] => windowHits.get(w) ?? (windowHits.set(w, []), windowHits.get(w)!);
  const limitOf = (w: string): number => opts.windowLimits?.[w] ?? limit;
  const log: CallRecord[] = [];
  const faults: { key: string; spec: FaultSpec; left: number }[] = [];
  const sockets = new Set<Socket>();
  const routes: CompiledRoute[] = opts.routes.map((r) => {
    const names: string[] = [];
    const src = r.template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_m, n: string) => {
      names.push(n);
      return '([^/]+)';
    });
    return { ...r, key: `${r.method} ${r.template}`, regex: new RegExp(`^${src}$`), names };
  });

  const takeFault = (key: string): FaultSpec | null => {
    for (const f of faults) {
      if (f.key !== key && f.key !== '*') continue;
      if (f.left <= 0) continue;
      if (f.spec.probability !== undefined && random() >= f.spec.probability) continue;
      f.left -= 1;
      return f.spec;
    }
    return null;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The call arrived with its headers; reading its body is part of the vendor's answer time.
    const arrived = performance.now();
    const arrivedAt = Date.now();
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    let body: unknown = null;
    let badJson = false;
    if (rawBody.length > 0) {
      try {
        body = JSON.parse(rawBody);
      } catch {
        badJson = true;
        body = rawBody;
      }
    }
    const method = req.method ?? 'GET';
    const path = decodeURIComponent(url.pathname);
    let route: CompiledRoute | null = null;
    const params: Record<string, string> = {};
    for (const r of routes) {
      if (r.method !== method) continue;
      const m = r.regex.exec(path);
      if (!m) continue;
      route = r;
      r.names.forEach((n, i) => (params[n] = m[i + 1] ?? ''));
      break;
    }
    const windows = opts.windows?.(method, route?.key ?? null) ?? ['all'];
    const record: CallRecord = { method, path, route: route?.key ?? null, query, headers, body, status: null, at: arrivedAt, answeredAt: null };
    log.push(record);
    const ctx: RequestContext = { method, path, params, query, headers, body, rawBody, route: route?.key ?? '' };

    // The latency is the vendor's whole answer time, its own work included: the answer goes out
    // `latencyMs` after the request arrived (see the Slack emulator's `answerAt`). A fault's
    // latency still delays the work itself.
    const due = arrived + (opts.latencyMs ?? 0);
    const send = (reply: Reply): void => answerAt(due, () => write(reply));
    const write = (reply: Reply): void => {
      record.status = reply.status;
      record.response = reply.body;
      record.answeredAt = Date.now();
      const h: Record<string, string> = { ...(reply.headers ?? {}) };
      if (opts.rateLimitHeaders) {
        const t = now();
        const inWindow = hitsOf(windows[0]!).filter((x) => x > t - windowMs);
        const limit = limitOf(windows[0]!);
        h['ratelimit-limit'] = String(limit);
        h['ratelimit-remaining'] = String(Math.max(0, limit - inWindow.length));
        h['ratelimit-reset'] = String(Math.ceil(((inWindow[0] ?? t) + windowMs) / 1000));
      }
      const text = reply.body === undefined ? '' : JSON.stringify(reply.body);
      if (text && !h['content-type']) h['content-type'] = 'application/json';
      res.writeHead(reply.status, h);
      res.end(text);
    };

    const auth = opts.authenticate(ctx);
    if (auth) return send(auth);

    // Sliding windows per fake (one key per fake in practice): refused when any of the request's is full.
    const t = now();
    for (const w of windows) {
      const hits = hitsOf(w);
      while (hits.length > 0 && hits[0]! <= t - windowMs) hits.shift();
      if (hits.length >= limitOf(w)) {
        const retryAfter = Math.max(1, Math.ceil((hits[0]! + windowMs - t) / 1000));
        return send(opts.rateLimited(retryAfter, limitOf(w)));
      }
    }
    for (const w of windows) hitsOf(w).push(t);

    const fault = route ? takeFault(route.key) : null;
    if (fault?.latencyMs) await delay(fault.latencyMs);
    if (fault?.hang) return; // never answered; close() destroys the socket
    if (fault?.status !== undefined) return send({ status: fault.status, body: fault.body, ...(fault.headers ? { headers: fault.headers } : {}) });
    if (!route) return send(opts.notFound(ctx));
    if (badJson) return send(opts.malformed?.() ?? { status: 400, body: { errors: [{ title: 'Malformed JSON body', status: '400' }] } });
    const pre = opts.precheck?.(ctx);
    if (pre) return send(pre);
    const reply = await route.handler(ctx);
    if (fault?.hangAfterCommit) {
      record.status = -2;
      return; // never answered; close() destroys the socket
    }
    if (fault?.drop) {
      record.status = -1;
      req.socket.destroy();
      return;
    }
    send(reply);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ title: `fake crashed: ${String(err)}`, status: '500' }] }));
      }
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
    calls: (filter) => log.filter((c) => (!filter?.route || c.route === filter.route) && (!filter?.method || c.method === filter.method)),
    inject: (routeKey, fault) => {
      faults.push({ key: routeKey, spec: fault, left: fault.times ?? Number.POSITIVE_INFINITY });
    },
    clearFaults: () => {
      faults.length = 0;
    },
    setLimit: (l, w) => {
      limit = l;
      if (w !== undefined) windowMs = w;
    },
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
