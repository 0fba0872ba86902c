/**
 * The one retry policy of every outbound call: the vendor HTTP client (Rootly, incident.io), the
 * Slack Web API client (adapters/slack/chat.ts) and the webhook executor (adapters/executors/webhook.ts).
 * Each adapter maps its failure to an `AttemptOutcome` and says whether the request is idempotent;
 * `retryDecision` reads top to bottom and the first rule that matches wins. Modelled on the Anthropic SDK: honour the server's wait, otherwise back off
 * 0.5 s × 2ⁿ capped at 8 s with jitter, and retry only what is safe to repeat.
 */

export interface RetryPolicyOptions {
  /** Total attempts including the first. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A server asking us to wait longer than this is not waited for: the caller gets rate_limited. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicyOptions = {
  maxAttempts: 4,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 60_000,
};

/** What happened on one attempt. */
export type AttemptOutcome =
  | { kind: 'response'; status: number; serverWaitMs: number | null }
  /** `sent` is false only when the request certainly never reached the server (connection refused). */
  | { kind: 'transport'; error: 'timeout' | 'connection'; sent: boolean };

/**
 * Why a request is not repeated: `final` — the answer is the answer (2xx, a 4xx refusal);
 * `exhausted` — out of attempts; `unsafe` — it may have been done and is not idempotent (the
 * adapter looks before repeating); `wait_too_long` — the server asks for a longer wait than we give.
 */
export type StopReason = 'final' | 'exhausted' | 'unsafe' | 'wait_too_long';

export type RetryDecision = { retry: true; delayMs: number } | { retry: false; reason: StopReason };

export function retryDecision(
  outcome: AttemptOutcome,
  ctx: { attempt: number; idempotent: boolean; policy: RetryPolicyOptions; random: () => number },
): RetryDecision {
  const { attempt, idempotent, policy } = ctx;
  const backoff = (): number => {
    const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
    // Full jitter in [exp/2, exp]: spreads replicas that failed together without ever retrying instantly.
    return Math.round(exp / 2 + (exp / 2) * ctx.random());
  };

  // 1. Success and ordinary client errors (4xx other than 408/429) are final: repeating cannot help.
  if (outcome.kind === 'response' && outcome.status < 500 && outcome.status !== 429 && outcome.status !== 408) {
    return { retry: false, reason: 'final' };
  }
  // 2. A bounded number of attempts: past it the caller maps the last outcome to an error.
  if (attempt >= policy.maxAttempts) return { retry: false, reason: 'exhausted' };

  // 3. 429: the server refused without doing anything, so even a create may be repeated. Wait as long
  //    as it asks (Retry-After / RateLimit-Reset / body retry_after), unless that is unreasonably long.
  if (outcome.kind === 'response' && outcome.status === 429) {
    const wait = outcome.serverWaitMs ?? backoff();
    if (wait > policy.maxRetryAfterMs) return { retry: false, reason: 'wait_too_long' };
    return { retry: true, delayMs: wait };
  }

  // 4. A connection that was refused never carried the request: safe to repeat for any method.
  if (outcome.kind === 'transport' && !outcome.sent) return { retry: true, delayMs: backoff() };

  // 5. Never repeat a non-idempotent request (a create, a workflow run) blindly after a 5xx, a timeout
  //    or a dropped connection: the server may have done it. The adapter decides (look up, then retry).
  if (!idempotent) return { retry: false, reason: 'unsafe' };

  // 6. 5xx, 408, timeouts and dropped connections on idempotent requests: exponential backoff with jitter.
  return {
    retry: true,
    delayMs: outcome.kind === 'response' && outcome.serverWaitMs !== null ? Math.min(outcome.serverWaitMs, policy.maxRetryAfterMs) : backoff(),
  };
}

/**
 * The server's requested wait, from headers, in ms. `Retry-After` is seconds (or an HTTP date);
 * `RateLimit-Reset` is epoch seconds on Rootly (a small value is read as delta seconds, as in the
 * IETF draft). Returns null when neither is present or parseable.
 */
export function waitFromHeaders(headers: Record<string, string | string[] | undefined>, nowMs: number): number | null {
  const h = (name: string): string | undefined => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const retryAfter = h('retry-after');
  if (retryAfter !== undefined) {
    const secs = Number(retryAfter);
    if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - nowMs);
  }
  const reset = h('ratelimit-reset');
  if (reset !== undefined) {
    const n = Number(reset);
    if (Number.isFinite(n)) {
      // Epoch seconds are > 1e9; anything smaller is a delta in seconds.
      return n > 1e9 ? Math.max(0, n * 1000 - nowMs) : Math.max(0, n * 1000);
    }
  }
  return null;
}
