import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Incident } from '../../src/domain/incident.js';
import { GENERAL_CHANNEL_ID } from '../../src/emulator/slack/index.js';
import { Actions, DeclareBlocks, INPUT } from '../../src/slack/ids.js';
import type { Bot } from './harness.js';
import {
  ALICE,
  BOB,
  CAROL,
  approvalIdIn,
  blocksText,
  declare,
  gateSuite,
  messagesWithMarker,
  openView,
  postAgentProposal,
  propose,
  rollbackAction,
  waitForIncident,
} from './helpers.js';

/**
 * Declaring is not taking approval power (an outsider's finding: dave, who nobody made eligible for
 * command, declared a low incident and alone approved an agent's risky action). When the team has
 * said who is eligible for command, a declarer who is not commands the incident but approves
 * nothing through the commander role. Everything goes through signed requests to the real bot.
 */
const DAVE = 'U0DAVE001';
const AGENT_SECRET = 'agent-secret-for-commander-tests-0123';

/** What `user` is told next in `ch` (an ephemeral) after `act`, a signed request Slack accepts. */
async function answerTo(bot: Bot, user: string, ch: string, act: () => Promise<{ status: number }>): Promise<string> {
  const n = bot.emulator.state.ephemeralsFor(user, ch).length;
  assert.equal((await act()).status, 200);
  return bot.waitFor(() => bot.emulator.state.ephemeralsFor(user, ch)[n]?.text, 5000, `answer #${n} for ${user}`);
}

/** `user` clicks Approve on the approval message `ts`; what they are told. */
const approveAs = (bot: Bot, ch: string, ts: string, user: string) =>
  answerTo(bot, user, ch, () => bot.driver.click({ channel: ch, ts }, Actions.approve, { user }));

/** `/incident role <role> @user` by `actor`: refused privately with `refusal` and audited (`incident.role_refused`); nothing changes. */
async function refusedRole(bot: Bot, incident: Incident, actor: string, role: string, userId: string, refusal: RegExp) {
  const ch = incident.channelId!;
  assert.match(await answerTo(bot, actor, ch, () => bot.driver.slash(`role ${role} <@${userId}>`, { user: actor, channel: ch })), refusal);
  const audit = await bot.fb.deps.store.listAudit({ incidentId: incident.id });
  assert.ok(audit.some((e) => e.action === 'incident.role_refused' && e.actor === actor && (e.detail as { role?: string }).role === role));
  assert.notEqual((await bot.fb.deps.store.getRoles(incident.id))[role], userId, 'nothing changed');
}

/** `/incident role commander @user` by `actor`: refused privately with `refusal`; nothing changes. */
async function refusedRoleTo(bot: Bot, incident: Incident, actor: string, userId: string, refusal: RegExp) {
  const ch = incident.channelId!;
  assert.match(await answerTo(bot, actor, ch, () => bot.driver.slash(`role commander <@${userId}>`, { user: actor, channel: ch })), refusal);
  assert.notEqual((await bot.fb.deps.store.getRoles(incident.id)).commander, userId, 'nothing changed');
}

/** `/incident role <role> @user` by `actor`, and it takes effect. */
async function assigned(bot: Bot, incident: Incident, actor: string, role: string, userId: string) {
  assert.equal((await bot.driver.slash(`role ${role} <@${userId}>`, { user: actor, channel: incident.channelId! })).status, 200);
  await bot.waitFor(async () => (await bot.fb.deps.store.getRoles(incident.id))[role] === userId, 5000, `${userId} holds ${role}`);
}

