/**
 * The announcement of an incident declared with Rootly: Rootly's record is asked for with the
 * channel, so it is usually answered while the card is in flight, and the announcement waits for
 * it (never longer than the card's answer) to go out with its link: one post, no edit. A slow
 * Rootly does not hold the announcement up: it goes out at the card's answer and is edited once
 * the record exists.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBot, type Bot } from './harness.js';
import { INCIDENTS_CHANNEL_ID } from '../../src/emulator/slack/index.js';
import { startFakeRootly, type FakeRootly } from '../fakes/rootly/fake.js';
import { blocksText, declare, flowDone } from './helpers.js';

const running: Array<{ bot: Bot; rootly: FakeRootly }> = [];
after(async () => {
  for (const r of running) {
    await r.bot.close();
    await r.rootly.close();
  }
});

async function start(slackMs: number, rootlyMs: number) {
  const rootly = await startFakeRootly({ apiKey: 'rootly-test-key', latencyMs: rootlyMs });
  const bot = await startBot({
    latencyMs: slackMs,
    env: { ROOTLY_API_KEY: 'rootly-test-key', ROOTLY_API_URL: rootly.url, ANNOUNCE_CHANNEL: INCIDENTS_CHANNEL_ID },
  });
  running.push({ bot, rootly });
  return { bot, rootly };
}

const announcementCalls = (bot: Bot, method: 'chat.postMessage' | 'chat.update') =>
  bot.emulator.calls(method).filter((c) => c.ok && c.args.channel === INCIDENTS_CHANNEL_ID);

test('Rootly as fast as Slack: the announcement goes out once, already linking the Rootly incident, and is not edited', async () => {
  const { bot, rootly } = await start(40, 40);
  // The first declaration also reads Rootly's severities (its create waits for them): not this case.
  await flowDone(bot, (await declare(bot, 'high Warm-up declaration')).id);
  const before = { posts: announcementCalls(bot, 'chat.postMessage').length, edits: announcementCalls(bot, 'chat.update').length };
  const inc = await declare(bot, 'high Checkout latency over two seconds');
  await flowDone(bot, inc.id);
  const url = rootly.incidents().find((r) => r.id === inc.backendId)!.url;
  const posts = announcementCalls(bot, 'chat.postMessage').slice(before.posts);
  assert.equal(posts.length, 1);
  assert.ok(blocksText(posts[0]!.args.blocks as unknown[]).includes(url), 'the announcement links the Rootly incident from the start');
  assert.deepEqual(announcementCalls(bot, 'chat.update').slice(before.edits), [], 'no edit to add the link');
});

test('Rootly slower than Slack: the announcement does not wait for it (out at the card’s answer), and is edited with the link once the record exists', async () => {
  const { bot, rootly } = await start(20, 400);
  const inc = await declare(bot, 'high Search results empty for some users');
  await flowDone(bot, inc.id, 10_000);
  const url = rootly.incidents().find((r) => r.id === inc.backendId)!.url;
  const [post] = announcementCalls(bot, 'chat.postMessage');
  assert.ok(post, 'announced');
  const created = rootly.calls().find((c) => c.route === 'POST /v1/incidents' && c.answeredAt !== null)!;
  assert.ok(post.at < created.answeredAt!, 'the announcement went out before Rootly answered');
  assert.ok(!blocksText(post.args.blocks as unknown[]).includes(url));
  await bot.waitFor(
    () => announcementCalls(bot, 'chat.update').some((c) => blocksText(c.args.blocks as unknown[]).includes(url)),
    5000,
    'the announcement edited with the link',
  );
});
