/**
 * The one client-side token bucket of the outbound clients: it keeps the bot under a vendor's
 * published limits (Rootly's and incident.io's per-key budgets, Slack's per-method tiers), so a busy
 * incident or an alert storm spends its budget waiting here rather than collecting 429s (which also
 * count against the key). Waiters on one bucket are served in order, each seeing the refilled count.
 *
 * Limits: one bucket set per process. Several replicas sharing one key each get the full budget, so
 * configure the limit below the published one divided by the replica count; the server's 429 with
 * its wait (honoured by the retry policy, retry.ts) is the backstop.
 */
export interface BucketLimit {
  /** Tokens refilled per 60 s. */
  perMinute: number;
  /** Capacity (how many may go at once after a quiet spell); defaults to `perMinute`. */
  burst?: number;
}

export interface RateLimiter {
  /**
   * Wait (via the injected sleep) until a token is available in `bucket`, then take it. With
   * `maxWaitMs`: if the token could not be had within that long from now (counting the waiters
   * ahead), reject at once with `DeadlineUnreachable`, taking nothing and keeping no place in line;
   * checked again when its turn comes.
   */
  take(bucket: string, maxWaitMs?: number): Promise<void>;
}

/** A paced call that could not go out before its deadline: not sent, no token spent. */
export class DeadlineUnreachable extends Error {
  /** How long the call would have waited from when it asked. */
  readonly waitMs: number;
  constructor(bucket: string, waitMs: number) {
    super(`${bucket}: a token would come only in ${waitMs} ms, after the deadline`);
    this.name = 'DeadlineUnreachable';
    this.waitMs = waitMs;
  }
}

export interface TokenBucketOptions {
  /** The limit of each bucket, by name or computed from the name; an unknown bucket is unlimited. */
  buckets: Record<string, BucketLimit> | ((bucket: string) => BucketLimit | undefined);
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

interface BucketState {
  tokens: number;
  capacity: number;
  perMs: number;
  updatedAt: number;
  /** The last waiter in line: the next one starts after it. */
  queue: Promise<void>;
  /** How many are in line (not yet served or refused). */
  waiting: number;
}

export function createTokenBucketLimiter(opts: TokenBucketOptions): RateLimiter {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? defaultSleep;
  const limitOf = typeof opts.buckets === 'function' ? opts.buckets : (name: string) => (opts.buckets as Record<string, BucketLimit>)[name];
  const states = new Map<string, BucketState>();
  const stateOf = (name: string): BucketState | undefined => {
    let s = states.get(name);
    if (!s) {
      const limit = limitOf(name);
      if (!limit) return undefined;
      const capacity = limit.burst ?? limit.perMinute;
      s = { tokens: capacity, capacity, perMs: limit.perMinute / 60_000, updatedAt: now(), queue: Promise.resolve(), waiting: 0 };
      states.set(name, s);
    }
    return s;
  };
  /**
   * How long from now (ms) until `ahead` waiters and then one more have each had a token: 0 when a
   * token is there for the one. Brings the bucket up to date first. The one rule both the deadline's
   * early refusal (with the line ahead) and each turn (nobody ahead) read.
   */
  const waitFor = (s: BucketState, ahead: number): number => {
    const t = now();
    s.tokens = Math.min(s.capacity, s.tokens + (t - s.updatedAt) * s.perMs);
    s.updatedAt = t;
    const short = ahead + 1 - s.tokens;
    return short > 0 ? Math.ceil(short / s.perMs) : 0;
  };
  const takeFrom = async (s: BucketState, bucket: string, asked: number, deadline: number | undefined): Promise<void> => {
    for (;;) {
      const wait = waitFor(s, 0);
      if (wait === 0) {
        s.tokens -= 1;
        return;
      }
      if (deadline !== undefined && s.updatedAt + wait > deadline) throw new DeadlineUnreachable(bucket, s.updatedAt + wait - asked);
      await sleep(wait);
    }
  };
  return {
    take(bucket: string, maxWaitMs?: number): Promise<void> {
      const s = stateOf(bucket);
      // An unknown bucket is unlimited: the caller chose not to budget it.
      if (!s) return Promise.resolve();
      const asked = now();
      const deadline = maxWaitMs === undefined ? undefined : asked + maxWaitMs;
      if (deadline !== undefined) {
        // Each waiter ahead takes one token before this one: refuse now rather than at the turn.
        const wait = waitFor(s, s.waiting);
        if (asked + wait > deadline) return Promise.reject(new DeadlineUnreachable(bucket, wait));
      }
      s.waiting++;
      const mine = s.queue
        .then(() => takeFrom(s, bucket, asked, deadline))
        .finally(() => {
          s.waiting--;
        });
      s.queue = mine.catch(() => undefined);
      return mine;
    },
  };
}

export function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
