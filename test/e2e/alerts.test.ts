import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { INCIDENTS_CHANNEL_ID } from '../../src/emulator/slack/index.js';
import { signGeneric } from '../../src/webhooks/verify.js';
import { startBot, type Bot } from './harness.js';
import { messagesWithMarker } from './helpers.js';

const SECRET = 'e2e-generic-alert-secret';

async function postGeneric(bot: Bot, alert: Record<string, unknown>, secret = SECRET): Promise<Response> {
  const body = JSON.stringify(alert);
  const ts = Math.floor(Date.now() / 1000);
  return fetch(`${bot.url}/webhooks/alerts/generic`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-firebreak-timestamp': String(ts), 'x-firebreak-signature': signGeneric(secret, ts, body) },
    body,
  });
}

describe('alerts end to end (real HTTP server, Slack emulator)', () => {
  let bot: Bot;
  before(async () => {
    bot = await startBot({ env: { ALERT_WEBHOOK_SECRET: SECRET } });
  });
  after(async () => bot.close());

  test('signed alerts open one incident with one announcement; repeats join it; a bad signature is refused', async () => {
    const wrong = await postGeneric(bot, { title: 'Checkout 502s', service: 'checkout', severity: 'critical' }, 'not-the-secret');
    assert.equal(wrong.status, 401);

    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => postGeneric(bot, { title: 'Checkout 502s', service: 'checkout', severity: 'critical', external_id: `e2e-${i}` })),
    );
    assert.deepEqual(
      responses.map((r) => r.status),
      Array(10).fill(202),
    );

    const incident = await bot.waitFor(
      async () =>
        (await bot.fb.deps.store.listOpenIncidents()).find((i) => i.title === '[GENERIC] Checkout 502s' && i.alertCount === 10 && i.announceTs && i.cardTs),
      10_000,
      'the alert incident with 10 alerts, announced and carded',
    );
    assert.equal((await bot.fb.deps.store.listOpenIncidents()).filter((i) => i.title === '[GENERIC] Checkout 502s').length, 1);
    assert.equal(messagesWithMarker(bot.emulator, INCIDENTS_CHANNEL_ID, `announce:${incident.id}`).length, 1);
    assert.ok(incident.channelId, 'critical → an incident channel');
  });
});
