import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Slack's request signature, version 0 (`x-slack-signature: v0=hex(HMAC-SHA256(secret,
 * "v0:" + timestamp + ":" + body))`, docs/slack-app.md), judged by the rules of Bolt's receiver
 * (`verifySlackRequest`): refused when the timestamp is more than five minutes old, when the
 * version is not v0, or when the digest differs. It is compared as the digest's 32 bytes with
 * `timingSafeEqual`; Bolt's comparison HMACs both hex strings once more under a fresh random key,
 * three digests and a random draw per request where one digest does. This runs before every early
 * ack (slack/bolt.ts), so it is most of an ack's own work.
 */
export function slackSignatureValid(o: { secret: string; body: string; signature: string; timestamp: number; nowMs: number }): boolean {
  if (!o.secret || !Number.isFinite(o.timestamp)) return false;
  if (o.timestamp < Math.floor(o.nowMs / 1000) - FIVE_MINUTES_S) return false;
  const [version, digest] = o.signature.split('=');
  if (version !== 'v0' || !digest || !HEX_DIGEST.test(digest)) return false;
  const ours = createHmac('sha256', o.secret).update(`v0:${o.timestamp}:${o.body}`).digest();
  return timingSafeEqual(Buffer.from(digest, 'hex'), ours);
}

const FIVE_MINUTES_S = 300;
/** As Slack sends it: lowercase hex (Bolt compares the strings, so uppercase never matched there either). */
const HEX_DIGEST = /^[0-9a-f]{64}$/;
