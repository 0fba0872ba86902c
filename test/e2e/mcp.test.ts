import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Incident } from '../../src/domain/incident.js';
import { approve, auditLog, deny } from '../../src/services/approvals.js';
import { Actions, DeclareBlocks, FormBlocks, INPUT } from '../../src/slack/ids.js';
import { SECRET, SECRET_ENV, startReceiver } from '../services/approvals-fixture.js';
import { startBot, type Bot } from './harness.js';
import { ALICE, blocksText, BOB, declare, firebreakYml, messagesWithMarker, openView, rollbackAction, waitForIncident } from './helpers.js';
import { GENERAL_CHANNEL_ID } from '../../src/emulator/slack/index.js';
import { postGenericAlert } from '../../bench/lib.js';

/**
 * The MCP server through a real MCP client (the SDK's own Client and Streamable HTTP transport)
 * against the real bot: signed Slack clicks decide what agents propose.
 */
const TOKENS = {
  FB_AGENT_COPILOT_TOKEN: 'copilot-token-0123456789abcdef0123',
  FB_AGENT_READER_TOKEN: 'reader-token-0123456789abcdef012345',
  FB_AGENT_LOWONLY_TOKEN: 'lowonly-token-0123456789abcdef01234',
  FB_AGENT_CHATTY_TOKEN: 'chatty-token-0123456789abcdef012345',
  FB_AGENT_SECURITY_TOKEN: 'security-token-0123456789abcdef01234',
};
const ALERT_SECRET = 'alert-secret-for-mcp-tests-0123456789';

function writeConfig(url: string): string {
  return firebreakYml(`actions:\n${rollbackAction(url, { versionPattern: true, timeoutMs: 2000 })}agents:
  mcp:
  - { name: sre-copilot, token_env: FB_AGENT_COPILOT_TOKEN, scopes: [read, update, propose] }
  - { name: reader, token_env: FB_AGENT_READER_TOKEN, scopes: [read] }
  - { name: low-only, token_env: FB_AGENT_LOWONLY_TOKEN, scopes: [read, propose], incidents: { severities: [low] } }
  - { name: chatty, token_env: FB_AGENT_CHATTY_TOKEN, scopes: [read], incident_rate_limit_per_minute: 3 }
  - { name: security-bot, token_env: FB_AGENT_SECURITY_TOKEN, scopes: [read, propose], incidents: { private: true } }
`);
}

let bot: Bot;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let incident: Incident;
let offsetMs = 0;
const clients: Client[] = [];

