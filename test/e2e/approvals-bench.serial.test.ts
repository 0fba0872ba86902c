import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SRE_LEADS_GROUP_ID } from '../../src/emulator/slack/index.js';
import { Actions } from '../../src/slack/ids.js';
import { SECRET, SECRET_ENV, startReceiver } from '../services/approvals-fixture.js';
import { pgUnreachableReason, withPgSchema, type PgSchema } from '../store/pg-helper.js';
import { startBot, type Bot } from './harness.js';
import { ALICE, approvalIdIn, declare, messagesWithMarker } from './helpers.js';

/**
 * The measured case of the issue: 200 concurrent signed Approve clicks from different authorised
 * users on one approval → exactly one execution, 199 "already approved by" answers, every ack < 3 s.
 * Slack rate limits are off in the emulator here: this measures the gate, not the pacer.
 */
function writeConfig(url: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'fb-bench-'));
  writeFileSync(
    join(dir, 'firebreak.yml'),
    `actions:
  - id: rollback_deployment
    title: Roll back a deployment
    params: { service: { type: string, required: true }, version: { type: string, required: true } }
    requires_approval: true
    policy: { roles: [commander], usergroups: [${SRE_LEADS_GROUP_ID}] }
    executor: { type: webhook, url: '${url}', secret_env: ${SECRET_ENV}, retries: 0 }
`,
  );
  return join(dir, 'firebreak.yml');
}

describe('benchmark: 200 concurrent signed Approve clicks', () => {
  let bot: Bot;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const users = Array.from({ length: 200 }, (_, i) => `U0BENCH${String(i).padStart(3, '0')}`);

  before(async () => {
    receiver = await startReceiver(() => 200);
    bot = await startBot({ env: { FIREBREAK_CONFIG: writeConfig(receiver.url), [SECRET_ENV]: SECRET }, rateLimits: 'off' });
    for (const id of users) bot.emulator.state.addUser({ id, name: id.toLowerCase(), realName: id });
    bot.emulator.state.usergroups.get(SRE_LEADS_GROUP_ID)!.users = users;
  });
  after(async () => {
    await bot?.close();
    await receiver?.close();
  });

  test('one execution, 199 "already approved by", all acked under 3 s', async () => {
    const channel = (await declare(bot, 'critical Payments down')).channelId!;
    await bot.driver.slash('action rollback_deployment service=payments version=v12', { user: ALICE, channel });
    const msg = await bot.waitFor(() => messagesWithMarker(bot.emulator, channel, 'approval:')[0], 5000, 'approval message');

    const t0 = performance.now();
    const acks = await Promise.all(
      users.map((user) => bot.driver.click({ channel, ts: msg.ts }, Actions.approve, { user }).then((r) => ({ status: r.status, ms: r.ms }))),
    );
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
    const approvalId = approvalIdIn(msg);
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

const pgSkip = process.env.CI ? false : ((await pgUnreachableReason()) ?? false);

describe('200 signed clicks split over two bot instances sharing one PostgreSQL', { skip: pgSkip }, () => {
  let pg: PgSchema;
  let bots: Bot[] = [];
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const users = Array.from({ length: 200 }, (_, i) => `U0PGB${String(i).padStart(3, '0')}`);

  before(async () => {
    pg = (await withPgSchema())!;
    receiver = await startReceiver(() => 200);
    const env = { FIREBREAK_CONFIG: writeConfig(receiver.url), [SECRET_ENV]: SECRET, DATABASE_URL: pg.url };
    const first = await startBot({ env, rateLimits: 'off' });
    const second = await startBot({ env, emulator: first.emulator, build: { jobs: { pollMs: 50, workerId: 'replica-2' } } });
    bots = [first, second];
    for (const id of users) first.emulator.state.addUser({ id, name: id.toLowerCase(), realName: id });
    first.emulator.state.usergroups.get(SRE_LEADS_GROUP_ID)!.users = users;
  });
  after(async () => {
    for (const b of [...bots].reverse()) await b.close();
    await receiver?.close();
    await pg?.cleanup();
  });

  test('exactly one execution across both replicas', async () => {
    const [b1, b2] = bots as [Bot, Bot];
    const channel = (await declare(b1, 'critical Ledger down')).channelId!;
    await b1.driver.slash('action rollback_deployment service=ledger version=v3', { user: ALICE, channel });
    const msg = await b1.waitFor(() => messagesWithMarker(b1.emulator, channel, 'approval:')[0], 5000, 'approval message');
    const t0 = performance.now();
    const acks = await Promise.all(users.map((user, i) => (i % 2 ? b2 : b1).driver.click({ channel, ts: msg.ts }, Actions.approve, { user })));
    const wall = performance.now() - t0;
    assert.ok(acks.every((a) => a.status === 200 && a.ms < 3000));
    const answers = await b1.waitFor(
      () => {
        const t = users.map((u) => b1.emulator.state.ephemeralsFor(u).at(-1)?.text ?? null);
        return t.every(Boolean) ? (t as string[]) : null;
      },
      30_000,
      '200 answers',
    );
    const approvalId = approvalIdIn(msg);
    await b1.waitFor(async () => (await b1.fb.deps.store.getApproval(approvalId))?.status === 'succeeded', 10_000, 'execution');
    await Promise.all(bots.map((b) => b.fb.deps.jobs.idle()));
    const ms = acks.map((a) => a.ms).sort((a, b) => a - b);
    console.log(
      `# e2e postgres x2: 200 signed clicks in ${wall.toFixed(0)} ms; ack p50 ${ms[99]!.toFixed(0)} ms, max ${ms[199]!.toFixed(0)} ms; executions ${receiver.received.length}`,
    );
    assert.equal(receiver.received.length, 1);
    assert.equal(answers.filter((t) => /Approved\. Running/.test(t)).length, 1);
    assert.equal(answers.filter((t) => /already approved by <@U0PGB\d{3}>/.test(t)).length, 199);
  });
});
