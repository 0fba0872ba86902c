import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { GENERAL_CHANNEL_ID } from '../../src/emulator/slack/index.js';
import type { Incident } from '../../src/domain/incident.js';
import { approve } from '../../src/services/approvals.js';
import { Actions } from '../../src/slack/ids.js';
import { SECRET, SECRET_ENV, startReceiver } from '../services/approvals-fixture.js';
import { startBot, type Bot } from './harness.js';
import { ALICE, BOB, blocksText, flowDone, messagesWithMarker } from './helpers.js';

/**
 * Agents and runbooks over MCP, through the SDK's own client against the real bot: an agent lists
 * the runbooks and starts one; its read-only steps run, its risky step is the agent's proposal and
 * runs only after a person presses Approve in Slack (signed click, emulator).
 */
const TOKENS = {
  FB_AGENT_OPERATOR_TOKEN: 'operator-token-0123456789abcdef0123',
  FB_AGENT_PROPOSER_TOKEN: 'proposer-token-0123456789abcdef0123',
};

/** A system the runbook reads: an error-rate API. */
async function startTarget(): Promise<{ url: string; paths: string[]; close(): Promise<void> }> {
  const paths: string[] = [];
  const server: Server = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ service: 'checkout', error_rate: 0.27 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    paths,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function writeConfig(executorUrl: string, targetUrl: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'fb-mcp-runbooks-'));
  const path = join(dir, 'firebreak.yml');
  writeFileSync(
    path,
    `actions:
  - id: rollback_deployment
    title: Roll back a deployment
    params:
      service: { type: string, required: true }
      version: { type: string, required: true, pattern: '^v\\d+$' }
    requires_approval: true
    policy: { roles: [commander] }
    executor: { type: webhook, url: '${executorUrl}', secret_env: ${SECRET_ENV}, retries: 0, timeout_ms: 2000 }
  - id: read_logs
    title: Read logs
    params:
      service: { type: string, required: true }
    requires_approval: false
    executor: { type: webhook, url: '${executorUrl}', secret_env: ${SECRET_ENV}, retries: 0, timeout_ms: 2000 }
runbooks:
  definitions:
  - id: checkout-triage
    title: Checkout triage
    applies_to: { min_severity: high }
    steps:
    - { id: errors, title: Error rate, http: { url: '${targetUrl}/errors?incident={{ incident.label }}' } }
    - { id: logs, title: Read the checkout logs, action: { id: read_logs, params: { service: checkout } } }
    - { id: rollback, title: Roll back checkout, action: { id: rollback_deployment, params: { service: checkout, version: v41 } } }
    - { id: status_page, check: Update the status page }
  - id: db-failover
    title: Database failover
    applies_to: { min_severity: critical }
    steps:
    - { check: Fail over the primary }
  - id: shell-probe
    title: Probe with a command
    steps:
    - { id: pods, command: { argv: [kubectl, get, pods] } }
agents:
  mcp:
  - { name: operator, token_env: FB_AGENT_OPERATOR_TOKEN, scopes: [read, propose, runbooks], incident_rate_limit_per_minute: 1000 }
  - { name: proposer, token_env: FB_AGENT_PROPOSER_TOKEN, scopes: [read, update, propose], incident_rate_limit_per_minute: 1000 }
`,
  );
  return path;
}

let bot: Bot;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let target: Awaited<ReturnType<typeof startTarget>>;
const clients: Client[] = [];

