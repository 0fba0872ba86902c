import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { postGenericAlert, writeConfigFile } from '../../bench/lib.js';
import type { Incident } from '../../src/domain/incident.js';
import type { RunbookRun } from '../../src/ports/runbook-store.js';
import { Actions, FormBlocks, INPUT, numbered } from '../../src/slack/ids.js';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropic/server.js';
import { startBot, type Bot } from './harness.js';
import {
  ALICE,
  BOB,
  CAROL,
  blocksText,
  flowDone,
  messagesWithMarker,
  openView,
  runbookProbes,
  startHttpTarget,
  type HttpTarget,
  staleClick,
} from './helpers.js';

/** The systems a runbook reads: an error-rate API, a deploy log, and an endpoint that is down. */
function startTarget(): Promise<HttpTarget> {
  return startHttpTarget((path, req, res) => {
    if (path === '/errors') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ service: 'api', error_rate: 0.31, note: 'spike since 14:02 <!channel>' }));
    } else if (path === '/deploys') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ items: [{ version: 'v41', at: '14:01' }] }));
    } else if (path === '/big') {
      // A long log: more than a Slack message holds, with characters that grow when escaped.
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`${Array.from({ length: 400 }, (_, n) => `line ${n} <warn> a&b latency=${n}ms`).join('\n')}\nEND-OF-OUTPUT`);
    } else if (path === '/echo-auth') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`you sent ${req.headers.authorization}`);
    } else {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('upstream unavailable');
    }
  });
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
          id: 'big-output',
          title: 'Reads a long log',
          steps: [
            { id: 'log', title: 'Recent log lines', http: { url: `${target}/big` } },
            { id: 'why', diagnose: { prompt: 'Explain the log.' } },
          ],
        },
        {
          id: 'shell',
          title: 'Uses a command',
          steps: [{ id: 'uptime', command: { argv: ['node', '-e', 'require("fs").writeFileSync("/tmp/firebreak-e2e-command-ran", "x")'] } }],
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
  let target: HttpTarget;
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

  const { declareHigh: declare, runs, runOf, checklist, checklistText, waitStatus, waitStep, approvalMessage } = runbookProbes(() => bot);
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
  const threadOf = (i: Incident, run: RunbookRun) =>
    bot.emulator.state
      .messages(i.channelId!)
      .filter((m) => (m as { thread_ts?: string }).thread_ts === checklist(i, run)[0]?.ts && m.ts !== checklist(i, run)[0]?.ts);

  test('read-only http steps run at once; the risky action waits for approval, then the diagnosis sees the outputs and a check waits for a person', async () => {
    const i = await declare('API 500s after deploy');
    claude.setResponder((req) => {
      if (!req.body?.tools?.some((t) => t.name === 'record_diagnosis')) return undefined;
      return {
        toolUses: [
          {
            name: 'record_diagnosis',
            input: {
              diagnosis: 'The v41 deploy at 14:01 preceded the error spike to 31%. <!here> see <https://evil.example|https://status.example.com>',
              confidence: 'high',
              evidence: ['errors', 'deploys'],
            },
          },
        ],
      };
    });
    // The card offers the runbooks that apply (high severity: api-triage, stops-on-failure, tolerant, shell).
    const card = messagesWithMarker(bot.emulator, i.channelId!, `card:${i.id}`)[0]!;
    assert.match(blocksText(card.blocks), /Run: API error triage/);

    const list = await bot.driver.slash('runbook', { user: BOB, channel: i.channelId! });
    assert.equal(list.status, 200);
    const listed = await bot.waitFor(
      () => bot.emulator.state.ephemeralsFor(BOB, i.channelId!).find((e) => /Runbooks that apply/.test(e.text ?? '')),
      3000,
      'runbook list',
    );
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
    // Who approved is a mention on the checklist, as in the approval message (not escaped text).
    await bot.waitFor(() => /\*3\. [^\n]*— done[^\n]*· approved by <@U0ALICE01>/.test(checklistText(i, run)), 3000, 'the approver on the checklist');
    assert.doesNotMatch(checklistText(i, run), /&lt;@U0ALICE01&gt;/);
    const check = await waitStep(run, 4, 'waiting_check');
    assert.ok(check);
    const diag = claude.messageRequests.find((r) => r.body?.tools?.some((t) => t.name === 'record_diagnosis'))!;
    assert.ok(diag, 'Claude was asked for a diagnosis');
    assert.match(diag.userText, /<step_output step="errors"[^>]*>\n\{"service":"api","error_rate":0.31/);
    assert.match(diag.userText, /<step_output step="deploys"[^>]*>\n\{"items":\[\{"version":"v41"/);
    assert.match(diag.userText, /Focus on the deploy\./);
    assert.doesNotMatch(diag.userText, new RegExp(TOKEN), 'no secret reaches Claude');
    const thread = await bot.waitFor(
      () => {
        const t = threadOf(i, run);
        return t.some((m) => /Diagnosis/.test(blocksText(m.blocks))) ? t : null;
      },
      3000,
      'diagnosis in the thread',
    );
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
    for (const re of [
      /step 1 \(Error rate\) done/,
      /step 2 \(Last deploy\) done/,
      /step 3 .* done/,
      /step 4 .* done/,
      /confirmed by <@U0ALICE01>/,
      /API error triage\* finished/,
    ])
      assert.ok(
        tl.some((t) => re.test(t)),
        `${re} in ${tl.join('\n')}`,
      );
    const synced = await bot.fb.deps.store.countJobs({ kind: 'backend.sync' });
    assert.ok(synced > 0);
    claude.setResponder(undefined);

    // After resolve, the commander is asked whether the rollback was needed; the answer is stored.
    await bot.driver.slash('resolve fixed by rollback', { user: ALICE, channel: i.channelId! });
    await bot.waitFor(() => /was each automated remediation needed/.test(checklistText(i, run)), 5000, 'feedback question');
    await bot.fb.deps.jobs.idle();
    assert.equal(
      messagesWithMarker(bot.emulator, i.channelId!, 'remediation_question:').length,
      0,
      'asked on the runbook message only, not again in the channel',
    );
    const falsePositives = await statsFalsePositives(i.channelId!);
    const m = checklist(i, run)[0]!;
    const nb = bot.emulator.state.ephemeralsFor(BOB, i.channelId!).length;
    await bot.driver.click({ channel: i.channelId!, ts: m.ts }, Actions.runbookFeedbackNo, { user: BOB, blockId: `runbook_feedback:${run.id}:2` });
    await bot.waitFor(
      () => /The commander .* answers this/.test(bot.emulator.state.ephemeralsFor(BOB, i.channelId!)[nb]?.text ?? ''),
      3000,
      'only the commander answers',
    );
    await bot.driver.click({ channel: i.channelId!, ts: m.ts }, Actions.runbookFeedbackNo, { user: ALICE, blockId: `runbook_feedback:${run.id}:2` });
    const fb = await bot.waitFor(async () => (await bot.fb.deps.store.listRemediationAnswers({ incidentId: i.id }))[0], 3000, 'feedback stored');
    assert.deepEqual(
      { approvalId: fb.approvalId, answer: fb.answer, by: fb.answeredBy, action: fb.actionId },
      { approvalId: approval.id, answer: 'no', by: ALICE, action: 'rollback_deployment' },
    );
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
    assert.equal(
      claude.messageRequests.filter((r) => r.userText.includes('Checkout latency') && r.body?.tools?.some((t) => t.name === 'record_diagnosis')).length,
      0,
      'no diagnosis after the stop',
    );
  });

  test('an output longer than a message holds is attached whole as a file in the thread; the message shows its start and names the file', async () => {
    const i = await declare('Log flood on api');
    const longDiagnosis = `${'The log shows latency climbing line after line. '.repeat(80)}END-OF-DIAGNOSIS`;
    claude.setResponder((req) => {
      if (!req.body?.tools?.some((t) => t.name === 'record_diagnosis') || !req.userText.includes('Log flood on api')) return undefined;
      return { toolUses: [{ name: 'record_diagnosis', input: { diagnosis: longDiagnosis, confidence: 'medium', evidence: ['log'] } }] };
    });
    try {
      await bot.driver.slash('runbook big-output', { user: ALICE, channel: i.channelId! });
      const run = await runOf(i, 'big-output');
      await waitStatus(run, ['succeeded'], 'run finished');
      const full = (await bot.fb.deps.store.getRunbookStep(run.id, 0))!.output!;
      assert.ok(full.endsWith('END-OF-OUTPUT') && full.length > 10_000, 'the step kept the whole output');
      const thread = await bot.waitFor(
        () => {
          const t = threadOf(i, run);
          return t.filter((m) => (m as { files?: unknown[] }).files?.length).length === 2 && t.some((m) => /Diagnosis/.test(blocksText(m.blocks))) ? t : null;
        },
        5000,
        'two files and the diagnosis in the thread',
      );
      const fileOf = (re: RegExp) => {
        const m = thread.find((x) => (x as { files?: { name: string }[] }).files?.some((f) => re.test(f.name)))!;
        const meta = (m as unknown as { files: { id: string; name: string }[] }).files[0]!;
        return { name: meta.name, text: bot.emulator.state.files.get(meta.id)!.bytes!.toString('utf8') };
      };
      // The step output: the file holds all of it; the message its start and the file's name.
      const out = fileOf(/step-1-log-output\.txt$/);
      assert.equal(out.text, full);
      const post = thread.find((m) => /Recent log lines/.test(blocksText(m.blocks)))!;
      const shown = blocksText(post.blocks);
      assert.match(shown, /line 0 &lt;warn&gt; a&amp;b latency=0ms/);
      assert.doesNotMatch(shown, /END-OF-OUTPUT/);
      assert.match(
        shown,
        new RegExp(
          `Showing the first [0-9,]+ of ${full.length.toLocaleString('en-US')} characters\\. The full output is attached in this thread as \`${out.name.replace(/\./g, '\\.')}\``,
        ),
      );
      for (const b of post.blocks as { text?: { text: string } }[]) assert.ok((b.text?.text.length ?? 0) <= 3000, "every section within Slack's limit");
      // The diagnosis too.
      const diag = fileOf(/step-2-why-diagnosis\.txt$/);
      assert.equal(diag.text, longDiagnosis);
      const dpost = thread.find((m) => /Diagnosis/.test(blocksText(m.blocks)))!;
      assert.doesNotMatch(blocksText(dpost.blocks), /END-OF-DIAGNOSIS/);
      assert.match(blocksText(dpost.blocks), new RegExp(`attached in this thread as \`${diag.name.replace(/\./g, '\\.')}\``));
      // A short output stays in the message, whole, with no file.
      const files = bot.emulator.state.messages(i.channelId!).filter((m) => (m as { files?: unknown[] }).files?.length).length;
      assert.equal(files, 2, 'exactly one file per long output');
    } finally {
      claude.setResponder(undefined);
    }
  });

  /** Counts executor calls from here on (the executor the approval gate calls after Approve). */
  function spyExecutor(): { calls: () => number; restore(): void } {
    const ex = bot.fb.deps.executor;
    const original = ex.run.bind(ex);
    let n = 0;
    ex.run = async (...args: Parameters<typeof ex.run>) => {
      n++;
      return original(...args);
    };
    return { calls: () => n, restore: () => void (ex.run = original) };
  }

  test('cancelling a run withdraws the approval it waits for: the message says so, a later Approve gets a clear answer and runs nothing', async () => {
    const i = await declare('Cache stampede on api');
    await bot.driver.slash('runbook api-triage', { user: BOB, channel: i.channelId! });
    const run = await runOf(i, 'api-triage');
    const waiting = await waitStep(run, 2, 'waiting_approval');
    const before = await bot.waitFor(
      () => {
        const m = approvalMessage(i, waiting.approvalId!);
        return m && /Approve/.test(JSON.stringify(m.blocks)) ? structuredClone(m) : null;
      },
      3000,
      'approval message with buttons',
    );
    const spy = spyExecutor();
    try {
      // Bob, who started it, cancels from the checklist.
      await bot.waitFor(() => /Cancel run/.test(JSON.stringify(checklist(i, run)[0]?.blocks ?? [])), 3000, 'cancel button');
      const nb = bot.emulator.state.ephemeralsFor(BOB, i.channelId!).length;
      await bot.driver.click({ channel: i.channelId!, ts: checklist(i, run)[0]!.ts }, Actions.runbookCancel, { user: BOB });
      const reply = await bot.waitFor(() => bot.emulator.state.ephemeralsFor(BOB, i.channelId!)[nb]?.text, 3000, 'cancel reply');
      assert.match(reply, /Run cancelled/);
      assert.match(reply, /approval that step 3 waited for is withdrawn: it can no longer be approved/);

      // The approval message, updated in place: withdrawn because the run was cancelled, no buttons.
      const updated = await bot.waitFor(
        () => {
          const m = approvalMessage(i, waiting.approvalId!);
          return m && /Withdrawn: the runbook run was cancelled/.test(blocksText(m.blocks)) ? m : null;
        },
        3000,
        'approval message withdrawn',
      );
      assert.equal(updated.ts, before.ts, 'the same message, updated');
      assert.match(
        blocksText(updated.blocks),
        /withdrawn .*because the runbook “API error triage” was cancelled by <@U0BOB0001>\. It can no longer be approved/,
      );
      assert.doesNotMatch(JSON.stringify(updated.blocks), new RegExp(Actions.approve));
      const a = (await bot.fb.deps.store.getApproval(waiting.approvalId!))!;
      assert.equal(a.status, 'denied');
      const audit = await bot.fb.deps.store.listAudit({ incidentId: i.id });
      assert.ok(
        audit.some((e) => e.action === 'approval.withdrawn' && e.approvalId === a.id && e.actor === BOB && e.detail.run === run.id),
        'the withdrawal is audited',
      );
      assert.ok(
        (await bot.fb.deps.store.listTimeline(i.id)).some((e) =>
          /`rollback_deployment` withdrawn: runbook “API error triage” was cancelled by <@U0BOB0001>/.test(e.text),
        ),
      );
      // The step says why it ended; the checklist shows it.
      const step = await waitStep(run, 2, 'denied');
      assert.match(step.error!, /approval withdrawn: the run was cancelled by <@U0BOB0001>/);
      await bot.waitFor(() => /Cancelled/.test(checklistText(i, run)) && /approval withdrawn/.test(checklistText(i, run)), 3000, 'checklist');

      // Alice, the commander, presses Approve on the message as her client still showed it.
      const na = bot.emulator.state.ephemeralsFor(ALICE, i.channelId!).length;
      assert.equal((await staleClick(bot, i.channelId!, before, Actions.approve, ALICE)).status, 200);
      const answer = await bot.waitFor(() => bot.emulator.state.ephemeralsFor(ALICE, i.channelId!)[na]?.text, 3000, 'answer to the late click');
      assert.match(answer, /This was withdrawn at .* because its runbook run \(“API error triage”\) was cancelled by <@U0BOB0001>\. Nothing was run/);
      await bot.settled();
      assert.equal((await bot.fb.deps.store.getApproval(a.id))!.status, 'denied');
      assert.equal(spy.calls(), 0, 'the executor was never called');
      assert.ok(
        (await bot.fb.deps.store.listAudit({ incidentId: i.id })).some(
          (e) => e.action === 'approval.click_refused' && e.actor === ALICE && e.approvalId === a.id,
        ),
      );
    } finally {
      spy.restore();
    }
  });

  test('a run cancelled while its withdrawal did not happen (the process stopped in between): the next Approve withdraws it instead of running it', async () => {
    const i = await declare('Queue backlog on api');
    await bot.driver.slash('runbook api-triage', { user: BOB, channel: i.channelId! });
    const run = await runOf(i, 'api-triage');
    const waiting = await waitStep(run, 2, 'waiting_approval');
    const msg = await bot.waitFor(() => approvalMessage(i, waiting.approvalId!), 3000, 'approval message');
    // What the store holds when the process dies right after the cancel was recorded.
    assert.ok(
      await bot.fb.deps.store.transitionRunbookRun(run.id, ['waiting', 'running', 'blocked'], 'cancelled', { cancelledBy: BOB, finishedAt: new Date() }),
    );
    const spy = spyExecutor();
    try {
      const na = bot.emulator.state.ephemeralsFor(ALICE, i.channelId!).length;
      await bot.driver.click({ channel: i.channelId!, ts: msg.ts }, Actions.approve, { user: ALICE });
      const answer = await bot.waitFor(() => bot.emulator.state.ephemeralsFor(ALICE, i.channelId!)[na]?.text, 3000, 'answer');
      assert.match(answer, /withdrawn .* because its runbook run \(“API error triage”\) was cancelled by <@U0BOB0001>/);
      await bot.waitFor(
        () => /Withdrawn: the runbook run was cancelled/.test(blocksText(approvalMessage(i, waiting.approvalId!)?.blocks)),
        3000,
        'message updated',
      );
      await bot.settled();
      assert.equal((await bot.fb.deps.store.getApproval(waiting.approvalId!))!.status, 'denied');
      assert.deepEqual(await bot.fb.deps.store.listVotes(waiting.approvalId!), [], 'the click counted for nothing');
      assert.equal(spy.calls(), 0);
    } finally {
      spy.restore();
    }
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
    await bot.waitFor(
      async () =>
        (await bot.fb.deps.store.getRunbookStep(run.id, 0))!.attempt === 1 && (await bot.fb.deps.store.getRunbookRun(run.id))!.status === 'failed'
          ? true
          : null,
      5000,
      'retried and failed again',
    );
    assert.equal(target.calls.filter((c) => c.path === '/down').length, before + 1);
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
    assert.ok(
      bot.logs.some((l) => /step uptime is a command step, but runbooks.allow_commands is false/.test(l)),
      'said at start-up',
    );
  });

  test('an alert-created incident starts the matching auto runbook: reads run, the risky action waits for a person', async () => {
    const status = await postGenericAlert(bot.url, ALERT_SECRET, { title: 'Edge 5xx burst', severity: 'critical', service: 'edge', details: { team: 'edge' } });
    assert.equal(status, 202);
    const i = await bot.waitFor(
      async () => (await bot.fb.deps.store.listOpenIncidents()).find((x) => x.title.includes('Edge 5xx burst') && x.channelId),
      8000,
      'alert incident',
    );
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
    const other = await bot.waitFor(
      async () => (await bot.fb.deps.store.listOpenIncidents()).find((x) => x.title.includes('Core 5xx burst') && x.channelId),
      8000,
      'second alert incident',
    );
    await flowDone(bot, other.id);
    assert.equal((await runs(other)).length, 0);
  });
});
