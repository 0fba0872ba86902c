import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSandboxBot, type RunningSandbox } from './helpers.js';
import { INCIDENTS_CHANNEL_ID, SEED_PEOPLE } from '../../src/emulator/slack/index.js';

const ALICE = SEED_PEOPLE[0].id;
let sb: RunningSandbox;
before(async () => {
  sb = await startSandboxBot();
});
after(async () => sb.close());

test('the sandbox has an on-call rotation and a pager: oncall, a page and a follow-up show in the workspace', async () => {
  const onCall = [SEED_PEOPLE[2].id, SEED_PEOPLE[3].id];
  await sb.post('/sandbox/api/message', { user: ALICE, channel: INCIDENTS_CHANNEL_ID, text: '/incident oncall checkout' });
  await sb.waitFor((s) => (s.ephemerals[ALICE] ?? []).find((e) => /On call now/.test(e.text) && onCall.some((u) => e.text.includes(u))), 'who is on call');
  await sb.post('/sandbox/api/message', { user: ALICE, channel: INCIDENTS_CHANNEL_ID, text: '/incident declare sev1 Checkout down' });
  const ch = await sb.waitFor((s) => s.channels.find((c) => c.name.startsWith('inc-') && c.pins.length > 0), 'incident channel');
  await sb.post('/sandbox/api/message', { user: ALICE, channel: ch.id, text: '/incident page platform card processor down' });
  await sb.waitFor((s) => s.channels.find((c) => c.id === ch.id)?.messages.find((m) => /Paged \*platform\*/.test(m.text)), 'page notice');
  const state = (await sb.state()) as unknown as { pages: { dedupKey: string; triggers: number }[] };
  assert.equal(state.pages.length, 1, 'the sandbox pager received the page');
  await sb.post('/sandbox/api/message', { user: ALICE, channel: ch.id, text: '/incident followup Add a canary stage' });
  await sb.waitFor((s) => s.channels.find((c) => c.id === ch.id)?.messages.find((m) => /Follow-up added/.test(m.text)), 'follow-up notice');
});
