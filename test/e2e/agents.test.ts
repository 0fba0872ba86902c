import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBot, type Bot } from './harness.js';
import { signAgent } from '../../src/webhooks/verify.js';
import type { Incident } from '../../src/domain/incident.js';
import { blocksText, declare, messagesWithMarker, openView, postAgentProposal, waitForIncident } from './helpers.js';
import { Actions, FormBlocks, INPUT } from '../../src/slack/ids.js';
import { postGenericAlert } from '../../bench/lib.js';

const SECRET = 'agent-secret-for-tests-0123456789';
const ALERT_SECRET = 'alert-secret-for-agent-tests-0123456789';
let bot: Bot;
let incident: Incident;

before(async () => {
  bot = await startBot({ env: { AGENT_WEBHOOK_SECRET: SECRET, ALERT_WEBHOOK_SECRET: ALERT_SECRET } });
  incident = await declare(bot, 'high Elevated 5xx on edge');
});
after(async () => bot.close());

async function propose(payload: unknown, opts: { secret?: string; key?: string; unsignedKey?: boolean } = {}) {
  const res = await postAgentProposal(bot, opts.secret ?? SECRET, payload, opts);
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, retryAfter: res.headers.get('retry-after') };
}

test('an external agent proposes through the same gate: posted for approval, never run by itself', async () => {
  const r = await propose(
    {
      agent: 'sre-copilot',
      incident: { channel_id: incident.channelId },
      action: 'clear_cache',
      params: { cache: 'edge-config' },
      reason: 'stale config after the 14:02 deploy',
    },
    { key: 'k-1' },
  );
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const a = (await bot.fb.deps.store.getApproval(String(r.body.approval_id)))!;
  assert.equal(a.status, 'pending');
  assert.equal(a.proposerKind, 'agent');
  assert.equal(a.proposedBy, 'sre-copilot');
  const msg = messagesWithMarker(bot.emulator, incident.channelId!, `approval:${a.id}`)[0]!;
  assert.match(blocksText(msg.blocks), /sre-copilot/);
  const again = await propose(
    { agent: 'sre-copilot', incident: { id: incident.id }, action: 'clear_cache', params: { cache: 'edge-config' }, reason: 'retry' },
    { key: 'k-1' },
  );
  assert.equal(again.status, 200);
  assert.equal(again.body.duplicate, true);

  const read = await propose({
    agent: 'sre-copilot',
    incident: { id: incident.id },
    action: 'read_logs',
    params: { service: 'edge' },
    reason: 'look at the logs',
  });
  assert.equal(read.status, 202);
  assert.equal((await bot.fb.deps.store.getApproval(String(read.body.approval_id)))!.status, 'pending', 'even a read waits for a person');
});

test('the answer names who may approve; into an incident nobody has taken command of it says nobody can', async () => {
  const held = await propose(
    { agent: 'sre-copilot', incident: { id: incident.id }, action: 'clear_cache', params: { cache: 'sessions' }, reason: 'stale' },
    { key: 'k-approvers-1' },
  );
  assert.equal(held.status, 202, JSON.stringify(held.body));
  assert.deepEqual(held.body.approvers, [incident.commanderId]);
  assert.doesNotMatch(String(held.body.policy), /Nobody can approve/);

  assert.equal(await postGenericAlert(bot.url, ALERT_SECRET, { title: 'Queue depth above 10k', service: 'queue', severity: 'high' }), 202);
  const opened = await waitForIncident(bot, '[GENERIC] Queue depth above 10k');
  await bot.waitFor(async () => (await bot.fb.deps.store.getIncident(opened.id))?.channelId, 5000, 'the alert incident channel');
  const r = await propose(
    { agent: 'sre-copilot', incident: { id: opened.id }, action: 'clear_cache', params: { cache: 'queue' }, reason: 'drain' },
    { key: 'k-approvers-2' },
  );
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.deepEqual(r.body.approvers, []);
  assert.match(String(r.body.policy), /Nobody can approve this proposal/);
});

