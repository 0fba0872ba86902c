/**
 * Per-source ingest limit: a token bucket that refuses instead of waiting (the sender retries
 * after Retry-After; holding the request open would only pile up sockets during a storm).
 *
 * Limit: the buckets live in this process. With several replicas behind a load balancer each
 * replica admits the full rate, so the effective limit is `perMinute × replicas`.
 */
export interface IngestLimiter {
  /** Take `n` tokens (default 1) from `bucket`: null when admitted, else the seconds until they are free. */
  take(bucket: string, n?: number): number | null;
}

export function createIngestLimiter(perMinute: number, now: () => number): IngestLimiter {
  const perMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(bucket, n = 1) {
      const t = now();
      const b = buckets.get(bucket) ?? { tokens: perMinute, at: t };
      // Refill for the time passed, capped at the burst capacity (one minute's worth).
      b.tokens = Math.min(perMinute, b.tokens + Math.max(0, t - b.at) * perMs);
      b.at = t;
      buckets.set(bucket, b);
      // A delivery larger than the whole burst can never pass: it waits for a full bucket instead.
      const need = Math.min(n, perMinute);
      if (b.tokens >= need) {
        b.tokens -= n;
        return null;
      }
      return Math.max(1, Math.ceil((need - b.tokens) / perMs / 1000));
    },
  };
}