describe('eligibility for command decides whether the commander role gives approval', () => {
  const gate = gateSuite((url) => `responders: [${CAROL}]\nactions:\n${rollbackAction(url)}`, { AGENT_WEBHOOK_SECRET: AGENT_SECRET });

  async function agentProposes(incident: Incident, key: string) {
    const payload = {
      agent: 'sre-copilot',
      incident: { id: incident.id },
      action: 'rollback_deployment',
      params: { service: 'payments', version: 'v1' },
      reason: 'error rate after deploy',
    };
    const res = await postAgentProposal(gate.bot, AGENT_SECRET, payload, { key });
    assert.equal(res.status, 202);
    const answer = (await res.json()) as { approval_id: string; approvers: string[]; policy: string };
    const msg = await gate.bot.waitFor(
      () => messagesWithMarker(gate.bot.emulator, incident.channelId!, 'approval:').find((m) => approvalIdIn(m) === answer.approval_id),
      5000,
      'the approval message',
    );
    return { answer, ts: msg.ts, id: answer.approval_id };
  }

  test("an ineligible declarer commands, but their Approve of an agent's rollback is refused, audited, and runs nothing", async () => {
    const incident = await declare(gate.bot, 'low Payments latency', DAVE);
    assert.equal((await gate.bot.fb.deps.store.getRoles(incident.id)).commander, DAVE, 'the declarer still commands');
    gate.bot.emulator.state.addMembers(incident.channelId!, [BOB, CAROL, DAVE]);

    const { answer, ts, id } = await agentProposes(incident, 'k-dave-1');
    // The agent's answer (MCP and webhook share it) does not list dave and says why.
    assert.deepEqual(answer.approvers, []);
    assert.match(answer.policy, /not eligible for command/);
    // The approval message names dave as commander without approval.
    const message = messagesWithMarker(gate.bot.emulator, incident.channelId!, 'approval:').find((m) => m.ts === ts)!;
    assert.match(blocksText(message.blocks).replace(/\\/g, ''), /<@U0DAVE001> commands the incident but is not eligible for command/);

    const refused = await approveAs(gate.bot, incident.channelId!, ts, DAVE);
    assert.match(refused, /Nobody can approve this proposal/);
    assert.match(refused, /<@U0DAVE001> commands the incident but is not eligible for command/);
    assert.match(refused, /eligible_commanders/);
    assert.match(refused, /Someone eligible for command must hold command \(`\/incident role commander @someone`/);
    await gate.bot.settled();
    assert.equal((await gate.bot.fb.deps.store.getApproval(id))!.status, 'pending');
    const audit = await gate.bot.fb.deps.store.listAudit({ incidentId: incident.id });
    assert.ok(
      audit.some((e) => e.action === 'approval.refused' && e.actor === DAVE && e.approvalId === id),
      'the refusal is audited',
    );
    assert.equal(gate.receiver.received.length, 0, 'nothing ran');

    // dave cannot hand out approval power, not even command; someone eligible takes it, and that
    // gives approval power for proposals made from then on.
    await refusedRole(gate.bot, incident, DAVE, 'commander', CAROL, /its commander \(<@U0DAVE001>\) is not eligible for command/);
    await assigned(gate.bot, incident, CAROL, 'commander', CAROL);
    // The same rollback again: the first proposal, which nobody can ever approve, is no standing
    // proposal of it (an agent would otherwise be refused until the first expired).
    const next = await agentProposes(incident, 'k-dave-2');
    assert.deepEqual(next.answer.approvers, [CAROL]);
    assert.match(await approveAs(gate.bot, incident.channelId!, next.ts, CAROL), /Approved\. Running/);
    await gate.bot.waitFor(async () => (await gate.bot.fb.deps.store.getApproval(next.id))!.status === 'succeeded', 8000, 'run');
    assert.equal((await gate.bot.fb.deps.store.getApproval(id))!.status, 'pending', 'the earlier proposal keeps the approvers it had');
    await gate.bot.fb.deps.jobs.idle();
    assert.equal(gate.receiver.received.length, 1);
  });

  test('an eligible declarer approves a colleague’s proposal as commander, and it runs once', async () => {
    const before = gate.receiver.received.length;
    const incident = await declare(gate.bot, 'low Checkout latency', CAROL);
    gate.bot.emulator.state.addMembers(incident.channelId!, [BOB, CAROL, DAVE]);
    const { ts, approvalId } = await propose(gate.bot, incident.channelId!, 'rollback_deployment service=checkout version=v7', BOB);
    assert.match(await approveAs(gate.bot, incident.channelId!, ts, CAROL), /Approved\. Running/);
    await gate.bot.waitFor(async () => (await gate.bot.fb.deps.store.getApproval(approvalId))!.status === 'succeeded', 8000, 'run');
    await gate.bot.fb.deps.jobs.idle();
    assert.equal(gate.receiver.received.length, before + 1);
  });
});

describe('no eligibility configured: every commander approves, as before', () => {
  const gate = gateSuite((url) => `actions:\n${rollbackAction(url)}`);

  test('only a person commands: an app named in the declare modal leaves the declarer in command (told why), and an app or a deactivated account is refused the role', async () => {
    const bot = gate.bot;
    const app = bot.emulator.state.botUserId;
    await bot.driver.slash('declare', { user: DAVE, channel: GENERAL_CHANNEL_ID });
    const view = await bot.waitFor(() => openView(bot.emulator, DAVE, 'declare_modal'), 3000, 'declare modal');
    const told = bot.emulator.state.ephemeralsFor(DAVE, GENERAL_CHANNEL_ID).length;
    const values = {
      [DeclareBlocks.title]: { [INPUT]: 'Queue lag in eu-west' },
      [DeclareBlocks.severity]: { [INPUT]: 'low' },
      [DeclareBlocks.commander]: { [INPUT]: app },
    };
    assert.equal((await bot.driver.submitView(view.id, values, { user: DAVE })).status, 200);
    const incident = await waitForIncident(bot, 'Queue lag in eu-west');
    assert.equal((await bot.fb.deps.store.getRoles(incident.id)).commander, DAVE, 'the declarer commands, not the app');
    const reply = await bot.waitFor(() => bot.emulator.state.ephemeralsFor(DAVE, GENERAL_CHANNEL_ID)[told]?.text, 5000, 'the declare reply');
    assert.match(reply, new RegExp(`<@${app}> is an app, not a person, so it cannot command .*you command this incident`));

    // Nor can command be handed to the app, or to an account Slack has deactivated, afterwards.
    await refusedRoleTo(bot, incident, DAVE, app, /is an app, not a person, so it cannot hold the \*commander\* role/);
    const erin = bot.emulator.state.users.get('U0ERIN001')!;
    erin.deleted = true;
    try {
      await refusedRoleTo(bot, incident, DAVE, erin.id, /is a deactivated account, so it cannot hold the \*commander\* role/);
    } finally {
      erin.deleted = false;
    }
    // A person still may be given it.
    await assigned(bot, incident, DAVE, 'commander', BOB);
  });

  test('the declarer approves a colleague’s rollback', async () => {
    const incident = await declare(gate.bot, 'low Search latency', DAVE);
    gate.bot.emulator.state.addMembers(incident.channelId!, [ALICE, BOB, DAVE]);
    const { ts, approvalId } = await propose(gate.bot, incident.channelId!, 'rollback_deployment service=search version=v3', BOB);
    assert.match(await approveAs(gate.bot, incident.channelId!, ts, DAVE), /Approved\. Running/);
    await gate.bot.waitFor(async () => (await gate.bot.fb.deps.store.getApproval(approvalId))!.status === 'succeeded', 8000, 'run');
  });
});

describe('a guarded role: an ineligible commander cannot hand it out, and an ineligible holder does not approve through it', () => {
  const gate = gateSuite(
    (url) => `responders: [${CAROL}]\nroles: [commander, ops_lead, scribe]\nactions:\n${rollbackAction(url, { policy: '{ roles: [ops_lead] }' })}`,
  );

  test('dave declares and is refused ops_lead for himself or a friend; carol (eligible) takes command and makes dave ops_lead; his Approve is refused with the reason and nothing runs', async () => {
    const incident = await declare(gate.bot, 'low Billing latency', DAVE);
    const ch = incident.channelId!;
    gate.bot.emulator.state.addMembers(ch, [BOB, CAROL, DAVE]);
    const why = /its commander \(<@U0DAVE001>\) is not eligible for command, so only someone eligible to take command/;
    await refusedRole(gate.bot, incident, DAVE, 'ops_lead', DAVE, why);
    await refusedRole(gate.bot, incident, DAVE, 'ops_lead', BOB, why);
    await assigned(gate.bot, incident, CAROL, 'commander', CAROL);
    await assigned(gate.bot, incident, CAROL, 'ops_lead', DAVE);

    const { ts, approvalId } = await propose(gate.bot, ch, 'rollback_deployment service=billing version=v2', BOB);
    const message = messagesWithMarker(gate.bot.emulator, ch, 'approval:').find((m) => m.ts === ts)!;
    assert.match(blocksText(message.blocks).replace(/\\/g, ''), /the ops lead \(<@U0DAVE001> holds it but is not eligible for command/);
    assert.match(
      await approveAs(gate.bot, ch, ts, DAVE),
      /Nobody can approve this proposal: the ops lead when this was proposed, <@U0DAVE001> holds it but is not eligible for command/,
    );
    await gate.bot.settled();
    assert.equal((await gate.bot.fb.deps.store.getApproval(approvalId))!.status, 'pending');
    const audit = await gate.bot.fb.deps.store.listAudit({ incidentId: incident.id });
    assert.ok(
      audit.some((e) => e.action === 'approval.refused' && e.actor === DAVE && e.approvalId === approvalId),
      'the refusal is audited',
    );
    await gate.bot.fb.deps.jobs.idle();
    assert.equal(gate.receiver.received.length, 0, 'nothing ran');
  });
});
