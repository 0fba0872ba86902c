import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBot, type Bot } from '../../e2e/harness.js';
import { GENERAL_CHANNEL_ID } from '../../../src/emulator/slack/index.js';
import { ALICE, BOB, CAROL, flowDone } from '../../e2e/helpers.js';
import { specsRequired } from '../../fakes/shared/openapi.js';

/**
 * Contract: every Slack Web API call the bot makes, in the flows users run, names a method and
 * arguments that Slack's published Web API description knows. The description is the 2021 OpenAPI
 * file in ../shared/specs (absent in a user's clone: the test then says it skipped). Methods Slack
 * added after 2021 are listed here by name and checked against nothing but this list.
 */
const SPEC = join(dirname(fileURLToPath(import.meta.url)), '../../../../shared/specs/slack-web-api-openapi-2021.json');
const NEWER_THAN_SPEC = new Set(['bookmarks.add', 'bookmarks.list', 'apps.connections.open']);

let bot: Bot;
before(async () => {
  if (!existsSync(SPEC)) return;
  bot = await startBot();
});
after(async () => bot?.close());

test("every Web API method and argument the bot sends is in Slack's Web API description", async (t) => {
  if (!existsSync(SPEC)) {
    assert.ok(!specsRequired(), `${SPEC} is missing and CI=true: the contract check cannot be skipped in CI`);
    t.skip(`skipped: ${SPEC} is not present (it exists in the development workspace and CI, not in a clone)`);
    return;
  }
  const spec = JSON.parse(readFileSync(SPEC, 'utf8')) as { paths: Record<string, Record<string, { parameters?: { name: string }[] }>> };

  // The flows a responder runs: declare (modal data inline), lifecycle, a pin, the Home tab, a summary.
  await bot.driver.slash('declare high Contract check of every call', { user: ALICE, channel: GENERAL_CHANNEL_ID });
  const i = await bot.waitFor(async () => (await bot.fb.deps.store.listOpenIncidents())[0], 5000);
  await flowDone(bot, i.id);
  const inc = (await bot.fb.deps.store.getIncident(i.id))!;
  await bot.driver.slash('update contract update', { user: ALICE, channel: inc.channelId! });
  await bot.driver.slash(`role scribe <@${BOB}>`, { user: ALICE, channel: inc.channelId! });
  await bot.driver.slash('sev critical', { user: ALICE, channel: inc.channelId! });
  const { ts } = await bot.driver.userMessage(inc.channelId!, CAROL, 'a finding worth pinning');
  await bot.driver.reaction(inc.channelId!, ts, ALICE, 'pushpin');
  await bot.driver.slash('summary', { user: ALICE, channel: inc.channelId! });
  await bot.driver.slash('action read_logs service=api', { user: ALICE, channel: inc.channelId! });
  await bot.driver.appHomeOpened(BOB);
  await bot.driver.slash('resolve done', { user: ALICE, channel: inc.channelId! });
  await bot.settled();

  const problems: string[] = [];
  const seen = new Set<string>();
  for (const call of bot.emulator.calls()) {
    // A response_url answer is recorded in the log too, but it is a webhook, not a Web API method.
    if (NEWER_THAN_SPEC.has(call.method) || call.method === 'response_url') continue;
    seen.add(call.method);
    const path = spec.paths[`/${call.method}`];
    if (!path) {
      problems.push(`${call.method}: not a method in the description`);
      continue;
    }
    const known = new Set(Object.values(path).flatMap((op) => (op.parameters ?? []).map((p) => p.name)));
    for (const arg of Object.keys(call.args ?? {}))
      if (arg !== 'token' && !known.has(arg)) problems.push(`${call.method}: argument "${arg}" is not in the description`);
  }
  assert.deepEqual([...new Set(problems)], []);
  // The flows above really exercised the bot's calls (not an empty log that passes by default).
  for (const m of [
    'conversations.create',
    'conversations.invite',
    'conversations.setTopic',
    'chat.postMessage',
    'chat.update',
    'pins.add',
    'views.publish',
    'users.info',
    'conversations.history',
  ])
    assert.ok(seen.has(m), `${m} was exercised`);
});
