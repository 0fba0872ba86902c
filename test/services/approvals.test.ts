import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { AppError } from '../../src/errors.js';
import type { Approval } from '../../src/ports/store.js';
import { approve, auditLog, deny, executeApproval, proposeAction } from '../../src/services/approvals.js';
import { assignRole } from '../../src/services/lifecycle.js';
import { openTestSqliteStore } from '../store/pg-helper.js';
import { COMMANDER, LEADS, SECRET_ENV, defineAction, makeGate, startReceiver, waitFor, type Gate } from './approvals-fixture.js';

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

const webhookAction = (url: string, over: Record<string, unknown> = {}) =>
  defineAction({
    id: 'rollback_deployment',
    title: 'Roll back a deployment',
    params: { service: { type: 'string', required: true }, version: { type: 'string', required: true, pattern: '^v\\d+$' } },
    requires_approval: true,
    policy: { roles: ['commander'], usergroups: [LEADS] },
    executor: { type: 'webhook', url, secret_env: SECRET_ENV, timeout_ms: 2000, retries: 2 },
    ...over,
  });

/** An action approved by the holder of `role` and carried out by hand (no executor). */
const byHand = (id: string, title: string, role: string) =>
  defineAction({ id, title, params: {}, requires_approval: true, policy: { roles: [role], usergroups: [] }, executor: { type: 'none' } });

