/**
 * Slack's rate limits as token buckets.
 *
 * Each Web API method belongs to a tier with a per-minute allowance. A bucket holds at most that
 * allowance and refills continuously (allowance/60 per second), so a short burst up to the
 * allowance passes, as Slack tolerates, and a sustained rate above it gets 429s.
 * chat.postMessage is limited per channel instead: ~1 per second with a burst of 10.
 * The real Slack limits are per workspace and per app; this emulator has one of each.
 */

export type Tier = 1 | 2 | 3 | 4 | 'special';

export const TIER_PER_MINUTE: Record<1 | 2 | 3 | 4, number> = { 1: 1, 2: 20, 3: 50, 4: 100 };

/** chat.postMessage: refill 1/s per channel, burst bucket of this size. */
export const POST_MESSAGE_BURST = 10;

/** Tiers from Slack's method docs; methods not listed default to Tier 3. */
export const METHOD_TIERS: Record<string, Tier> = {
  'auth.test': 4, // "Special": Slack allows thousands per hour; Tier 4 is generous enough here.
  'bots.info': 3,
  'conversations.create': 2,
  'conversations.info': 3,
  'conversations.list': 2,
  'conversations.join': 3,
  'conversations.invite': 3,
  'conversations.setTopic': 2,
  'conversations.history': 3,
  'conversations.replies': 3,
  'chat.postMessage': 'special',
  'chat.update': 3,
  'chat.postEphemeral': 4,
  'chat.getPermalink': 4,
  'pins.add': 2,
  'pins.list': 2,
  'bookmarks.add': 2,
  'bookmarks.list': 3,
  'reactions.get': 3,
  'views.open': 4,
  'views.update': 4,
  'views.push': 4,
  'views.publish': 4,
  'users.info': 4,
  'users.lookupByEmail': 3,
  'users.list': 2,
  'usergroups.list': 2,
  'usergroups.users.list': 2,
  'files.getUploadURLExternal': 4,
  'files.completeUploadExternal': 4,
};

export function tierOf(method: string): Tier {
  return METHOD_TIERS[method] ?? 3;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export interface RateDecision {
  allowed: boolean;
  /** Whole seconds until one token is back; set when not allowed. */
  retryAfterSec: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly clock: () => number) {}

  /** Take one token for this call, or say how long to wait. */
  take(method: string, channel: string | undefined): RateDecision {
    const tier = tierOf(method);
    const perChannel = tier === 'special';
    const capacity = perChannel ? POST_MESSAGE_BURST : TIER_PER_MINUTE[tier];
    const perSecond = perChannel ? 1 : TIER_PER_MINUTE[tier] / 60;
    const key = perChannel ? `${method}:${channel ?? ''}` : method;
    const now = this.clock();
    const b = this.buckets.get(key) ?? { tokens: capacity, updatedAt: now };
    b.tokens = Math.min(capacity, b.tokens + ((now - b.updatedAt) / 1000) * perSecond);
    b.updatedAt = now;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { allowed: true, retryAfterSec: 0 };
    }
    return { allowed: false, retryAfterSec: Math.max(1, Math.ceil((1 - b.tokens) / perSecond)) };
  }

  reset(): void {
    this.buckets.clear();
  }
}
