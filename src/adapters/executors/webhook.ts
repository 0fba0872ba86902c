import { createHmac } from 'node:crypto';
import type { ExecutorSpec } from '../../domain/actions.js';
import { DEFAULT_RETRY, retryDecision, type AttemptOutcome, type RetryPolicyOptions } from '../http/retry.js';
import { defaultSleep } from '../http/token-bucket.js';
import { ExecutorError, type ExecutionContext, type ExecutionResult } from '../../ports/executor.js';

type WebhookSpec = Extract<ExecutorSpec, { type: 'webhook' }>;

export interface WebhookOptions {
  /** Injected for tests; defaults to the global fetch (undici). */
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** First backoff; doubles per retry, capped at 8 s, with jitter. */
  baseDelayMs?: number;
  random?: () => number;
  /** Where `secret_env` is looked up: the service passes the secrets captured with the config. */
  env?: Record<string, string | undefined>;
  now?: () => Date;
}

export const SIGNATURE_HEADER = 'X-Firebreak-Signature';
export const TIMESTAMP_HEADER = 'X-Firebreak-Timestamp';

/** `sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`: the receiver recomputes it over the raw body. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function webhookBody(ctx: ExecutionContext): string {
  const { approval, incident } = ctx;
  return JSON.stringify({
    approval_id: approval.id,
    action: approval.actionId,
    params: approval.params,
    incident: { id: incident.id, title: incident.title, severity: incident.severity, backend_id: incident.backendId },
    approved_by: ctx.approvedBy,
    approved_at: ctx.approvedAt.toISOString(),
  });
}

/**
 * POST the approved action to the team's endpoint. Every attempt carries the same body and the
 * same `Idempotency-Key` (the approval id), so a receiver that honours the key runs the action once
 * even when our retry crosses its success: the request counts as idempotent under the shared retry
 * policy (`retryDecision`, adapters/http/retry.ts), which reads:
 * 1. 2xx: done.
 * 2. 4xx other than 408/429: the receiver refused the request; repeating cannot help → failed at once.
 * 3. 5xx, 408, 429, a timeout or a connection error: retry with backoff (0.5 s × 2ⁿ, cap 8 s, jitter),
 *    up to `retries` more attempts; then failed with the last outcome.
 * Each attempt is signed with a fresh timestamp so receivers can keep a short replay window.
 * Limit: the whole run must finish within the job lease (60 s by default): the defaults
 * (10 s timeout, 3 retries) take at most ~45 s. A receiver's Retry-After is not read (the lease bounds the wait).
 */
export async function runWebhook(spec: WebhookSpec, ctx: ExecutionContext, opts: WebhookOptions = {}): Promise<ExecutionResult> {
  const doFetch = opts.fetch ?? fetch;
  const sleep = opts.sleep ?? defaultSleep;
  const random = opts.random ?? Math.random;
  const policy: RetryPolicyOptions = { ...DEFAULT_RETRY, maxAttempts: 1 + spec.retries, baseDelayMs: opts.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs };
  const now = opts.now ?? (() => new Date());
  const secret = (opts.env ?? process.env)[spec.secret_env];
  // Name the variable, never its value.
  if (!secret) throw new ExecutorError(`the webhook signing secret is not set (environment variable ${spec.secret_env})`, { attempts: 0 });

  const body = webhookBody(ctx);
  for (let attempt = 1; ; attempt++) {
    const timestamp = String(Math.floor(now().getTime() / 1000));
    let status: number | null = null;
    let text = '';
    let last: string;
    let outcome: AttemptOutcome;
    try {
      const res = await doFetch(spec.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': ctx.approval.id,
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: signWebhook(secret, timestamp, body),
          'user-agent': 'Firebreak',
        },
        body,
        signal: AbortSignal.timeout(spec.timeout_ms),
      });
      status = res.status;
      text = (await res.text().catch(() => '')).slice(0, 500);
      if (status >= 200 && status < 300) {
        const said = answerMessage(text);
        return {
          summary: `webhook answered ${status}${attempt > 1 ? ` after ${attempt} attempts` : ''}${said ? `: ${said}` : ''}`,
          detail: { status, body: text, attempts: attempt },
        };
      }
      last = `webhook answered ${status}${text ? `: ${text.slice(0, 200)}` : ''}`;
      outcome = { kind: 'response', status, serverWaitMs: null };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError';
      last = timedOut ? `timed out after ${spec.timeout_ms} ms` : `connection failed (${e.cause?.code ?? e.message})`;
      outcome = { kind: 'transport', error: timedOut ? 'timeout' : 'connection', sent: true };
    }
    const d = retryDecision(outcome, { attempt, idempotent: true, policy, random });
    if (d.retry) {
      await sleep(d.delayMs);
      continue;
    }
    if (d.reason === 'final') throw new ExecutorError(last, { status, body: text, attempts: attempt });
    throw new ExecutorError(`${last} (gave up after ${attempt} attempt${attempt === 1 ? '' : 's'})`, { status, attempts: attempt });
  }
}

/** A receiver may say what it did: a JSON answer's string `message` is shown with the result (clipped). */
function answerMessage(text: string): string | null {
  try {
    const m = (JSON.parse(text) as { message?: unknown } | null)?.message;
    return typeof m === 'string' && m.trim() ? (m.length > 200 ? `${m.slice(0, 199)}…` : m.trim()) : null;
  } catch {
    return null;
  }
}
