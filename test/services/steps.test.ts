import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Block, ChatMessage } from '../../src/ports/chat.js';
import type { Deps } from '../../src/services/deps.js';
import { postOnce, recordIntent, step, stepWithIntent } from '../../src/services/steps.js';
import { openTestSqliteStore } from '../store/pg-helper.js';

/**
 * The resumable-step primitives, as tables of "what the store already holds" → "what runs". The
 * store is the real one (SQLite); the chat is a list of messages whose `post` can fail after
 * Slack has posted (a lost answer), which is the case `postOnce` exists for.
 */
type Store = Awaited<ReturnType<typeof openTestSqliteStore>>['store'];
let store: Store;
let cleanup: () => Promise<void>;
before(async () => {
  ({ store, cleanup } = await openTestSqliteStore());
});
after(async () => cleanup());

let seq = 0;
const flow = () => `flow-${++seq}`;
const NOW = Date.parse('2025-03-01T10:00:00.000Z');

class Channel {
  messages: { ts: string; channel: string; thread?: string; blockIds: string[] }[] = [];
  posts = 0;
  /** The next post reaches Slack but its answer is lost. */
  loseNextAnswer = false;
  async post(channel: string, _text: string, blocks: Block[], opts?: { threadTs?: string }) {
    this.posts++;
    const ts = `${NOW / 1000 + this.posts}.000100`;
    this.messages.push({ ts, channel, ...(opts?.threadTs ? { thread: opts.threadTs } : {}), blockIds: blocks.map((b) => String(b.block_id ?? '')) });
    if (this.loseNextAnswer) {
      this.loseNextAnswer = false;
      throw new Error('socket hang up');
    }
    return { ts, channel };
  }
  async history(channel: string): Promise<ChatMessage[]> {
    return this.messages.filter((m) => m.channel === channel && !m.thread).map((m) => ({ ts: m.ts, user: null, botId: 'B1', text: '', blockIds: m.blockIds }));
  }
  async replies(channel: string, thread: string): Promise<ChatMessage[]> {
    return this.messages
      .filter((m) => m.channel === channel && m.thread === thread)
      .map((m) => ({ ts: m.ts, user: null, botId: 'B1', text: '', blockIds: m.blockIds }));
  }
}

function depsWith(chat: Channel): Deps {
  // Only what the step primitives use: the store, the chat, the clock and the step signals.
  return { store, chat, clock: { now: () => new Date(NOW) } } as unknown as Deps;
}

