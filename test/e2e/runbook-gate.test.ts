import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { writeConfigFile } from '../../bench/lib.js';
import { Actions, FormBlocks, INPUT, numbered } from '../../src/slack/ids.js';
import { startBot, type Bot } from './harness.js';
import { ALICE, BOB, CAROL, openView, runbookProbes, startHttpTarget, type HttpTarget, staleClick } from './helpers.js';

/**
 * Who and what moves a runbook run on, attacked end to end (signed Slack requests, real bot): a run
 * in a resolved incident, a retried risky step, a job that died right after proposing, a command
 * not declared read_only. Its own bot, so the Slack rate limits the other runbook tests use up do
 * not slow these down.
 */
function startTarget(): Promise<HttpTarget> {
  return startHttpTarget((path, _req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(path === '/deploys' ? JSON.stringify({ items: [{ version: 'v41', at: '14:01' }] }) : JSON.stringify({ service: 'api', error_rate: 0.31 }));
  });
}

const TOKEN = 'tok-e2e-gate-0123456789-secret';

function config(target: string): string {
  return writeConfigFile({
    runbooks: {
      definitions: [
        {
          id: 'api-triage',
          title: 'API error triage',
          steps: [
            {
              id: 'errors',
              title: 'Error rate',
              http: { url: `${target}/errors?incident={{ incident.label }}`, headers: { Authorization: { env: 'E2E_RUNBOOK_TOKEN' } } },
            },
            { id: 'deploys', title: 'Last deploy', http: { url: `${target}/deploys` } },
            {
              id: 'rollback',
              title: 'Roll back to the previous version',
              action: { id: 'rollback_deployment', params: { service: 'api', version: '{{ steps.deploys.json.items[0].version }}' } },
            },
            { id: 'status_page', check: 'Update the status page' },
          ],
        },
        {
          id: 'check-first',
          title: 'Look, then read',
          steps: [
            { id: 'ack', check: 'Someone is looking' },
            { id: 'errors', http: { url: `${target}/errors?from=after-check`, headers: { Authorization: { env: 'E2E_RUNBOOK_TOKEN' } } } },
          ],
        },
        {
          id: 'shell',
          title: 'Uses a command',
          steps: [{ id: 'uptime', command: { argv: ['node', '-e', 'require("fs").writeFileSync("/tmp/firebreak-e2e-gate-command-ran", "x")'] } }],
        },
      ],
    },
  });
}

