import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBot } from './harness.js';
import { ALICE, CAROL, declare } from './helpers.js';

test('configured responders are invited; one unknown person does not keep the others out', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fb-resp-'));
  const file = join(dir, 'firebreak.yml');
  writeFileSync(file, `responders: [U0NOBODY99, ${CAROL}]\nchannel:\n  name_template: "sev-{severity}-{slug}"\n`);
  const bot = await startBot({ env: { FIREBREAK_CONFIG: file } });
  try {
    const inc = await declare(bot, 'low Nightly export slow');
    assert.equal(inc.channelName, 'sev-low-nightly-export-slow', 'template from firebreak.yml');
    const members = bot.emulator.state.channel(inc.channelId!)!.members;
    assert.ok(members.includes(ALICE) && members.includes(CAROL), members.join(','));
    assert.ok(bot.logs.some((l) => l.includes('U0NOBODY99') && /could not be invited/.test(l)));
  } finally {
    await bot.close();
  }
});
