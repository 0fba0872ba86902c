import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebClient } from '@slack/web-api';
import { z } from 'zod';
import {
  GENERAL_CHANNEL_ID,
  INCIDENTS_CHANNEL_ID,
  SlackDriver,
  startSlackEmulator,
  type SlackEmulator,
  type SlackEmulatorOptions,
  type WorkspaceChange,
} from '../../src/emulator/slack/index.js';
import { silentSlackLogger as silent } from './helpers.js';

const TOKEN = 'xoxb-test';
const T0 = 1_732_540_000_000;

/** A controllable clock shared by the emulator and the driver. */
function testClock(start = T0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

function client(emu: SlackEmulator, token = TOKEN): WebClient {
  return new WebClient(token, { slackApiUrl: emu.apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, logger: silent });
}

/** The Slack error string of a rejected WebClient call. */
async function slackError(
  p: Promise<unknown>,
): Promise<{ code: string; error?: string; data?: Record<string, unknown>; retryAfter?: number; statusCode?: number }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code: string; data?: Record<string, unknown>; retryAfter?: number; statusCode?: number };
    return {
      code: e.code,
      error: typeof e.data?.error === 'string' ? e.data.error : undefined,
      data: e.data,
      retryAfter: e.retryAfter,
      statusCode: e.statusCode,
    };
  }
  assert.fail('expected the call to fail');
}

async function withEmulator(opts: Partial<SlackEmulatorOptions> = {}) {
  const clock = testClock();
  const emu = await startSlackEmulator({ botToken: TOKEN, clock: clock.now, ...opts });
  return { emu, clock, web: client(emu) };
}

