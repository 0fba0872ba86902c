import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dc from 'node:diagnostics_channel';
import { startBot, type Bot } from './harness.js';
import { startFakeRootly, type FakeRootly } from '../fakes/rootly/fake.js';
import { GENERAL_CHANNEL_ID, INCIDENTS_CHANNEL_ID } from '../../src/emulator/slack/index.js';
import { BOB, declare, waitForIncident } from './helpers.js';

/**
 * What the bot puts on the wire first when a declaration's answers come in. undici writes a request
 * on a kept-alive socket only at the end of the event-loop turn it was handed over in, so a request
 * followed in that turn by other work leaves after all of it: the order in which requests are
 * *handed over* is not the order in which they *leave*. These tests watch undici's own events (a
 * request created, its headers written) while a declaration runs against the emulator and a fake
 * Rootly, with the sockets already warm as in steady state.
 */
describe('declare: the post everything waits for leaves before the work behind it starts', () => {
  let bot: Bot;
  let rootly: FakeRootly;
  const seen: string[] = [];
  const label = (request: { path: string; body?: unknown }) => {
    const body = typeof request.body === 'string' ? request.body : Buffer.isBuffer(request.body) ? request.body.toString() : '';
    const channel = /(?:^|&)channel=([^&]+)/.exec(body)?.[1];
    return `${request.path.replace(/\/v1\/incidents\/[^/?]+/, '/v1/incidents/{id}').replace(/\/response\/.*/, '/response_url')}${channel ? ` ${decodeURIComponent(channel)}` : ''}`;
  };
  const onCreate = ({ request }: { request: { path: string; body?: unknown } }) => void seen.push(`create ${label(request)}`);
  const onSent = ({ request }: { request: { path: string; body?: unknown } }) => void seen.push(`sent ${label(request)}`);

  before(async () => {
    rootly = await startFakeRootly({ apiKey: 'rootly-test-key', latencyMs: 30 });
    bot = await startBot({ rateLimits: 'off', latencyMs: 30, env: { ROOTLY_API_KEY: 'rootly-test-key', ROOTLY_API_URL: rootly.url } });
    await bot.waitFor(async () => (await bot.fb.ready()).checks.backend === 'ok', 5000, 'backend ready');
    // A first declaration leaves kept-alive sockets to Slack and Rootly, as a running bot has.
    await declare(bot, 'high Warm-up declaration for the sockets');
    dc.subscribe('undici:request:create', onCreate as (m: unknown) => void);
    dc.subscribe('undici:client:sendHeaders', onSent as (m: unknown) => void);
  });
  after(async () => {
    dc.unsubscribe('undici:request:create', onCreate as (m: unknown) => void);
    dc.unsubscribe('undici:client:sendHeaders', onSent as (m: unknown) => void);
    await bot.close();
    await rootly.close();
  });

  test('conversations.create is written before the Rootly record and the reply are started; the card before the announcement', async () => {
    seen.length = 0;
    const r = await bot.driver.slash('declare high Checkout is down for everyone', { user: BOB, channel: GENERAL_CHANNEL_ID });
    assert.equal(r.status, 200);
    const i = await waitForIncident(bot, 'Checkout is down for everyone');
    /** Where the first event that reads `what` (a request's path, then its channel if it names one) is. */
    const at = (what: string) => {
      const n = seen.findIndex((e) => e === what || e.startsWith(`${what} `));
      assert.ok(n >= 0, `${what} in ${seen.join(' | ')}`);
      return n;
    };
    const createSent = at('sent /api/conversations.create');
    assert.ok(createSent < at('create /v1/incidents'), `the channel's request left before the Rootly create was started: ${seen.join(' | ')}`);
    assert.ok(createSent < at('create /response_url'), `the channel's request left before the reply was started: ${seen.join(' | ')}`);
    const cardSent = at(`sent /api/chat.postMessage ${i.channelId}`);
    assert.ok(cardSent < at(`create /api/chat.postMessage ${INCIDENTS_CHANNEL_ID}`), `the card left before the announcement was started: ${seen.join(' | ')}`);
    assert.ok(cardSent < at('create /api/conversations.invite'), `the card left before the invite was started: ${seen.join(' | ')}`);
  });
});
