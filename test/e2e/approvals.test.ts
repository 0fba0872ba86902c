import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SRE_LEADS_GROUP_ID } from '../../src/emulator/slack/index.js';
import type { Incident } from '../../src/domain/incident.js';
import type { Approval } from '../../src/ports/store.js';
import { Actions, FormBlocks, INPUT } from '../../src/slack/ids.js';
import { SECRET, SECRET_ENV, startReceiver, type Received } from '../services/approvals-fixture.js';
import { startBot, type Bot } from './harness.js';
import {
  ALICE,
  approvalWith,
  blocksText,
  BOB,
  CAROL,
  declare,
  firebreakYml,
  messagesWithMarker,
  openView,
  propose,
  restartAction,
  rollbackAction,
} from './helpers.js';

const DAVE = 'U0DAVE001';
const ERIN = 'U0ERIN001';

/** A firebreak.yml as a team writes it: a webhook rollback, a two-person restart, defaults for the rest. */
function writeConfig(url: string): string {
  const rollback = rollbackAction(url, {
    policy: `{ roles: [commander], usergroups: [${SRE_LEADS_GROUP_ID}] }`,
    versionPattern: true,
    retries: 1,
    timeoutMs: 2000,
  });
  return firebreakYml(`actions:\n${rollback}${restartAction(url, SRE_LEADS_GROUP_ID)}`);
}

function approvalMessages(bot: Bot, channel: string) {
  return messagesWithMarker(bot.emulator, channel, 'approval:');
}

