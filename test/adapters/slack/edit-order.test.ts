import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GENERAL_CHANNEL_ID, startSlackEmulator, type SlackEmulator } from '../../../src/emulator/slack/index.js';
import type { SlackChat } from '../../../src/adapters/slack/chat.js';
import { chatOn } from './chat-on-emulator.js';

const TOKEN = 'xoxb-edit-order-test';

/**
 * Edits of one message against the Slack emulator: Slack keeps the last edit it received, so an
 * older render held up by a 429 must not land after a newer one (an approval message rendered
 * "approved" while the action ran, arriving after "ran", would leave the channel wrong).
 */
describe('SlackChat.update: the last edit asked for is the one Slack keeps', () => {
  let emu: SlackEmulator;
  let chat: SlackChat;
  before(async () => {
    emu = await startSlackEmulator({ botToken: TOKEN, rateLimits: 'off' });
    // Slack's Retry-After (1 s) waited as 30 ms: the order is what is tested, not the wait.
    chat = chatOn(emu, TOKEN, { sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 30))) });
  });
  after(async () => emu.close());

  const textOf = (ts: string) => emu.state.message(GENERAL_CHANNEL_ID, ts)?.text;

  test('an edit held up by a 429 does not overwrite the newer edit asked for meanwhile', async () => {
    const { ts } = await chat.post(GENERAL_CHANNEL_ID, 'Rollback: awaiting approval');
    emu.inject('chat.update', { status: 429 });
    const older = chat.update(GENERAL_CHANNEL_ID, ts, 'Rollback: approved, running');
    await new Promise((r) => setTimeout(r, 5)); // the older edit is refused and waits to repeat
    const newer = chat.update(GENERAL_CHANNEL_ID, ts, 'Rollback: ran');
    await Promise.all([older, newer]);
    assert.equal(textOf(ts), 'Rollback: ran');
    const sent = emu.calls('chat.update').filter((c) => c.args.ts === ts);
    assert.deepEqual(
      sent.map((c) => [c.args.text, c.ok]),
      [
        ['Rollback: approved, running', false],
        ['Rollback: approved, running', true],
        ['Rollback: ran', true],
      ],
      'the older edit repeated first, the newer one after it',
    );
  });

  test('of several edits waiting behind one on its way, only the newest is sent; every caller is answered', async () => {
    const { ts } = await chat.post(GENERAL_CHANNEL_ID, 'Storm: 1 alert');
    emu.inject('chat.update', { status: 429 });
    const first = chat.update(GENERAL_CHANNEL_ID, ts, 'Storm: 2 alerts');
    await new Promise((r) => setTimeout(r, 5));
    const waiting = [chat.update(GENERAL_CHANNEL_ID, ts, 'Storm: 3 alerts'), chat.update(GENERAL_CHANNEL_ID, ts, 'Storm: 4 alerts')];
    await Promise.all([first, ...waiting]);
    assert.equal(textOf(ts), 'Storm: 4 alerts');
    const texts = emu
      .calls('chat.update')
      .filter((c) => c.args.ts === ts && c.ok)
      .map((c) => c.args.text);
    assert.deepEqual(texts, ['Storm: 2 alerts', 'Storm: 4 alerts'], 'the one superseded while waiting was never sent');
  });

  test('edits of different messages do not wait for each other', async () => {
    const a = await chat.post(GENERAL_CHANNEL_ID, 'card A');
    const b = await chat.post(GENERAL_CHANNEL_ID, 'card B');
    emu.inject('chat.update', { status: 429 });
    const slow = chat.update(GENERAL_CHANNEL_ID, a.ts, 'card A, edited');
    await new Promise((r) => setTimeout(r, 5));
    await chat.update(GENERAL_CHANNEL_ID, b.ts, 'card B, edited');
    assert.equal(textOf(b.ts), 'card B, edited', 'B was written while A waited to repeat');
    assert.equal(textOf(a.ts), 'card A');
    await slow;
    assert.equal(textOf(a.ts), 'card A, edited');
  });

  test('a failed edit fails its caller; the next edit of the message is sent all the same', async () => {
    const { ts } = await chat.post(GENERAL_CHANNEL_ID, 'note');
    emu.inject('chat.update', { error: 'msg_too_long' });
    const failing = chat.update(GENERAL_CHANNEL_ID, ts, 'note, edited once');
    const next = chat.update(GENERAL_CHANNEL_ID, ts, 'note, edited twice');
    await assert.rejects(failing, /msg_too_long/);
    await next;
    assert.equal(textOf(ts), 'note, edited twice');
  });
});