describe('step', () => {
  const CASES: [name: string, recorded: unknown, runs: number, result: unknown][] = [
    ['nothing recorded: runs once and records the result', undefined, 1, { id: 'new' }],
    ['a recorded result: returned without running', { id: 'old' }, 0, { id: 'old' }],
    ['a recorded null counts as done (a step whose answer is "nothing")', null, 0, null],
    ['a recorded falsy value counts as done', 0, 0, 0],
  ];
  for (const [name, recorded, runs, result] of CASES) {
    it(name, async () => {
      const id = flow();
      if (recorded !== undefined) await store.putStep(id, 'create', recorded);
      let ran = 0;
      const deps = depsWith(new Channel());
      const got = await step(deps, id, 'create', async () => (ran++, { id: 'new' }));
      assert.deepEqual(got, result);
      assert.equal(ran, runs);
      // A second run never repeats the work.
      assert.deepEqual(await step(deps, id, 'create', async () => (ran++, { id: 'again' })), result);
      assert.equal(ran, runs);
    });
  }

  it('a failed run records nothing: the next run tries again', async () => {
    const id = flow();
    const deps = depsWith(new Channel());
    await assert.rejects(
      step(deps, id, 's', async () => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(await step(deps, id, 's', async () => 'ok'), 'ok');
  });
});

describe('stepWithIntent', () => {
  const CASES: [name: string, state: 'none' | 'intent' | 'done', found: string | undefined, expected: { result: string; finds: number; runs: number }][] = [
    ['first run: records an intent, runs, records the result', 'none', 'stale', { result: 'ran', finds: 0, runs: 1 }],
    ['an intent without a result, effect found: adopts it without running', 'intent', 'found', { result: 'found', finds: 1, runs: 0 }],
    ['an intent without a result, no effect found: runs', 'intent', undefined, { result: 'ran', finds: 1, runs: 1 }],
    ['a recorded result: neither looks nor runs', 'done', 'found', { result: 'recorded', finds: 0, runs: 0 }],
  ];
  for (const [name, state, found, expected] of CASES) {
    it(name, async () => {
      const id = flow();
      if (state !== 'none') await store.putStep(id, 'post.intent', { oldest: '1.000000' });
      if (state === 'done') await store.putStep(id, 'post', 'recorded');
      let finds = 0;
      let runs = 0;
      const deps = depsWith(new Channel());
      const opts = { find: async () => (finds++, found), run: async () => (runs++, 'ran') };
      assert.equal(await stepWithIntent(deps, id, 'post', opts), expected.result);
      assert.deepEqual({ finds, runs }, { finds: expected.finds, runs: expected.runs });
      assert.equal(await stepWithIntent(deps, id, 'post', opts), expected.result, 'a second run returns the record');
      assert.deepEqual({ finds, runs }, { finds: expected.finds, runs: expected.runs });
    });
  }

  it('the intent looks back a minute before now, in Slack ts form', async () => {
    const id = flow();
    let seen: { oldest: string } | undefined;
    const deps = depsWith(new Channel());
    await assert.rejects(stepWithIntent(deps, id, 'p', { find: async () => undefined, run: async () => Promise.reject(new Error('lost')) }));
    await stepWithIntent(deps, id, 'p', { find: async (i) => ((seen = i), undefined), run: async () => 'ok' });
    assert.deepEqual(seen, { oldest: ((NOW - 60_000) / 1000).toFixed(6) });
  });
});

describe('postOnce', () => {
  const marker = 'fb:test-marker';
  const render = () => ({ text: 'hello', blocks: [{ type: 'section', block_id: marker, text: { type: 'mrkdwn', text: 'hello' } }] as Block[] });
  const CASES: [name: string, thread: boolean, loseAnswer: boolean, postsAfterRetry: number][] = [
    ['a post whose answer arrives: posted once, a rerun posts nothing', false, false, 1],
    ['a post whose answer was lost: the rerun finds it in the channel and does not post again', false, true, 1],
    ['a thread reply whose answer was lost: the rerun finds it in the thread', true, true, 1],
  ];
  for (const [name, thread, loseAnswer, postsAfterRetry] of CASES) {
    it(name, async () => {
      const chat = new Channel();
      const deps = depsWith(chat);
      const id = flow();
      const opts = thread ? { threadTs: '1740823200.000001' } : {};
      chat.loseNextAnswer = loseAnswer;
      const first = postOnce(deps, id, 'announce', 'C1', marker, render, opts);
      if (loseAnswer) await assert.rejects(first, /socket hang up/);
      else await first;
      const again = await postOnce(deps, id, 'announce', 'C1', marker, render, opts);
      assert.equal(chat.posts, postsAfterRetry);
      assert.equal(chat.messages.length, 1);
      assert.equal(again.ts, chat.messages[0]!.ts);
    });
  }

  it('an intent recorded ahead by a fresh run: its post needs no store write first, and a lost answer is still found by the rerun', async () => {
    const chat = new Channel();
    const deps = depsWith(chat);
    const id = flow();
    const ahead = recordIntent(deps, id, 'card');
    chat.loseNextAnswer = true;
    await assert.rejects(postOnce(deps, id, 'card', 'C3', marker, render, { fresh: true, intentRecorded: ahead }), /socket hang up/);
    assert.deepEqual(await store.getStep(id, 'card.intent'), { oldest: ((NOW - 60_000) / 1000).toFixed(6) });
    const again = await postOnce(deps, id, 'card', 'C3', marker, render, {});
    assert.equal(chat.posts, 1, 'found in the channel, not posted twice');
    assert.equal(again.ts, chat.messages[0]!.ts);
  });

  it('an intent recorded ahead whose post never left (the run died first): the rerun looks, finds nothing, and posts once', async () => {
    const chat = new Channel();
    const deps = depsWith(chat);
    const id = flow();
    await recordIntent(deps, id, 'card');
    const posted = await postOnce(deps, id, 'card', 'C4', marker, render, {});
    assert.equal(chat.posts, 1);
    assert.equal(posted.ts, chat.messages[0]!.ts);
    assert.deepEqual(await store.getStep(id, 'card'), { ts: posted.ts });
  });

  it('a message with another marker is not mistaken for ours: the post is made again', async () => {
    const chat = new Channel();
    const deps = depsWith(chat);
    const id = flow();
    chat.loseNextAnswer = true;
    const notOurs = () => ({ text: 'x', blocks: [{ type: 'section', block_id: 'fb:not-ours', text: { type: 'mrkdwn', text: 'x' } }] as Block[] });
    await assert.rejects(postOnce(deps, id, 'b', 'C2', marker, notOurs, {}));
    await postOnce(deps, id, 'b', 'C2', marker, render, {});
    assert.equal(chat.posts, 2);
  });
});