describe('Slack emulator: Web API', () => {
  let emu: SlackEmulator;
  let web: WebClient;
  let clock: ReturnType<typeof testClock>;

  beforeEach(async () => {
    if (emu) await emu.close();
    ({ emu, web, clock } = await withEmulator());
  });
  after(async () => {
    await emu?.close();
  });

  test('auth.test names the bot user and team; missing or wrong tokens are refused like Slack', async () => {
    const r = await web.auth.test();
    assert.equal(r.user_id, emu.botUserId);
    assert.equal(r.team_id, 'T0FIRE01');
    assert.equal(r.bot_id, emu.botId);
    assert.equal(r.url, 'https://acme.slack.com/');

    const bad = await slackError(client(emu, 'xoxb-wrong').auth.test());
    assert.equal(bad.error, 'invalid_auth');

    const none = await fetch(`${emu.apiUrl}auth.test`, { method: 'POST' });
    assert.equal(none.status, 200);
    assert.deepEqual(await none.json(), { ok: false, error: 'not_authed' });

    const unknown = await fetch(`${emu.apiUrl}chat.teleport`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(unknown.status, 404);
    assert.deepEqual(await unknown.json(), { ok: false, error: 'unknown_method' });

    // JSON bodies work too, with the token in the header.
    const json = await fetch(`${emu.apiUrl}users.info`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'U0ALICE01' }),
    });
    const body = (await json.json()) as { ok: boolean; user: { profile: { email: string } } };
    assert.equal(body.user.profile.email, 'alice@example.com');
  });

  test('conversations.create: the bot is a member; taken and malformed names get Slack errors', async () => {
    const r = await web.conversations.create({ name: 'inc-20241125-checkout-500s' });
    const id = r.channel?.id as string;
    assert.equal(r.channel?.name, 'inc-20241125-checkout-500s');
    const info = await web.conversations.info({ channel: id });
    assert.equal(info.channel?.is_member, true);
    assert.equal(emu.state.channelByName('inc-20241125-checkout-500s')?.id, id);

    assert.equal((await slackError(web.conversations.create({ name: 'inc-20241125-checkout-500s' }))).error, 'name_taken');
    assert.equal((await slackError(web.conversations.create({ name: 'Inc Checkout' }))).error, 'invalid_name_specials');
    assert.equal((await slackError(web.conversations.create({ name: 'x'.repeat(81) }))).error, 'invalid_name_maxlength');
    assert.equal((await slackError(web.conversations.create({ name: '' }))).error, 'invalid_name_required');
    await web.conversations.create({ name: 'x'.repeat(80) });

    const priv = await web.conversations.create({ name: 'inc-secret', is_private: true });
    assert.equal(priv.channel?.is_private, true);
    const pub = await web.conversations.list({});
    assert.ok(!pub.channels?.some((c) => c.name === 'inc-secret'), 'private channels are not listed as public');
  });

  test('conversations.invite and setTopic follow membership rules', async () => {
    const id = (await web.conversations.create({ name: 'inc-db' })).channel?.id as string;
    await web.conversations.invite({ channel: id, users: 'U0ALICE01,U0BOB0001' });
    assert.deepEqual(emu.state.channel(id)?.members, [emu.botUserId, 'U0ALICE01', 'U0BOB0001']);

    assert.equal((await slackError(web.conversations.invite({ channel: id, users: 'U0ALICE01' }))).error, 'already_in_channel');
    assert.equal((await slackError(web.conversations.invite({ channel: id, users: 'U0NOBODY1' }))).error, 'user_not_found');
    assert.equal((await slackError(web.conversations.invite({ channel: id, users: emu.botUserId }))).error, 'cant_invite_self');
    assert.equal((await slackError(web.conversations.invite({ channel: 'C0MISSING1', users: 'U0ALICE01' }))).error, 'channel_not_found');

    const notMine = emu.state.createChannel({ name: 'random', creator: 'U0ALICE01' });
    assert.equal((await slackError(web.conversations.invite({ channel: notMine.id, users: 'U0BOB0001' }))).error, 'not_in_channel');
    assert.equal((await slackError(web.conversations.setTopic({ channel: notMine.id, topic: 'x' }))).error, 'not_in_channel');

    await web.conversations.setTopic({ channel: id, topic: 'SEV1 | checkout | IC @alice' });
    assert.equal(emu.state.channel(id)?.topic.value, 'SEV1 | checkout | IC @alice');
    assert.equal((await slackError(web.conversations.setTopic({ channel: id, topic: 't'.repeat(251) }))).error, 'too_long');
  });

  test('postMessage, update and history: newest first, exclusive oldest, cursor pagination', async () => {
    const id = (await web.conversations.create({ name: 'inc-history' })).channel?.id as string;
    emu.state.channel(id)!.messages.length = 0; // drop the join message to count only ours
    const posted: string[] = [];
    for (let i = 1; i <= 5; i++) posted.push((await web.chat.postMessage({ channel: id, text: `m${i}` })).ts as string);
    assert.ok(
      posted.every((ts, i) => i === 0 || ts > posted[i - 1]!),
      'ts strictly increasing',
    );

    const reply = await web.chat.postMessage({ channel: id, text: 'in thread', thread_ts: posted[0] });
    assert.equal(reply.message?.thread_ts, posted[0]);

    const all = await web.conversations.history({ channel: id });
    assert.deepEqual(
      all.messages?.map((m) => m.text),
      ['m5', 'm4', 'm3', 'm2', 'm1'],
      'replies are not in history',
    );
    assert.equal(all.messages?.[4]?.reply_count, 1);

    const texts: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await web.conversations.history({ channel: id, limit: 2, ...(cursor ? { cursor } : {}) });
      texts.push(...(page.messages ?? []).map((m) => m.text as string));
      cursor = page.response_metadata?.next_cursor || undefined;
      pages++;
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(texts, ['m5', 'm4', 'm3', 'm2', 'm1']);

    const newer = await web.conversations.history({ channel: id, oldest: posted[2] });
    assert.deepEqual(
      newer.messages?.map((m) => m.text),
      ['m5', 'm4'],
    );

    const thread = await web.conversations.replies({ channel: id, ts: posted[0]! });
    assert.deepEqual(
      thread.messages?.map((m) => m.text),
      ['m1', 'in thread'],
    );

    await web.chat.update({ channel: id, ts: posted[1]!, text: 'm2 (edited)' });
    assert.equal(emu.state.message(id, posted[1]!)?.text, 'm2 (edited)');
    assert.equal((await slackError(web.chat.update({ channel: id, ts: '1.000001', text: 'x' }))).error, 'message_not_found');

    const human = emu.state.postMessage(GENERAL_CHANNEL_ID, { user: 'U0ALICE01', text: 'hello' });
    assert.equal((await slackError(web.chat.update({ channel: GENERAL_CHANNEL_ID, ts: human.ts, text: 'x' }))).error, 'cant_update_message');

    // The manifest grants chat:write.public: a public channel the bot has not joined takes its post,
    // a private one it is not in does not exist for it.
    const notMine = emu.state.createChannel({ name: 'random', creator: 'U0ALICE01' });
    assert.equal((await web.chat.postMessage({ channel: notMine.id, text: 'x' })).ok, true);
    const secret = emu.state.createChannel({ name: 'secret', creator: 'U0ALICE01', isPrivate: true });
    assert.equal((await slackError(web.chat.postMessage({ channel: secret.id, text: 'x' }))).error, 'channel_not_found');
    assert.equal((await slackError(web.chat.postMessage({ channel: 'C0MISSING1', text: 'x' }))).error, 'channel_not_found');
    assert.equal((await slackError(web.chat.postMessage({ channel: id, text: '' }))).error, 'no_text');
    assert.equal((await slackError(web.chat.postMessage({ channel: id, text: 'x'.repeat(40_001) }))).error, 'msg_too_long');
  });

  test('Block Kit: 51 blocks and a 76-character button are invalid_blocks with Slack messages', async () => {
    const section = { type: 'section', text: { type: 'mrkdwn', text: 'line' } };
    const many = await slackError(web.chat.postMessage({ channel: INCIDENTS_CHANNEL_ID, text: 't', blocks: Array.from({ length: 51 }, () => section) }));
    assert.equal(many.error, 'invalid_blocks');
    assert.deepEqual((many.data!.response_metadata as { messages: string[] }).messages, ['[ERROR] no more than 50 items allowed [json-pointer:/blocks]']);
    await web.chat.postMessage({ channel: INCIDENTS_CHANNEL_ID, text: 't', blocks: Array.from({ length: 50 }, () => section) });

    const button = (text: string) => [{ type: 'actions', elements: [{ type: 'button', action_id: 'approve', text: { type: 'plain_text', text } }] }];
    const long = await slackError(web.chat.postMessage({ channel: INCIDENTS_CHANNEL_ID, text: 't', blocks: button('a'.repeat(76)) }));
    assert.equal(long.error, 'invalid_blocks');
    assert.match(String((long.data!.response_metadata as { messages: string[] }).messages[0]), /json-pointer:\/blocks\/0\/elements\/0\/text\/text/);
    await web.chat.postMessage({ channel: INCIDENTS_CHANNEL_ID, text: 't', blocks: button('a'.repeat(75)) });

    const dup = await slackError(
      web.chat.postMessage({
        channel: INCIDENTS_CHANNEL_ID,
        text: 't',
        blocks: [
          { ...section, block_id: 'b' },
          { ...section, block_id: 'b' },
        ],
      }),
    );
    assert.equal(dup.error, 'invalid_blocks');
    const unknownType = await slackError(web.chat.postMessage({ channel: INCIDENTS_CHANNEL_ID, text: 't', blocks: [{ type: 'carousel' }] }));
    assert.equal(unknownType.error, 'invalid_blocks');
  });

  test('views.open: a fresh trigger works once; a used one is exchanged; an old one expired', async () => {
    const view = { type: 'modal' as const, callback_id: 'declare', title: { type: 'plain_text' as const, text: 'Declare incident' }, blocks: [] };
    const fresh = emu.issueTrigger('U0ALICE01');
    const opened = await web.views.open({ trigger_id: fresh, view });
    assert.match(opened.view?.id ?? '', /^V/);
    assert.equal(emu.state.view(opened.view!.id!)?.user_id, 'U0ALICE01');
    assert.equal((await slackError(web.views.open({ trigger_id: fresh, view }))).error, 'exchanged_trigger_id');

    const old = emu.issueTrigger('U0ALICE01');
    clock.advance(3001);
    assert.equal((await slackError(web.views.open({ trigger_id: old, view }))).error, 'expired_trigger_id');
    assert.equal((await slackError(web.views.open({ trigger_id: '123.456.abc', view }))).error, 'expired_trigger_id');

    const longTitle = await slackError(
      web.views.open({ trigger_id: emu.issueTrigger('U0ALICE01'), view: { ...view, title: { type: 'plain_text', text: 'A title that is too long!' } } }),
    );
    assert.equal(longTitle.error, 'invalid_arguments');
  });

  test('rate limits: a tier-2 burst of 20 passes, the 21st is a 429 with Retry-After, refill restores', async () => {
    for (let i = 0; i < 20; i++) await web.conversations.create({ name: `burst-${i}` });
    const limited = await slackError(web.conversations.create({ name: 'burst-20' }));
    assert.equal(limited.code, 'slack_webapi_rate_limited_error');
    assert.equal(limited.retryAfter, 3, 'tier 2 refills one call per 3 s');
    assert.equal(emu.state.channelByName('burst-20'), undefined, 'a limited call changes nothing');
    const raw = await fetch(`${emu.apiUrl}conversations.create`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: new URLSearchParams({ name: 'raw' }),
    });
    assert.equal(raw.status, 429);
    assert.equal(raw.headers.get('retry-after'), '3');
    assert.deepEqual(await raw.json(), { ok: false, error: 'ratelimited' });

    // Other methods have their own buckets.
    await web.chat.postMessage({ channel: GENERAL_CHANNEL_ID, text: 'still fine' });
    clock.advance(3000);
    await web.conversations.create({ name: 'burst-20' });

    // chat.postMessage: a burst of 10 per channel, then 1/s.
    for (let i = 0; i < 10; i++) await web.chat.postMessage({ channel: INCIDENTS_CHANNEL_ID, text: `n${i}` });
    assert.equal((await slackError(web.chat.postMessage({ channel: INCIDENTS_CHANNEL_ID, text: 'one too many' }))).retryAfter, 1);
    await web.chat.postMessage({ channel: GENERAL_CHANNEL_ID, text: 'other channel is fine' });
    clock.advance(1000);
    await web.chat.postMessage({ channel: INCIDENTS_CHANNEL_ID, text: 'one per second' });

    const off = await withEmulator({ rateLimits: 'off' });
    try {
      for (let i = 0; i < 25; i++) await off.web.conversations.create({ name: `free-${i}` });
    } finally {
      await off.emu.close();
    }
  });

  test('fault injection: a 500 once, then normal; latency; dropped connections', async () => {
    emu.inject('chat.postMessage', { status: 500 });
    const e = await slackError(web.chat.postMessage({ channel: GENERAL_CHANNEL_ID, text: 'x' }));
    assert.equal(e.code, 'slack_webapi_http_error');
    assert.equal(e.statusCode, 500);
    assert.equal(emu.state.messages(GENERAL_CHANNEL_ID).length, 0, 'a faulted call changes nothing');
    await web.chat.postMessage({ channel: GENERAL_CHANNEL_ID, text: 'x' });

    emu.inject('users.info', { error: 'fatal_error', times: 2 });
    assert.equal((await slackError(web.users.info({ user: 'U0BOB0001' }))).error, 'fatal_error');
    assert.equal((await slackError(web.users.info({ user: 'U0BOB0001' }))).error, 'fatal_error');
    assert.equal((await web.users.info({ user: 'U0BOB0001' })).user?.name, 'bob');

    emu.inject('auth.test', { latencyMs: 150 });
    let t = performance.now();
    await web.auth.test();
    assert.ok(performance.now() - t >= 145, 'injected latency is felt');
    t = performance.now();
    await web.auth.test();
    assert.ok(performance.now() - t < 140, 'latency applies once by default');

    emu.inject('pins.add', { drop: true });
    const dropped = await slackError(web.pins.add({ channel: GENERAL_CHANNEL_ID, timestamp: '1.000001' }));
    assert.equal(dropped.code, 'slack_webapi_request_error');

    const slow = await withEmulator({ latencyMs: 60 });
    try {
      t = performance.now();
      await slow.web.auth.test();
      assert.ok(performance.now() - t >= 55, 'global latency applies to every call');
    } finally {
      await slow.emu.close();
    }
  });

  test('a hanging call times the client out and close() still returns', async () => {
    const own = await withEmulator();
    own.emu.inject('conversations.history', { hang: true });
    const impatient = new WebClient(TOKEN, { slackApiUrl: own.emu.apiUrl, retryConfig: { retries: 0 }, timeout: 100, logger: silent });
    const e = await slackError(impatient.conversations.history({ channel: GENERAL_CHANNEL_ID }));
    assert.equal(e.code, 'slack_webapi_request_error');
    assert.deepEqual(
      own.emu.calls('conversations.history').map((c) => [c.status, c.error]),
      [[0, 'hang']],
    );
    await own.emu.close();
  });

  test('probability faults use the injected random source and do not use up times on a miss', async () => {
    const rolls = [0.9, 0.1];
    const own = await withEmulator({ random: () => rolls.shift() ?? 0.99 });
    try {
      own.emu.inject('users.info', { error: 'service_unavailable', probability: 0.5 });
      assert.equal((await own.web.users.info({ user: 'U0BOB0001' })).ok, true, 'roll 0.9 misses');
      assert.equal((await slackError(own.web.users.info({ user: 'U0BOB0001' }))).error, 'service_unavailable');
      assert.equal((await own.web.users.info({ user: 'U0BOB0001' })).ok, true, 'used up after one hit');
    } finally {
      await own.emu.close();
    }
  });

  test('views.update honours hash; views.publish keeps one Home view per user', async () => {
    const opened = await web.views.open({
      trigger_id: emu.issueTrigger('U0CAROL01'),
      view: { type: 'modal', title: { type: 'plain_text', text: 'Step 1' }, blocks: [] },
    });
    const id = opened.view!.id!;
    assert.equal(
      (await slackError(web.views.update({ view_id: id, hash: 'stale', view: { type: 'modal', title: { type: 'plain_text', text: 'Step 2' }, blocks: [] } })))
        .error,
      'hash_conflict',
    );
    await web.views.update({ view_id: id, hash: opened.view!.hash!, view: { type: 'modal', title: { type: 'plain_text', text: 'Step 2' }, blocks: [] } });
    assert.deepEqual(emu.state.view(id)?.title, { type: 'plain_text', text: 'Step 2' });
    assert.equal(
      (await slackError(web.views.update({ view_id: 'V0NOPE', view: { type: 'modal', title: { type: 'plain_text', text: 'x' }, blocks: [] } }))).error,
      'not_found',
    );

    const home = { type: 'home' as const, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'No open incidents' } }] };
    const first = await web.views.publish({ user_id: 'U0CAROL01', view: home });
    const second = await web.views.publish({ user_id: 'U0CAROL01', view: { ...home, blocks: [{ type: 'divider' }] } });
    assert.equal(second.view?.id, first.view?.id);
    assert.deepEqual(emu.state.homeView('U0CAROL01')?.blocks, [{ type: 'divider' }]);
    const tooMany = Array.from({ length: 101 }, () => ({ type: 'divider' }));
    assert.equal((await slackError(web.views.publish({ user_id: 'U0CAROL01', view: { type: 'home', blocks: tooMany } }))).error, 'invalid_arguments');
    assert.equal((await slackError(web.views.publish({ user_id: 'U0NOBODY1', view: home }))).error, 'user_not_found');
  });

  test('call log records method, decoded args without the token, outcome and status', async () => {
    await web.chat.postMessage({ channel: GENERAL_CHANNEL_ID, text: 'hi', blocks: [{ type: 'divider' }] });
    await slackError(web.users.lookupByEmail({ email: 'nobody@example.com' }));
    const [post] = emu.calls('chat.postMessage');
    assert.equal(post?.ok, true);
    assert.equal(post?.status, 200);
    assert.equal(post?.args.channel, GENERAL_CHANNEL_ID);
    assert.deepEqual(post?.args.blocks, [{ type: 'divider' }]);
    assert.equal('token' in (post?.args ?? {}), false);
    assert.equal(post?.at, T0);
    const [lookup] = emu.calls('users.lookupByEmail');
    assert.deepEqual([lookup?.ok, lookup?.error], [false, 'users_not_found']);
    assert.deepEqual(
      emu.calls().map((c) => c.method),
      ['chat.postMessage', 'users.lookupByEmail'],
    );
    emu.clearCalls();
    assert.equal(emu.calls().length, 0);
  });

  test('scopes: a method whose scope was not granted answers missing_scope with needed and provided', async () => {
    const { emu: narrow, web: w } = await withEmulator({ scopes: ['chat:write', 'channels:read'] });
    try {
      const e = await slackError(w.bookmarks.list({ channel_id: INCIDENTS_CHANNEL_ID }));
      assert.equal(e.error, 'missing_scope');
      assert.equal(e.data?.needed, 'bookmarks:read');
      assert.equal(e.data?.provided, 'chat:write,channels:read');
      // Private channels need the groups:* scope, public ones the channels:* scope.
      assert.equal((await slackError(w.conversations.list({ types: 'public_channel,private_channel' }))).data?.needed, 'groups:read');
      assert.equal((await w.conversations.list({ types: 'public_channel' })).ok, true);
      assert.equal((await slackError(w.conversations.create({ name: 'inc-x', is_private: true }))).data?.needed, 'groups:write');
      assert.equal((await slackError(w.conversations.create({ name: 'inc-x' }))).data?.needed, 'channels:manage');
      // Nothing happened, and the granted scopes come back on every answer as Slack's x-oauth-scopes.
      assert.equal(narrow.state.channelByName('inc-x'), undefined);
      const r = await w.auth.test();
      assert.deepEqual(r.response_metadata?.scopes, ['chat:write', 'channels:read']);
    } finally {
      await narrow.close();
    }
  });

  test("bots.info: auth.test's bot_id names the app; an unknown bot is bot_not_found; users:read is needed", async () => {
    const me = await web.auth.test();
    assert.equal(typeof me.bot_id, 'string');
    const r = await web.bots.info({ bot: me.bot_id as string });
    assert.equal(r.bot?.app_id, emu.appId);
    assert.equal(r.bot?.user_id, me.user_id);
    assert.equal((await slackError(web.bots.info({ bot: 'B0NOSUCH' }))).error, 'bot_not_found');
    const { emu: narrow, web: w } = await withEmulator({ scopes: ['chat:write'] });
    try {
      const e = await slackError(w.bots.info({ bot: me.bot_id as string }));
      assert.equal(e.error, 'missing_scope');
      assert.equal(e.data?.needed, 'users:read');
    } finally {
      await narrow.close();
    }
  });

  test("scopes: the default is the manifest's bot scopes", async () => {
    assert.ok(emu.scopes.includes('bookmarks:read') && emu.scopes.includes('chat:write'));
    assert.equal((await web.bookmarks.list({ channel_id: INCIDENTS_CHANNEL_ID })).ok, true);
  });

  test('chat.postMessage without chat:write.public: a public channel the bot is not in answers not_in_channel', async () => {
    const { emu: e2, web: w } = await withEmulator({ scopes: e2Scopes() });
    try {
      const notMine = e2.state.createChannel({ name: 'announce', creator: 'U0ALICE01' });
      assert.equal((await slackError(w.chat.postMessage({ channel: notMine.id, text: 'x' }))).error, 'not_in_channel');
      assert.equal(e2.state.messages(notMine.id).filter((m) => m.text === 'x').length, 0);
      e2.state.addMembers(notMine.id, [e2.botUserId]);
      assert.equal((await w.chat.postMessage({ channel: notMine.id, text: 'x' })).ok, true);
    } finally {
      await e2.close();
    }
    function e2Scopes() {
      return emu.scopes.filter((s) => s !== 'chat:write.public');
    }
  });

  test('state changes are emitted and pins, bookmarks, ephemerals are stored', async () => {
    const changes: WorkspaceChange[] = [];
    emu.events.on('change', (c: WorkspaceChange) => changes.push(c));
    const { ts } = await web.chat.postMessage({ channel: INCIDENTS_CHANNEL_ID, text: 'card' });
    await web.pins.add({ channel: INCIDENTS_CHANNEL_ID, timestamp: ts! });
    assert.equal((await slackError(web.pins.add({ channel: INCIDENTS_CHANNEL_ID, timestamp: ts! }))).error, 'already_pinned');
    await web.bookmarks.add({ channel_id: INCIDENTS_CHANNEL_ID, title: 'Rootly', type: 'link', link: 'https://rootly.example/inc/1' });
    await web.chat.postEphemeral({ channel: INCIDENTS_CHANNEL_ID, user: 'U0DAVE001', text: 'only dave' });
    assert.equal(emu.state.pins(INCIDENTS_CHANNEL_ID).length, 1);
    assert.equal((await web.bookmarks.list({ channel_id: INCIDENTS_CHANNEL_ID })).bookmarks?.[0]?.link, 'https://rootly.example/inc/1');
    assert.deepEqual(
      emu.state.ephemeralsFor('U0DAVE001').map((e) => e.text),
      ['only dave'],
    );
    assert.deepEqual((await web.usergroups.users.list({ usergroup: 'S0SRELEADS' })).users, ['U0BOB0001', 'U0CAROL01']);
    assert.equal((await slackError(web.usergroups.users.list({ usergroup: 'S0NOPE' }))).error, 'no_such_subteam');
    const kinds = changes.map((c) => c.kind);
    for (const k of ['message.posted', 'pin.added', 'bookmark.added', 'ephemeral.posted'] as const) assert.ok(kinds.includes(k), k);
    const snap = emu.state.snapshot();
    assert.equal(snap.channels.find((c) => c.id === INCIDENTS_CHANNEL_ID)?.pins.length, 1);
  });
});

