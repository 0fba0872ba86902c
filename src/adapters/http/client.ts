import { request, type Dispatcher } from 'undici';
import { retryDecision, DEFAULT_RETRY, waitFromHeaders, type AttemptOutcome, type RetryPolicyOptions } from './retry.js';
import { defaultSleep, type RateLimiter } from './token-bucket.js';

/**
 * A small JSON-over-HTTP client for the vendor adapters: per-call timeout, the retry policy of
 * `retry.ts`, and an optional client-side rate limiter. It returns the final response whatever its
 * status (the adapter maps vendor error bodies) and throws `TransportError` only when no response
 * arrived. Undici's dispatcher is injectable so tests can use a MockAgent or a loopback fake.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpRequest {
  method: HttpMethod;
  /** Path under the base URL, e.g. `/v1/incidents`; may already carry a query string. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /**
   * Whether repeating the request after an unknown outcome is harmless. Defaults to true for
   * GET/PUT/DELETE and false for POST/PATCH; a POST with a server-side idempotency key may say true.
   */
  idempotent?: boolean;
  /** Rate-limiter bucket; omitted = not budgeted. */
  bucket?: string;
  /** Extra headers for this request only (e.g. `Idempotency-Key`), on top of the client's. */
  headers?: Record<string, string>;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON, or null for an empty or non-JSON body (then see `text`). */
  body: unknown;
  text: string;
  attempts: number;
}

export class TransportError extends Error {
  readonly kind: 'timeout' | 'connection';
  /** False only when the request certainly never reached the server. */
  readonly sent: boolean;
  readonly attempts: number;
  constructor(kind: 'timeout' | 'connection', sent: boolean, attempts: number, cause: unknown) {
    super(kind === 'timeout' ? 'request timed out' : `connection failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'TransportError';
    this.kind = kind;
    this.sent = sent;
    this.attempts = attempts;
  }
}

export interface HttpClientOptions {
  baseUrl: string;
  headers: Record<string, string>;
  dispatcher?: Dispatcher;
  /** Per attempt, covering connect, headers and body. Default 10 s. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicyOptions>;
  limiter?: RateLimiter;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  random?: () => number;
  /** Vendor-specific wait hint in a 429 body (incident.io `rate_limit.retry_after`), in ms. */
  waitFromBody?: (body: unknown) => number | null;
  /** Called before each retry, for logs and metrics. */
  onRetry?: (info: { method: string; path: string; attempt: number; delayMs: number; reason: string }) => void;
}

export interface HttpClient {
  send(req: HttpRequest): Promise<HttpResponse>;
}

const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

export function createHttpClient(opts: HttpClientOptions): HttpClient {
  const policy: RetryPolicyOptions = { ...DEFAULT_RETRY, ...opts.retry };
  const sleep = opts.sleep ?? defaultSleep;
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const base = opts.baseUrl.replace(/\/+$/, '');

  async function once(req: HttpRequest, url: string): Promise<Omit<HttpResponse, 'attempts'>> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error('timeout')), timeoutMs);
    try {
      const res = await request(url, {
        method: req.method,
        headers: req.headers ? { ...opts.headers, ...req.headers } : opts.headers,
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
        signal: controller.signal,
        ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
      });
      const text = await res.body.text();
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
      let body: unknown = null;
      if (text.length > 0) {
        try {
          body = JSON.parse(text);
        } catch {
          body = null;
        }
      }
      return { status: res.statusCode, headers, body, text };
    } catch (err) {
      if (controller.signal.aborted) throw new TransportError('timeout', true, 0, err);
      const code = (err as { code?: unknown }).code;
      throw new TransportError('connection', !(typeof code === 'string' && NOT_SENT_CODES.has(code)), 0, err);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async send(req: HttpRequest): Promise<HttpResponse> {
      const idempotent = req.idempotent ?? (req.method !== 'POST' && req.method !== 'PATCH');
      const url = base + req.path + queryString(req.query, req.path.includes('?'));
      for (let attempt = 1; ; attempt++) {
        if (opts.limiter && req.bucket) await opts.limiter.take(req.bucket);
        let outcome: AttemptOutcome;
        let result: Omit<HttpResponse, 'attempts'> | null = null;
        let failure: TransportError | null = null;
        try {
          result = await once(req, url);
          // A 429 says when to come back (Retry-After, RateLimit-Reset or the body); a 503 only through
          // Retry-After, since RateLimit-Reset on other answers describes the quota, not an outage.
          const serverWait =
            result.status === 429
              ? (waitFromHeaders(result.headers, now()) ?? opts.waitFromBody?.(result.body) ?? null)
              : result.status === 503 && result.headers['retry-after'] !== undefined
                ? waitFromHeaders({ 'retry-after': result.headers['retry-after'] }, now())
                : null;
          outcome = { kind: 'response', status: result.status, serverWaitMs: serverWait };
        } catch (err) {
          if (!(err instanceof TransportError)) throw err;
          failure = err;
          outcome = { kind: 'transport', error: err.kind, sent: err.sent };
        }
        const d = retryDecision(outcome, { attempt, idempotent, policy, random });
        if (!d.retry) {
          if (result) return { ...result, attempts: attempt };
          throw new TransportError(failure!.kind, failure!.sent, attempt, failure!.cause);
        }
        opts.onRetry?.({ method: req.method, path: req.path, attempt, delayMs: d.delayMs, reason: result ? `HTTP ${result.status}` : failure!.kind });
        await sleep(d.delayMs);
      }
    },
  };
}

function queryString(q: HttpRequest['query'], hasQuery: boolean): string {
  if (!q) return '';
  const parts: string[] = [];
  // Keep brackets readable (`page[size]`): both vendors accept them unescaped and logs stay greppable.
  for (const [k, v] of Object.entries(q))
    if (v !== undefined) parts.push(`${encodeURIComponent(k).replace(/%5B/g, '[').replace(/%5D/g, ']')}=${encodeURIComponent(String(v))}`);
  if (parts.length === 0) return '';
  return (hasQuery ? '&' : '?') + parts.join('&');
}
