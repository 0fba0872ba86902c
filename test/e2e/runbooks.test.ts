import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { postGenericAlert, writeConfigFile } from '../../bench/lib.js';
import { GENERAL_CHANNEL_ID } from '../../src/emulator/slack/index.js';
import type { Incident } from '../../src/domain/incident.js';
import type { RunbookRun } from '../../src/ports/runbook-store.js';
import { approve } from '../../src/services/approvals.js';
import { Actions, FormBlocks, INPUT, numbered } from '../../src/slack/ids.js';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropic/server.js';
import { startBot, type Bot } from './harness.js';
import { ALICE, BOB, CAROL, blocksText, flowDone, messagesWithMarker, openView } from './helpers.js';

/** The systems a runbook reads: an error-rate API, a deploy log, and an endpoint that is down. */
interface Target {
  url: string;
  calls: { path: string; headers: IncomingMessage['headers'] }[];
  close(): Promise<void>;
}

async function startTarget(): Promise<Target> {
  const calls: Target['calls'] = [];
  const server: Server = createServer((req, res) => {
    calls.push({ path: req.url ?? '', headers: req.headers });
    const path = (req.url ?? '').split('?')[0];
    if (path === '/errors') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ service: 'api', error_rate: 0.31, note: 'spike since 14:02 <!channel>' }));
    } else if (path === '/deploys') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ items: [{ version: 'v41', at: '14:01' }] }));
    } else if (path === '/echo-auth') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`you sent ${req.headers.authorization}`);
    } else {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('upstream unavailable');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    calls,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const ALERT_SECRET = 'e2e-runbook-alert-secret-0123456789';
const TOKEN = 'tok-e2e-0123456789-secret';

function config(target: string): string {
  return writeConfigFile({
    runbooks: {
      definitions: [
        {
          id: 'api-triage',
          title: 'API error triage',
          applies_to: { min_severity: 'high' },
          steps: [
            { id: 'errors', title: 'Error rate', http: { url: `${target}/errors?incident={{ incident.label }}`, headers: { Authorization: { env: 'E2E_RUNBOOK_TOKEN' } } } },
            { id: 'deploys', title: 'Last deploy', http: { url: `${target}/deploys` } },
            { id: 'rollback', title: 'Roll back to the previous version', action: { id: 'rollback_deployment', params: { service: 'api', version: '{{ steps.deploys.json.items[0].version }}' } } },
            { id: 'diagnosis', diagnose: { prompt: 'Focus on the deploy.' } },
            { id: 'status_page', check: 'Update the status page' },
          ],
        },
        {
          id: 'stops-on-failure',
          title: 'Stops on failure',
          applies_to: { min_severity: 'low' },
          steps: [
            { id: 'down', title: 'Read a service that is down', http: { url: `${target}/down` } },
            { id: 'never', title: 'Never reached', http: { url: `${target}/errors` } },
          ],
        },
        {
          id: 'tolerant',
          title: 'Tolerates a failure',
          steps: [
            { id: 'down', title: 'Optional probe', continue_on_failure: true, http: { url: `${target}/down` } },
            { id: 'errors', title: 'Error rate', http: { url: `${target}/errors` } },
          ],
        },
        {
          id: 'shell',
          title: 'Uses a command',
          steps: [{ id: 'uptime', command: { argv: ['node', '-e', 'require("fs").writeFileSync("/tmp/firebreak-e2e-command-ran", "x")'] } }],
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
          id: 'edge-auto',
          title: 'Edge alert triage',
          auto: true,
          applies_to: { sources: ['generic'], labels: { team: 'edge' }, min_severity: 'high' },
          steps: [
            { id: 'errors', http: { url: `${target}/errors?from=auto` } },
            { id: 'rollback', action: { id: 'rollback_deployment', params: { service: 'edge', version: 'v7' } } },
          ],
        },
      ],
    },
  });
}

describe('runbooks end to end (signed Slack requests, real bot, emulator, fake Claude)', () => {
  let bot: Bot;
  let target: Target;
  let claude: FakeAnthropic;

  before(async () => {
    target = await startTarget();
    claude = await startFakeAnthropic();
    bot = await startBot({
      env: {
        FIREBREAK_CONFIG: config(target.url),
        E2E_RUNBOOK_TOKEN: TOKEN,
        ALERT_WEBHOOK_SECRET: ALERT_SECRET,
        ANTHROPIC_API_KEY: 'sk-ant-test',
        ANTHROPIC_BASE_URL: claude.url,
      },
    });
  });
  after(async () => {
    if (process.env.DUMP_LOGS) for (const l of bot?.logs ?? []) if (/warn|error|fail/i.test(l)) console.log(l.slice(0, 1500));
    await bot?.close();
    await target?.close();
    await claude?.close();
  });

  async function declare(title: string, user = ALICE): Promise<Incident> {
    await bot.driver.slash(`declare high ${title}`, { user, channel: GENERAL_CHANNEL_ID });
    const i = await bot.waitFor(async () => (await bot.fb.deps.store.listOpenIncidents()).find((x) => x.title === title), 5000, 'incident');
    await flowDone(bot, i.id);
    return (await bot.fb.deps.store.getIncident(i.id))!;
  }
  const runs = (i: Incident) => bot.fb.deps.store.listRunbookRuns({ incidentId: i.id });
  /** `/incident stats 7d` in a channel: the false-positive figure of the chart's message. */
  async function statsFalsePositives(channel: string): Promise<{ notNeeded: number; executed: number }> {
    const charts = () => bot.emulator.state.messages(channel).filter((x) => x.files?.length && /Incident figures/.test(x.text));
    const n = charts().length;
    await bot.driver.slash('stats 7d', { user: ALICE, channel });
    const msg = await bot.waitFor(() => charts()[n], 20_000, 'the stats chart');
    const fp = /\*False-positive remediations\*: [\d.]+% \((\d+) of (\d+) executed\)/.exec(msg.text);
    assert.ok(fp, msg.text);
    return { notNeeded: Number(fp[1]), executed: Number(fp[2]) };
  }
  const runOf = async (i: Incident, runbookId: string, n = 0): Promise<RunbookRun> =>
    bot.waitFor(async () => (await runs(i)).filter((r) => r.runbookId === runbookId)[n], 5000, `run of ${runbookId}`);
  const checklist = (i: Incident, run: RunbookRun) => messagesWithMarker(bot.emulator, i.channelId!, `runbook:${run.id}`);
  const checklistText = (i: Incident, run: RunbookRun) => blocksText(checklist(i, run)[0]?.blocks);
  const waitStatus = (run: RunbookRun, statuses: string[], what: string, ms = 8000) =>
    bot.waitFor(async () => {
      const r = await bot.fb.deps.store.getRunbookRun(run.id);
      return r && statuses.includes(r.status) ? r : null;
    }, ms, what);
  const waitStep = (run: RunbookRun, index: number, status: string, ms = 8000) =>
    bot.waitFor(async () => {
      const s = await bot.fb.deps.store.getRunbookStep(run.id, index);
      return s?.status === status ? s : null;
    }, ms, `step ${index + 1} ${status}`);
  const approvalMessage = (i: Incident, approvalId: string) => messagesWithMarker(bot.emulator, i.channelId!, `approval:${approvalId}`)[0];
  const threadOf = (i: Incident, run: RunbookRun) => bot.emulator.state.messages(i.channelId!).filter((m) => (m as { thread_ts?: string }).thread_ts === checklist(i, run)[0]?.ts && m.ts !== checklist(i, run)[0]?.ts);

  test('read-only http steps run at once; the risky action waits for approval, then the diagnosis sees the outputs and a check waits for a person', async () => {
    const i = await declare('API 500s after deploy');
    claude.setResponder((req) => {
      if (!req.body?.tools?.some((t) => t.name === 'record_diagnosis')) return undefined;
      return { toolUses: [{ name: 'record_diagnosis', input: { diagnosis: 'The v41 deploy at 14:01 preceded the error spike to 31%. <!here> see <https://evil.example|https://status.example.com>', confidence: 'high', evidence: ['errors', 'deploys'] } }] };
    });
    // The card offers the runbooks that apply (high severity: api-triage, stops-on-failure, tolerant, shell).
    const card = messagesWithMarker(bot.emulator, i.channelId!, `card:${i.id}`)[0]!;
    assert.match(blocksText(card.blocks), /Run: API error triage/);

    const list = await bot.driver.slash('runbook', { user: BOB, channel: i.channelId! });
    assert.equal(list.status, 200);
    const listed = await bot.waitFor(() => bot.emulator.state.ephemeralsFor(BOB, i.channelId!).find((e) => /Runbooks that apply/.test(e.text ?? '')), 3000, 'runbook list');
    assert.match(listed.text!, /`api-triage` \*API error triage\*/);
    assert.match(listed.text!, /`edge-auto`/, 'others are listed too');

    // Bob starts it from the card.
    await bot.driver.click({ channel: i.channelId!, ts: card.ts }, numbered(Actions.runbookStart, 0), { user: BOB });
    const run = await runOf(i, 'api-triage');
    const waiting = await waitStep(run, 2, 'waiting_approval');
    assert.equal((await bot.fb.deps.store.getRunbookStep(run.id, 0))!.status, 'done');
    assert.equal((await bot.fb.deps.store.getRunbookStep(run.id, 1))!.status, 'done');
    // The secret went only as a header, read from its variable, and never into the output.
    const errorsCall = target.calls.find((c) => c.path.startsWith('/errors?incident=INC-'))!;
    assert.equal(errorsCall.headers.authorization, TOKEN);
    const approval = (await bot.fb.deps.store.getApproval(waiting.approvalId!))!;
    assert.equal(approval.status, 'pending', 'a risky action never runs on its own');
    assert.deepEqual(approval.params, { service: 'api', version: 'v41' }, 'templated from the earlier step output');
    assert.equal(approval.proposedBy, BOB, 'the person who started the runbook proposes its action');
    assert.match(approval.reason, /Runbook “API error triage”, step 3/);
    await bot.waitFor(() => /waiting for approval/.test(checklistText(i, run)), 3000, 'checklist shows the wait');
    assert.equal(checklist(i, run).length, 1, 'one live message per run');
    assert.equal((await bot.fb.deps.store.getRunbookStep(run.id, 3))!.status, 'pending', 'the next step waits');

    // The commander approves: the step is done, the diagnosis runs with the outputs as data.
    const msg = await bot.waitFor(() => approvalMessage(i, approval.id), 3000, 'approval message');
    await bot.driver.click({ channel: i.channelId!, ts: msg.ts }, Actions.approve, { user: ALICE });
    await waitStep(run, 2, 'done');
    const check = await waitStep(run, 4, 'waiting_check');
    assert.ok(check);
    const diag = claude.messageRequests.find((r) => r.body?.tools?.some((t) => t.name === 'record_diagnosis'))!;
    assert.ok(diag, 'Claude was asked for a diagnosis');
    assert.match(diag.userText, /<step_output step="errors"[^>]*>\n\{"service":"api","error_rate":0.31/);
    assert.match(diag.userText, /<step_output step="deploys"[^>]*>\n\{"items":\[\{"version":"v41"/);
    assert.match(diag.userText, /Focus on the deploy\./);
    assert.doesNotMatch(diag.userText, new RegExp(TOKEN), 'no secret reaches Claude');
    const thread = await bot.waitFor(() => {
      const t = threadOf(i, run);
      return t.some((m) => /Diagnosis/.test(blocksText(m.blocks))) ? t : null;
    }, 3000, 'diagnosis in the thread');
    const diagnosisPost = thread.find((m) => /Diagnosis/.test(blocksText(m.blocks)))!;
    assert.match(blocksText(diagnosisPost.blocks), /confidence \*high\*/);
    assert.match(blocksText(diagnosisPost.blocks), /Evidence used: errors, deploys/);
    // Claude's answer is untrusted text: no mention, no disguised link.
    assert.match(blocksText(diagnosisPost.blocks), /&lt;!here&gt; see https:\/\/evil\.example \(https:\/\/status\.example\.com\)/);
    assert.doesNotMatch(blocksText(diagnosisPost.blocks), /<!here>|<https:\/\/evil/);
    // Outputs are in the thread, escaped: the `<!channel>` in a body is inert text.
    const errorsPost = thread.find((m) => /Error rate/.test(blocksText(m.blocks)))!;
    assert.match(blocksText(errorsPost.blocks), /&lt;!channel&gt;/);
    assert.doesNotMatch(blocksText(errorsPost.blocks), /<!channel>/);

    // The check: Carol (no role) may not confirm; the commander may; who and when are recorded.
    await bot.waitFor(() => /Confirm step 5/.test(checklistText(i, run)), 3000, 'confirm button');
    const now = checklist(i, run)[0]!;
    const nc = bot.emulator.state.ephemeralsFor(CAROL, i.channelId!).length;
    await bot.driver.click({ channel: i.channelId!, ts: now.ts }, numbered(Actions.runbookCheck, 4), { user: CAROL });
    await bot.waitFor(() => /You may not confirm a step/.test(bot.emulator.state.ephemeralsFor(CAROL, i.channelId!)[nc]?.text ?? ''), 3000, 'refusal');
    await bot.driver.click({ channel: i.channelId!, ts: now.ts }, numbered(Actions.runbookCheck, 4), { user: ALICE });
    const finished = await waitStatus(run, ['succeeded'], 'run finished');
    assert.ok(finished.finishedAt);
    const confirmed = (await bot.fb.deps.store.getRunbookStep(run.id, 4))!;
    assert.equal(confirmed.actor, ALICE);
    await bot.waitFor(() => /Finished/.test(checklistText(i, run)) && /by <@U0ALICE01>/.test(checklistText(i, run)), 3000, 'checklist finished');

    // Every step result is in the timeline (and queued for the backend).
    const tl = (await bot.fb.deps.store.listTimeline(i.id)).filter((e) => e.kind === 'runbook').map((e) => e.text);
    for (const re of [/step 1 \(Error rate\) done/, /step 2 \(Last deploy\) done/, /step 3 .* done/, /step 4 .* done/, /confirmed by <@U0ALICE01>/, /API error triage\* finished/]) assert.ok(tl.some((t) => re.test(t)), `${re} in ${tl.join('\n')}`);
    const synced = await bot.fb.deps.store.countJobs({ kind: 'backend.sync' });
    assert.ok(synced > 0);
    claude.setResponder(undefined);

    // After resolve, the commander is asked whether the rollback was needed; the answer is stored.
    await bot.driver.slash('resolve fixed by rollback', { user: ALICE, channel: i.channelId! });
    await bot.waitFor(() => /was each automated remediation needed/.test(checklistText(i, run)), 5000, 'feedback question');
    await bot.fb.deps.jobs.idle();
    assert.equal(messagesWithMarker(bot.emulator, i.channelId!, 'remediation_question:').length, 0, 'asked on the runbook message only, not again in the channel');
    const falsePositives = await statsFalsePositives(i.channelId!);
    const m = checklist(i, run)[0]!;
    const nb = bot.emulator.state.ephemeralsFor(BOB, i.channelId!).length;
    await bot.driver.click({ channel: i.channelId!, ts: m.ts }, Actions.runbookFeedbackNo, { user: BOB, blockId: `runbook_feedback:${run.id}:2` });
    await bot.waitFor(() => /The commander .* answers this/.test(bot.emulator.state.ephemeralsFor(BOB, i.channelId!)[nb]?.text ?? ''), 3000, 'only the commander answers');
    await bot.driver.click({ channel: i.channelId!, ts: m.ts }, Actions.runbookFeedbackNo, { user: ALICE, blockId: `runbook_feedback:${run.id}:2` });
    const fb = await bot.waitFor(async () => (await bot.fb.deps.store.listRemediationAnswers({ incidentId: i.id }))[0], 3000, 'feedback stored');
    assert.deepEqual({ approvalId: fb.approvalId, answer: fb.answer, by: fb.answeredBy, action: fb.actionId }, { approvalId: approval.id, answer: 'no', by: ALICE, action: 'rollback_deployment' });
    await bot.waitFor(() => /Answered \*no\* by <@U0ALICE01>/.test(checklistText(i, run)), 3000, 'answer shown');
    // The answer given on the runbook message is the one `/incident stats` counts: one more "not needed".
    assert.deepEqual(await statsFalsePositives(i.channelId!), { notNeeded: falsePositives.notNeeded + 1, executed: falsePositives.executed });
  });

  test('a denied action stops the runbook visibly; the steps after it never start', async () => {
    const i = await declare('Checkout latency');
    await bot.driver.slash('runbook api-triage', { user: BOB, channel: i.channelId! });
    const run = await runOf(i, 'api-triage');
    const waiting = await waitStep(run, 2, 'waiting_approval');
    const msg = await bot.waitFor(() => approvalMessage(i, waiting.approvalId!), 3000, 'approval message');
    const c = await bot.driver.click({ channel: i.channelId!, ts: msg.ts }, Actions.deny, { user: ALICE });
    const view = await bot.waitFor(() => openView(bot.emulator, ALICE, 'deny_modal'), 3000, 'deny modal');
    assert.ok(c.triggerId);
    await bot.driver.submitView(view.id, { [FormBlocks.reason]: { [INPUT]: 'the canary is healthy' } }, { user: ALICE });
    const stopped = await waitStatus(run, ['failed'], 'run stopped');
    assert.ok(stopped.finishedAt);
    const step = (await bot.fb.deps.store.getRunbookStep(run.id, 2))!;
    assert.equal(step.status, 'denied');
    assert.match(step.error!, /denied by <@U0ALICE01>: the canary is healthy/);
    for (const k of [3, 4]) assert.equal((await bot.fb.deps.store.getRunbookStep(run.id, k))!.status, 'pending');
    await bot.waitFor(() => /Stopped/.test(checklistText(i, run)) && /not approved/.test(checklistText(i, run)), 3000, 'checklist shows the stop');
    assert.ok((await bot.fb.deps.store.listTimeline(i.id)).some((e) => /API error triage\* stopped at step 3/.test(e.text)));
    assert.equal(claude.messageRequests.filter((r) => r.userText.includes('Checkout latency') && r.body?.tools?.some((t) => t.name === 'record_diagnosis')).length, 0, 'no diagnosis after the stop');
  });

  test('cancelling a run withdraws the approval its risky step waits for: a later Approve runs nothing', async () => {
    const i = await declare('Payments 502s');
    await bot.driver.slash('runbook api-triage', { user: BOB, channel: i.channelId! });
    const run = await runOf(i, 'api-triage');
    const waiting = await waitStep(run, 2, 'waiting_approval');
    const msg = await bot.waitFor(() => approvalMessage(i, waiting.approvalId!), 3000, 'approval message');
    await bot.waitFor(() => /Cancel run/.test(checklistText(i, run)), 3000, 'cancel button');
    await bot.driver.click({ channel: i.channelId!, ts: checklist(i, run)[0]!.ts }, Actions.runbookCancel, { user: ALICE });
    await waitStatus(run, ['cancelled'], 'run cancelled');
    const withdrawn = await bot.waitFor(async () => {
      const a = await bot.fb.deps.store.getApproval(waiting.approvalId!);
      return a?.status === 'denied' ? a : null;
    }, 5000, 'approval withdrawn');
    assert.match(withdrawn.denyReason ?? '', /runbook run was cancelled/);
    assert.ok(JSON.stringify(msg.blocks).includes(Actions.approve), 'the message had an Approve button');
    await bot.waitFor(() => {
      const now = approvalMessage(i, withdrawn.id);
      return now && !JSON.stringify(now.blocks).includes(Actions.approve) && /Withdrawn/.test(blocksText(now.blocks));
    }, 3000, 'no Approve button any more, and it says it was withdrawn');
    // An Approve from a client still showing the old buttons (the driver refuses a button that is gone, so straight to the service): nothing runs.
    const late = await approve(bot.fb.deps, { approvalId: withdrawn.id, userId: ALICE });
    assert.equal(late.outcome, 'closed');
    await bot.fb.deps.jobs.idle();
    assert.equal((await bot.fb.deps.store.getApproval(withdrawn.id))!.status, 'denied');
    assert.ok((await bot.fb.deps.store.listAudit({ incidentId: i.id, limit: 100 })).some((e) => e.action === 'approval.withdrawn' && e.approvalId === withdrawn.id && e.actor === ALICE));
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
    const again = await bot.waitFor(async () => {
      const s = await bot.fb.deps.store.getRunbookStep(run.id, 2);
      return s?.attempt === 1 && s.status === 'waiting_approval' ? s : null;
    }, 5000, 'step 3 proposed again');
    const a = (await bot.fb.deps.store.getApproval(again.approvalId!))!;
    assert.equal(a.proposedBy, ALICE, 'the retrier proposes it');
    const second = await bot.waitFor(() => approvalMessage(i, a.id), 3000, 'second approval message');
    const n = bot.emulator.state.ephemeralsFor(ALICE, i.channelId!).length;
    await bot.driver.click({ channel: i.channelId!, ts: second.ts }, Actions.approve, { user: ALICE });
    await bot.waitFor(() => /You proposed this action/.test(bot.emulator.state.ephemeralsFor(ALICE, i.channelId!)[n]?.text ?? ''), 3000, 'self-approval refused');
    assert.equal((await bot.fb.deps.store.getApproval(a.id))!.status, 'pending');
  });

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

  test('a run does not go on once its incident is resolved: the run stops, a late Confirm is refused, no step starts', async () => {
    const i = await declare('Queue backlog');
    await bot.driver.slash('runbook check-first', { user: ALICE, channel: i.channelId! });
    const run = await runOf(i, 'check-first');
    await waitStep(run, 0, 'waiting_check');
    await bot.waitFor(() => /Confirm step 1/.test(checklistText(i, run)), 3000, 'confirm button');
    const m = checklist(i, run)[0]!;
    await bot.driver.slash('resolve it went away', { user: ALICE, channel: i.channelId! });
    await bot.waitFor(async () => (await bot.fb.deps.store.getIncident(i.id))?.status === 'resolved', 3000, 'resolved');
    const stopped = await waitStatus(run, ['cancelled'], 'run stopped by the resolve');
    assert.ok(stopped.finishedAt);
    assert.ok((await bot.fb.deps.store.listTimeline(i.id)).some((e) => /Look, then read\* stopped: INC-\d+ is resolved/.test(e.text)));

    // The starter clicks Confirm on the old checklist: refused, the check stays, the read never runs.
    const n = bot.emulator.state.ephemeralsFor(ALICE, i.channelId!).length;
    await bot.driver.click({ channel: i.channelId!, ts: m.ts }, numbered(Actions.runbookCheck, 0), { user: ALICE });
    await bot.waitFor(() => /is resolved; its runbooks do not go on/.test(bot.emulator.state.ephemeralsFor(ALICE, i.channelId!)[n]?.text ?? ''), 3000, 'refusal');
    assert.equal((await bot.fb.deps.store.getRunbookStep(run.id, 0))!.status, 'waiting_check');
    await bot.fb.deps.jobs.idle();
    assert.equal((await bot.fb.deps.store.getRunbookStep(run.id, 1))!.status, 'pending');
    assert.equal(target.calls.filter((c) => c.path === '/errors?from=after-check').length, 0, 'no request after the resolve');
  });

  test('a failing step stops the run and says why; continue_on_failure lets it go on', async () => {
    const i = await declare('Search degraded');
    await bot.driver.slash('runbook stops-on-failure', { user: ALICE, channel: i.channelId! });
    const run = await runOf(i, 'stops-on-failure');
    await waitStatus(run, ['failed'], 'run stopped');
    const first = (await bot.fb.deps.store.getRunbookStep(run.id, 0))!;
    assert.equal(first.status, 'failed');
    assert.match(first.error!, /HTTP 503 \(expected 2xx\)/);
    assert.equal(first.output, 'upstream unavailable');
    assert.equal((await bot.fb.deps.store.getRunbookStep(run.id, 1))!.status, 'pending');
    await bot.waitFor(() => /HTTP 503/.test(checklistText(i, run)) && /Retry step 1/.test(checklistText(i, run)), 3000, 'failure on the checklist');

    await bot.driver.slash('runbook tolerant', { user: ALICE, channel: i.channelId! });
    const t = await runOf(i, 'tolerant');
    const done = await waitStatus(t, ['succeeded'], 'tolerant run finished');
    assert.ok(done);
    assert.equal((await bot.fb.deps.store.getRunbookStep(t.id, 0))!.status, 'failed');
    assert.equal((await bot.fb.deps.store.getRunbookStep(t.id, 1))!.status, 'done');
    assert.ok((await bot.fb.deps.store.listTimeline(i.id)).some((e) => /Tolerates a failure\* finished \(1 step failed and were allowed to\)/.test(e.text)));

    // Retry of the failed step, by someone the policy allows (the starter), runs it again.
    const before = target.calls.filter((c) => c.path === '/down').length;
    const m = checklist(i, run)[0]!;
    await bot.driver.click({ channel: i.channelId!, ts: m.ts }, numbered(Actions.runbookRetry, 0), { user: ALICE });
    await bot.waitFor(async () => ((await bot.fb.deps.store.getRunbookStep(run.id, 0))!.attempt === 1 && (await bot.fb.deps.store.getRunbookRun(run.id))!.status === 'failed' ? true : null), 5000, 'retried and failed again');
    assert.equal(target.calls.filter((c) => c.path === '/down').length, before + 1);
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

  test('a command step is refused while runbooks.allow_commands is false; nothing runs', async () => {
    const i = await declare('Disk full on worker');
    await bot.driver.slash('runbook shell', { user: ALICE, channel: i.channelId! });
    const run = await runOf(i, 'shell');
    await waitStatus(run, ['failed'], 'run stopped');
    const s = (await bot.fb.deps.store.getRunbookStep(run.id, 0))!;
    assert.match(s.error!, /command steps are disabled on this Firebreak \(runbooks.allow_commands is false\); nothing was run/);
    const { existsSync } = await import('node:fs');
    assert.equal(existsSync('/tmp/firebreak-e2e-command-ran'), false);
    await bot.waitFor(() => /command steps are disabled/.test(checklistText(i, run)), 3000, 'refusal shown');
    assert.ok(bot.logs.some((l) => /step uptime is a command step, but runbooks.allow_commands is false/.test(l)), 'said at start-up');
  });

  test('an alert-created incident starts the matching auto runbook: reads run, the risky action waits for a person', async () => {
    const status = await postGenericAlert(bot.url, ALERT_SECRET, { title: 'Edge 5xx burst', severity: 'critical', service: 'edge', details: { team: 'edge' } });
    assert.equal(status, 202);
    const i = await bot.waitFor(async () => (await bot.fb.deps.store.listOpenIncidents()).find((x) => x.title.includes('Edge 5xx burst') && x.channelId), 8000, 'alert incident');
    const run = await runOf(i, 'edge-auto');
    assert.equal(run.startedBy, 'auto');
    const waiting = await waitStep(run, 1, 'waiting_approval');
    assert.equal((await bot.fb.deps.store.getRunbookStep(run.id, 0))!.status, 'done');
    assert.ok(target.calls.some((c) => c.path === '/errors?from=auto'));
    const a = (await bot.fb.deps.store.getApproval(waiting.approvalId!))!;
    assert.equal(a.status, 'pending');
    assert.equal(a.requiresApproval, true);
    assert.equal(a.proposerKind, 'runbook');
    await bot.waitFor(() => /started automatically/.test(blocksText(approvalMessage(i, a.id)?.blocks)), 3000, 'approval names the runbook');
    await bot.waitFor(() => /started automatically \(it matches this incident\)/.test(checklistText(i, run)), 3000, 'checklist');
    // Another matching incident that is not from the edge team does not start it.
    await postGenericAlert(bot.url, ALERT_SECRET, { title: 'Core 5xx burst', severity: 'critical', service: 'core', details: { team: 'core' } });
    const other = await bot.waitFor(async () => (await bot.fb.deps.store.listOpenIncidents()).find((x) => x.title.includes('Core 5xx burst') && x.channelId), 8000, 'second alert incident');
    await flowDone(bot, other.id);
    assert.equal((await runs(other)).length, 0);
  });
});