async function connect(token: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'firebreak-test-agent', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${bot.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}`, ...headers } },
  });
  await client.connect(transport);
  clients.push(client);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
  const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
  const text = r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
  return { isError: r.isError === true, text, data: (r.structuredContent ?? {}) as Record<string, any> };
}

before(async () => {
  receiver = await startReceiver(() => 200);
  bot = await startBot({
    env: { FIREBREAK_CONFIG: writeConfig(receiver.url), [SECRET_ENV]: SECRET, ALERT_WEBHOOK_SECRET: ALERT_SECRET, ...TOKENS },
    build: { clock: { now: () => new Date(Date.now() + offsetMs) } },
  });
  incident = await declare(bot, 'high Checkout 5xx after the 14:02 deploy');
});
after(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await bot?.close();
  await receiver?.close();
});

/** An agent proposes the rollback of `service` to `version` on the incident: the tool's answer. */
const proposeRollback = (client: Client, service: string, version: string, reason: string) =>
  call(client, 'propose_action', { incident: incident.id, action: 'rollback_deployment', params: { service, version }, reason });
const approvalMessage = (id: string) => messagesWithMarker(bot.emulator, incident.channelId!, `approval:${id}`)[0];

describe('MCP server at /mcp', () => {
  test('lists its tools with honest annotations, and none that approves or executes', async () => {
    const client = await connect(TOKENS.FB_AGENT_COPILOT_TOKEN);
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    const reads = [
      'list_incidents',
      'get_incident',
      'get_channel_messages',
      'get_summary',
      'list_actions',
      'search_incidents',
      'get_approval',
      'wait_for_approval',
    ];
    for (const name of reads) assert.equal(byName.get(name)?.annotations?.readOnlyHint, true, `${name} is read-only`);
    for (const name of ['post_update', 'add_timeline_note', 'propose_action']) assert.equal(byName.get(name)?.annotations?.readOnlyHint, false, name);
    assert.equal(byName.get('propose_action')!.annotations?.destructiveHint, false, 'proposing changes nothing by itself');
    assert.deepEqual(byName.get('propose_action')!.inputSchema.required?.sort(), ['action', 'incident', 'reason']);
    assert.ok(!tools.some((t) => /approve|deny|execute|run_action/.test(t.name)), tools.map((t) => t.name).join(', '));
  });

  test('read tools: list, get, channel messages, summary, actions, search', async () => {
    const client = await connect(TOKENS.FB_AGENT_COPILOT_TOKEN);
    await bot.driver.userMessage(incident.channelId!, BOB, 'p99 on checkout is 4s since the deploy');

    const list = await call(client, 'list_incidents', { status: ['investigating'], severity: ['high'] });
    assert.equal(list.isError, false, list.text);
    assert.deepEqual(
      list.data.incidents.map((i: { id: string }) => i.id),
      [incident.id],
    );
    assert.equal((await call(client, 'list_incidents', { severity: ['low'] })).data.incidents.length, 0);

    const got = await call(client, 'get_incident', { incident: `INC-${incident.seq}` });
    assert.equal(got.data.incident.id, incident.id);
    assert.equal(got.data.roles.commander, ALICE);
    assert.equal(got.data.card.posted, true);
    assert.ok(
      got.data.timeline.some((t: { kind: string }) => t.kind === 'declared'),
      JSON.stringify(got.data.timeline),
    );
    assert.deepEqual(got.data.open_approvals, []);

    const msgs = await call(client, 'get_channel_messages', { incident: incident.channelId, limit: 20 });
    const bobs = msgs.data.messages.find((m: { text: string }) => /p99 on checkout/.test(m.text));
    assert.equal(bobs?.author, BOB);
    assert.equal(bobs?.is_bot, false);

    const summary = await call(client, 'get_summary', { incident: incident.id });
    assert.equal(summary.isError, false, summary.text);
    assert.equal(summary.data.source, 'new');
    assert.match(summary.data.text, /Checkout 5xx/);

    const actions = await call(client, 'list_actions');
    const rollback = actions.data.actions.find((a: { id: string }) => a.id === 'rollback_deployment');
    assert.equal(rollback.params.version.pattern, '^v\\d+$');
    assert.match(rollback.policy, /commander/);

    const found = await call(client, 'search_incidents', { query: 'checkout 5XX' });
    assert.deepEqual(
      found.data.incidents.map((i: { id: string }) => i.id),
      [incident.id],
    );
    assert.equal((await call(client, 'search_incidents', { query: 'disk full on db-7' })).data.incidents.length, 0);
  });

  test('update tools post attributed, escaped text and are audited with the agent name', async () => {
    const client = await connect(TOKENS.FB_AGENT_COPILOT_TOKEN);
    const up = await call(client, 'post_update', { incident: incident.id, text: 'Rolling back is likely needed <!channel>' });
    assert.equal(up.isError, false, up.text);
    const posted = bot.emulator.state.message(incident.channelId!, up.data.ts)!;
    assert.match(posted.text, /via agent `sre-copilot`/);
    assert.match(posted.text, /&lt;!channel&gt;/, 'agent text cannot ping the channel');
    const note = await call(client, 'add_timeline_note', { incident: incident.id, text: 'error rate tracks deploy 14:02' });
    assert.equal(note.isError, false, note.text);
    const timeline = await bot.fb.deps.store.listTimeline(incident.id);
    assert.ok(
      timeline.some((t) => t.kind === 'note' && t.text === 'error rate tracks deploy 14:02' && t.author === 'sre-copilot'),
      JSON.stringify(timeline),
    );
    assert.ok(timeline.some((t) => t.kind === 'update' && t.author === 'sre-copilot'));
    // What `/incident audit` shows.
    const audit = await auditLog(bot.fb.deps, incident.id);
    assert.match(audit, /sre-copilot \*agent\.tool_called\* — tool: post_update/);
    assert.match(audit, /sre-copilot \*agent\.tool_called\* — tool: add_timeline_note/);
  });

  test('the answer names who may approve; in an incident nobody had taken command of it says nobody can, instead of leaving the agent waiting for the expiry', async () => {
    const client = await connect(TOKENS.FB_AGENT_COPILOT_TOKEN);
    const held = await proposeRollback(client, 'checkout', 'v38', 'errors began with v42');
    assert.equal(held.isError, false, held.text);
    assert.deepEqual(held.data.approvers, [ALICE]);
    assert.doesNotMatch(held.data.policy, /Nobody can approve/);

    assert.equal(await postGenericAlert(bot.url, ALERT_SECRET, { title: 'Search 5xx above 5%', service: 'search', severity: 'high' }), 202);
    const opened = await waitForIncident(bot, '[GENERIC] Search 5xx above 5%');
    await bot.waitFor(async () => (await bot.fb.deps.store.getIncident(opened.id))?.channelId, 5000, 'the alert incident channel');
    const r = await call(client, 'propose_action', {
      incident: opened.id,
      action: 'rollback_deployment',
      params: { service: 'search', version: 'v7' },
      reason: 'x',
    });
    assert.equal(r.isError, false, r.text);
    assert.equal(r.data.status, 'pending');
    assert.deepEqual(r.data.approvers, []);
    assert.match(r.data.policy, /Nobody can approve this proposal/);
    assert.match((await call(client, 'get_approval', { approval_id: r.data.approval_id })).data.policy, /Nobody can approve this proposal/);
  });

  test('scopes: a read-only token cannot propose or post', async () => {
    const client = await connect(TOKENS.FB_AGENT_READER_TOKEN);
    const before = (await bot.fb.deps.store.listApprovals({ incidentId: incident.id })).length;
    const r = await proposeRollback(client, 'api', 'v41', 'bad deploy');
    assert.equal(r.isError, true);
    assert.match(r.text, /lacks the `propose` scope/);
    assert.match((await call(client, 'post_update', { incident: incident.id, text: 'hi' })).text, /lacks the `update` scope/);
    assert.equal((await bot.fb.deps.store.listApprovals({ incidentId: incident.id })).length, before);
  });

  test('an incident filter hides other incidents', async () => {
    const client = await connect(TOKENS.FB_AGENT_LOWONLY_TOKEN);
    assert.equal((await call(client, 'list_incidents')).data.incidents.length, 0);
    const r = await call(client, 'get_incident', { incident: incident.id });
    assert.equal(r.isError, true);
    assert.match(r.text, /No incident/);
    assert.equal(
      (await call(client, 'propose_action', { incident: incident.id, action: 'rollback_deployment', params: { service: 'a', version: 'v1' }, reason: 'x' }))
        .isError,
      true,
    );
  });

  test('a wrong token gets 401 without detail or OAuth metadata; a foreign Origin gets 403', async () => {
    await assert.rejects(connect('not-a-valid-token-at-all-0000000000'), (err: Error & { code?: number }) => err.code === 401);
    const init = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
    };
    const post = (headers: Record<string, string>) =>
      fetch(`${bot.url}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
        body: JSON.stringify(init),
      });
    const wrong = await post({ authorization: 'Bearer nope' });
    assert.equal(wrong.status, 401);
    assert.deepEqual(await wrong.json(), { error: 'unauthorized' });
    assert.equal(wrong.headers.get('www-authenticate'), null, 'no resource_metadata pointer');
    assert.equal((await post({})).status, 401);
    assert.equal((await fetch(`${bot.url}/.well-known/oauth-protected-resource`)).status, 404);
    assert.equal((await fetch(`${bot.url}/.well-known/oauth-authorization-server`)).status, 404);

    const foreign = await post({ authorization: `Bearer ${TOKENS.FB_AGENT_COPILOT_TOKEN}`, origin: 'https://evil.example' });
    assert.equal(foreign.status, 403);
    await assert.rejects(connect(TOKENS.FB_AGENT_COPILOT_TOKEN, { origin: 'https://evil.example' }), (err: Error & { code?: number }) => err.code === 403);
    const same = await post({ authorization: `Bearer ${TOKENS.FB_AGENT_COPILOT_TOKEN}`, origin: bot.url });
    assert.equal(same.status, 200);
    // DNS rebinding: a page whose own name now resolves to this server sends that name as Origin
    // and as Host. Matching each other proves nothing (fetch cannot set Host, so node:http does).
    const port = new URL(bot.url).port;
    const rebound = await new Promise<number>((resolve, reject) => {
      const body = JSON.stringify(init);
      const req = httpRequest(
        `${bot.url}/mcp`,
        {
          method: 'POST',
          headers: {
            host: `rebind.evil.example:${port}`,
            origin: `http://rebind.evil.example:${port}`,
            authorization: `Bearer ${TOKENS.FB_AGENT_COPILOT_TOKEN}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'content-length': String(Buffer.byteLength(body)),
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(rebound, 403);
  });

  test('propose_action posts the Slack approval naming the agent and quoting its reason escaped; wait_for_approval returns after a signed Approve with the result', async () => {
    const client = await connect(TOKENS.FB_AGENT_COPILOT_TOKEN);
    receiver.received.length = 0;
    const p = await proposeRollback(client, 'checkout', 'v41', 'errors began with v42 <https://evil.example|click me> @here');
    assert.equal(p.isError, false, p.text);
    assert.equal(p.data.status, 'pending');
    assert.match(p.data.policy, /commander/);
    const id = p.data.approval_id as string;
    const msg = await bot.waitFor(() => approvalMessage(id), 5000, 'approval message');
    const text = blocksText(msg.blocks);
    assert.match(text, /agent `sre-copilot`/);
    assert.match(text, /errors began with v42/);
    assert.doesNotMatch(text, /<https:\/\/evil\.example\|click me>/, 'the reason is quoted, not a link');
    assert.equal(receiver.received.length, 0, 'nothing ran');

    const waiting = call(client, 'wait_for_approval', { approval_id: id, timeout_seconds: 20 });
    await new Promise((r) => setTimeout(r, 300));
    const click = await bot.driver.click({ channel: incident.channelId!, ts: msg.ts }, Actions.approve, { user: ALICE });
    assert.equal(click.status, 200);
    const done = await waiting;
    assert.equal(done.data.status, 'succeeded', done.text);
    assert.equal(done.data.settled, true);
    assert.equal(done.data.decided_by, ALICE);
    assert.ok(done.data.result, 'carries the executor result');
    assert.equal(receiver.received.length, 1);
    const got = await call(client, 'get_approval', { approval_id: id });
    assert.equal(got.data.status, 'succeeded');
  });

  test('a denied proposal: wait_for_approval reports who denied it and why; nothing runs', async () => {
    const client = await connect(TOKENS.FB_AGENT_COPILOT_TOKEN);
    receiver.received.length = 0;
    const p = await proposeRollback(client, 'checkout', 'v40', 'try older');
    const id = p.data.approval_id as string;
    const msg = await bot.waitFor(() => approvalMessage(id), 5000, 'approval message');
    await bot.driver.click({ channel: incident.channelId!, ts: msg.ts }, Actions.deny, { user: ALICE });
    const view = await bot.waitFor(() => openView(bot.emulator, ALICE, 'deny_modal'), 3000, 'deny modal');
    await bot.driver.submitView(view.id, { [FormBlocks.reason]: { [INPUT]: 'v41 already fixed it' } }, { user: ALICE });
    const r = await call(client, 'wait_for_approval', { approval_id: id, timeout_seconds: 10 });
    assert.equal(r.data.status, 'denied');
    assert.equal(r.data.decided_by, ALICE);
    assert.equal(r.data.deny_reason, 'v41 already fixed it');
    assert.equal(receiver.received.length, 0);
  });

  test('an expired proposal: wait_for_approval reports it expired; a short wait returns pending, not settled', async () => {
    const client = await connect(TOKENS.FB_AGENT_COPILOT_TOKEN);
    const p = await proposeRollback(client, 'checkout', 'v39', 'maybe');
    const id = p.data.approval_id as string;
    const short = await call(client, 'wait_for_approval', { approval_id: id, timeout_seconds: 0.2 });
    assert.equal(short.data.status, 'pending');
    assert.equal(short.data.settled, false);
    offsetMs += 16 * 60_000;
    const r = await call(client, 'wait_for_approval', { approval_id: id, timeout_seconds: 15 });
    assert.equal(r.data.status, 'expired', r.text);
    assert.equal(r.data.settled, true);
  });

  test('a replayed propose with the same idempotency key makes one approval', async () => {
    const client = await connect(TOKENS.FB_AGENT_COPILOT_TOKEN);
    const args = {
      incident: incident.id,
      action: 'rollback_deployment',
      params: { service: 'search', version: 'v7' },
      reason: 'search errors',
      idempotency_key: 'plan-42-step-3',
    };
    const before = (await bot.fb.deps.store.listApprovals({ incidentId: incident.id })).length;
    const [a, b] = await Promise.all([call(client, 'propose_action', args), call(client, 'propose_action', args)]);
    const c = await call(client, 'propose_action', args);
    assert.equal(a.data.approval_id, b.data.approval_id);
    assert.equal(a.data.approval_id, c.data.approval_id);
    assert.equal(c.data.duplicate, true);
    assert.equal((await bot.fb.deps.store.listApprovals({ incidentId: incident.id })).length, before + 1);
    await bot.waitFor(() => approvalMessage(a.data.approval_id), 5000, 'approval message');
    assert.equal(messagesWithMarker(bot.emulator, incident.channelId!, `approval:${a.data.approval_id}`).length, 1);
  });

  test('an agent cannot approve: there is no such tool, and the gate refuses any non-person', async () => {
    const client = await connect(TOKENS.FB_AGENT_COPILOT_TOKEN);
    const p = await proposeRollback(client, 'cart', 'v3', 'cart errors');
    const id = p.data.approval_id as string;
    for (const name of ['approve', 'approve_action', 'execute_action']) {
      const r = await client.callTool({ name, arguments: { approval_id: id } }).then(
        (x) => (x as CallToolResult).content.map((c) => (c.type === 'text' ? c.text : '')).join(''),
        (err: Error) => err.message,
      );
      assert.match(r, /not found/i, `${name}: ${r}`);
    }
    for (const who of ['sre-copilot', 'agent:sre-copilot', 'claude']) {
      const r = await approve(bot.fb.deps, { approvalId: id, userId: who });
      assert.equal(r.outcome, 'refused', who);
      assert.equal((await deny(bot.fb.deps, { approvalId: id, userId: who, reason: 'x' })).outcome, 'refused', who);
    }
    assert.equal((await bot.fb.deps.store.getApproval(id))!.status, 'pending');
  });

  test('rate limited per incident: past the limit a tool call is refused with when to retry', async () => {
    const client = await connect(TOKENS.FB_AGENT_CHATTY_TOKEN);
    for (let i = 0; i < 3; i++) assert.equal((await call(client, 'get_incident', { incident: incident.id })).isError, false);
    const r = await call(client, 'get_incident', { incident: incident.id });
    assert.equal(r.isError, true);
    assert.match(r.text, /Too many calls about this incident; retry in \d+ s/);
    // Other calls of the same agent are not held back by one busy incident.
    assert.equal((await call(client, 'list_actions')).isError, false);
  });

  test('a private incident is hidden from agents (its title, channel and messages are for its members) unless the team lets one see private incidents', async () => {
    await bot.driver.slash('', { user: BOB, channel: GENERAL_CHANNEL_ID });
    const view = await bot.waitFor(() => openView(bot.emulator, BOB, 'declare_modal'), 3000, 'declare modal');
    await bot.driver.submitView(
      view.id,
      {
        [DeclareBlocks.title]: { [INPUT]: 'Leaked signing key' },
        [DeclareBlocks.severity]: { [INPUT]: 'critical' },
        [DeclareBlocks.private]: { [INPUT]: ['private'] },
      },
      { user: BOB },
    );
    const p = await waitForIncident(bot, 'Leaked signing key');
    await bot.driver.userMessage(p.channelId!, BOB, 'the key was in the public repo for 3 hours');

    const copilot = await connect(TOKENS.FB_AGENT_COPILOT_TOKEN);
    const listed = await call(copilot, 'list_incidents');
    assert.ok(!JSON.stringify(listed.data).includes('Leaked signing key'), 'not listed');
    assert.equal((await call(copilot, 'search_incidents', { query: 'signing key' })).data.incidents.length, 0, 'not found by search');
    for (const ref of [p.id, `INC-${p.seq}`, p.channelId!]) {
      const r = await call(copilot, 'get_incident', { incident: ref });
      assert.equal(r.isError, true, ref);
      assert.match(r.text, /No incident/);
    }
    const msgs = await call(copilot, 'get_channel_messages', { incident: p.channelId! });
    assert.equal(msgs.isError, true);
    assert.doesNotMatch(msgs.text, /public repo/);
    const proposed = await call(copilot, 'propose_action', {
      incident: p.id,
      action: 'rollback_deployment',
      params: { service: 'a', version: 'v1' },
      reason: 'x',
    });
    assert.equal(proposed.isError, true);
    assert.equal((await bot.fb.deps.store.listApprovals({ incidentId: p.id })).length, 0);

    // An agent the team lets see private incidents does.
    const security = await connect(TOKENS.FB_AGENT_SECURITY_TOKEN);
    const got = await call(security, 'get_incident', { incident: p.id });
    assert.equal(got.isError, false, got.text);
    assert.match((await call(security, 'get_channel_messages', { incident: p.id })).text, /public repo/);
  });
});

test('Socket Mode deployments serve /mcp on the same HTTP server', async () => {
  const socketBot = await startBot({ transport: 'socket', env: { FIREBREAK_CONFIG: writeConfig('http://127.0.0.1:9/'), [SECRET_ENV]: SECRET, ...TOKENS } });
  try {
    const client = new Client({ name: 'socket-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${socketBot.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${TOKENS.FB_AGENT_READER_TOKEN}` } },
      }),
    );
    const r = (await client.callTool({ name: 'list_actions', arguments: {} })) as CallToolResult;
    assert.notEqual(r.isError, true);
    await client.close();
  } finally {
    await socketBot.close();
  }
});
