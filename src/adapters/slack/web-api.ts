import { ErrorCode, type WebAPICallResult } from '@slack/web-api';
import { STATUS_CODES } from 'node:http';
import { stringify } from 'node:querystring';
import { Agent, type Dispatcher, interceptors, request } from 'undici';

/**
 * The one thing SlackChat needs of a Web API client: call a method with arguments, get Slack's
 * answer or an error in @slack/web-api's terms (`code`: platform, rate-limited, HTTP or request
 * error), so `classifySlackFailure` reads both alike.
 */
export interface SlackApiClient {
  apiCall(method: string, args: Record<string, unknown>): Promise<WebAPICallResult>;
}

/** An error shaped as @slack/web-api's coded errors (`code` plus the field its kind carries). */
function slackApiError(code: ErrorCode, message: string, fields: Record<string, unknown>): Error {
  return Object.assign(new Error(message), { code, ...fields });
}

/**
 * A lean Web API client: one undici request per call, the body form-encoded as @slack/web-api
 * encodes it (objects and arrays as JSON strings, nothing undefined), the answer parsed once. The
 * SDK's WebClient does the same through fetch, a request queue, a retry wrapper (disabled here:
 * SlackChat decides about repeats) and debug lines it formats even when they are not logged:
 * measured at 2-5 times the CPU per call, which lies on the declare critical path three times.
 * Same wire: method URL under SLACK_API_URL, bearer token, form body, JSON answer.
 */
export function createSlackApiClient(opts: { token: string; apiUrl: string; timeoutMs?: number }): SlackApiClient {
  const base = opts.apiUrl.endsWith('/') ? opts.apiUrl : `${opts.apiUrl}/`;
  const timeout = opts.timeoutMs ?? 15_000;
  const headers = {
    authorization: `Bearer ${opts.token}`,
    accept: 'application/json',
    'content-type': 'application/x-www-form-urlencoded',
    'user-agent': `firebreak node/${process.versions.node}`,
  };
  return {
    async apiCall(method, args) {
      const form: Record<string, string | number | boolean> = {};
      for (const [k, v] of Object.entries(args)) {
        if (v === undefined || v === null) continue;
        form[k] = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : JSON.stringify(v);
      }
      const url = `${base}${method}`;
      let res: Awaited<ReturnType<typeof request>>;
      try {
        res = await request(url, { method: 'POST', headers, body: stringify(form), headersTimeout: timeout, bodyTimeout: timeout });
      } catch (err) {
        throw slackApiError(ErrorCode.RequestError, `A request error occurred: ${(err as Error).message}`, { original: err });
      }
      const text = await res.body.text().catch(() => '');
      if (res.statusCode === 429) {
        const retryAfter = Number.parseInt(String(res.headers['retry-after'] ?? ''), 10);
        throw slackApiError(ErrorCode.RateLimitedError, `A rate-limit has been reached, you may retry this request in ${retryAfter} seconds`, {
          retryAfter: Number.isFinite(retryAfter) ? retryAfter : undefined,
        });
      }
      if (res.statusCode !== 200)
        throw slackApiError(ErrorCode.HTTPError, `An HTTP protocol error occurred: statusCode = ${res.statusCode}`, { statusCode: res.statusCode, body: text });
      let data: WebAPICallResult & { error?: string };
      try {
        data = JSON.parse(text) as WebAPICallResult & { error?: string };
      } catch {
        data = { ok: false, error: text };
      }
      const scopes = res.headers['x-oauth-scopes'];
      if (typeof scopes === 'string') data.response_metadata = { ...data.response_metadata, scopes: scopes.trim().split(/\s*,\s*/) };
      if (!data.ok) throw slackApiError(ErrorCode.PlatformError, `An API error occurred: ${data.error}`, { data });
      return data;
    },
  };
}

/**
 * The `fetch` Bolt is given (`clientOptions.fetch`): Bolt's `respond()` posts every answer to a
 * response_url through it, after the ack. The runtime's fetch builds a WHATWG Request, streams the
 * body and wraps the answer in web streams: `/incident list` cost about 0.4 ms more CPU per
 * request through it than through this, and that work shares the loop with the next acks. A string
 * body with a plain object of headers (what respond() and the WebClient send) goes out as one
 * undici request, following redirects as fetch does, and comes back as a real Response (status,
 * headers, body); any other call (a stream or form body, an abort signal, another redirect mode)
 * goes to the runtime's fetch.
 */
export const leanFetch: typeof fetch = async (input, init) => {
  const body = init?.body;
  const headers = init?.headers;
  const plainHeaders = headers === undefined || (typeof headers === 'object' && Object.getPrototypeOf(headers) === Object.prototype);
  if (typeof input !== 'string' || !plainHeaders || (body != null && typeof body !== 'string') || init?.signal || (init?.redirect ?? 'follow') !== 'follow')
    return fetch(input, init);
  followRedirects ??= new Agent().compose(interceptors.redirect({ maxRedirections: 20 }));
  const method = (init?.method ?? 'GET').toUpperCase() as Dispatcher.HttpMethod;
  const res = await request(input, { method, headers: headers as Record<string, string> | undefined, body: body ?? undefined, dispatcher: followRedirects });
  const empty = method === 'HEAD' || res.statusCode === 204 || res.statusCode === 205 || res.statusCode === 304;
  const answer = empty ? null : await res.body.arrayBuffer();
  if (empty) await res.body.dump();
  const out = new Headers();
  for (const [k, v] of Object.entries(res.headers)) {
    if (Array.isArray(v)) for (const one of v) out.append(k, one);
    else if (v !== undefined) out.set(k, v);
  }
  return new Response(answer, { status: res.statusCode, statusText: STATUS_CODES[res.statusCode] ?? '', headers: out });
};
/**
 * Its own undici agent, not the global dispatcher: whichever of undici and the runtime's fetch is
 * used first in a process installs the global one, and undici's redirect interceptor cannot wrap
 * the runtime's (an older undici inside node: "invalid onError method").
 */
let followRedirects: Dispatcher | undefined;
