/**
 * Per-source ingest limit: a token bucket that refuses instead of waiting (the sender retries
 * after Retry-After; holding the request open would only pile up sockets during a storm).
 *
 * Limit: the buckets live in this process. With several replicas behind a load balancer each
 * replica admits the full rate, so the effective limit is `perMinute × replicas`.
 */
export interface IngestLimiter {
  /** Take one token from `bucket`: null when admitted, else the seconds until a token is free. */
  take(bucket: string): number | null;
}

export function createIngestLimiter(perMinute: number, now: () => number): IngestLimiter {
  const perMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(bucket) {
      const t = now();
      const b = buckets.get(bucket) ?? { tokens: perMinute, at: t };
      // Refill for the time passed, capped at the burst capacity (one minute's worth).
      b.tokens = Math.min(perMinute, b.tokens + Math.max(0, t - b.at) * perMs);
      b.at = t;
      buckets.set(bucket, b);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return null;
      }
      return Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000));
    },
  };
}
