import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_RETRY, retryDecision, type AttemptOutcome, type RetryDecision } from '../../../src/adapters/http/retry.js';

/**
 * The one retry policy of every outbound call (vendor HTTP client, Slack client, webhook executor),
 * as a table: what happened, how many attempts so far, whether the request may be repeated, and
 * what the policy answers, under the default policy with 10 attempts. `random` is fixed at 1, so a backoff is its upper bound
 * (0.5 s × 2ⁿ⁻¹, capped at 8 s).
 */
const res = (status: number, serverWaitMs: number | null = null): AttemptOutcome => ({ kind: 'response', status, serverWaitMs });
const transport = (error: 'timeout' | 'connection', sent: boolean): AttemptOutcome => ({ kind: 'transport', error, sent });
const again = (delayMs: number): RetryDecision => ({ retry: true, delayMs });
const stop = (reason: 'final' | 'exhausted' | 'unsafe' | 'wait_too_long'): RetryDecision => ({ retry: false, reason });

const CASES: [name: string, outcome: AttemptOutcome, attempt: number, idempotent: boolean, expected: RetryDecision][] = [
  ['200 is final', res(200), 1, true, stop('final')],
  ['201 on a create is final', res(201), 1, false, stop('final')],
  ['400 refusal is final, even on the first attempt', res(400), 1, true, stop('final')],
  ['404 is final', res(404), 1, true, stop('final')],
  ['422 is final', res(422), 1, false, stop('final')],
  ['a 4xx is final even when attempts remain and it is idempotent', res(409), 2, true, stop('final')],
  ['500 on an idempotent request: back off 0.5 s', res(500), 1, true, again(500)],
  ['500 on the second attempt: back off 1 s', res(500), 2, true, again(1000)],
  ['503 on the third attempt: back off 2 s', res(503), 3, true, again(2000)],
  ['503 with Retry-After 3 s on an idempotent request waits what it asks', res(503, 3000), 1, true, again(3000)],
  ['503 with a Retry-After beyond the maximum waits the maximum', res(503, 120_000), 1, true, again(DEFAULT_RETRY.maxRetryAfterMs)],
  ['408 on an idempotent request is retried', res(408), 1, true, again(500)],
  ['500 on a create is not repeated blindly', res(500), 1, false, stop('unsafe')],
  ['408 on a create is not repeated blindly', res(408), 1, false, stop('unsafe')],
  ['429 with a server wait: wait as asked, even for a create', res(429, 2500), 1, false, again(2500)],
  ['429 without a wait: back off', res(429), 2, true, again(1000)],
  ['429 asking for longer than the maximum: give up', res(429, DEFAULT_RETRY.maxRetryAfterMs + 1), 1, true, stop('wait_too_long')],
  ['429 on the last attempt: exhausted', res(429, 100), 10, true, stop('exhausted')],
  ['500 on the last attempt: exhausted', res(500), 10, true, stop('exhausted')],
  ['a refused connection never carried the request: retried even for a create', transport('connection', false), 1, false, again(500)],
  ['a dropped connection on a create may have been done: not repeated', transport('connection', true), 1, false, stop('unsafe')],
  ['a timeout on a create may have been done: not repeated', transport('timeout', true), 1, false, stop('unsafe')],
  ['a timeout on an idempotent request: back off', transport('timeout', true), 2, true, again(1000)],
  ['the backoff is capped at 8 s', res(500), 9, true, again(8000)],
];

describe('retryDecision', () => {
  for (const [name, outcome, attempt, idempotent, expected] of CASES) {
    it(name, () => {
      const policy = { ...DEFAULT_RETRY, maxAttempts: 10 };
      assert.deepEqual(retryDecision(outcome, { attempt, idempotent, policy, random: () => 1 }), expected);
    });
  }

  it('jitter keeps a backoff within [half, full] and never zero', () => {
    const at = (random: number) => retryDecision(res(502), { attempt: 3, idempotent: true, policy: DEFAULT_RETRY, random: () => random });
    assert.deepEqual(at(0), again(1000));
    assert.deepEqual(at(0.5), again(1500));
    assert.deepEqual(at(1), again(2000));
  });

  it('a policy with one attempt never retries, whatever happened', () => {
    const one = { ...DEFAULT_RETRY, maxAttempts: 1 };
    for (const o of [res(500), res(429, 10), transport('connection', false), transport('timeout', true)]) {
      assert.deepEqual(retryDecision(o, { attempt: 1, idempotent: true, policy: one, random: () => 1 }), stop('exhausted'));
    }
  });
});
