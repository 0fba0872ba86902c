import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTokenBucketLimiter, DeadlineUnreachable } from '../../../src/adapters/http/token-bucket.js';
import { slackBucket, slackBucketLimit } from '../../../src/adapters/slack/tiers.js';

/** A virtual clock: `sleep` advances it, so a wait is measured without waiting. */
function virtualTime() {
  let t = 0;
  const slept: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      slept.push(ms);
      t += ms;
    },
    slept,
    at: () => t,
  };
}

describe('token bucket', () => {
  it('with a longest wait: a take that could not get its token by then (waiters ahead counted) is refused at once, spending nothing', async () => {
    const v = virtualTime();
    // Sleeps end on a later loop turn, so "refused at once" is seen before the one waiting wakes.
    const sleep = (ms: number) => new Promise<void>((r) => setImmediate(() => void v.sleep(ms).then(r)));
    const limiter = createTokenBucketLimiter({ buckets: { api: { perMinute: 60, burst: 2 } }, now: v.now, sleep });
    await limiter.take('api', 0);
    await limiter.take('api', 0);
    // One token a second: the next comes at 1000, the one after at 2000.
    const first = limiter.take('api', 1500);
    let refusedAt: number | null = null;
    const second = limiter.take('api', 1500).catch((e: unknown) => {
      refusedAt = v.at();
      throw e;
    });
    await assert.rejects(second, (e: unknown) => e instanceof DeadlineUnreachable && e.waitMs === 2000);
    assert.equal(refusedAt, 0, 'refused without waiting');
    await first;
    assert.equal(v.at(), 1000);
    // The refused one kept no place in line: the next waits one token, not two.
    await limiter.take('api', 1000);
    assert.equal(v.at(), 2000);
  });

  it('a burst up to capacity goes at once; the next waits for one token to refill', async () => {
    const v = virtualTime();
    const limiter = createTokenBucketLimiter({ buckets: { api: { perMinute: 60, burst: 3 } }, now: v.now, sleep: v.sleep });
    for (let i = 0; i < 3; i++) await limiter.take('api');
    assert.equal(v.at(), 0);
    await limiter.take('api');
    assert.equal(v.at(), 1000); // 60 a minute: one token a second
  });

  it('capacity defaults to the per-minute budget; an unknown bucket is unlimited', async () => {
    const v = virtualTime();
    const limiter = createTokenBucketLimiter({ buckets: { api: { perMinute: 2 } }, now: v.now, sleep: v.sleep });
    await limiter.take('api');
    await limiter.take('api');
    for (let i = 0; i < 100; i++) await limiter.take('other');
    assert.equal(v.at(), 0);
    await limiter.take('api');
    assert.equal(v.at(), 30_000);
  });

  it('concurrent waiters are served in order, one token each', async () => {
    const v = virtualTime();
    const limiter = createTokenBucketLimiter({ buckets: { api: { perMinute: 60, burst: 1 } }, now: v.now, sleep: v.sleep });
    const order: number[] = [];
    await Promise.all([0, 1, 2].map((i) => limiter.take('api').then(() => order.push(i))));
    assert.deepEqual(order, [0, 1, 2]);
    assert.equal(v.at(), 2000);
  });

  it("Slack's buckets: chat.postMessage per channel, other methods per tier at 90% of its rate, untiered methods unpaced", () => {
    assert.equal(slackBucket('chat.postMessage', 'C1'), 'post:C1');
    assert.notEqual(slackBucket('chat.postMessage', 'C1'), slackBucket('chat.postMessage', 'C2'));
    assert.equal(slackBucket('conversations.create', 'C1'), 'conversations.create');
    assert.deepEqual(slackBucketLimit('post:C1'), { perMinute: 54, burst: 8 });
    assert.deepEqual(slackBucketLimit('conversations.create'), { perMinute: 18, burst: 18 });
    assert.equal(slackBucketLimit('auth.test'), undefined);
  });
});
