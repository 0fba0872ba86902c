/**
 * Client-side token buckets that keep the bot under a vendor's published limits, so a busy incident
 * spends its budget waiting here rather than collecting 429s (which also count against the key).
 *
 * Limits: one bucket set per process. Several replicas sharing one API key each get the full budget,
 * so configure `perMinute` below the published limit divided by the replica count.
 */
export interface BucketLimit {
  /** Tokens refilled per 60 s; also the burst capacity. */
  perMinute: number;
}

export interface RateLimiter {
  /** Wait (via the injected sleep) until a token is available in `bucket`, then take it. */
  take(bucket: string): Promise<void>;
}

export interface TokenBucketOptions {
  buckets: Record<string, BucketLimit>;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

interface BucketState {
  tokens: number;
  capacity: number;
  perMs: number;
  updatedAt: number;
}

export function createTokenBucketLimiter(opts: TokenBucketOptions): RateLimiter {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? defaultSleep;
  const states = new Map<string, BucketState>();
  for (const [name, limit] of Object.entries(opts.buckets)) {
    states.set(name, { tokens: limit.perMinute, capacity: limit.perMinute, perMs: limit.perMinute / 60_000, updatedAt: now() });
  }
  const refill = (s: BucketState): void => {
    const t = now();
    s.tokens = Math.min(s.capacity, s.tokens + (t - s.updatedAt) * s.perMs);
    s.updatedAt = t;
  };
  return {
    async take(bucket: string): Promise<void> {
      const s = states.get(bucket);
      // An unknown bucket is unlimited: the caller chose not to budget it.
      if (!s) return;
      for (;;) {
        refill(s);
        if (s.tokens >= 1) {
          s.tokens -= 1;
          return;
        }
        await sleep(Math.ceil((1 - s.tokens) / s.perMs));
      }
    },
  };
}

export function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
