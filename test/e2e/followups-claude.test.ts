import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBot, type Bot } from './harness.js';
import { defaultReply, startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropic/server.js';
import { ALICE, blocksText, BOB, CAROL, declare, messagesWithMarker } from './helpers.js';
import { Actions } from '../../src/slack/ids.js';

let bot: Bot;
let claude: FakeAnthropic;

const DRAFT = [
  '## Summary\nCheckout failed.',
  '## Root Cause\nNot established from the incident data',
  '## Trigger\nA deploy.',
  '## Impact\nCard payments.',
  '## Timeline\n- 09:00 declared',
  '## Resolution\nRolled back.',
  '## Prevention\n- Add a canary stage to the payments deploy\n- **Alert** on card-auth error rate <!channel>\n### Open follow-ups\n- Rotate the processor keys (owner @bob)',
].join('\n\n');

before(async () => {
  claude = await startFakeAnthropic({ respond: (req) => (req.userText.includes('## Prevention') ? { text: DRAFT } : defaultReply(req)) });
  bot = await startBot({ env: { ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: claude.url, ANTHROPIC_MODEL: 'claude-sonnet-5-5' } });
});
after(async () => {
  await bot.close();
  await claude.close();
});

test("Claude's post-mortem proposes follow-ups; none is created until a person presses Add, and a double click adds one", async () => {
  const incident = await declare(bot, 'high Checkout failing');
  await bot.driver.slash('followup Rotate the processor keys', { user: BOB, channel: incident.channelId! });
  await bot.waitFor(async () => (await bot.fb.deps.store.listFollowups({ incidentId: incident.id })).length === 1, 3000);
  await bot.driver.slash('resolve rolled back', { user: ALICE, channel: incident.channelId! });
  const offer = await bot.waitFor(() => messagesWithMarker(bot.emulator, incident.channelId!, `followup_suggestions:${incident.id}`)[0], 8000, 'suggestions');
  // The recorded follow-up was shown to Claude (timeline) and is not offered again; the two new ones are.
  const pmRequest = claude.messageRequests.find((r) => r.userText.includes('## Prevention'))!;
  assert.match(pmRequest.userText, /followup.*Rotate the processor keys/);
  const text = blocksText(offer.blocks);
  assert.match(text, /Add a canary stage to the payments deploy/);
  assert.match(text, /Alert on card-auth error rate &lt;!channel&gt;/, 'escaped, emphasis stripped');
  assert.doesNotMatch(text, /Rotate the processor keys/);
  await bot.fb.deps.jobs.idle();
  assert.equal((await bot.fb.deps.store.listFollowups({ incidentId: incident.id })).length, 1, 'nothing created silently');
  const button = (offer.blocks as { accessory?: { action_id: string; value: string } }[]).find((b) => b.accessory?.action_id === Actions.followupAccept)!;
  await Promise.all([
    bot.driver.click({ channel: incident.channelId!, ts: offer.ts }, Actions.followupAccept, {
      user: CAROL,
      blockId: (button as { block_id?: string }).block_id,
    }),
    bot.driver.click({ channel: incident.channelId!, ts: offer.ts }, Actions.followupAccept, {
      user: BOB,
      blockId: (button as { block_id?: string }).block_id,
    }),
  ]);
  await bot.waitFor(async () => (await bot.fb.deps.store.listFollowups({ incidentId: incident.id })).some((f) => f.source === 'claude'), 3000, 'accepted');
  await new Promise((r) => setTimeout(r, 200));
  const claudes = (await bot.fb.deps.store.listFollowups({ incidentId: incident.id })).filter((f) => f.source === 'claude');
  assert.equal(claudes.length, 1);
  assert.equal(claudes[0]!.text, button.accessory!.value.length ? 'Add a canary stage to the payments deploy' : '');
  assert.ok([BOB, CAROL].includes(claudes[0]!.createdBy as typeof BOB));
});
