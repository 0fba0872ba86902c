import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Signature and token checks for every inbound webhook. Pure functions of (headers, raw body,
 * secret, now): the clock is injected so tests are exact. Every comparison is constant-time.
 * The raw body must be the exact bytes received: re-serialised JSON would not verify.
 */
export type Verdict = { ok: true } | { ok: false; reason: string };

/** Replay window for timestamped schemes (Rootly, Svix, generic): 5 minutes either way. */
export const MAX_SKEW_SECONDS = 300;

const ok: Verdict = { ok: true };
const fail = (reason: string): Verdict => ({ ok: false, reason });

/**
 * Constant-time string equality. Both sides are hashed first, so neither the content nor the
 * length of the expected value leaks through timing.
 */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function hmac(secret: string | Buffer, ...parts: (string | Buffer)[]): Buffer {
  const h = createHmac('sha256', secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

function hmacHex(secret: string | Buffer, ...parts: (string | Buffer)[]): string {
  return hmac(secret, ...parts).toString('hex');
}

function checkTimestamp(raw: string | undefined, now: Date): Verdict {
  if (!raw || !/^\d{1,12}$/.test(raw)) return fail('missing or malformed timestamp');
  const skew = Math.abs(now.getTime() / 1000 - Number(raw));
  return skew > MAX_SKEW_SECONDS ? fail(`timestamp outside the ${MAX_SKEW_SECONDS / 60}-minute window`) : ok;
}

/** Rootly: `X-Rootly-Signature: t=<unix>,v1=<hex>`, hex = HMAC-SHA256(secret, t + rawBody). */
export function verifyRootly(headers: IncomingHttpHeaders, body: Buffer, secret: string, now: Date): Verdict {
  const sig = header(headers, 'x-rootly-signature');
  if (!sig) return fail('missing X-Rootly-Signature');
  const parts = sig.split(',').map((p) => p.trim().split('=') as [string, string | undefined]);
  const t = parts.find(([k]) => k === 't')?.[1];
  const candidates = parts.filter(([k]) => k === 'v1').map(([, v]) => v ?? '');
  if (!t || candidates.length === 0) return fail('malformed X-Rootly-Signature');
  const fresh = checkTimestamp(t, now);
  if (!fresh.ok) return fresh;
  const expected = hmacHex(secret, t, body);
  return candidates.some((c) => safeEqual(c.toLowerCase(), expected)) ? ok : fail('signature mismatch');
}

/**
 * incident.io (Svix): `webhook-signature` lists space-separated `v1,<base64>` signatures of
 * `${webhook-id}.${webhook-timestamp}.${body}`, keyed by the base64-decoded secret after `whsec_`.
 */
export function verifySvix(headers: IncomingHttpHeaders, body: Buffer, secret: string, now: Date): Verdict {
  const id = header(headers, 'webhook-id');
  const ts = header(headers, 'webhook-timestamp');
  const sig = header(headers, 'webhook-signature');
  if (!id || !ts || !sig) return fail('missing webhook-id, webhook-timestamp or webhook-signature');
  const fresh = checkTimestamp(ts, now);
  if (!fresh.ok) return fresh;
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.`).update(body).digest('base64');
  const candidates = sig
    .split(' ')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('v1,'))
    .map((s) => s.slice(3));
  if (candidates.length === 0) return fail('no v1 signature in webhook-signature');
  return candidates.some((c) => safeEqual(c, expected)) ? ok : fail('signature mismatch');
}

/** PagerDuty: `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]`; any may match (secret rotation). */
export function verifyPagerDuty(headers: IncomingHttpHeaders, body: Buffer, secret: string): Verdict {
  const sig = header(headers, 'x-pagerduty-signature');
  if (!sig) return fail('missing X-PagerDuty-Signature');
  const expected = hmacHex(secret, body);
  const candidates = sig
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('v1='))
    .map((s) => s.slice(3).toLowerCase());
  if (candidates.length === 0) return fail('no v1 signature in X-PagerDuty-Signature');
  return candidates.some((c) => safeEqual(c, expected)) ? ok : fail('signature mismatch');
}

/**
 * Datadog does not sign. The template sends a shared secret in `X-Firebreak-Token`, or the
 * webhook uses HTTP Basic auth with the secret as the password (any user name).
 */
export function verifyDatadog(headers: IncomingHttpHeaders, secret: string): Verdict {
  const token = header(headers, 'x-firebreak-token');
  if (token !== undefined) return safeEqual(token.trim(), secret) ? ok : fail('X-Firebreak-Token mismatch');
  const password = basicPassword(headers);
  if (password !== null) return safeEqual(password, secret) ? ok : fail('basic auth password mismatch');
  return fail('missing X-Firebreak-Token header (or HTTP Basic auth)');
}

/** The password of `Authorization: Basic base64(user:password)`, or null when the header is not Basic. */
function basicPassword(headers: IncomingHttpHeaders): string | null {
  const auth = header(headers, 'authorization');
  const m = auth ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(auth) : null;
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  return i >= 0 ? decoded.slice(i + 1) : '';
}

/**
 * Alertmanager `http_config`: `authorization` (or `bearer_token`) sends `Authorization: Bearer
 * <token>`; `basic_auth` sends `Authorization: Basic ...`, accepted with the token as the password
 * (any user name).
 */
export function verifyBearer(headers: IncomingHttpHeaders, token: string): Verdict {
  const password = basicPassword(headers);
  if (password !== null) return safeEqual(password, token) ? ok : fail('basic auth password mismatch');
  const auth = header(headers, 'authorization');
  const m = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  if (!m) return fail('missing Authorization: Bearer token (or HTTP Basic auth)');
  return safeEqual(m[1]!, token) ? ok : fail('bearer token mismatch');
}

/**
 * Generic: `X-Firebreak-Timestamp: <unix seconds>` and
 * `X-Firebreak-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`.
 */
export function verifyGeneric(headers: IncomingHttpHeaders, body: Buffer, secret: string, now: Date, opts: { idempotencyKey?: string | null } = {}): Verdict {
  const ts = header(headers, 'x-firebreak-timestamp');
  const sig = header(headers, 'x-firebreak-signature');
  if (!ts || !sig) return fail('missing X-Firebreak-Timestamp or X-Firebreak-Signature');
  const fresh = checkTimestamp(ts, now);
  if (!fresh.ok) return fresh;
  const m = /^sha256=([0-9a-fA-F]+)$/.exec(sig.trim());
  if (!m) return fail('X-Firebreak-Signature must be sha256=<hex>');
  // Agents: an Idempotency-Key is signed too (`timestamp.key.body`), so nobody can replay a
  // proposal under a fresh key.
  const prefix = opts.idempotencyKey ? `${ts}.${opts.idempotencyKey}.` : `${ts}.`;
  return hexDigestEqual(m[1]!, hmac(secret, prefix, body)) ? ok : fail('signature mismatch');
}

/**
 * Constant-time check of a hex signature against the HMAC-SHA256 it must be: compared as the 32
 * bytes themselves. The only length compared is the digest's, which is public (64 hex digits), so
 * nothing need be hashed first as `safeEqual` does for secrets of unknown length: that was two
 * SHA-256 objects and a hex encoding per alert delivery, most of the check's cost. Anything but
 * hex digits is false (Buffer.from would stop at the first one, and a shorter buffer would throw);
 * either case of letter counts, as a hex digest is the same in both. Also Slack's (slack/signature.ts).
 */
export function hexDigestEqual(givenHex: string, expected: Buffer): boolean {
  if (givenHex.length !== expected.length * 2 || !/^[0-9a-fA-F]*$/.test(givenHex)) return false;
  return timingSafeEqual(Buffer.from(givenHex, 'hex'), expected);
}

// -- signing, for senders and tests ------------------------------------------------------------

export function signRootly(secret: string, body: string | Buffer, t: number): string {
  return `t=${t},v1=${hmacHex(secret, String(t), body)}`;
}

export function signSvix(secret: string, id: string, ts: number, body: string | Buffer): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${ts}.`).update(body).digest('base64')}`;
}

export function signPagerDuty(secret: string, body: string | Buffer): string {
  return `v1=${hmacHex(secret, body)}`;
}

export function signGeneric(secret: string, ts: number, body: string | Buffer): string {
  return `sha256=${hmacHex(secret, `${ts}.`, body)}`;
}

/** An agent proposal's signature: the Idempotency-Key, when sent, is part of the signed string. */
export function signAgent(secret: string, ts: number, body: string | Buffer, idempotencyKey?: string | null): string {
  return `sha256=${hmacHex(secret, idempotencyKey ? `${ts}.${idempotencyKey}.` : `${ts}.`, Buffer.from(body))}`;
}