describe('approval gate (SQLite store)', () => {
  let db: Awaited<ReturnType<typeof openTestSqliteStore>>;
  let receiver: Receiver;
  let status = 200;
  let gate: Gate;

  before(async () => {
    receiver = await startReceiver(() => status);
  });
  after(async () => {
    await receiver.close();
  });
  beforeEach(async () => {
    status = 200;
    receiver.received.length = 0;
    db = await openTestSqliteStore();
    gate = await makeGate(db.store, {
      actions: [
        webhookAction(receiver.url),
        defineAction({
          id: 'restart_service',
          title: 'Restart a service',
          params: { service: { type: 'string', required: true } },
          requires_approval: true,
          policy: { roles: [], usergroups: [LEADS], min_approvals: 2 },
          executor: { type: 'webhook', url: receiver.url, secret_env: SECRET_ENV, retries: 0 },
        }),
        byHand('page_team', 'Page a team', 'commander'),
        byHand('drain_node', 'Drain a node', 'ops_lead'),
      ],
    });
    gate.chat.groups.set(LEADS, ['ULEAD1', 'ULEAD2', 'ULEAD3']);
  });
  afterEach(async () => {
    await gate.stop();
    await db.cleanup();
  });

  const propose = (over: Partial<Parameters<typeof proposeAction>[1]> = {}) =>
    proposeAction(gate.deps, {
      incidentId: gate.incidentId,
      actionId: 'rollback_deployment',
      rawParams: { service: 'api', version: 'v41' },
      reason: 'v42 broke checkout',
      proposedBy: 'UPROP',
      proposerKind: 'user',
      ...over,
    });
  const finished = (id: string) =>
    waitFor(async () => {
      const a = await gate.deps.store.getApproval(id);
      return a && ['succeeded', 'failed', 'unknown'].includes(a.status) ? a : null;
    }, 'the approval to finish');

  it('posts a proposal with who, what, why, the policy, the expiry and id-only buttons', async () => {
    const a = await propose();
    assert.equal(a.status, 'pending');
    assert.ok(a.messageTs);
    const msg = gate.chat.render(a.messageTs!);
    assert.match(msg, /<@UPROP>/);
    assert.match(msg, /`service` = `api`\\n`version` = `v41`/);
    assert.match(msg, /v42 broke checkout/);
    assert.match(msg, /needs 1 approval from the commander \(<@UCMD>\) or <!subteam\^SSRELEADS>/);
    assert.match(msg, /\*Expires\* <!date\^\d+\^/);
    assert.equal(a.expiresAt.getTime() - a.createdAt.getTime(), 15 * 60_000);
    assert.deepEqual(
      gate.chat.buttons(a.messageTs!).map((b) => [b.action_id, b.value]),
      [
        ['approval_approve', a.id],
        ['approval_deny', a.id],
      ],
    );
    assert.equal(gate.chat.posts.length, 1);
    assert.equal(await gate.deps.store.countJobs({ kind: 'approval.expire', state: 'queued' }), 1);
  });

  it('refuses invalid parameters with the exact problem and stores nothing', async () => {
    await assert.rejects(propose({ rawParams: { service: 'api', version: '41', foo: 'x' } }), (err: AppError) => {
      assert.equal(err.code, 'action.invalid_params');
      assert.deepEqual(err.detail.problems, ['`version` must match `^v\\d+$`', 'unknown parameter `foo`']);
      return true;
    });
    await assert.rejects(
      propose({ actionId: 'drop_database' }),
      (err: AppError) => err.code === 'action.unknown' && /Known actions: .*`rollback_deployment`/.test(err.message),
    );
    assert.deepEqual(await gate.deps.store.listApprovals({ incidentId: gate.incidentId }), []);
    assert.equal(gate.chat.posts.length, 0);
  });

  it('an authorised approve runs the webhook once, signed, and shows the result in place', async () => {
    const a = await propose();
    const res = await approve(gate.deps, { approvalId: a.id, userId: COMMANDER });
    assert.equal(res.outcome, 'approved');
    const done = await finished(a.id);
    assert.equal(done.status, 'succeeded');
    assert.equal(receiver.received.length, 1);
    const r = receiver.received[0]!;
    assert.equal(r.signatureOk, true);
    assert.equal(r.headers['idempotency-key'], a.id);
    assert.deepEqual(r.json, {
      approval_id: a.id,
      action: 'rollback_deployment',
      params: { service: 'api', version: 'v41' },
      incident: { id: gate.incidentId, title: 'API 500s', severity: 'high', backend_id: gate.incidentId },
      approved_by: [COMMANDER],
      approved_at: a.createdAt.toISOString(),
    });
    const msg = gate.chat.render(a.messageTs!);
    assert.match(msg, /:white_check_mark: \*Approved by <@UCMD> · ran\*: Roll back a deployment/, 'the outcome is the headline');
    assert.doesNotMatch(msg, /Approval requested/);
    assert.match(msg, /\*Ran\*: webhook answered 200/);
    assert.deepEqual(gate.chat.buttons(a.messageTs!), []);
    const audit = (await gate.deps.store.listAudit({ approvalId: a.id })).map((e) => e.action);
    assert.deepEqual(audit, ['approval.proposed', 'approval.approved', 'approval.executing', 'approval.succeeded']);
    const timeline = await gate.deps.store.listTimeline(gate.incidentId);
    assert.ok(
      timeline.some(
        (t) =>
          t.kind === 'action' &&
          /^`rollback_deployment` service=api version=v41 ran: webhook answered 200 \(proposed by <@UPROP>, approved by <@UCMD>\)$/.test(t.text),
      ),
    );
    assert.equal(await gate.deps.store.countJobs({ kind: 'backend.sync' }), 1);
    // A later click changes nothing.
    const again = await approve(gate.deps, { approvalId: a.id, userId: 'ULEAD1' });
    assert.match(again.text, /already approved by <@UCMD>/);
    await gate.jobs.idle();
    assert.equal(receiver.received.length, 1);
  });

  it('deny records the reason, updates the message and runs nothing; the proposer may withdraw', async () => {
    const a = await propose();
    const res = await deny(gate.deps, { approvalId: a.id, userId: 'ULEAD2', reason: 'wait for the canary' });
    assert.equal(res.outcome, 'denied');
    const stored = (await gate.deps.store.getApproval(a.id))!;
    assert.equal(stored.status, 'denied');
    assert.equal(stored.denyReason, 'wait for the canary');
    assert.match(gate.chat.render(a.messageTs!), /:no_entry: \*Denied by <@ULEAD2>\*[\s\S]*Nothing was run.*Reason: wait for the canary/);
    assert.deepEqual(gate.chat.buttons(a.messageTs!), []);
    assert.match((await approve(gate.deps, { approvalId: a.id, userId: COMMANDER })).text, /denied by <@ULEAD2>/);

    const b = await propose();
    assert.equal((await deny(gate.deps, { approvalId: b.id, userId: 'UNOBODY', reason: 'no' })).outcome, 'refused');
    assert.equal((await deny(gate.deps, { approvalId: b.id, userId: 'UPROP', reason: 'typo' })).outcome, 'denied');
    assert.match(gate.chat.render(b.messageTs!), /Withdrawn by <@UPROP>/);
    await gate.jobs.idle();
    assert.equal(receiver.received.length, 0);
  });

  it('refuses self-approval, even by the commander, and says who may approve', async () => {
    const a = await propose({ proposedBy: COMMANDER });
    const res = await approve(gate.deps, { approvalId: a.id, userId: COMMANDER });
    assert.equal(res.outcome, 'refused');
    assert.match(res.text, /You proposed this action, so someone else must approve it: the commander \(<@UCMD>\) or <!subteam\^SSRELEADS>/);
    assert.equal((await gate.deps.store.getApproval(a.id))!.status, 'pending');
    assert.deepEqual(await gate.deps.store.listVotes(a.id), []);
    const refused = (await gate.deps.store.listAudit({ approvalId: a.id })).filter((e) => e.action === 'approval.refused');
    assert.deepEqual(
      refused.map((e) => [e.actor, e.detail.reason]),
      [[COMMANDER, 'self_approval']],
    );
  });

  it('refuses someone outside the policy, and lets a user-group member approve', async () => {
    const a = await propose();
    const res = await approve(gate.deps, { approvalId: a.id, userId: 'URANDOM' });
    assert.equal(res.outcome, 'refused');
    assert.match(
      res.text,
      /You may not approve this action\. It needs 1 approval from the commander \(<@UCMD>\) or <!subteam\^SSRELEADS>\. Who may approve was fixed when it was proposed/,
    );
    assert.equal((await gate.deps.store.getApproval(a.id))!.status, 'pending');
    assert.equal((await approve(gate.deps, { approvalId: a.id, userId: 'ULEAD3' })).outcome, 'approved');
    await finished(a.id);
    assert.equal(receiver.received.length, 1);
  });

  it('two-person rule: one person twice is not two approvals; a second person decides', async () => {
    const a = await propose({ actionId: 'restart_service', rawParams: { service: 'api' } });
    assert.match(gate.chat.render(a.messageTs!), /needs 2 approvals from different people from <!subteam\^SSRELEADS>/);
    assert.equal((await approve(gate.deps, { approvalId: a.id, userId: 'ULEAD1' })).outcome, 'voted');
    assert.match(gate.chat.render(a.messageTs!), /1 of 2 \(<@ULEAD1>\)/);
    const twice = await approve(gate.deps, { approvalId: a.id, userId: 'ULEAD1' });
    assert.equal(twice.outcome, 'already_voted');
    assert.equal(twice.text, 'You already approved; waiting for 1 more approval.');
    assert.equal((await gate.deps.store.getApproval(a.id))!.status, 'pending');
    await gate.jobs.idle();
    assert.equal(receiver.received.length, 0);
    assert.equal((await approve(gate.deps, { approvalId: a.id, userId: 'ULEAD2' })).outcome, 'approved');
    await finished(a.id);
    assert.equal(receiver.received.length, 1);
    assert.deepEqual(receiver.received[0]!.json.approved_by, ['ULEAD1', 'ULEAD2']);
    assert.match(gate.chat.render(a.messageTs!), /Approved by <@ULEAD1> and <@ULEAD2>/);
  });

  it('expires after the policy time: the job updates the message and a late click runs nothing', async () => {
    const a = await propose();
    gate.clock.advance(15 * 60_000 - 1);
    gate.jobs.kick();
    await gate.jobs.idle();
    assert.equal((await gate.deps.store.getApproval(a.id))!.status, 'pending');
    gate.clock.advance(1);
    const expired = await waitFor(async () => {
      gate.jobs.kick();
      const x = await gate.deps.store.getApproval(a.id);
      return x?.status === 'expired' ? x : null;
    }, 'expiry');
    assert.equal(expired.status, 'expired');
    assert.match(gate.chat.render(a.messageTs!), /\*Expired\*/);
    assert.deepEqual(gate.chat.buttons(a.messageTs!), []);
    const late = await approve(gate.deps, { approvalId: a.id, userId: COMMANDER });
    assert.equal(late.outcome, 'expired');
    assert.match(late.text, /expired at/);
    await gate.jobs.idle();
    assert.equal(receiver.received.length, 0);
  });

  it('a click after the deadline expires it even before the expiry job runs', async () => {
    const a = await propose();
    await gate.jobs.stop(100);
    gate.clock.advance(16 * 60_000);
    const res = await approve(gate.deps, { approvalId: a.id, userId: COMMANDER });
    assert.equal(res.outcome, 'expired');
    assert.equal((await gate.deps.store.getApproval(a.id))!.status, 'expired');
    assert.deepEqual(gate.chat.buttons(a.messageTs!), []);
  });

  it('a double click runs once; the second click hears who approved', async () => {
    const a = await propose();
    const [x, y] = await Promise.all([
      approve(gate.deps, { approvalId: a.id, userId: COMMANDER }),
      approve(gate.deps, { approvalId: a.id, userId: COMMANDER }),
    ]);
    assert.deepEqual([x.outcome, y.outcome].sort(), ['approved', 'closed']);
    assert.match((x.outcome === 'closed' ? x : y).text, /already approved by <@UCMD>/);
    await finished(a.id);
    await gate.jobs.idle();
    assert.equal(receiver.received.length, 1);
  });

  it('200 concurrent approvals by different authorised people: one execution, 199 "already approved by"', async () => {
    const users = Array.from({ length: 200 }, (_, i) => `UAPP${String(i).padStart(3, '0')}`);
    gate.chat.groups.set(LEADS, users);
    const a = await propose();
    const t0 = performance.now();
    const timings: number[] = [];
    const results = await Promise.all(
      users.map(async (userId) => {
        const s = performance.now();
        const r = await approve(gate.deps, { approvalId: a.id, userId });
        timings.push(performance.now() - s);
        return r;
      }),
    );
    const wall = performance.now() - t0;
    const approved = results.filter((r) => r.outcome === 'approved');
    const already = results.filter((r) => /already approved by <@UAPP\d{3}>/.test(r.text));
    assert.equal(approved.length, 1);
    assert.equal(already.length, 199);
    const done = await finished(a.id);
    assert.equal(done.status, 'succeeded');
    await gate.jobs.idle();
    assert.equal(receiver.received.length, 1);
    timings.sort((p, q) => p - q);
    console.log(
      `# sqlite: 200 concurrent approves in ${wall.toFixed(0)} ms; p50 ${timings[99]!.toFixed(0)} ms, max ${timings[199]!.toFixed(0)} ms; executions ${receiver.received.length}`,
    );
  });

  it('an approved action without an executor says it was not executed, to the clicker, in the message and in the timeline', async () => {
    const a = await propose({ actionId: 'page_team', rawParams: {}, reason: 'wake the db team' });
    const res = await approve(gate.deps, { approvalId: a.id, userId: COMMANDER });
    assert.equal(res.outcome, 'approved');
    assert.match(res.text, /Nothing runs automatically: `page_team` has no executor configured, so carry it out by hand/);
    assert.doesNotMatch(res.text, /Running/);
    const done = await finished(a.id);
    assert.equal(done.status, 'succeeded');
    const msg = gate.chat.render(a.messageTs!);
    assert.match(msg, /:white_check_mark: \*Approved by <@UCMD> · not executed\*: Page a team/);
    assert.match(msg, /\*Not executed\*: no executor is configured for this action, so nothing ran\. Do it by hand/);
    assert.doesNotMatch(msg, /\*Ran\*|Approval requested|succeeded/);
    const line = (await gate.deps.store.listTimeline(gate.incidentId)).find((t) => t.kind === 'action')!.text;
    assert.equal(line, '`page_team` approved, not executed: no executor configured, do it by hand (proposed by <@UPROP>, approved by <@UCMD>)');
    assert.equal(receiver.received.length, 0);
  });

  it('eligibility for command through a user group: read from Slack once per proposal; a commander outside it approves nothing as commander', async () => {
    const file = gate.deps.config.file;
    gate.deps.config = { ...gate.deps.config, file: { ...file, approvals: { ...file.approvals, eligible_commanders: { users: [], usergroups: [LEADS] } } } };
    // The commander is outside the group: the rollback (commander or the leads) stays approvable by the
    // leads only, and the group is read once though both lists name it.
    gate.chat.groupCalls = 0;
    const outside = await propose();
    assert.equal(gate.chat.groupCalls, 1);
    assert.deepEqual(outside.approvers?.roles, { commander: null });
    assert.deepEqual(outside.approvers?.ineligible, { commander: COMMANDER });
    const refused = await approve(gate.deps, { approvalId: outside.id, userId: COMMANDER });
    assert.equal(refused.outcome, 'refused');
    assert.match(refused.text, /<@UCMD> commands the incident but is not eligible for command/);
    assert.equal((await approve(gate.deps, { approvalId: outside.id, userId: 'ULEAD1' })).outcome, 'approved');
    // In the group: the commander approves as commander.
    gate.chat.groups.set(LEADS, ['ULEAD1', COMMANDER]);
    const inside = await propose({ actionId: 'page_team', rawParams: {} });
    assert.deepEqual(inside.approvers?.roles, { commander: COMMANDER });
    assert.equal((await approve(gate.deps, { approvalId: inside.id, userId: COMMANDER })).outcome, 'approved');
  });

  it('assigning a guarded role asks Slack only as far as the answer needs, each group once', async () => {
    const file = gate.deps.config.file;
    gate.deps.config = { ...gate.deps.config, file: { ...file, roles: [...file.roles, 'ops_lead'] } };
    // No eligibility configured: the commander hands out ops_lead with no read at all.
    gate.chat.groupCalls = 0;
    await assignRole(gate.deps, gate.incidentId, 'ops_lead', 'UOPS', COMMANDER);
    assert.equal(gate.chat.groupCalls, 0);
    // Eligibility configured, the commander named in it: still no read.
    const withRole = gate.deps.config.file;
    gate.deps.config = {
      ...gate.deps.config,
      file: { ...withRole, approvals: { ...withRole.approvals, eligible_commanders: { users: [COMMANDER], usergroups: [] } } },
    };
    await assignRole(gate.deps, gate.incidentId, 'ops_lead', 'UOPS2', COMMANDER);
    assert.equal(gate.chat.groupCalls, 0);
    assert.equal((await gate.deps.store.getRoles(gate.incidentId)).ops_lead, 'UOPS2');
    // An outsider is refused: the leads' group (named as eligible through the policies, and as policy
    // approvers) is read once.
    await assert.rejects(assignRole(gate.deps, gate.incidentId, 'ops_lead', 'UX', 'UX'), (e: AppError) => e.code === 'role.not_allowed');
    assert.equal(gate.chat.groupCalls, 1);
  });

  it('a guarded role (ops_lead) approves only for a holder eligible for command; unchanged without eligibility', async () => {
    await gate.deps.store.setRole(gate.incidentId, 'ops_lead', COMMANDER);
    // No eligibility configured: the ops_lead approves, as before.
    const before = await propose({ actionId: 'drain_node', rawParams: {} });
    assert.deepEqual(before.approvers?.roles, { ops_lead: COMMANDER });
    const file = gate.deps.config.file;
    gate.deps.config = { ...gate.deps.config, file: { ...file, approvals: { ...file.approvals, eligible_commanders: { users: [], usergroups: [LEADS] } } } };
    const outside = await propose({ actionId: 'drain_node', rawParams: {} });
    assert.deepEqual(outside.approvers?.roles, { ops_lead: null });
    const refused = await approve(gate.deps, { approvalId: outside.id, userId: COMMANDER });
    assert.equal(refused.outcome, 'refused');
    assert.equal((await gate.deps.store.getApproval(outside.id))?.status, 'pending');
  });

  it('a failed execution is shown as failed: 4xx at once, 5xx retried with the same key', async () => {
    status = 400;
    const a = await propose();
    await approve(gate.deps, { approvalId: a.id, userId: COMMANDER });
    const failed = await finished(a.id);
    assert.equal(failed.status, 'failed');
    assert.match(failed.error!, /webhook answered 400/);
    assert.equal(receiver.received.length, 1);
    const msg = gate.chat.render(a.messageTs!);
    assert.match(msg, /:x: \*Approved by <@UCMD> · failed\*/);
    assert.match(msg, /\*Failed\*: webhook answered 400/);
    assert.doesNotMatch(msg, /\*Ran\*|Approval requested/);
    const line = (await gate.deps.store.listTimeline(gate.incidentId)).find((t) => t.kind === 'action')!.text;
    assert.match(line, /^`rollback_deployment` service=api version=v41 failed: webhook answered 400.* \(proposed by <@UPROP>, approved by <@UCMD>\)$/);
    assert.ok((await gate.deps.store.listAudit({ approvalId: a.id })).some((e) => e.action === 'approval.failed'));

    status = 503;
    receiver.received.length = 0;
    const b = await propose();
    await approve(gate.deps, { approvalId: b.id, userId: COMMANDER });
    assert.equal((await finished(b.id)).status, 'failed');
    assert.equal(receiver.received.length, 3); // 1 + retries: 2
    assert.deepEqual(new Set(receiver.received.map((r) => r.headers['idempotency-key'])), new Set([b.id]));
    assert.deepEqual(new Set(receiver.received.map((r) => r.body)).size, 1);
  });

  it('a 5xx then 200 succeeds on the retry', async () => {
    let n = 0;
    status = 0;
    const flaky = await startReceiver(() => (++n === 1 ? 502 : 200));
    try {
      gate.deps.config.actions = gate.deps.config.actions.map((x) => (x.id === 'rollback_deployment' ? webhookAction(flaky.url) : x));
      const a = await propose();
      await approve(gate.deps, { approvalId: a.id, userId: COMMANDER });
      const done = await finished(a.id);
      assert.equal(done.status, 'succeeded');
      assert.equal(flaky.received.length, 2);
      assert.match(gate.chat.render(a.messageTs!), /webhook answered 200 after 2 attempts/);
    } finally {
      await flaky.close();
    }
  });

  it('crash while executing: the resumed job marks it unknown and does not run it again', async () => {
    const a = await propose();
    await gate.jobs.stop(100);
    // What the first job run left behind when the process died: approved, claimed, no outcome.
    await gate.deps.store.transitionApproval(a.id, ['pending'], 'approved', { decidedBy: COMMANDER, decidedAt: gate.clock.now() });
    await gate.deps.store.transitionApproval(a.id, ['approved'], 'executing');
    await executeApproval(gate.deps, a.id);
    const after = (await gate.deps.store.getApproval(a.id))!;
    assert.equal(after.status, 'unknown');
    assert.equal(receiver.received.length, 0);
    assert.match(gate.chat.render(a.messageTs!), /Outcome unknown — check before retrying/);
    assert.ok((await gate.deps.store.listAudit({ approvalId: a.id })).some((e) => e.action === 'approval.unknown'));
    await executeApproval(gate.deps, a.id); // a further resume changes nothing
    assert.equal(receiver.received.length, 0);
    assert.match((await approve(gate.deps, { approvalId: a.id, userId: 'ULEAD1' })).text, /outcome is unknown/);
  });

  it('an approved approval whose job had not started yet is executed normally on resume', async () => {
    const a = await propose();
    await gate.jobs.stop(100);
    await gate.deps.store.transitionApproval(a.id, ['pending'], 'approved', { decidedBy: COMMANDER, decidedAt: gate.clock.now() });
    await executeApproval(gate.deps, a.id);
    assert.equal((await gate.deps.store.getApproval(a.id))!.status, 'succeeded');
    assert.equal(receiver.received.length, 1);
  });

  it('a read-only action runs at once without approval and posts its result', async () => {
    const a = await propose({ actionId: 'read_logs', rawParams: { service: 'api' }, reason: 'look at errors' });
    const done: Approval = await finished(a.id);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.requiresApproval, false);
    const msg = gate.chat.render(done.messageTs!);
    assert.match(msg, /\*Read-only, no approval needed · not executed\*/);
    assert.match(msg, /\*Not executed\*: no executor is configured/);
    assert.deepEqual(gate.chat.buttons(done.messageTs!), []);
    assert.equal(gate.chat.posts.length, 1);
    const audit = (await gate.deps.store.listAudit({ approvalId: a.id })).map((e) => e.action);
    assert.deepEqual(audit, ['approval.proposed', 'approval.approved', 'approval.executing', 'approval.succeeded']);
    assert.match((await approve(gate.deps, { approvalId: a.id, userId: COMMANDER })).text, /read-only and needs no approval/);
  });

  it('a proposal from Claude shows Claude and its rationale; an unknown approval id is refused', async () => {
    const a = await propose({ proposedBy: 'claude', proposerKind: 'claude', reason: 'error rate rose right after v42' });
    const msg = gate.chat.render(a.messageTs!);
    assert.match(msg, /:robot_face: Claude/);
    assert.match(msg, /\*Rationale\* error rate rose right after v42/);
    await assert.rejects(approve(gate.deps, { approvalId: 'nope', userId: COMMANDER }), (e: AppError) => e.code === 'approval.not_found');
  });

  it('/incident audit lists every step', async () => {
    const a = await propose();
    await approve(gate.deps, { approvalId: 'x'.repeat(3), userId: COMMANDER }).catch(() => null);
    await approve(gate.deps, { approvalId: a.id, userId: 'URANDOM' });
    await approve(gate.deps, { approvalId: a.id, userId: COMMANDER });
    await finished(a.id);
    const text = await auditLog(gate.deps, gate.incidentId);
    for (const step of ['approval.proposed', 'approval.refused', 'approval.approved', 'approval.executing', 'approval.succeeded'])
      assert.match(text, new RegExp(`\\*${step}\\*`));
    assert.match(text, /<@URANDOM>/);
    assert.match(text, /`rollback_deployment`, service=api version=v41/);
  });
});