describe('runbook runs: who and what moves them on (signed Slack requests, real bot, emulator)', () => {
  let bot: Bot;
  let target: HttpTarget;

  before(async () => {
    target = await startTarget();
    bot = await startBot({ env: { FIREBREAK_CONFIG: config(target.url), E2E_RUNBOOK_TOKEN: TOKEN } });
  });
  after(async () => {
    await bot?.close();
    await target?.close();
  });

  const { declareHigh: declare, runs, runOf, checklist, checklistText, waitStatus, waitStep, approvalMessage } = runbookProbes(() => bot);

  test('a risky step whose job died after proposing (before recording the approval) finds its proposal on resume: one approval, never two', async () => {
    const i = await declare('Image pulls failing');
    const store = bot.fb.deps.store;
    const original = store.transitionRunbookStep.bind(store);
    let failed = false;
    // The store fails once, right after the proposal was made, as a lost connection would.
    store.transitionRunbookStep = (async (...args: Parameters<typeof original>) => {
      if (!failed && args[3] === 'waiting_approval') {
        failed = true;
        throw new Error('injected: connection lost');
      }
      return original(...args);
    }) as typeof original;
    try {
      await bot.driver.slash('runbook api-triage', { user: BOB, channel: i.channelId! });
      const run = await runOf(i, 'api-triage');
      const waiting = await waitStep(run, 2, 'waiting_approval', 10_000);
      assert.ok(failed, 'the fault was injected');
      const approvals = (await store.listApprovals({ incidentId: i.id })).filter((a) => a.actionId === 'rollback_deployment');
      assert.equal(approvals.length, 1, 'one proposal for the step');
      assert.equal(waiting.approvalId, approvals[0]!.id, 'the step waits on it (not "outcome unknown" with an orphan approval anyone could still press)');
      assert.equal(waiting.attempt, 0);
    } finally {
      store.transitionRunbookStep = original;
    }
  });

  test('retrying a risky step makes the person who retried it its proposer: they cannot approve what they re-proposed', async () => {
    const i = await declare('Cart errors');
    await bot.driver.slash('runbook api-triage', { user: BOB, channel: i.channelId! });
    const run = await runOf(i, 'api-triage');
    const first = await waitStep(run, 2, 'waiting_approval');
    const msg = await bot.waitFor(() => approvalMessage(i, first.approvalId!), 3000, 'approval message');
    await bot.driver.click({ channel: i.channelId!, ts: msg.ts }, Actions.deny, { user: ALICE });
    const view = await bot.waitFor(() => openView(bot.emulator, ALICE, 'deny_modal'), 3000, 'deny modal');
    await bot.driver.submitView(view.id, { [FormBlocks.reason]: { [INPUT]: 'not the deploy' } }, { user: ALICE });
    await waitStatus(run, ['failed'], 'run stopped by the denial');
    // The commander retries the denied step: a new proposal, and it is theirs.
    await bot.waitFor(() => /Retry step 3/.test(checklistText(i, run)), 3000, 'retry button');
    await bot.driver.click({ channel: i.channelId!, ts: checklist(i, run)[0]!.ts }, numbered(Actions.runbookRetry, 2), { user: ALICE });
    const again = await bot.waitFor(
      async () => {
        const s = await bot.fb.deps.store.getRunbookStep(run.id, 2);
        return s?.attempt === 1 && s.status === 'waiting_approval' ? s : null;
      },
      5000,
      'step 3 proposed again',
    );
    const a = (await bot.fb.deps.store.getApproval(again.approvalId!))!;
    assert.equal(a.proposedBy, ALICE, 'the retrier proposes it');
    const second = await bot.waitFor(() => approvalMessage(i, a.id), 3000, 'second approval message');
    const n = bot.emulator.state.ephemeralsFor(ALICE, i.channelId!).length;
    await bot.driver.click({ channel: i.channelId!, ts: second.ts }, Actions.approve, { user: ALICE });
    await bot.waitFor(
      () => /You proposed this action/.test(bot.emulator.state.ephemeralsFor(ALICE, i.channelId!)[n]?.text ?? ''),
      3000,
      'self-approval refused',
    );
    assert.equal((await bot.fb.deps.store.getApproval(a.id))!.status, 'pending');
  });

  test('a run does not go on once its incident is resolved: the run stops, a late Confirm is refused, no step starts', async () => {
    const i = await declare('Queue backlog');
    await bot.driver.slash('runbook check-first', { user: ALICE, channel: i.channelId! });
    const run = await runOf(i, 'check-first');
    await waitStep(run, 0, 'waiting_check');
    await bot.waitFor(() => /Confirm step 1/.test(checklistText(i, run)), 3000, 'confirm button');
    const m = structuredClone(checklist(i, run)[0]!);
    await bot.driver.slash('resolve it went away', { user: ALICE, channel: i.channelId! });
    await bot.waitFor(async () => (await bot.fb.deps.store.getIncident(i.id))?.status === 'resolved', 3000, 'resolved');
    const stopped = await waitStatus(run, ['cancelled'], 'run stopped by the resolve');
    assert.ok(stopped.finishedAt);
    assert.ok((await bot.fb.deps.store.listTimeline(i.id)).some((e) => /Look, then read\* stopped: INC-\d+ is resolved/.test(e.text)));

    // The starter clicks Confirm on the old checklist: refused, the check stays, the read never runs.
    const n = bot.emulator.state.ephemeralsFor(ALICE, i.channelId!).length;
    assert.equal((await staleClick(bot, i.channelId!, m, numbered(Actions.runbookCheck, 0), ALICE)).status, 200);
    await bot.waitFor(
      () => /is resolved; its runbooks do not go on/.test(bot.emulator.state.ephemeralsFor(ALICE, i.channelId!)[n]?.text ?? ''),
      3000,
      'refusal',
    );
    assert.equal((await bot.fb.deps.store.getRunbookStep(run.id, 0))!.status, 'waiting_check');
    await bot.fb.deps.jobs.idle();
    assert.equal((await bot.fb.deps.store.getRunbookStep(run.id, 1))!.status, 'pending');
    assert.equal(target.calls.filter((c) => c.path === '/errors?from=after-check').length, 0, 'no request after the resolve');
  });

  test('a runbook with a command not declared read_only is started only by the people its policy names (the command changes things, no Approve guards it)', async () => {
    const i = await declare('Worker queue stuck');
    const n = bot.emulator.state.ephemeralsFor(CAROL, i.channelId!).length;
    await bot.driver.slash('runbook shell', { user: CAROL, channel: i.channelId! });
    const refusal = await bot.waitFor(() => bot.emulator.state.ephemeralsFor(CAROL, i.channelId!)[n], 3000, 'refusal');
    assert.match(refusal.text ?? '', /not declared read_only \(uptime\).*Who may start it: the commander/);
    await bot.fb.deps.jobs.idle();
    assert.equal((await runs(i)).length, 0, 'nothing was started');
    assert.ok((await bot.fb.deps.store.listAudit({ incidentId: i.id, limit: 100 })).some((e) => e.action === 'runbook.refused' && e.actor === CAROL));
  });
});
