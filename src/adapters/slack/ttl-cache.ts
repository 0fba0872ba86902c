/**
 * A small in-process cache of answers that expire, for lookups the bot repeats (users.info: see
 * SlackChat.userInfo). Limits: one process only (each replica keeps its own, so N replicas may
 * each ask once per entry); at most `maxEntries`, the oldest written dropped first when full (with
 * a TTL of minutes that is about the first to expire anyway); an expired entry is dropped when read.
 *
 * `load` shares one in-flight call between concurrent callers of the same key and caches only what
 * the loader resolves with: a rejection reaches every caller that was waiting on it and is not kept,
 * so the next caller asks again.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private readonly inFlight = new Map<string, Promise<V>>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(opts: { maxEntries: number; now: () => number }) {
    this.maxEntries = opts.maxEntries;
    this.now = opts.now;
  }

  /**
   * The cached value for `key`, or the one `fetch` resolves with, kept for the TTL it names
   * (`ttlMs(value)`; 0 or less: not kept). Callers that arrive while a fetch for the key is out
   * wait for that one.
   */
  load(key: string, fetch: () => Promise<V>, ttlMs: (value: V) => number): Promise<V> {
    const hit = this.entries.get(key);
    if (hit) {
      if (hit.expiresAt > this.now()) return Promise.resolve(hit.value);
      this.entries.delete(key);
    }
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const call = fetch()
      .then((value) => {
        this.set(key, value, ttlMs(value));
        return value;
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, call);
    return call;
  }

  get size(): number {
    return this.entries.size;
  }

  private set(key: string, value: V, ttlMs: number): void {
    if (ttlMs <= 0) return;
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, expiresAt: this.now() + ttlMs });
  }
}
