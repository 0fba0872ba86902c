import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSlackEmulator, type SlackEmulator } from '../../../src/emulator/slack/index.js';
import type { SlackChat } from '../../../src/adapters/slack/chat.js';
import { ChatError } from '../../../src/errors.js';
import { chatOn } from './chat-on-emulator.js';

const TOKEN = 'xoxb-channel-privacy-test';

/** SlackChat.channelIsPrivate against the Slack emulator: whether an incident channel anyone can read is still public. */
describe('SlackChat.channelIsPrivate', () => {
  let emu: SlackEmulator;
  let chat: SlackChat;
  before(async () => {
    emu = await startSlackEmulator({ botToken: TOKEN, rateLimits: 'off' });
    chat = chatOn(emu, TOKEN, { retries: 0 });
  });
  after(async () => emu.close());

  test('a public channel: false; a private one: true; one Slack does not show: null', async () => {
    const pub = await chat.createChannel('inc-privacy-public', false);
    const priv = await chat.createChannel('inc-privacy-private', true);
    assert.equal(await chat.channelIsPrivate(pub.id), false);
    assert.equal(await chat.channelIsPrivate(priv.id), true);
    assert.equal(await chat.channelIsPrivate('C0NOSUCH01'), null);
  });

  test('remembered: a private channel for 10 minutes, a public one for 30 s (it may be made private any moment)', async () => {
    let now = Date.now();
    const cached = chatOn(emu, TOKEN, { retries: 0, now: () => now });
    const priv = await cached.createChannel('inc-privacy-cached-private', true);
    const pub = await cached.createChannel('inc-privacy-cached-public', false);
    const asked = () => emu.calls('conversations.info').length;
    const before = asked();
    for (let i = 0; i < 3; i++) {
      assert.equal(await cached.channelIsPrivate(priv.id), true);
      assert.equal(await cached.channelIsPrivate(pub.id), false);
    }
    assert.equal(asked() - before, 2, 'one question per channel');
    now += 31_000;
    assert.equal(await cached.channelIsPrivate(priv.id), true);
    assert.equal(await cached.channelIsPrivate(pub.id), false);
    assert.equal(asked() - before, 3, 'the public one asked again after 30 s, the private one not');
  });

  test('Slack failing to answer throws (the caller decides), it is not read as "public"', async () => {
    const pub = await chat.createChannel('inc-privacy-flaky', false);
    emu.inject('conversations.info', { error: 'internal_error' });
    await assert.rejects(chat.channelIsPrivate(pub.id), (err) => err instanceof ChatError && err.slackError === 'internal_error');
  });
});
