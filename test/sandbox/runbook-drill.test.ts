import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startSandboxBot, type RunningSandbox } from './helpers.js';

const ALICE = 'U0ALICE01';
const BOB = 'U0BOB0001';
const INCIDENTS = 'C0INCIDENTS';

/**
 * The runbook drill of docs/sandbox.md, through the console API exactly as a person does it in the
 * browser: declare, start the shipped example runbook, watch the reads and the diagnosis, approve
 * the rollback as the commander, confirm the last check.
 */
let sb: RunningSandbox;
before(async () => {
  sb = await startSandboxBot();
});
after(async () => {
  await sb?.close();
});

test('runbook drill: the example api-error-triage runs end to end in the sandbox', async () => {
  assert.deepEqual(
    sb.sandbox.config.runbooks.map((r) => r.id),
    ['alert-first-look', 'api-error-triage'],
    'the sandbox ships two example runbooks',
  );
  await sb.post('/sandbox/api/message', { user: ALICE, channel: INCIDENTS, text: '/incident declare sev2 API errors after deploy' });
  const ch = await sb.waitFor((s) => s.channels.find((c) => c.name.includes('api-errors-after-deploy') && c.pins.length), 'the incident channel');
  // The card offers the runbook.
  assert.match(JSON.stringify(ch.messages.find((m) => m.ts === ch.pins[0]!.ts)?.blocks), /Run: API error triage/);

  const start = await sb.post('/sandbox/api/message', { user: BOB, channel: ch.id, text: '/incident runbook api-error-triage' });
  assert.equal(start.status, 200, JSON.stringify(start.body));
  const checklist = () =>
    sb.waitFor((s) => s.channels.find((c) => c.id === ch.id)!.messages.find((m) => /^Runbook API error triage/.test(m.text)), 'the checklist');
  const approval = await sb.waitFor(
    (s) => s.channels.find((c) => c.id === ch.id)!.messages.find((m) => m.text.startsWith('Approval requested') && /rollback_deployment/.test(m.text)),
    'the rollback approval',
  );
  // Reads ran; the template filled the rollback from the deploy step's output; the diagnosis (plain, no Claude key) is in the thread.
  assert.match(JSON.stringify(approval.blocks), /`service` = `api`\\n`version` = `v41`/);
  const msg = await checklist();
  assert.match(JSON.stringify(msg.blocks), /waiting for approval/);
  const thread = (await sb.state()).channels.find((c) => c.id === ch.id)!.messages.filter((m) => m.thread_ts === msg.ts && m.ts !== msg.ts);
  assert.ok(
    thread.some((m) => /error_rate/.test(JSON.stringify(m.blocks))),
    'the error-rate output is in the thread',
  );
  assert.ok(
    thread.some((m) => /Diagnosis/.test(JSON.stringify(m.blocks))),
    'the diagnosis is in the thread',
  );

  // Alice (the commander) approves; the run goes on to the check.
  const ok = await sb.post('/sandbox/api/click', { user: ALICE, channel: ch.id, ts: approval.ts, actionId: 'approval_approve' });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  await sb.waitFor(
    (s) => /Confirm step 6/.test(JSON.stringify(s.channels.find((c) => c.id === ch.id)!.messages.find((m) => m.ts === msg.ts)?.blocks)),
    'the check',
  );
  const confirm = await sb.post('/sandbox/api/click', { user: ALICE, channel: ch.id, ts: msg.ts, actionId: 'runbook_check:5' });
  assert.equal(confirm.status, 200, JSON.stringify(confirm.body));
  const done = await sb.waitFor(
    (s) => s.channels.find((c) => c.id === ch.id)!.messages.find((m) => m.ts === msg.ts && /succeeded/.test(m.text)),
    'the run to finish',
  );
  assert.match(JSON.stringify(done.blocks), /Finished/);
});
