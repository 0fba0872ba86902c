import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { isValidSlackRequest } from '@slack/bolt/dist/receivers/verify-request.js';
import { slackSignatureValid } from '../../src/slack/signature.js';

const SECRET = 'signing-secret-for-the-signature-test';
const NOW = Date.UTC(2026, 11, 2, 6, 0, 0);
const nowS = Math.floor(NOW / 1000);
const body = 'token=x&team_id=T1&command=%2Fincident&text=declare+high+Checkout+down';
const sign = (b: string, ts: number | string, secret = SECRET) => `v0=${createHmac('sha256', secret).update(`v0:${ts}:${b}`).digest('hex')}`;

// The early ack (slack/bolt.ts) judges a request before Bolt does, and one it refuses goes on to
// Bolt's receiver: both must say the same of every request, or one path accepts what the other
// refuses. Each case is checked against Bolt's own verifier.
const cases: { what: string; signature: string; timestamp: number; body?: string; secret?: string; valid: boolean }[] = [
  { what: 'signed now', signature: sign(body, nowS), timestamp: nowS, valid: true },
  { what: 'signed 4 minutes ago', signature: sign(body, nowS - 240), timestamp: nowS - 240, valid: true },
  { what: 'signed 5 minutes and 1 second ago (stale: a replay)', signature: sign(body, nowS - 301), timestamp: nowS - 301, valid: false },
  { what: 'the body changed after signing', signature: sign(body, nowS), timestamp: nowS, body: `${body}x`, valid: false },
  { what: 'signed with another secret', signature: sign(body, nowS, 'another-secret'), timestamp: nowS, valid: false },
  { what: 'the timestamp changed after signing', signature: sign(body, nowS), timestamp: nowS + 1, valid: false },
  { what: 'version v1', signature: sign(body, nowS).replace('v0=', 'v1='), timestamp: nowS, valid: false },
  { what: 'no version', signature: sign(body, nowS).slice(3), timestamp: nowS, valid: false },
  { what: 'a hex digit short', signature: sign(body, nowS).slice(0, -1), timestamp: nowS, valid: false },
  { what: 'a hex digit more', signature: `${sign(body, nowS)}0`, timestamp: nowS, valid: false },
  { what: 'uppercase hex', signature: `v0=${sign(body, nowS).slice(3).toUpperCase()}`, timestamp: nowS, valid: false },
  { what: 'empty', signature: '', timestamp: nowS, valid: false },
  { what: '64 characters that are not hex', signature: `v0=${'zx'.repeat(32)}`, timestamp: nowS, valid: false },
  {
    what: 'hex with a non-hex character in the middle',
    signature: `${sign(body, nowS).slice(0, 40)}g${sign(body, nowS).slice(41)}`,
    timestamp: nowS,
    valid: false,
  },
  { what: 'no timestamp', signature: sign(body, nowS), timestamp: Number.NaN, valid: false },
];

for (const c of cases) {
  test(`Slack signature: ${c.what} → ${c.valid ? 'valid' : 'refused'}, as Bolt's receiver judges it`, () => {
    const b = c.body ?? body;
    const ours = slackSignatureValid({ secret: c.secret ?? SECRET, body: b, signature: c.signature, timestamp: c.timestamp, nowMs: NOW });
    const bolts = isValidSlackRequest({
      signingSecret: c.secret ?? SECRET,
      body: b,
      headers: { 'x-slack-signature': c.signature, 'x-slack-request-timestamp': c.timestamp },
      nowMilliseconds: NOW,
    });
    assert.equal(ours, c.valid);
    assert.equal(bolts, c.valid, 'Bolt agrees');
  });
}

test('Slack signature: no secret configured refuses everything', () => {
  assert.equal(slackSignatureValid({ secret: '', body, signature: sign(body, nowS, ''), timestamp: nowS, nowMs: NOW }), false);
});
