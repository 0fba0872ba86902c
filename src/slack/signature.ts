import { createHmac } from 'node:crypto';
import { hexDigestEqual } from '../webhooks/verify.js';

/**
 * Slack's request signature, version 0 (`x-slack-signature: v0=hex(HMAC-SHA256(secret,
 * "v0:" + timestamp + ":" + body))`, docs/slack-app.md), judged by the rules of Bolt's receiver
 * (`verifySlackRequest`): refused when the timestamp is more than five minutes old, when the
 * version is not v0, or when the digest differs. It is compared as the digest's 32 bytes
 * (`hexDigestEqual`, as the alert webhooks' are); Bolt's comparison HMACs both hex strings once
 * more under a fresh random key, three digests and a random draw per request where one digest
 * does. This runs before every early ack (slack/bolt.ts), so it is most of an ack's own work.
 *
 * `nowMs` is the wall clock, as Bolt's and the header check's in server.ts are: a request's
 * freshness is a fact about Slack's clock, not the bot's injected one (one window read from two
 * clocks once refused every command after they drifted apart).
 */
export function slackSignatureValid(o: { secret: string; body: string; signature: string; timestamp: number; nowMs: number }): boolean {
  if (!o.secret || !Number.isFinite(o.timestamp)) return false;
  if (o.timestamp < Math.floor(o.nowMs / 1000) - FIVE_MINUTES_S) return false;
  const [version, digest] = o.signature.split('=');
  // Lowercase only, as Slack sends it: Bolt compares the hex strings, so uppercase never passed there.
  if (version !== 'v0' || !digest || digest !== digest.toLowerCase()) return false;
  return hexDigestEqual(digest, createHmac('sha256', o.secret).update(`v0:${o.timestamp}:${o.body}`).digest());
}

const FIVE_MINUTES_S = 300;
