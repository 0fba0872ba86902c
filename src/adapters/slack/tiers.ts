import type { BucketLimit } from '../http/token-bucket.js';

/**
 * Slack's per-method rate tiers, as buckets for the shared token bucket (adapters/http/token-bucket.ts),
 * so the bot does not hit 429s in a burst (an alert storm opens many channels at once). Slack allows
 * a tier's per-minute budget in a burst; we refill at 90% of the tier's rate and keep the bucket a
 * little under the budget, so a burst uses most of it and the steady state stays under. Several
 * replicas share Slack's budget; Slack's 429 + Retry-After (honoured by the retry policy) is the backstop.
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

const POST_PREFIX = 'post:';

/** The bucket a call spends from: chat.postMessage per channel, every other method per method. */
export function slackBucket(method: string, channel?: string): string {
  return method === 'chat.postMessage' && channel ? `${POST_PREFIX}${channel}` : method;
}

/** The limit of a bucket named by `slackBucket`; undefined (unpaced) for methods with no tier. */
export function slackBucketLimit(bucket: string): BucketLimit | undefined {
  const tier = bucket.startsWith(POST_PREFIX) ? TIERS.postMessagePerChannel : TIERS[METHOD_TIER[bucket] ?? ''];
  return tier ? { perMinute: tier.perMinute * 0.9, burst: tier.burst } : undefined;
}
