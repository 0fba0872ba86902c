import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSlackEmulator, type SlackEmulator } from '../../../src/emulator/slack/index.js';
import { type SlackChat, USER_CACHE } from '../../../src/adapters/slack/chat.js';
import { TtlCache } from '../../../src/adapters/slack/ttl-cache.js';
import { ChatError } from '../../../src/errors.js';
import { chatOn } from './chat-on-emulator.js';

const TOKEN = 'xoxb-user-cache-test';
const ALICE = 'U0ALICE01';
const BOB = 'U0BOB0001';

/**
 * users.info through SlackChat against the Slack emulator, counting the calls Slack saw: during an
 * incident the same few people are looked up again and again (role changes, follow-up owners,
 * pages, names in the post-mortem draft), and each lookup was a Slack call.
 */
describe('SlackChat.userInfo: one users.info per person per few minutes', () => {
  let emu: SlackEmulator;
  let t = Date.parse('2026-12-01T10:00:00Z');
  let chat: SlackChat;
  before(async () => {
    emu = await startSlackEmulator({ botToken: TOKEN, rateLimits: 'off' });
  });
  after(async () => emu.close());
  beforeEach(() => {
    emu.clearCalls();
    emu.clearFaults();
    // A fresh process each test: its own cache, its own clock.
    chat = chatOn(emu, TOKEN, { retries: 0, now: () => t });
  });
  const calls = () => emu.calls('users.info').length;

  test('the same person looked up again within five minutes: one call; after that, Slack is asked again and a new name shows', async () => {
    const first = await chat.userInfo(ALICE);
    assert.deepEqual(first, { id: ALICE, name: 'Alice Nakamura', email: 'alice@example.com', isBot: false, deleted: false });
    t += 60_000;
    assert.deepEqual(await chat.userInfo(ALICE), first);
    t += USER_CACHE.ttlMs - 60_000 - 1;
    assert.deepEqual(await chat.userInfo(ALICE), first);
    assert.equal(calls(), 1, 'one users.info within the TTL');
    await chat.userInfo(BOB);
    assert.equal(calls(), 2, 'another person is another call');

    const alice = emu.state.users.get(ALICE)!;
    alice.real_name = 'Alice N. Sato';
    try {
      t += 1;
      assert.equal((await chat.userInfo(ALICE))?.name, 'Alice N. Sato');
      assert.equal(calls(), 3, 'asked again once the TTL is over');
    } finally {
      alice.real_name = 'Alice Nakamura';
    }
  });

  test('concurrent lookups of one person share one call', async () => {
    const all = await Promise.all([chat.userInfo(ALICE), chat.userInfo(ALICE), chat.userInfo(BOB), chat.userInfo(ALICE), chat.userInfo(BOB)]);
    assert.deepEqual(
      all.map((u) => u?.name),
      ['Alice Nakamura', 'Alice Nakamura', 'Bob Okafor', 'Alice Nakamura', 'Bob Okafor'],
    );
    assert.deepEqual(
      emu
        .calls('users.info')
        .map((c) => c.args.user)
        .sort(),
      [ALICE, BOB],
    );
  });

  test('a failure is not kept: every caller that shared the call sees it, and the next lookup asks Slack again', async () => {
    emu.inject('users.info', { error: 'internal_error' });
    const failed = await Promise.allSettled([chat.userInfo(ALICE), chat.userInfo(ALICE)]);
    assert.equal(calls(), 1, 'the two callers shared the failing call');
    for (const r of failed) {
      assert.equal(r.status, 'rejected');
      assert.ok(r.reason instanceof ChatError && r.reason.slackError === 'internal_error');
    }
    assert.equal((await chat.userInfo(ALICE))?.name, 'Alice Nakamura');
    assert.equal(calls(), 2);
    await chat.userInfo(ALICE);
    assert.equal(calls(), 2, 'the answer that came back is kept');
  });

  test('user_not_found is kept for a minute only', async () => {
    assert.equal(await chat.userInfo('U0NOBODY1'), null);
    t += USER_CACHE.notFoundTtlMs - 1;
    assert.equal(await chat.userInfo('U0NOBODY1'), null);
    assert.equal(calls(), 1);
    t += 1;
    assert.equal(await chat.userInfo('U0NOBODY1'), null);
    assert.equal(calls(), 2, 'asked again after a minute');
  });
});

describe('TtlCache', () => {
  test('holds at most maxEntries, dropping the oldest written', async () => {
    const fetched: string[] = [];
    const cache = new TtlCache<string>({ maxEntries: 2, now: () => 0 });
    const load = (k: string) =>
      cache.load(
        k,
        async () => {
          fetched.push(k);
          return k.toUpperCase();
        },
        () => 1000,
      );
    await load('a');
    await load('b');
    await load('c');
    assert.equal(cache.size, 2);
    assert.equal(await load('c'), 'C');
    assert.equal(await load('b'), 'B');
    assert.equal(await load('a'), 'A', 'dropped, so fetched again');
    assert.deepEqual(fetched, ['a', 'b', 'c', 'a']);
  });
});