describe('approval gate end to end (signed Slack requests, real bot, emulator)', () => {
  let bot: Bot;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let incident: Incident;
  let offsetMs = 0;

  before(async () => {
    receiver = await startReceiver(() => 200);
    // The secret is given only in the bot's own environment (not process.env): the executor must use it.
    bot = await startBot({
      env: { FIREBREAK_CONFIG: writeConfig(receiver.url), [SECRET_ENV]: SECRET },
      build: { clock: { now: () => new Date(Date.now() + offsetMs) } },
    });
    incident = await declare(bot, 'high Checkout errors after deploy');
  });
  after(async () => {
    await bot?.close();
    await receiver?.close();
  });

  const proposeByCommand = async (text: string, user = DAVE) => {
    const { ack, ts, approvalId } = await propose(bot, incident.channelId!, text, user);
    assert.equal(ack.status, 200);
    assert.ok(ack.ms < 3000, `ack in ${ack.ms} ms`);
    return { ts, approvalId };
  };
  const message = (ts: string) => bot.emulator.state.message(incident.channelId!, ts)!;
  const finished = (id: string) =>
    bot.waitFor(
      async () => {
        const a = await bot.fb.deps.store.getApproval(id);
        return a && ['succeeded', 'failed', 'unknown'].includes(a.status) ? a : null;
      },
      8000,
      'execution',
    ) as Promise<Approval>;
  const click = async (ts: string, actionId: string, user: string, value?: string) => {
    const r = await bot.driver.click({ channel: incident.channelId!, ts }, actionId, { user, ...(value !== undefined ? { value } : {}) });
    assert.equal(r.status, 200);
    assert.ok(r.ms < 3000);
    return r;
  };
  const ephemeralAfter = async (user: string, n: number) =>
    bot.waitFor(() => bot.emulator.state.ephemeralsFor(user, incident.channelId!)[n]?.text, 5000, `ephemeral #${n} for ${user}`);

  test('propose by command, refusals, then an authorised approve runs the webhook once', async () => {
    const bad = await bot.driver.slash('action rollback_deployment service=api version=41', { user: DAVE, channel: incident.channelId! });
    assert.equal(bad.status, 200);
    assert.equal((await bot.fb.deps.store.listApprovals({ incidentId: incident.id })).length, 0, 'invalid parameters propose nothing');

    const { ts, approvalId } = await proposeByCommand('rollback_deployment service=api version=v41');
    const text = blocksText(message(ts).blocks);
    assert.match(text, /<@U0DAVE001>/);
    assert.match(text, /needs 1 approval from the commander \(<@U0ALICE01>\) or <!subteam\^S0SRELEADS>/);

    const n = (u: string) => bot.emulator.state.ephemeralsFor(u, incident.channelId!).length;
    const [d0, e0, a0] = [n(DAVE), n(ERIN), n(ALICE)];
    await click(ts, Actions.approve, DAVE);
    assert.match(await ephemeralAfter(DAVE, d0), /You proposed this action, so someone else must approve it/);
    await click(ts, Actions.approve, ERIN);
    assert.match(await ephemeralAfter(ERIN, e0), /You may not approve this action/);
    assert.equal((await bot.fb.deps.store.getApproval(approvalId))!.status, 'pending');

    // The commander double-clicks while a lead clicks too: one decision, one run.
    const nb = n(BOB);
    await Promise.all([click(ts, Actions.approve, ALICE), click(ts, Actions.approve, ALICE), click(ts, Actions.approve, BOB)]);
    const answers = [await ephemeralAfter(ALICE, a0), await ephemeralAfter(ALICE, a0 + 1), await ephemeralAfter(BOB, nb)];
    assert.equal(answers.filter((t) => /^:white_check_mark: Approved\. Running `rollback_deployment`/.test(t)).length, 1, answers.join('\n'));
    assert.equal(answers.filter((t) => /already approved by <@U0(ALICE01|BOB0001)>/.test(t)).length, 2, answers.join('\n'));
    const done = await finished(approvalId);
    assert.equal(done.status, 'succeeded');
    await bot.fb.deps.jobs.idle();
    assert.equal(receiver.received.length, 1);
    const r: Received = receiver.received[0]!;
    assert.equal(r.signatureOk, true);
    assert.equal(r.headers['idempotency-key'], approvalId);
    assert.deepEqual(r.json.params, { service: 'api', version: 'v41' });
    assert.deepEqual(r.json.approved_by, [done.decidedBy]);
    await bot.waitFor(() => /\*Ran\*/.test(blocksText(message(ts).blocks)), 3000, 'message updated');
    assert.match(blocksText(message(ts).blocks), /\*Approved by <@U0(ALICE01|BOB0001)> · ran\*: /, 'the outcome is the headline');
    assert.doesNotMatch(blocksText(message(ts).blocks), /Approval requested/);
    assert.doesNotMatch(blocksText(message(ts).blocks), /approval_approve/);
  });

  test('a forged click with an altered value runs only what the store holds', async () => {
    receiver.received.length = 0;
    const a = await proposeByCommand('rollback_deployment service=api version=v40');
    const b = await proposeByCommand('clear_cache cache=sessions');
    // Approve on A's message, but the payload names B: B (clear_cache, executor none) is decided, A is untouched.
    const na = bot.emulator.state.ephemeralsFor(ALICE, incident.channelId!).length;
    await click(a.ts, Actions.approve, ALICE, b.approvalId);
    assert.match(await ephemeralAfter(ALICE, na), /Approved\. Nothing runs automatically: `clear_cache` has no executor configured, so carry it out by hand/);
    const bDone = await finished(b.approvalId);
    await bot.waitFor(() => /· not executed\*/.test(blocksText(message(b.ts).blocks)), 3000, 'B shows it was not executed');
    assert.doesNotMatch(blocksText(message(b.ts).blocks), /\*Ran\*|succeeded/);
    assert.equal(bDone.actionId, 'clear_cache');
    assert.deepEqual(bDone.params, { cache: 'sessions' });
    assert.equal((await bot.fb.deps.store.getApproval(a.approvalId))!.status, 'pending');
    // A value that names no approval: refused, nothing runs.
    await click(a.ts, Actions.approve, ALICE, 'rollback_deployment service=db version=v1');
    assert.match(await ephemeralAfter(ALICE, na + 1), /does not exist/);
    await bot.fb.deps.jobs.idle();
    assert.equal(receiver.received.length, 0);
  });

  test('deny asks for a reason in a modal and records it', async () => {
    const a = await proposeByCommand('rollback_deployment service=web version=v7');
    const c = await click(a.ts, Actions.deny, CAROL);
    const view = await bot.waitFor(() => openView(bot.emulator, CAROL, 'deny_modal'), 3000, 'deny modal');
    assert.equal(bot.emulator.calls('views.open').at(-1)?.args.trigger_id, c.triggerId);
    const empty = await bot.driver.submitView(view.id, { [FormBlocks.reason]: { [INPUT]: '' } }, { user: CAROL });
    assert.equal((empty.body as { response_action?: string }).response_action, 'errors');
    await bot.driver.submitView(view.id, { [FormBlocks.reason]: { [INPUT]: 'canary is still healthy' } }, { user: CAROL });
    const denied = await approvalWith(bot, a.approvalId, 'denied', 3000);
    assert.equal(denied.denyReason, 'canary is still healthy');
    await bot.waitFor(() => /Denied.*canary is still healthy/.test(blocksText(message(a.ts).blocks)), 3000, 'message shows the denial');
  });

  test('two-person rule through clicks', async () => {
    receiver.received.length = 0;
    const a = await proposeByCommand('restart_service service=api');
    const nb = bot.emulator.state.ephemeralsFor(BOB, incident.channelId!).length;
    await click(a.ts, Actions.approve, BOB);
    assert.match(await ephemeralAfter(BOB, nb), /waiting for 1 more approval/);
    await click(a.ts, Actions.approve, BOB);
    assert.match(await ephemeralAfter(BOB, nb + 1), /You already approved; waiting for 1 more approval/);
    await bot.fb.deps.jobs.idle();
    assert.equal(receiver.received.length, 0);
    await click(a.ts, Actions.approve, CAROL);
    assert.equal((await finished(a.approvalId)).status, 'succeeded');
    assert.equal(receiver.received.length, 1);
    assert.deepEqual(receiver.received[0]!.json.approved_by, [BOB, CAROL]);
  });

  test('propose through the card modal: invalid parameters are shown on the field, valid ones are proposed', async () => {
    const card = messagesWithMarker(bot.emulator, incident.channelId!, `card:${incident.id}`)[0]!;
    await bot.driver.click({ channel: incident.channelId!, ts: card.ts }, Actions.cardProposeAction, { user: DAVE });
    const view = await bot.waitFor(() => openView(bot.emulator, DAVE, 'propose_modal'), 3000, 'propose modal');
    const bad = await bot.driver.submitView(
      view.id,
      {
        [FormBlocks.action]: { [INPUT]: 'rollback_deployment' },
        [FormBlocks.params]: { [INPUT]: 'service=api\nversion=latest' },
        [FormBlocks.reason]: { [INPUT]: 'bad deploy' },
      },
      { user: DAVE },
    );
    assert.deepEqual(bad.body, { response_action: 'errors', errors: { [FormBlocks.params]: '`version` must match `^v\\d+$`' } });
    const before = approvalMessages(bot, incident.channelId!).length;
    const ok = await bot.driver.submitView(
      view.id,
      {
        [FormBlocks.action]: { [INPUT]: 'rollback_deployment' },
        [FormBlocks.params]: { [INPUT]: 'service=api\nversion=v39' },
        [FormBlocks.reason]: { [INPUT]: 'bad deploy' },
      },
      { user: DAVE },
    );
    assert.equal(ok.status, 200);
    const msg = await bot.waitFor(() => approvalMessages(bot, incident.channelId!)[before], 5000, 'approval from the modal');
    assert.match(blocksText(msg.blocks), /`version` = `v39`/);
    assert.match(blocksText(msg.blocks), /bad deploy/);
  });

  test('expired: a late click runs nothing; the expiry job removes the buttons', async () => {
    receiver.received.length = 0;
    const a = await proposeByCommand('rollback_deployment service=api version=v38');
    const b = await proposeByCommand('rollback_deployment service=api version=v37');
    // Hold the job runner so the click, not the expiry job, meets the expired approval first.
    await bot.fb.deps.jobs.stop(1000);
    offsetMs += 16 * 60_000;
    const n = bot.emulator.state.ephemeralsFor(ALICE, incident.channelId!).length;
    await click(a.ts, Actions.approve, ALICE);
    assert.match(await ephemeralAfter(ALICE, n), /This approval expired at/);
    assert.equal((await bot.fb.deps.store.getApproval(a.approvalId))!.status, 'expired');
    assert.doesNotMatch(blocksText(message(a.ts).blocks), /approval_approve/);

    bot.fb.deps.jobs.start();
    await bot.waitFor(async () => (await bot.fb.deps.store.getApproval(b.approvalId))?.status === 'expired', 8000, 'expiry job');
    await bot.waitFor(() => /Expired/.test(blocksText(message(b.ts).blocks)), 3000, 'message shows expiry');
    assert.doesNotMatch(blocksText(message(b.ts).blocks), /approval_approve/);
    await bot.fb.deps.jobs.idle();
    assert.equal(receiver.received.length, 0);
  });

  test('after resolve the commander is asked whether each remediation that ran was needed; the answer is in /incident stats', async () => {
    const ran = (await bot.fb.deps.store.listApprovals({ incidentId: incident.id, status: ['succeeded', 'failed', 'unknown'] })).filter(
      (a) => a.requiresApproval,
    );
    assert.ok(ran.length >= 1, 'the earlier tests ran a remediation');
    const first = ran.sort((x, y) => x.createdAt.getTime() - y.createdAt.getTime())[0]!;
    const fpBefore = await statsFalsePositives();
    await bot.driver.slash('resolve rolled back', { user: ALICE, channel: incident.channelId! });
    const question = await bot.waitFor(() => messagesWithMarker(bot.emulator, incident.channelId!, 'remediation_question:')[0], 8000, 'the question');
    const text = () => blocksText(message(question.ts).blocks);
    assert.match(text(), /<@U0ALICE01>, the incident is resolved: was each remediation that ran needed\?/);
    assert.equal((text().match(/remediation_needed_no/g) ?? []).length, ran.length, 'one row of buttons per remediation that ran');
    assert.match(text(), /`rollback_deployment` service=api version=v41 \(succeeded\)/);
    // Only the commander answers.
    const nb = bot.emulator.state.ephemeralsFor(BOB, incident.channelId!).length;
    await click(question.ts, Actions.remediationNeededNo, BOB, first.id);
    assert.match(await ephemeralAfter(BOB, nb), /The commander \(<@U0ALICE01>\) answers this/);
    const na = bot.emulator.state.ephemeralsFor(ALICE, incident.channelId!).length;
    await click(question.ts, Actions.remediationNeededNo, ALICE, first.id);
    assert.match(await ephemeralAfter(ALICE, na), /Recorded: \*no\* for `rollback_deployment`/);
    const [answer] = await bot.fb.deps.store.listRemediationAnswers({ incidentId: incident.id });
    assert.deepEqual(
      { approvalId: answer!.approvalId, answer: answer!.answer, by: answer!.answeredBy, runId: answer!.runId },
      { approvalId: first.id, answer: 'no', by: ALICE, runId: null },
    );
    await bot.waitFor(() => /Answered \*no\* by <@U0ALICE01>/.test(text()), 3000, 'the answer shown on the question');
    // The same record the runbooks' question writes: the figures count it.
    assert.deepEqual(await statsFalsePositives(), { notNeeded: fpBefore.notNeeded + 1, executed: fpBefore.executed });
  });

  /** `/incident stats 7d` in the incident channel: the false-positive figure of the chart's message. */
  async function statsFalsePositives(): Promise<{ notNeeded: number; executed: number }> {
    const charts = () => bot.emulator.state.messages(incident.channelId!).filter((x) => x.files?.length && /Incident figures/.test(x.text));
    const n = charts().length;
    await bot.driver.slash('stats 7d', { user: ALICE, channel: incident.channelId! });
    const msg = await bot.waitFor(() => charts()[n], 20_000, 'the stats chart');
    const fp = /\*False-positive remediations\*: [\d.]+% \((\d+) of (\d+) executed\)/.exec(msg.text);
    assert.ok(fp, msg.text);
    return { notNeeded: Number(fp[1]), executed: Number(fp[2]) };
  }
});