test('bad proposals are refused with a reason and change nothing', async () => {
  const before = (await bot.fb.deps.store.listApprovals({ incidentId: incident.id })).length;
  assert.equal(
    (await propose({ agent: 'x', incident: { id: incident.id }, action: 'clear_cache', params: { cache: 'a' }, reason: 'r' }, { secret: 'wrong' })).status,
    401,
  );
  const invalid = await propose({
    agent: 'x',
    incident: { id: incident.id },
    action: 'scale_infrastructure',
    params: { service: 'edge', replicas: 'many' },
    reason: 'r',
  });
  assert.equal(invalid.status, 422);
  assert.match(String(invalid.body.error), /replicas/);
  assert.equal((await propose({ agent: 'x', incident: { id: incident.id }, action: 'drop_tables', params: {}, reason: 'r' })).status, 422);
  assert.equal((await propose({ agent: 'x', incident: { id: 'nope' }, action: 'clear_cache', params: { cache: 'a' }, reason: 'r' })).status, 404);
  assert.equal((await propose({ agent: 'x', action: 'clear_cache' })).status, 400);
  assert.equal((await bot.fb.deps.store.listApprovals({ incidentId: incident.id })).length, before);
});

test('a parameter too long to show in full is refused with its length, before anything is proposed or posted', async () => {
  const before = (await bot.fb.deps.store.listApprovals({ incidentId: incident.id })).length;
  const posts = bot.emulator.calls('chat.postMessage').length;
  const long = `edge-config ${'x'.repeat(2960)} --all-regions --force`;
  const r = await propose({ agent: 'sre-copilot', incident: { id: incident.id }, action: 'clear_cache', params: { cache: long }, reason: 'flush' });
  assert.equal(r.status, 422);
  assert.match(String(r.body.error), new RegExp(`\`cache\` is ${long.length} characters; at most 200 are allowed`));
  assert.equal((await bot.fb.deps.store.listApprovals({ incidentId: incident.id })).length, before, 'nothing proposed');
  await bot.fb.deps.jobs.idle();
  assert.equal(bot.emulator.calls('chat.postMessage').length, posts, 'nothing posted');
});

test('the Idempotency-Key is covered by the signature: a key added or swapped by someone else is refused', async () => {
  const before = (await bot.fb.deps.store.listApprovals({ incidentId: incident.id })).length;
  const payload = { agent: 'sre-copilot', incident: { id: incident.id }, action: 'clear_cache', params: { cache: 'k' }, reason: 'r' };
  const r = await propose(payload, { key: 'k-signed', unsignedKey: true });
  assert.equal(r.status, 401);
  assert.equal((await bot.fb.deps.store.listApprovals({ incidentId: incident.id })).length, before);
});

test('a signed proposal without an Idempotency-Key replayed as is (same timestamp, same signature) proposes once', async () => {
  const before = (await bot.fb.deps.store.listApprovals({ incidentId: incident.id })).length;
  const body = JSON.stringify({
    agent: 'sre-copilot',
    incident: { id: incident.id },
    action: 'clear_cache',
    params: { cache: 'edge-workers' },
    reason: 'wedged workers',
  });
  const ts = Math.floor(Date.now() / 1000);
  const send = () =>
    fetch(`${bot.url}/webhooks/agents/proposals`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-firebreak-timestamp': String(ts), 'x-firebreak-signature': signAgent(SECRET, ts, body) },
      body,
    }).then(async (res) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> }));
  const first = await send();
  assert.equal(first.status, 202, JSON.stringify(first.body));
  const replay = await send();
  assert.equal(replay.status, 200, JSON.stringify(replay.body));
  assert.equal(replay.body.duplicate, true);
  assert.equal(replay.body.approval_id, first.body.approval_id);
  assert.equal((await bot.fb.deps.store.listApprovals({ incidentId: incident.id })).length, before + 1, 'one approval, one message to approve');
});

