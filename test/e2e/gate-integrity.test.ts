import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GENERAL_CHANNEL_ID, SRE_LEADS_GROUP_ID } from '../../src/emulator/slack/index.js';
import type { Incident } from '../../src/domain/incident.js';
import { Actions, FormBlocks, INPUT, Views } from '../../src/slack/ids.js';
import { SECRET, SECRET_ENV, startReceiver } from '../services/approvals-fixture.js';
import { startBot, type Bot } from './harness.js';
import { postGenericAlert } from '../../bench/lib.js';
import { ALICE, BOB, CAROL, declare, firebreakYml, messagesWithMarker, openView, propose, restartAction, rollbackAction, waitForIncident } from './helpers.js';

/**
 * Approval authority can be given, never taken (issue: a channel member made themselves commander
 * and approved someone else's rollback). Every attempt below goes through signed Slack requests to
 * the real bot and must leave the executor's webhook untouched.
 */
const DAVE = 'U0DAVE001';
const ERIN = 'U0ERIN001';

function writeConfig(url: string): string {
  return firebreakYml(`actions:\n${rollbackAction(url)}${restartAction(url, SRE_LEADS_GROUP_ID)}`);
}

describe('gate integrity: nobody can grab approval power', () => {
  let bot: Bot;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let incident: Incident;

  before(async () => {
    receiver = await startReceiver(() => 200);
    bot = await startBot({ env: { FIREBREAK_CONFIG: writeConfig(receiver.url), [SECRET_ENV]: SECRET } });
    incident = await declare(bot, 'high Checkout errors after deploy');
    // Everyone taking part is in the (public) incident channel, as in the attack.
    bot.emulator.state.addMembers(incident.channelId!, [BOB, CAROL, DAVE, ERIN]);
  });
  after(async () => {
    await bot?.close();
    await receiver?.close();
  });

  const ch = () => incident.channelId!;
  const commander = async () => (await bot.fb.deps.store.getRoles(incident.id)).commander;
  const ephemeral = (user: string, n: number) => bot.waitFor(() => bot.emulator.state.ephemeralsFor(user, ch())[n]?.text, 5000, `ephemeral #${n} for ${user}`);
  const count = (user: string) => bot.emulator.state.ephemeralsFor(user, ch()).length;
  const slash = async (text: string, user: string) => {
    const n = count(user);
    const r = await bot.driver.slash(text, { user, channel: ch() });
    assert.equal(r.status, 200);
    return ephemeral(user, n);
  };
  const proposeAs = async (text: string, user: string) => {
    const { ts, approvalId } = await propose(bot, ch(), text, user);
    return { ts, id: approvalId };
  };
  const approveAs = async (ts: string, user: string) => {
    const n = count(user);
    const r = await bot.driver.click({ channel: ch(), ts }, Actions.approve, { user });
    assert.equal(r.status, 200);
    return ephemeral(user, n);
  };
  const settle = () => bot.settled();

  test('a channel member who makes themselves commander is refused, and their Approve runs nothing', async () => {
    const refused = await slash(`role commander <@${DAVE}>`, DAVE);
    assert.match(refused, /You may not take the \*commander\* role/);
    assert.match(refused, /only the commander \(<@U0ALICE01>\)/);
    assert.equal(await commander(), ALICE, 'the commander is unchanged');
    const audit = await bot.fb.deps.store.listAudit({ incidentId: incident.id });
    assert.ok(
      audit.some((e) => e.action === 'incident.role_refused' && e.actor === DAVE),
      'the refusal is audited',
    );

    const { ts, id } = await proposeAs('rollback_deployment service=api version=v41', BOB);
    assert.match(await approveAs(ts, DAVE), /You may not approve this action/);
    await settle();
    assert.equal((await bot.fb.deps.store.getApproval(id))!.status, 'pending');
    assert.equal(receiver.received.length, 0, 'zero executions');
  });

  test('a non-approver cannot hand the commander role to someone else (command or the card modal)', async () => {
    const refused = await slash(`role commander <@${DAVE}>`, ERIN);
    assert.match(refused, /You may not make <@U0DAVE001> \*commander\*/);
    // The same through the card's "Assign role" modal.
    const card = messagesWithMarker(bot.emulator, ch(), `card:${incident.id}`)[0]!;
    await bot.driver.click({ channel: ch(), ts: card.ts }, Actions.cardAssignRole, { user: ERIN, value: incident.id });
    const view = await bot.waitFor(() => openView(bot.emulator, ERIN, Views.role), 3000, 'role modal');
    const n = count(ERIN);
    await bot.driver.submitView(view.id, { [FormBlocks.role]: { [INPUT]: 'commander' }, [FormBlocks.user]: { [INPUT]: DAVE } }, { user: ERIN });
    assert.match(await ephemeral(ERIN, n), /You may not make <@U0DAVE001> \*commander\*/);
    assert.equal(await commander(), ALICE);
    // Roles that carry no approval power stay open to everyone.
    await bot.driver.slash(`role scribe <@${ERIN}>`, { user: ERIN, channel: ch() });
    await bot.waitFor(async () => (await bot.fb.deps.store.getRoles(incident.id)).scribe === ERIN, 3000, 'scribe assigned');
    const { ts } = await proposeAs('rollback_deployment service=api version=v40', BOB);
    assert.match(await approveAs(ts, DAVE), /You may not approve/);
    await settle();
    assert.equal(receiver.received.length, 0, 'zero executions');
  });

  test('a role granted after the proposal grants nothing for it; the commander of that moment still may approve', async () => {
    const { ts, id } = await proposeAs('rollback_deployment service=web version=v7', BOB);
    // Alice, the commander, hands command to Carol: legitimate, announced in the channel.
    await bot.driver.slash(`role commander <@${CAROL}>`, { user: ALICE, channel: ch() });
    await bot.waitFor(async () => (await commander()) === CAROL, 3000, 'carol commands');
    await bot.waitFor(
      () =>
        bot.emulator.state.messages(ch()).find((m) => /<@U0CAROL01> is now \*commander\*, taking over from <@U0ALICE01> \(set by <@U0ALICE01>\)/.test(m.text)),
      3000,
      'the announcement',
    );
    const refused = await approveAs(ts, CAROL);
    assert.match(refused, /You may not approve this action/);
    assert.match(refused, /the commander \(<@U0ALICE01>\)/);
    assert.match(refused, /fixed when it was proposed/);
    await settle();
    assert.equal((await bot.fb.deps.store.getApproval(id))!.status, 'pending');
    assert.equal(receiver.received.length, 0, 'zero executions');
    // Deny follows the same rule.
    await bot.driver.click({ channel: ch(), ts }, Actions.deny, { user: CAROL });
    const view = await bot.waitFor(() => openView(bot.emulator, CAROL, Views.deny), 3000, 'deny modal');
    const n = count(CAROL);
    await bot.driver.submitView(view.id, { [FormBlocks.reason]: { [INPUT]: 'mine now' } }, { user: CAROL });
    assert.match(await ephemeral(CAROL, n), /You may not deny this action/);
    assert.equal((await bot.fb.deps.store.getApproval(id))!.status, 'pending');
    // Alice held the role when it was proposed: her approval counts.
    assert.match(await approveAs(ts, ALICE), /Approved\. Running/);
    await bot.waitFor(async () => (await bot.fb.deps.store.getApproval(id))!.status === 'succeeded', 8000, 'run');
    assert.equal(receiver.received.length, 1);
    receiver.received.length = 0;
  });

  test('a correctly signed request from another app of this workspace is acked and changes nothing', async () => {
    // The same workspace and signing secret, another api_app_id: a command, then an Approve click
    // by someone the policy allows, on a real approval message.
    const foreign = 'A0OTHERAPP';
    const slashBody = new URLSearchParams({
      token: 'x',
      team_id: bot.emulator.teamId,
      team_domain: 'acme',
      channel_id: GENERAL_CHANNEL_ID,
      channel_name: 'general',
      user_id: ALICE,
      user_name: 'alice',
      command: '/incident',
      text: 'declare high Another apps incident',
      api_app_id: foreign,
      is_enterprise_install: 'false',
      response_url: bot.emulator.issueResponseUrl({ channel: GENERAL_CHANNEL_ID, user: ALICE }),
      trigger_id: bot.emulator.issueTrigger(ALICE),
    }).toString();
    assert.equal((await bot.driver.send(slashBody)).status, 200);
    const { ts, id } = await proposeAs('rollback_deployment service=api version=v39', BOB);
    const approver = (await commander())!;
    const before = count(approver);
    const r = await bot.driver.click({ channel: ch(), ts }, Actions.approve, { user: approver, apiAppId: foreign });
    assert.equal(r.status, 200);
    await settle();
    assert.equal((await bot.fb.deps.store.listOpenIncidents()).filter((i) => i.title === 'Another apps incident').length, 0, 'no incident declared');
    assert.equal(bot.emulator.state.ephemeralsFor(ALICE, GENERAL_CHANNEL_ID).filter((e) => /another apps incident/i.test(e.text)).length, 0);
    assert.equal(count(approver), before, 'no answer to the click');
    assert.equal((await bot.fb.deps.store.getApproval(id))!.status, 'pending');
    assert.deepEqual(await bot.fb.deps.store.listVotes(id), []);
    assert.equal(receiver.received.length, 0, 'zero executions');
    // The operator learns why, and the log carries no secret.
    const refusals = bot.logs.filter((l) => l.includes('Slack request for another app refused'));
    assert.equal(refusals.length, 2);
    assert.ok(refusals.every((l) => l.includes(foreign)));
    // Our own app's click on the same message still counts.
    assert.match(await approveAs(ts, approver), /Approved\. Running/);
    await bot.waitFor(async () => (await bot.fb.deps.store.getApproval(id))!.status === 'succeeded', 8000, 'run');
    assert.equal(receiver.received.length, 1);
    receiver.received.length = 0;
  });

  test('a legitimate two-person approval still works', async () => {
    const { ts, id } = await proposeAs('restart_service service=api', DAVE);
    assert.match(await approveAs(ts, BOB), /waiting for 1 more approval/);
    await settle();
    assert.equal(receiver.received.length, 0);
    assert.match(await approveAs(ts, CAROL), /Approved\. Running/);
    await bot.waitFor(async () => (await bot.fb.deps.store.getApproval(id))!.status === 'succeeded', 8000, 'run');
    await settle();
    assert.equal(receiver.received.length, 1);
    assert.deepEqual(receiver.received[0]!.json.approved_by, [BOB, CAROL]);
  });
});