async function connect(token: string): Promise<Client> {
  const client = new Client({ name: 'firebreak-runbook-agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${bot.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  clients.push(client);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
  const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
  const text = r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
  return { isError: r.isError === true, text, data: (r.structuredContent ?? {}) as Record<string, any> };
}

async function declare(title: string, severity = 'high'): Promise<Incident> {
  await bot.driver.slash(`declare ${severity} ${title}`, { user: ALICE, channel: GENERAL_CHANNEL_ID });
  const i = await bot.waitFor(async () => (await bot.fb.deps.store.listOpenIncidents()).find((x) => x.title === title), 5000, 'incident');
  await flowDone(bot, i.id);
  return (await bot.fb.deps.store.getIncident(i.id))!;
}

const runsOf = (i: Incident) => bot.fb.deps.store.listRunbookRuns({ incidentId: i.id });
const waitStep = (runId: string, index: number, status: string) =>
  bot.waitFor(
    async () => {
      const s = await bot.fb.deps.store.getRunbookStep(runId, index);
      return s?.status === status ? s : null;
    },
    8000,
    `step ${index + 1} ${status}`,
  );
const executed = (action: string) => receiver.received.filter((r) => r.json.action === action);

before(async () => {
  receiver = await startReceiver(() => 200);
  target = await startTarget();
  bot = await startBot({ env: { FIREBREAK_CONFIG: writeConfig(receiver.url, target.url), [SECRET_ENV]: SECRET, ...TOKENS } });
});
after(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await bot?.close();
  await receiver?.close();
  await target?.close();
});

describe('runbooks over MCP', () => {
  let incident: Incident;
  before(async () => {
    incident = await declare('Checkout 5xx after the deploy');
  });

  test('list_runbooks: every runbook, its steps and what each waits for; with an incident, which apply and whether an agent may start it', async () => {
    const client = await connect(TOKENS.FB_AGENT_PROPOSER_TOKEN);
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    assert.equal(byName.get('list_runbooks')?.annotations?.readOnlyHint, true);
    assert.equal(byName.get('start_runbook')?.annotations?.readOnlyHint, false);
    assert.equal(byName.get('start_runbook')?.annotations?.destructiveHint, false, 'nothing risky runs without a person');
    assert.deepEqual(byName.get('start_runbook')!.inputSchema.required?.sort(), ['incident', 'runbook']);

    const all = await call(client, 'list_runbooks');
    assert.equal(all.isError, false, all.text);
    assert.deepEqual(
      all.data.runbooks.map((r: { id: string }) => r.id),
      ['checkout-triage', 'db-failover', 'shell-probe'],
    );
    const triage = all.data.runbooks[0];
    assert.deepEqual(
      triage.steps.map((s: { id: string; kind: string; waits_for: string }) => `${s.id}:${s.kind}:${s.waits_for}`),
      ['errors:http:nothing', 'logs:action:nothing', 'rollback:action:approval', 'status_page:check:person'],
    );
    assert.equal(triage.agent_may_start, true);
    assert.equal(all.data.runbooks[2].agent_may_start, false);
    assert.match(all.data.runbooks[2].why_not, /command step not declared read_only \(pods\)/);

    const forIncident = await call(client, 'list_runbooks', { incident: `INC-${incident.seq}` });
    assert.equal(forIncident.isError, false, forIncident.text);
    assert.equal(forIncident.data.incident_id, incident.id);
    const applies = Object.fromEntries(forIncident.data.runbooks.map((r: { id: string; applies: boolean }) => [r.id, r.applies]));
    assert.deepEqual(applies, { 'checkout-triage': true, 'db-failover': false, 'shell-probe': true });
    const mayStart = Object.fromEntries(forIncident.data.runbooks.map((r: { id: string; agent_may_start: boolean }) => [r.id, r.agent_may_start]));
    assert.deepEqual(mayStart, { 'checkout-triage': true, 'db-failover': false, 'shell-probe': false }, 'only what applies, and no unvouched command');
    assert.equal(forIncident.data.runbooks[1].why_not, `it does not apply to INC-${incident.seq} (severity: at least critical, the incident is high)`);

    const unknown = await call(client, 'list_runbooks', { incident: 'INC-9999' });
    assert.equal(unknown.isError, true);
    assert.match(unknown.text, /No incident `INC-9999`/);
  });

  test('start_runbook needs the runbooks scope: refused with the scope named, nothing starts', async () => {
    const client = await connect(TOKENS.FB_AGENT_PROPOSER_TOKEN);
    const r = await call(client, 'start_runbook', { incident: incident.id, runbook: 'checkout-triage' });
    assert.equal(r.isError, true);
    assert.match(r.text, /Agent proposer lacks the `runbooks` scope \(it has: read, update, propose\)\. Nothing was done\./);
    assert.deepEqual(await runsOf(incident), []);
    assert.equal(target.paths.length, 0);
  });

  test("start_runbook runs the read-only steps; the risky step is the agent's proposal, waits in Slack, and runs only after a person approves", async () => {
    await bot.driver.slash(`followup Alert on checkout error rate <@${BOB}>`, { user: ALICE, channel: incident.channelId! });
    await bot.waitFor(async () => (await bot.fb.deps.store.listFollowups({ incidentId: incident.id }))[0], 5000, 'follow-up');
    const client = await connect(TOKENS.FB_AGENT_OPERATOR_TOKEN);

    const started = await call(client, 'start_runbook', { incident: `INC-${incident.seq}`, runbook: 'checkout-triage' });
    assert.equal(started.isError, false, started.text);
    assert.equal(started.data.created, true);
    assert.equal(started.data.started_by, 'agent:operator');
    assert.equal(started.data.steps.length, 4);
    const runId = started.data.run_id as string;
    const [run] = await runsOf(incident);
    assert.equal(run?.id, runId);
    assert.equal(run?.startedBy, 'agent:operator', 'never taken for a Slack user');

    // The reads ran: the HTTP step and the read-only action (its executor was called once).
    const waiting = await waitStep(runId, 2, 'waiting_approval');
    assert.equal((await bot.fb.deps.store.getRunbookStep(runId, 0))!.status, 'done');
    assert.equal((await bot.fb.deps.store.getRunbookStep(runId, 1))!.status, 'done');
    assert.ok(target.paths.includes(`/errors?incident=INC-${incident.seq}`), target.paths.join(', '));
    assert.equal(executed('read_logs').length, 1);
    assert.deepEqual(executed('read_logs')[0]!.json.params, { service: 'checkout' });

    // The risky step: a proposal by the agent, pending, with the approval message in the channel.
    const approval = (await bot.fb.deps.store.getApproval(waiting.approvalId!))!;
    assert.equal(approval.actionId, 'rollback_deployment');
    assert.equal(approval.proposerKind, 'agent');
    assert.equal(approval.proposedBy, 'operator');
    assert.equal(approval.requiresApproval, true);
    assert.equal(approval.status, 'pending');
    const msg = await bot.waitFor(() => messagesWithMarker(bot.emulator, incident.channelId!, `approval:${approval.id}`)[0], 5000, 'approval message');
    const msgText = blocksText(msg.blocks);
    assert.match(msgText, /agent `operator`/);
    assert.match(msgText, /Runbook “Checkout triage”, step 3: Roll back checkout/);
    assert.match(msgText, new RegExp(Actions.approve));
    const checklist = await bot.waitFor(() => messagesWithMarker(bot.emulator, incident.channelId!, `runbook:${runId}`)[0], 5000, 'checklist');
    assert.match(blocksText(checklist.blocks), /started by :gear: agent `operator`/);
    const timeline = await bot.fb.deps.store.listTimeline(incident.id);
    assert.ok(
      timeline.some((t) => t.text === 'Runbook *Checkout triage* started by agent `operator`'),
      JSON.stringify(timeline.map((t) => t.text)),
    );
    const audit = await bot.fb.deps.store.listAudit({ incidentId: incident.id });
    assert.ok(audit.some((a) => a.action === 'runbook.started' && a.actor === 'operator'));

    // The agent cannot decide its own proposal, under any name; the executor has not been called.
    for (const who of ['operator', 'agent:operator'])
      assert.equal((await approve(bot.fb.deps, { approvalId: approval.id, userId: who })).outcome, 'refused', who);
    await bot.fb.deps.jobs.idle();
    assert.equal(executed('rollback_deployment').length, 0, 'nothing risky ran without a person');
    assert.equal((await bot.fb.deps.store.getRunbookStep(runId, 3))!.status, 'pending', 'the steps after it wait');

    // get_incident shows the run with each step's state, and the follow-ups.
    const got = await call(client, 'get_incident', { incident: incident.id });
    assert.equal(got.isError, false, got.text);
    const [active] = got.data.active_runbook_runs;
    assert.equal(active.run_id, runId);
    assert.equal(active.status, 'waiting');
    assert.deepEqual(
      active.steps.map((s: { status: string }) => s.status),
      ['done', 'done', 'waiting_approval', 'pending'],
    );
    assert.equal(active.steps[2].approval_id, approval.id);
    assert.match(active.steps[0].output, /"error_rate":0.27/);
    assert.deepEqual(
      got.data.followups.map((f: { text: string; owner: string }) => [f.text, f.owner]),
      [['Alert on checkout error rate', BOB]],
    );
    assert.ok(got.data.open_approvals.some((a: { approval_id: string }) => a.approval_id === approval.id));

    // A person (the commander) approves: now, and only now, the rollback runs; the check waits.
    const click = await bot.driver.click({ channel: incident.channelId!, ts: msg.ts }, Actions.approve, { user: ALICE });
    assert.equal(click.status, 200);
    await waitStep(runId, 2, 'done');
    assert.equal(executed('rollback_deployment').length, 1);
    assert.deepEqual(executed('rollback_deployment')[0]!.json.approved_by, [ALICE]);
    await waitStep(runId, 3, 'waiting_check');
  });

  test('starting the same runbook again while it runs is refused, naming the run; two concurrent starts make one run', async () => {
    const client = await connect(TOKENS.FB_AGENT_OPERATOR_TOKEN);
    const [existing] = await runsOf(incident);
    const again = await call(client, 'start_runbook', { incident: incident.id, runbook: 'checkout-triage' });
    assert.equal(again.isError, true);
    assert.match(
      again.text,
      new RegExp(`Runbook \`checkout-triage\` is already running in this incident \\(run ${existing!.id}, waiting\\); nothing new was started`),
    );
    assert.equal((await runsOf(incident)).length, 1);

    const other = await declare('Checkout latency in eu-west');
    const results = await Promise.all([0, 1].map(() => call(client, 'start_runbook', { incident: other.id, runbook: 'checkout-triage' })));
    const runs = await runsOf(other);
    assert.equal(runs.length, 1, 'one run');
    const ok = results.filter((r) => !r.isError);
    assert.ok(ok.length >= 1);
    for (const r of ok) assert.equal(r.data.run_id, runs[0]!.id);
    for (const r of results.filter((x) => x.isError)) assert.match(r.text, /already running in this incident/);
    const approvalId = (await waitStep(runs[0]!.id, 2, 'waiting_approval')).approvalId!;
    await bot.waitFor(() => messagesWithMarker(bot.emulator, other.channelId!, `approval:${approvalId}`)[0], 5000, 'approval message');
    assert.equal((await bot.fb.deps.store.listApprovals({ incidentId: other.id, status: ['pending'] })).length, 1, 'one proposal of the risky step');
    assert.equal(messagesWithMarker(bot.emulator, other.channelId!, `approval:${approvalId}`).length, 1);
  });

  test('bad input gets a clear error and changes nothing: unknown runbook, unknown incident, closed incident, a command the team did not declare read-only', async () => {
    const client = await connect(TOKENS.FB_AGENT_OPERATOR_TOKEN);
    const closed = await declare('Payments blip');
    await bot.driver.slash('resolve recovered by itself', { user: ALICE, channel: closed.channelId! });
    await bot.waitFor(async () => (await bot.fb.deps.store.getIncident(closed.id))!.status === 'resolved', 5000, 'resolved');
    await bot.fb.deps.jobs.idle();

    const state = async () => ({
      runs: (await Promise.all([incident, closed].map(runsOf))).flat().length,
      approvals: (await bot.fb.deps.store.listApprovals({ incidentId: incident.id })).length,
      started: (await bot.fb.deps.store.listAudit({})).filter((a) => a.action === 'runbook.started').length,
      reads: target.paths.length,
    });
    const before = await state();

    const cases: [Record<string, unknown>, RegExp][] = [
      [{ incident: incident.id, runbook: 'nope' }, /Unknown runbook `nope`\. Runbooks: `checkout-triage`, `db-failover`, `shell-probe`\./],
      [{ incident: 'INC-9999', runbook: 'checkout-triage' }, /No incident `INC-9999`/],
      [{ incident: closed.id, runbook: 'checkout-triage' }, new RegExp(`INC-${closed.seq} is resolved; runbooks run only in open incidents`)],
      [
        { incident: incident.id, runbook: 'shell-probe' },
        /An agent cannot start this runbook: runbook `shell-probe` has command step not declared read_only \(pods\), so only a person may start it\. Nothing was started\./,
      ],
    ];
    for (const [args, expected] of cases) {
      const r = await call(client, 'start_runbook', args);
      assert.equal(r.isError, true, JSON.stringify(args));
      assert.match(r.text, expected);
    }
    const malformed = await call(client, 'start_runbook', { incident: incident.id, runbook: 'Not An Id!' });
    assert.equal(malformed.isError, true);
    assert.match(malformed.text, /a runbook id from list_runbooks/);

    await bot.fb.deps.jobs.idle();
    assert.deepEqual(await state(), before);
  });

  test('a runbook that does not apply to the incident (the card does not offer it) is refused, naming the condition; where it applies the agent starts it', async () => {
    const client = await connect(TOKENS.FB_AGENT_OPERATOR_TOKEN);
    const high = await declare('Checkout card declines'); // high: db-failover wants critical
    const card = () => blocksText(messagesWithMarker(bot.emulator, high.channelId!, `card:${high.id}`)[0]!.blocks);
    assert.doesNotMatch(card(), /Database failover/, 'a person is not offered it');

    const refused = await call(client, 'start_runbook', { incident: `INC-${high.seq}`, runbook: 'db-failover' });
    assert.equal(refused.isError, true, refused.text);
    assert.equal(
      refused.text,
      `Runbook \`db-failover\` does not apply to INC-${high.seq} (severity: at least critical, the incident is high). ` +
        'An agent may start only the runbooks that apply to the incident, those the incident card offers (list_runbooks with the incident: `applies`); ' +
        'a person may start another from Slack. Nothing was started.',
    );
    await bot.fb.deps.jobs.idle();
    assert.deepEqual(await runsOf(high), [], 'nothing started');
    assert.equal(messagesWithMarker(bot.emulator, high.channelId!, 'runbook:').length, 0, 'no checklist in the channel');
    const audit = await bot.fb.deps.store.listAudit({ incidentId: high.id });
    assert.ok(
      audit.some((a) => a.actor === 'operator' && a.detail.tool === 'start_runbook' && a.detail.outcome === 'runbook.not_applicable'),
      JSON.stringify(audit.filter((a) => a.actor === 'operator')),
    );
    assert.ok(!audit.some((a) => a.action === 'runbook.started'));

    // Where it applies (a critical incident, whose card offers it), the same agent starts it.
    const critical = await declare('Primary database unreachable', 'critical');
    assert.match(blocksText(messagesWithMarker(bot.emulator, critical.channelId!, `card:${critical.id}`)[0]!.blocks), /Database failover/);
    const started = await call(client, 'start_runbook', { incident: critical.id, runbook: 'db-failover' });
    assert.equal(started.isError, false, started.text);
    assert.equal(started.data.started_by, 'agent:operator');
    assert.equal((await runsOf(critical)).length, 1);
  });
});
