import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Incident } from '../../src/domain/incident.js';
import { withdrawalOf } from '../../src/domain/records.js';
import { handleBackendEvent } from '../../src/services/backend-events.js';
import { changeStatus } from '../../src/services/lifecycle.js';
import { Actions } from '../../src/slack/ids.js';
import { ALICE, approvalWith, blocksText, BOB, declare, gateSuite, propose, rollbackAction, staleClick } from './helpers.js';

const DAVE = 'U0DAVE001';

/**
 * Nothing is approved in a closed incident: resolving or cancelling withdraws the approvals still
 * pending, and an Approve that was on its way (a signed click carrying the message as the client
 * last showed it, through the real HTTP receiver) runs nothing, even when the withdrawal never ran.
 */
describe('approvals of a closed incident (signed Slack requests, real bot, emulator)', () => {
  const gate = gateSuite((url) => `actions:\n${rollbackAction(url)}`);

  const message = (i: Incident, ts: string) => gate.bot.emulator.state.message(i.channelId!, ts)!;
  const snapshot = (i: Incident, ts: string) => structuredClone({ ts, blocks: message(i, ts).blocks });
  const lastEphemeral = async (user: string, i: Incident, n: number) =>
    gate.bot.waitFor(() => gate.bot.emulator.state.ephemeralsFor(user, i.channelId!)[n]?.text, 5000, `ephemeral #${n} for ${user}`);
  /** Rootly's `incident.resolved` for `i` (verified and normalised, as the webhook route hands it on), naming its real Rootly id. */
  const resolvedInRootly = async (i: Incident, eventId: string) =>
    handleBackendEvent(gate.bot.fb.deps, {
      source: 'rootly',
      eventId,
      kind: 'updated',
      type: 'incident.resolved',
      at: null,
      incident: {
        backendId: (await gate.bot.fb.deps.store.getIncident(i.id))!.backendId!,
        title: null,
        summary: null,
        status: 'resolved',
        severity: null,
        url: null,
        firebreakId: i.id,
      },
    });

  test('resolve withdraws the pending approval: message, audit, timeline; a late Approve runs nothing, nor after a reopen', async () => {
    const i = await declare(gate.bot, 'high Checkout errors after deploy');
    const p = await propose(gate.bot, i.channelId!, 'rollback_deployment service=api version=v41', DAVE);
    const shown = snapshot(i, p.ts);
    assert.match(blocksText(shown.blocks), /approval_approve/);

    await gate.bot.driver.slash('resolve rolled back by hand', { user: BOB, channel: i.channelId! });
    const withdrawn = await approvalWith(gate.bot, p.approvalId, 'denied');
    assert.deepEqual(withdrawalOf(withdrawn), { because: 'incident_closed', status: 'resolved', by: BOB });
    await gate.bot.waitFor(() => /Withdrawn: the incident was resolved by <@U0BOB0001>/.test(blocksText(message(i, p.ts).blocks)), 5000, 'message updated');
    const text = blocksText(message(i, p.ts).blocks);
    assert.doesNotMatch(text, /approval_approve|approval_deny/, 'buttons gone');
    assert.match(text, /It can no longer be approved/);
    const audit = (await gate.bot.fb.deps.store.listAudit({ approvalId: p.approvalId })).find((e) => e.action === 'approval.withdrawn');
    assert.deepEqual({ actor: audit?.actor, reason: audit?.detail.reason }, { actor: BOB, reason: 'incident resolved' });
    const timeline = await gate.bot.fb.deps.store.listTimeline(i.id);
    assert.ok(
      timeline.some((t) => t.text === '`rollback_deployment` withdrawn: the incident was resolved by <@U0BOB0001>; nothing was run'),
      timeline.map((t) => t.text).join('\n'),
    );

    // The commander's Approve, from a client still showing the buttons.
    const n = gate.bot.emulator.state.ephemeralsFor(ALICE, i.channelId!).length;
    assert.equal((await staleClick(gate.bot, i.channelId!, shown, Actions.approve, ALICE)).status, 200);
    assert.match(await lastEphemeral(ALICE, i, n), /withdrawn .*because the incident was resolved by <@U0BOB0001>.*Nothing was run/);

    // Reopened (from the backend's UI, or a status form opened before the resolve): it stays withdrawn.
    await changeStatus(gate.bot.fb.deps, i.id, 'investigating', BOB, 'regressed');
    assert.equal((await staleClick(gate.bot, i.channelId!, shown, Actions.approve, ALICE)).status, 200);
    await lastEphemeral(ALICE, i, n + 1);
    await gate.bot.fb.deps.jobs.idle();
    assert.equal((await gate.bot.fb.deps.store.getApproval(p.approvalId))!.status, 'denied');
    assert.equal(gate.receiver.received.length, 0, 'the rollback never ran');
  });

  test('a crash between resolve and the withdrawal: the Approve finds the incident resolved, withdraws and runs nothing', async () => {
    const i = await declare(gate.bot, 'high Payments timing out');
    const p = await propose(gate.bot, i.channelId!, 'rollback_deployment service=payments version=v7', DAVE);
    const shown = snapshot(i, p.ts);
    // The incident is resolved in the store and nothing after that happened (no job ran).
    await gate.bot.fb.deps.jobs.stop(1000);
    try {
      const cur = (await gate.bot.fb.deps.store.getIncident(i.id))!;
      const now = new Date();
      assert.ok(await gate.bot.fb.deps.store.updateIncident(i.id, { status: 'resolved', resolvedAt: now, updatedAt: now }, { expectedVersion: cur.version }));
      const n = gate.bot.emulator.state.ephemeralsFor(ALICE, i.channelId!).length;
      assert.equal((await staleClick(gate.bot, i.channelId!, shown, Actions.approve, ALICE)).status, 200);
      assert.match(await lastEphemeral(ALICE, i, n), /withdrawn .*because the incident was resolved/);
      const a = (await gate.bot.fb.deps.store.getApproval(p.approvalId))!;
      assert.equal(a.status, 'denied');
      assert.equal(withdrawalOf(a)?.because, 'incident_closed');
      await gate.bot.waitFor(() => /Withdrawn: the incident was resolved/.test(blocksText(message(i, p.ts).blocks)), 5000, 'message updated');
    } finally {
      gate.bot.fb.deps.jobs.start();
    }
    await gate.bot.fb.deps.jobs.idle();
    assert.equal(gate.receiver.received.length, 0, 'the rollback never ran');
  });

  test('cancelling the incident withdraws too; a risky action proposed in a closed incident is refused with the reason', async () => {
    const i = await declare(gate.bot, 'medium False alarm on search');
    const p = await propose(gate.bot, i.channelId!, 'rollback_deployment service=search version=v3', DAVE);
    await changeStatus(gate.bot.fb.deps, i.id, 'cancelled', ALICE, 'false alarm');
    await gate.bot.waitFor(
      () => /Withdrawn: the incident was cancelled by <@U0ALICE01>/.test(blocksText(message(i, p.ts).blocks)),
      8000,
      'withdrawn on cancel',
    );

    const n = gate.bot.emulator.state.ephemeralsFor(DAVE, i.channelId!).length;
    await gate.bot.driver.slash('action rollback_deployment service=search version=v4', { user: DAVE, channel: i.channelId! });
    assert.match(await lastEphemeral(DAVE, i, n), /is cancelled, and nothing is approved in a closed incident, so `rollback_deployment` was not proposed/);
    assert.equal((await gate.bot.fb.deps.store.listApprovals({ incidentId: i.id })).length, 1, 'nothing new proposed');
  });

  test('resolved in Rootly (its webhook, verified and normalised): the pending approval is withdrawn, by Rootly', async () => {
    const i = await declare(gate.bot, 'high Login failures');
    const p = await propose(gate.bot, i.channelId!, 'rollback_deployment service=auth version=v9', DAVE);
    await resolvedInRootly(i, 'evt-resolved-1');
    await gate.bot.waitFor(
      () => /Withdrawn: the incident was resolved by Rootly/.test(blocksText(message(i, p.ts).blocks)),
      8000,
      'withdrawn on the backend resolve',
    );
    assert.deepEqual(withdrawalOf((await gate.bot.fb.deps.store.getApproval(p.approvalId))!), { because: 'incident_closed', status: 'resolved', by: 'Rootly' });
  });

  test('resolved in Rootly and the withdrawal never ran (a crash): the Approve withdraws it naming Rootly, as the normal path does', async () => {
    const i = await declare(gate.bot, 'high Token refresh failing');
    const p = await propose(gate.bot, i.channelId!, 'rollback_deployment service=tokens version=v5', DAVE);
    const shown = snapshot(i, p.ts);
    await gate.bot.fb.deps.jobs.stop(1000);
    try {
      await resolvedInRootly(i, 'evt-resolved-crash');
      assert.equal((await gate.bot.fb.deps.store.getApproval(p.approvalId))!.status, 'pending', 'the withdrawal job has not run');
      const n = gate.bot.emulator.state.ephemeralsFor(ALICE, i.channelId!).length;
      assert.equal((await staleClick(gate.bot, i.channelId!, shown, Actions.approve, ALICE)).status, 200);
      assert.match(await lastEphemeral(ALICE, i, n), /withdrawn .*because the incident was resolved by Rootly\b/);
      assert.deepEqual(withdrawalOf((await gate.bot.fb.deps.store.getApproval(p.approvalId))!), {
        because: 'incident_closed',
        status: 'resolved',
        by: 'Rootly',
      });
      await gate.bot.waitFor(() => /Withdrawn: the incident was resolved by Rootly\b/.test(blocksText(message(i, p.ts).blocks)), 5000, 'message updated');
    } finally {
      gate.bot.fb.deps.jobs.start();
    }
    await gate.bot.fb.deps.jobs.idle();
    assert.equal(gate.receiver.received.length, 0, 'the rollback never ran');
  });
});