describe('an incident opened by an alert: nobody commands it until someone eligible takes command', () => {
  const ALERT_SECRET = 'gate-generic-alert-secret-0123';
  let bot: Bot;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let incident: Incident;

  before(async () => {
    receiver = await startReceiver(() => 200);
    const path = firebreakYml(`approvals:
  eligible_commanders: { users: [${CAROL}] }
actions:
  - id: rollback_deployment
    title: Roll back a deployment
    params: { service: { type: string, required: true }, version: { type: string, required: true } }
    requires_approval: true
    executor: { type: webhook, url: '${receiver.url}', secret_env: ${SECRET_ENV}, retries: 0 }
`);
    bot = await startBot({ env: { FIREBREAK_CONFIG: path, [SECRET_ENV]: SECRET, ALERT_WEBHOOK_SECRET: ALERT_SECRET } });
    assert.equal(await postGenericAlert(bot.url, ALERT_SECRET, { title: 'Checkout 5xx above 5%', service: 'checkout', severity: 'high' }), 202);
    incident = await waitForIncident(bot);
    bot.emulator.state.addMembers(incident.channelId!, [BOB, CAROL, DAVE, ERIN]);
  });
  after(async () => {
    await bot?.close();
    await receiver?.close();
  });

  const ch = () => incident.channelId!;
  const card = () => messagesWithMarker(bot.emulator, ch(), `card:${incident.id}`)[0]!;
  const count = (user: string) => bot.emulator.state.ephemeralsFor(user, ch()).length;
  const ephemeral = (user: string, n: number) => bot.waitFor(() => bot.emulator.state.ephemeralsFor(user, ch())[n]?.text, 5000, `ephemeral #${n} for ${user}`);
  const press = async (ts: string, actionId: string, user: string, value?: string) => {
    const n = count(user);
    const r = await bot.driver.click({ channel: ch(), ts }, actionId, { user, ...(value ? { value } : {}) });
    assert.equal(r.status, 200);
    return ephemeral(user, n);
  };
  const proposeAs = async (user: string) => {
    const { ts, approvalId } = await propose(bot, ch(), 'rollback_deployment service=checkout version=v12', user);
    return { ts, id: approvalId };
  };

  test('a proposal made with no commander can be approved by nobody, and the refusal names the fix', async () => {
    const { ts, id } = await proposeAs(DAVE);
    const refused = await press(ts, Actions.approve, ERIN);
    assert.match(refused, /Nobody can approve this proposal: the incident had no commander when this was proposed/);
    assert.match(refused, /I'll take command/);
    assert.equal((await bot.fb.deps.store.getApproval(id))!.status, 'pending');
    assert.equal(receiver.received.length, 0);
  });

  test("the card's I'll take command refuses a random channel member and lets an eligible person take it", async () => {
    assert.match(JSON.stringify(card().blocks), /card_take_command/);
    const refused = await press(card().ts, Actions.cardTakeCommand, DAVE, incident.id);
    assert.match(refused, /You may not take the \*commander\* role/);
    assert.match(refused, /eligible_commanders/);
    assert.equal((await bot.fb.deps.store.getRoles(incident.id)).commander, undefined);
    assert.match(await press(card().ts, Actions.cardTakeCommand, CAROL, incident.id), /You are now the commander/);
    assert.equal((await bot.fb.deps.store.getRoles(incident.id)).commander, CAROL);
    await bot.waitFor(() => !/card_take_command/.test(JSON.stringify(card().blocks)), 3000, 'the button to go');
    // A new proposal is approvable by the new commander; it runs once.
    const { ts, id } = await proposeAs(DAVE);
    assert.match(await press(ts, Actions.approve, CAROL), /Approved\. Running/);
    await bot.waitFor(async () => (await bot.fb.deps.store.getApproval(id))!.status === 'succeeded', 8000, 'run');
    await bot.fb.deps.jobs.idle();
    assert.equal(receiver.received.length, 1);
  });
});

describe('an alert incident below the channel threshold: the announcement says why it has no channel and opens one on request', () => {
  const ALERT_SECRET = 'gate-generic-alert-secret-4567';
  let bot: Bot;
  before(async () => {
    bot = await startBot({ env: { ALERT_WEBHOOK_SECRET: ALERT_SECRET } });
  });
  after(async () => bot?.close());

  test('"Open a channel" opens one, once, and invites the person who asked', async () => {
    assert.equal(await postGenericAlert(bot.url, ALERT_SECRET, { title: 'Disk 81% on db-3', service: 'postgres', severity: 'medium' }), 202);
    const i = await waitForIncident(bot);
    const { INCIDENTS_CHANNEL_ID } = await import('../../src/emulator/slack/index.js');
    const post = () => messagesWithMarker(bot.emulator, INCIDENTS_CHANNEL_ID, `announce:${i.id}`)[0]!;
    const text = JSON.stringify(post().blocks);
    assert.match(text, /No channel: incidents opened by alerts get one automatically from \*high\* up/);
    assert.match(text, /announce_open_channel/);
    assert.equal((await bot.fb.deps.store.getIncident(i.id))!.channelId, null);
    // A double click opens one channel.
    await Promise.all([
      bot.driver.click({ channel: INCIDENTS_CHANNEL_ID, ts: post().ts }, Actions.announceOpenChannel, { user: DAVE }),
      bot.driver.click({ channel: INCIDENTS_CHANNEL_ID, ts: post().ts }, Actions.announceOpenChannel, { user: DAVE }),
    ]);
    const withChannel = await bot.waitFor(async () => (await bot.fb.deps.store.getIncident(i.id))?.channelId ?? null, 8000, 'the channel');
    await bot.waitFor(() => !/announce_open_channel/.test(JSON.stringify(post().blocks)), 5000, 'the announcement to show the channel');
    await bot.fb.deps.jobs.idle();
    assert.equal(bot.emulator.state.snapshot().channels.filter((c) => c.name.includes('disk')).length, 1, 'one channel');
    assert.ok(bot.emulator.state.channel(withChannel)!.members.includes(DAVE), 'the person who asked is invited');
    assert.match(JSON.stringify(post().blocks), new RegExp(withChannel));
  });
});