// What the bot receives, read with zod as the bot itself would: a wrong shape fails the parse.
const BlockActionsPayload = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: z.string(), username: z.string() }),
  container: z.record(z.string(), z.unknown()),
  message: z.object({ ts: z.string() }),
  response_url: z.string(),
  trigger_id: z.string(),
  actions: z.array(z.object({ action_id: z.string(), block_id: z.string(), value: z.string().optional(), type: z.string() })),
});
const ViewSubmissionPayload = z.object({
  type: z.literal('view_submission'),
  user: z.object({ id: z.string() }),
  view: z.object({ id: z.string(), callback_id: z.string(), state: z.object({ values: z.record(z.string(), z.unknown()) }) }),
});
const EventEnvelope = z.object({
  type: z.literal('event_callback'),
  event_id: z.string(),
  team_id: z.string(),
  authorizations: z.array(z.object({ user_id: z.string() })),
  event: z.looseObject({ type: z.string(), ts: z.string().optional(), item: z.unknown().optional(), item_user: z.string().optional() }),
});
const payloadOf = (raw: string): unknown => JSON.parse(new URLSearchParams(raw).get('payload') ?? 'null');

/** A stand-in for the bot: checks Slack's signature itself and answers what the test says. */
interface Received {
  headers: IncomingMessage['headers'];
  raw: string;
  signatureValid: boolean;
}

