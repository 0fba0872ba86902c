import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GENERAL_CHANNEL_ID, SRE_LEADS_GROUP_ID } from '../../src/emulator/slack/index.js';
import { Actions } from '../../src/slack/ids.js';
import { SECRET, SECRET_ENV, startReceiver } from '../services/approvals-fixture.js';
import { startBot, type Bot } from './harness.js';
import { ALICE, flowDone, messagesWithMarker } from './helpers.js';

/**
 * The measured case of the issue: 200 concurrent signed Approve clicks from different authorised
 * users on one approval → exactly one execution, 199 "already approved by" answers, every ack < 3 s.
 * Slack rate limits are off in the emulator here: this measures the gate, not the pacer.
 */
describe('benchmark: 200 concurrent signed Approve clicks', () => {
  let bot: Bot;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const prev = process.env[SECRET_ENV];
  const users = Array.from({ length: 200 }, (_, i) => `U0BENCH${String(i).padStart(3, '0')}`);

  before(async () => {
    receiver = await startReceiver(() => 200);
    process.env[SECRET_ENV] = SECRET;
    const dir = mkdtempSync(join(tmpdir(), 'fb-bench-'));
    writeFileSync(
      join(dir, 'firebreak.yml'),
      `actions:
  - id: rollback_deployment
    title: Roll back a deployment
    params: { service: { type: string, required: true }, version: { type: string, required: true } }
    requires_approval: true
    policy: { roles: [commander], usergroups: [${SRE_LEADS_GROUP_ID}] }
    executor: { type: webhook, url: '${receiver.url}', secret_env: ${SECRET_ENV}, retries: 0 }
`,
    );
    bot = await startBot({ env: { FIREBREAK_CONFIG: join(dir, 'firebreak.yml'), [SECRET_ENV]: SECRET }, rateLimits: 'off' });
    for (const id of users) bot.emulator.state.addUser({ id, name: id.toLowerCase(), realName: id });
    bot.emulator.state.usergroups.get(SRE_LEADS_GROUP_ID)!.users = users;
  });
  after(async () => {
    await bot?.close();
    await receiver?.close();
    if (prev === undefined) delete process.env[SECRET_ENV];
    else process.env[SECRET_ENV] = prev;
  });

  test('one execution, 199 "already approved by", all acked under 3 s', async () => {
    await bot.driver.slash('declare critical Payments down', { user: ALICE, channel: GENERAL_CHANNEL_ID });
    const incident = await bot.waitFor(async () => (await bot.fb.deps.store.listOpenIncidents()).find((i) => i.title === 'Payments down'), 5000);
    await flowDone(bot, incident.id);
    const channel = (await bot.fb.deps.store.getIncident(incident.id))!.channelId!;
    await bot.driver.slash('action rollback_deployment service=payments version=v12', { user: ALICE, channel });
    const msg = await bot.waitFor(() => messagesWithMarker(bot.emulator, channel, 'approval:')[0], 5000, 'approval message');

    const t0 = performance.now();
    const acks = await Promise.all(users.map((user) => bot.driver.click({ channel, ts: msg.ts }, Actions.approve, { user }).then((r) => ({ status: r.status, ms: r.ms }))));
    const wall = performance.now() - t0;
    assert.ok(acks.every((a) => a.status === 200));
    const answers = await bot.waitFor(
      () => {
        const texts = users.map((u) => bot.emulator.state.ephemeralsFor(u).at(-1)?.text ?? null);
        return texts.every(Boolean) ? (texts as string[]) : null;
      },
      30_000,
      '200 answers',
    );
    const approvalId = String((msg.blocks as { block_id?: string }[]).find((b) => String(b.block_id).startsWith('approval:'))!.block_id).slice(9);
    await bot.waitFor(async () => (await bot.fb.deps.store.getApproval(approvalId))?.status === 'succeeded', 10_000, 'execution');
    await bot.fb.deps.jobs.idle();
    const ms = acks.map((a) => a.ms).sort((a, b) => a - b);
    console.log(
      `# e2e: 200 signed clicks in ${wall.toFixed(0)} ms; ack p50 ${ms[99]!.toFixed(0)} ms, p99 ${ms[197]!.toFixed(0)} ms, max ${ms[199]!.toFixed(0)} ms; ` +
        `executions ${receiver.received.length}; approved ${answers.filter((t) => /Approved\. Running/.test(t)).length}; already ${answers.filter((t) => /already approved by/.test(t)).length}`,
    );
    assert.equal(receiver.received.length, 1);
    assert.equal(answers.filter((t) => /Approved\. Running/.test(t)).length, 1);
    assert.equal(answers.filter((t) => /already approved by <@U0BENCH\d{3}>/.test(t)).length, 199);
    assert.ok(ms[199]! < 3000, `slowest ack ${ms[199]} ms`);
  });
});
