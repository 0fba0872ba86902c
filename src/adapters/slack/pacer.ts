/**
 * Client-side pacing under Slack's per-method rate tiers, so the bot does not hit 429s in a burst
 * (an alert storm opens many channels at once). A token bucket per key; callers await a token.
 * Slack allows a tier's per-minute budget in a burst; we refill at 90% of the tier's rate and keep
 * the bucket a little under the budget, so a burst uses most of it and the steady state stays under.
 * Limits: per process. Several replicas share Slack's budget; Slack's 429 + Retry-After (honoured by
 * the Web API client) is the backstop.
 */
export interface Tier {
  perMinute: number;
  burst: number;
}

export const TIERS: Record<string, Tier> = {
  t1: { perMinute: 1, burst: 1 },
  t2: { perMinute: 20, burst: 18 },
  t3: { perMinute: 50, burst: 45 },
  t4: { perMinute: 100, burst: 90 },
  postMessagePerChannel: { perMinute: 60, burst: 8 },
};

export const METHOD_TIER: Record<string, keyof typeof TIERS> = {
  'conversations.create': 't2',
  'conversations.setTopic': 't2',
  'conversations.invite': 't3',
  'conversations.history': 't3',
  'conversations.info': 't3',
  'conversations.list': 't2',
  'chat.update': 't3',
  'chat.postEphemeral': 't4',
  'pins.add': 't2',
  'bookmarks.add': 't2',
  'views.open': 't4',
  'views.update': 't4',
  'views.publish': 't4',
  'users.info': 't4',
  'users.lookupByEmail': 't3',
  'usergroups.users.list': 't2',
};

class Bucket {
  private tokens: number;
  private last: number;
  private chain: Promise<void> = Promise.resolve();
  constructor(
    private readonly tier: Tier,
    private readonly now: () => number,
  ) {
    this.tokens = tier.burst;
    this.last = now();
  }

  take(): Promise<void> {
    // Chain so waiters are served in order and each sees the refilled count.
    const next = this.chain.then(async () => {
      const rate = (this.tier.perMinute * 0.9) / 60_000; // tokens per ms
      for (;;) {
        const t = this.now();
        this.tokens = Math.min(this.tier.burst, this.tokens + (t - this.last) * rate);
        this.last = t;
        if (this.tokens >= 1) {
          this.tokens -= 1;
          return;
        }
        await new Promise((r) => setTimeout(r, Math.ceil((1 - this.tokens) / rate)));
      }
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}

export class SlackPacer {
  private readonly buckets = new Map<string, Bucket>();
  constructor(private readonly now: () => number = Date.now) {}

  async acquire(method: string, channel?: string): Promise<void> {
    if (method === 'chat.postMessage') {
      if (!channel) return;
      return this.bucket(`post:${channel}`, TIERS.postMessagePerChannel!).take();
    }
    const tier = METHOD_TIER[method];
    if (!tier) return;
    return this.bucket(method, TIERS[tier]!).take();
  }

  private bucket(key: string, tier: Tier): Bucket {
    let b = this.buckets.get(key);
    if (!b) {
      b = new Bucket(tier, this.now);
      this.buckets.set(key, b);
    }
    return b;
  }
}