function verifySlackSignature(secret: string, headers: IncomingMessage['headers'], raw: string, nowSec: number): boolean {
  const ts = String(headers['x-slack-request-timestamp'] ?? '');
  const sig = String(headers['x-slack-signature'] ?? '');
  if (!/^\d+$/.test(ts) || Math.abs(nowSec - Number(ts)) > 300) return false;
  const expected = Buffer.from(`v0=${createHmac('sha256', secret).update(`v0:${ts}:${raw}`).digest('hex')}`);
  const given = Buffer.from(sig);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

describe('SlackDriver: signed requests towards the bot', () => {
  const SECRET = 'test-signing-secret';
  let emu: SlackEmulator;
  let bot: Server;
  let received: Received[] = [];
  let reply: (r: Received, res: ServerResponse) => void = (_r, res) => res.end();
  let driver: SlackDriver;
  let web: WebClient;

  before(async () => {
    emu = await startSlackEmulator({ botToken: TOKEN, rateLimits: 'off' });
    web = client(emu);
    bot = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const r = { headers: req.headers, raw, signatureValid: verifySlackSignature(SECRET, req.headers, raw, Math.floor(Date.now() / 1000)) };
        received.push(r);
        if (!r.signatureValid) {
          res.statusCode = 401;
          res.end();
          return;
        }
        reply(r, res);
      });
    });
    await new Promise<void>((resolve) => bot.listen(0, '127.0.0.1', resolve));
    const port = (bot.address() as AddressInfo).port;
    driver = new SlackDriver({ emulator: emu, requestUrl: `http://127.0.0.1:${port}/slack/events`, signingSecret: SECRET });
  });
  beforeEach(() => {
    received = [];
    reply = (_r, res) => res.end();
  });
  after(async () => {
    await new Promise<void>((resolve) => bot.close(() => resolve()));
    await emu.close();
  });

  test('a slash command is form-encoded, signed, and carries a live trigger id and response_url', async () => {
    const r = await driver.slash('declare sev1 Checkout API 500s', { user: 'U0ALICE01', channel: GENERAL_CHANNEL_ID });
    assert.equal(r.status, 200);
    const got = received[0]!;
    assert.equal(got.signatureValid, true);
    assert.equal(got.headers['content-type'], 'application/x-www-form-urlencoded');
    const form = new URLSearchParams(got.raw);
    assert.equal(form.get('command'), '/incident');
    assert.equal(form.get('text'), 'declare sev1 Checkout API 500s');
    assert.equal(form.get('user_id'), 'U0ALICE01');
    assert.equal(form.get('user_name'), 'alice');
    assert.equal(form.get('channel_name'), 'general');
    assert.equal(form.get('trigger_id'), r.triggerId);
    assert.ok(form.get('response_url')?.startsWith(`${emu.url}/response/`));

    // The trigger works for views.open, and the response_url behaves like Slack's.
    await web.views.open({ trigger_id: r.triggerId, view: { type: 'modal', title: { type: 'plain_text', text: 'Declare' }, blocks: [] } });
    const eph = await fetch(r.responseUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'Only you can see this' }),
    });
    assert.equal(eph.status, 200);
    assert.deepEqual(
      emu.state.ephemeralsFor('U0ALICE01', GENERAL_CHANNEL_ID).map((e) => e.text),
      ['Only you can see this'],
    );
    await fetch(r.responseUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ response_type: 'in_channel', text: 'Incident declared' }),
    });
    assert.equal(emu.state.messages(GENERAL_CHANNEL_ID).at(-1)?.text, 'Incident declared');
  });

  test('a batch times each request from when it leaves, not behind the building and signing of the others', async () => {
    // Signing takes 25 ms a request here (a slow clock): five requests take 125 ms to build.
    const busy = (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end);
    };
    const slow = new SlackDriver({
      emulator: emu,
      requestUrl: (driver as unknown as { requestUrl: string }).requestUrl,
      signingSecret: SECRET,
      clock: () => (busy(25), Date.now()),
    });
    const five = () => Promise.all(Array.from({ length: 5 }, (_, i) => slow.send(`token=x&text=${i}`)));
    const unbatched = await five();
    assert.ok(unbatched[0]!.ms >= 100, `the first waited for the other four to be signed: ${unbatched[0]!.ms} ms`);
    received = [];
    const batched = await slow.batch(five);
    assert.deepEqual(
      batched.map((r) => r.status),
      [200, 200, 200, 200, 200],
    );
    assert.equal(received.length, 5);
    assert.ok(Math.max(...batched.map((r) => r.ms)) < 100, `each timed from its own departure: ${batched.map((r) => r.ms.toFixed(1)).join(', ')} ms`);
    // After the batch, a request leaves at once again.
    assert.equal((await slow.send('token=x&text=after')).status, 200);
  });

  test('old timestamps and wrong secrets fail an independent signature check', async () => {
    const stale = new SlackDriver({
      emulator: emu,
      requestUrl: (driver as unknown as { requestUrl: string }).requestUrl,
      signingSecret: SECRET,
      clock: () => Date.now() - 6 * 60 * 1000,
    });
    assert.equal((await stale.slash('status', { user: 'U0BOB0001', channel: GENERAL_CHANNEL_ID })).status, 401);
    assert.equal((await driver.send('token=x&text=y', {}, { secret: 'not-the-secret' })).status, 401);
    assert.equal((await driver.send('token=x&text=y', { 'X-Slack-Signature': 'v0=deadbeef' })).status, 401);
    assert.equal((await driver.send('token=x&text=y', {}, { sign: false })).status, 401);
    assert.equal((await driver.send('token=x&text=y')).status, 200);
  });

  test('click sends block_actions for a button on a stored message', async () => {
    const { ts } = await web.chat.postMessage({
      channel: INCIDENTS_CHANNEL_ID,
      text: 'Approve rollback?',
      blocks: [
        {
          type: 'actions',
          block_id: 'approval:1',
          elements: [{ type: 'button', action_id: 'approval.approve', value: 'apr_1', text: { type: 'plain_text', text: 'Approve' }, style: 'primary' }],
        },
      ],
    });
    await driver.click({ channel: INCIDENTS_CHANNEL_ID, ts: ts! }, 'approval.approve', { user: 'U0BOB0001' });
    const payload = BlockActionsPayload.parse(payloadOf(received[0]!.raw));
    assert.equal(payload.user.id, 'U0BOB0001');
    assert.deepEqual(payload.container, { type: 'message', message_ts: ts, channel_id: INCIDENTS_CHANNEL_ID, is_ephemeral: false });
    assert.equal(payload.message.ts, ts);
    assert.deepEqual(
      payload.actions.map((a) => [a.action_id, a.block_id, a.value, a.type]),
      [['approval.approve', 'approval:1', 'apr_1', 'button']],
    );
    assert.ok(String(payload.response_url).startsWith(`${emu.url}/response/`));

    // replace_original through the click's response_url edits that message.
    await fetch(payload.response_url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ replace_original: true, text: 'Approved by bob' }),
    });
    assert.equal(emu.state.message(INCIDENTS_CHANNEL_ID, ts!)?.text, 'Approved by bob');

    await assert.rejects(
      driver.click({ channel: INCIDENTS_CHANNEL_ID, ts: ts! }, 'approval.deny', { user: 'U0BOB0001' }),
      /no element with action_id "approval.deny"/,
    );
  });

  test('submitView builds state.values from the stored view and an empty ack closes it', async () => {
    const { view } = await web.views.open({
      trigger_id: emu.issueTrigger('U0ALICE01'),
      view: {
        type: 'modal',
        callback_id: 'declare',
        title: { type: 'plain_text', text: 'Declare' },
        submit: { type: 'plain_text', text: 'Declare' },
        blocks: [
          { type: 'input', block_id: 'title', label: { type: 'plain_text', text: 'Title' }, element: { type: 'plain_text_input', action_id: 'value' } },
          {
            type: 'input',
            block_id: 'severity',
            label: { type: 'plain_text', text: 'Severity' },
            element: { type: 'static_select', action_id: 'value', options: [{ text: { type: 'plain_text', text: 'SEV1' }, value: 'critical' }] },
          },
          { type: 'input', block_id: 'commander', label: { type: 'plain_text', text: 'Commander' }, element: { type: 'users_select', action_id: 'value' } },
          {
            type: 'input',
            block_id: 'responders',
            optional: true,
            label: { type: 'plain_text', text: 'Responders' },
            element: { type: 'multi_users_select', action_id: 'value' },
          },
          {
            type: 'actions',
            block_id: 'similar',
            elements: [{ type: 'button', action_id: 'join_existing', value: 'inc_7', text: { type: 'plain_text', text: 'Join INC-7' } }],
          },
        ],
      },
    });
    const viewId = view!.id!;
    await driver.click({ viewId }, 'join_existing', { user: 'U0ALICE01' });
    const click = z
      .object({
        container: z.object({ type: z.literal('view'), view_id: z.string() }),
        view: z.object({ id: z.string() }),
        actions: z.array(z.object({ value: z.string() })),
      })
      .parse(payloadOf(received[0]!.raw));
    assert.deepEqual([click.container.view_id, click.view.id, click.actions[0]?.value], [viewId, viewId, 'inc_7']);
    received = [];
    const r = await driver.submitView(
      viewId,
      { title: { value: 'Checkout 500s' }, severity: { value: 'critical' }, commander: { value: 'U0ALICE01' } },
      { user: 'U0ALICE01' },
    );
    assert.equal(r.status, 200);
    const payload = ViewSubmissionPayload.parse(payloadOf(received[0]!.raw));
    assert.equal(payload.view.id, viewId);
    assert.equal(payload.view.callback_id, 'declare');
    assert.deepEqual(payload.view.state.values, {
      title: { value: { type: 'plain_text_input', value: 'Checkout 500s' } },
      severity: { value: { type: 'static_select', selected_option: { text: { type: 'plain_text', text: 'SEV1' }, value: 'critical' } } },
      commander: { value: { type: 'users_select', selected_user: 'U0ALICE01' } },
      responders: { value: { type: 'multi_users_select', selected_users: [] } },
    });
    assert.equal(emu.state.view(viewId)?.open, false, 'an empty ack closes the modal');
  });

  test('events carry the envelope and retry headers; reactions and messages land in state first', async () => {
    reply = (_r, res) => res.end();
    const first = await driver.userMessage(INCIDENTS_CHANNEL_ID, 'U0CAROL01', 'db latency back to normal');
    const env = EventEnvelope.parse(JSON.parse(received[0]!.raw));
    assert.equal(received[0]!.headers['content-type'], 'application/json');
    assert.equal(env.event_id, first.eventId);
    assert.equal(env.team_id, 'T0FIRE01');
    assert.equal(env.authorizations[0]?.user_id, emu.botUserId);
    assert.equal(env.event.type, 'message');
    assert.equal(env.event.ts, first.ts);
    assert.equal(emu.state.message(INCIDENTS_CHANNEL_ID, first.ts)?.user, 'U0CAROL01');
    assert.equal(received[0]!.headers['x-slack-retry-num'], undefined);

    await driver.event(env.event, { eventId: first.eventId, retryNum: 1 });
    assert.equal(received[1]!.headers['x-slack-retry-num'], '1');
    assert.equal(received[1]!.headers['x-slack-retry-reason'], 'http_timeout');
    assert.equal((JSON.parse(received[1]!.raw) as { event_id: string }).event_id, first.eventId);

    await driver.reaction(INCIDENTS_CHANNEL_ID, first.ts, 'U0DAVE001', 'pushpin');
    const reaction = EventEnvelope.parse(JSON.parse(received[2]!.raw));
    assert.deepEqual(reaction.event.item, { type: 'message', channel: INCIDENTS_CHANNEL_ID, ts: first.ts });
    assert.equal(reaction.event.item_user, 'U0CAROL01');
    const got = await web.reactions.get({ channel: INCIDENTS_CHANNEL_ID, timestamp: first.ts });
    assert.deepEqual(got.message?.reactions, [{ name: 'pushpin', users: ['U0DAVE001'], count: 1 }]);
  });
});

describe('plain Slack text (where a client does not render mrkdwn)', () => {
  test('a date token shows its fallback; mentions, channels and links their names', async () => {
    const { plainSlackText } = await import('../../src/emulator/slack/index.js');
    const text =
      'Declared <!date^1732540000^{date_short_pretty} {time}|2024-11-25 13:06 UTC> by <@U0ALICE01> in <#C0INC|inc-1>, see <https://x.example/i/1|INC-1> &amp; <!here>';
    assert.equal(
      plainSlackText(text, { user: (id) => (id === 'U0ALICE01' ? 'alice' : undefined) }),
      'Declared 2024-11-25 13:06 UTC by @alice in #inc-1, see INC-1 & @here',
    );
  });
});
