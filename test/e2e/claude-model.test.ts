import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBot } from './harness.js';
import { startFakeAnthropic } from '../fakes/anthropic/server.js';
import { blocksText, declare, messagesWithMarker } from './helpers.js';

/** ANTHROPIC_MODEL that the API does not serve: the operator learns it from /readyz and the log; responders still get a brief. */
test('an unknown ANTHROPIC_MODEL: the brief falls back, the log and /readyz name the variable', async () => {
  const claude = await startFakeAnthropic();
  const bot = await startBot({ env: { ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: claude.url, ANTHROPIC_MODEL: 'claude-sonnet-4-7-typo' } });
  try {
    const inc = await declare(bot, 'high Checkout latency');
    const brief = await bot.waitFor(() => messagesWithMarker(bot.emulator, inc.channelId!, `brief:${inc.id}`)[0], 5000, 'the fallback brief');
    assert.doesNotMatch(blocksText(brief.blocks), /Written by Claude/);
    assert.equal(claude.requests.at(-1)?.status, 404);
    const r = (await (await fetch(`${bot.url}/readyz`)).json()) as { ok: boolean; checks: Record<string, string>; warnings?: string[] };
    assert.match(r.checks.claude ?? '', /ANTHROPIC_MODEL=claude-sonnet-4-7-typo/);
    assert.ok(r.warnings?.includes(r.checks.claude!));
    assert.ok(
      bot.logs.some((l) => l.includes('ANTHROPIC_MODEL=claude-sonnet-4-7-typo') && l.includes('"level":50')),
      'logged as an error',
    );
  } finally {
    await bot.close();
    await claude.close();
  }
});