test('a proposal into a resolved incident is refused with the reason (409, not a retryable error), even a read, and the same key works elsewhere', async () => {
  const closed = await declare(bot, 'medium Edge cache misses');
  await bot.driver.slash('resolve cache warmed', { user: 'U0ALICE01', channel: closed.channelId! });
  await bot.waitFor(async () => (await bot.fb.deps.store.getIncident(closed.id))?.status === 'resolved', 5000, 'resolved');
  for (const [action, params] of [
    ['clear_cache', { cache: 'edge-late' }],
    ['read_logs', { service: 'edge' }],
  ] as const) {
    const r = await propose({ agent: 'sre-copilot', incident: { id: closed.id }, action, params, reason: 'late' }, { key: `late-${action}` });
    assert.equal(r.status, 409, JSON.stringify(r.body));
    assert.match(String(r.body.error), new RegExp(`is resolved, and nothing is approved in a closed incident, so \`${action}\` was not proposed`));
  }
  assert.equal((await bot.fb.deps.store.listApprovals({ incidentId: closed.id })).length, 0, 'nothing proposed');
  // The refusal did not use up the key: the same proposal to an open incident goes through.
  const open = await propose(
    { agent: 'sre-copilot', incident: { id: incident.id }, action: 'clear_cache', params: { cache: 'edge-late' }, reason: 'r' },
    { key: 'late-clear_cache' },
  );
  assert.equal(open.status, 202, JSON.stringify(open.body));
});

test('an agent proposing again what already stands (another key, the same action and parameters) gets 409 naming that approval; after a denial it may propose it again', async () => {
  const body = { agent: 'loopy-agent', incident: { id: incident.id }, action: 'clear_cache', params: { cache: 'standing' }, reason: 'stale' };
  const first = await propose(body, { key: 'standing-1' });
  assert.equal(first.status, 202, JSON.stringify(first.body));
  const before = (await bot.fb.deps.store.listApprovals({ incidentId: incident.id })).length;

  // The same again, under a fresh key, and by another agent: refused, pointing at the standing one.
  for (const [agent, key] of [
    ['loopy-agent', 'standing-2'],
    ['other-agent', 'standing-3'],
  ] as const) {
    const again = await propose({ ...body, agent }, { key });
    assert.equal(again.status, 409, JSON.stringify(again.body));
    assert.equal(again.body.approval_id, first.body.approval_id);
    assert.equal(again.body.status, 'pending');
    assert.match(String(again.body.error), /already proposed in INC-\d+ \(approval `[0-9a-f-]+`, pending\)\. Nothing was proposed\./);
  }
  // Other parameters are another proposal; the first key's retry is still its duplicate.
  assert.equal((await propose({ ...body, params: { cache: 'other' } }, { key: 'standing-4' })).status, 202);
  assert.equal((await propose(body, { key: 'standing-1' })).body.duplicate, true);
  assert.equal((await bot.fb.deps.store.listApprovals({ incidentId: incident.id })).length, before + 1, 'one message per rollback to approve');

  // Denied: the agent may propose it again, and a refused key is not used up.
  const msg = messagesWithMarker(bot.emulator, incident.channelId!, `approval:${first.body.approval_id}`)[0]!;
  await bot.driver.click({ channel: incident.channelId!, ts: msg.ts }, Actions.deny, { user: incident.commanderId! });
  const view = await bot.waitFor(() => openView(bot.emulator, incident.commanderId!, 'deny_modal'), 3000, 'deny modal');
  await bot.driver.submitView(view.id, { [FormBlocks.reason]: { [INPUT]: 'not yet' } }, { user: incident.commanderId! });
  await bot.waitFor(async () => (await bot.fb.deps.store.getApproval(String(first.body.approval_id)))?.status === 'denied', 5000, 'denied');
  const after = await propose(body, { key: 'standing-2' });
  assert.equal(after.status, 202, JSON.stringify(after.body));
  assert.notEqual(after.body.approval_id, first.body.approval_id);
});
