/**
 * Hostile text, end to end: one string carrying a mass mention, a disguised link, a user mention, a
 * user-group mention and pre-escaped text goes through every place a title, description, alert
 * field, backend field, person's text or Claude answer can appear. Every Slack call the bot made
 * (messages, updates, ephemerals, response_url answers, topics, modals) is then read from the
 * emulator's call log: none may contain an active mention or a link whose label is not its URL.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startBot, type Bot } from './harness.js';
import { writeConfigFile } from '../../bench/lib.js';
import { GENERAL_CHANNEL_ID } from '../../src/emulator/slack/index.js';
import { signGeneric, signRootly } from '../../src/webhooks/verify.js';
import { Actions, DeclareBlocks, FormBlocks, INPUT } from '../../src/slack/ids.js';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropic/server.js';
import { recordPageAck } from '../../src/services/paging.js';
import { escapeKeepingUserMentions } from '../../src/slack/mrkdwn.js';
import { activeFormatting, BOB, CAROL, HOSTILE, messagesWithMarker, openView, waitForIncident } from './helpers.js';

/** Every mrkdwn string in a Slack API argument object (plain_text cannot mention or link). */
function mrkdwnStrings(method: string, args: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (typeof args.text === 'string') out.push(args.text);
  if (typeof args.topic === 'string') out.push(args.topic);
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (o.type === 'mrkdwn' && typeof o.text === 'string') out.push(o.text);
      for (const [k, x] of Object.entries(o)) if (k !== 'text' || typeof x !== 'string') walk(x);
    } else if (typeof v === 'string' && (method === 'views.open' || method === 'views.update' || method === 'views.publish') && v.startsWith('{')) {
      try {
        walk(JSON.parse(v));
      } catch {
        /* not JSON */
      }
    }
  };
  for (const k of ['blocks', 'view', 'attachments']) {
    const v = args[k];
    walk(typeof v === 'string' ? safeJson(v) : v);
  }
  return out;
}
const safeJson = (s: string): unknown => {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
};

const AGENT_SECRET = 'agent-secret-for-hostile-tests-0123';
const ALERT_SECRET = 'alert-secret-for-hostile-tests-0123';
const ROOTLY_SECRET = 'rootly-secret-for-hostile-tests-01';

let bot: Bot;
let claude: FakeAnthropic;

before(async () => {
  claude = await startFakeAnthropic({ chunkDelayMs: 0, chunkChars: 40 });
  // Every answer from Claude (brief, summary, post-mortem) is the hostile string; asked for
  // proposals, it proposes one with the hostile string as rationale and parameter.
  claude.setResponder((req) =>
    req.body?.tools?.length
      ? { text: `Rationale: ${HOSTILE}`, toolUses: [{ name: 'clear_cache', input: { cache: HOSTILE } }] }
      : { text: `## What happened\n${HOSTILE}\n- next: ${HOSTILE}` },
  );
  bot = await startBot({
    env: {
      ANTHROPIC_API_KEY: 'sk-ant-test',
      ANTHROPIC_BASE_URL: claude.url,
      AGENT_WEBHOOK_SECRET: AGENT_SECRET,
      ALERT_WEBHOOK_SECRET: ALERT_SECRET,
      ROOTLY_WEBHOOK_SECRET: ROOTLY_SECRET,
      // The modal's incident names `api` among hostile services: its on-call person is invited, and the notice names the services.
      FIREBREAK_CONFIG: writeConfigFile({ oncall: { services: { api: { schedule: 'api-rota' } }, schedules: [{ id: 'api-rota', users: [BOB] }] } }),
    },
  });
});
after(async () => {
  await bot?.close();
  await claude?.close();
});

const incidentTitled = (title: string) => waitForIncident(bot, title, { ms: 10_000, flowMs: 15_000 });

test('a hostile string through every title, summary, alert field and Claude answer reaches Slack inert', async () => {
  // 1. Declared inline.
  await bot.driver.slash(`declare high I ${HOSTILE}`, { user: BOB, channel: GENERAL_CHANNEL_ID });
  const inline = await incidentTitled(`I ${HOSTILE}`);

  // 2. Declared in the modal, with a hostile description and services.
  await bot.driver.slash('', { user: CAROL, channel: GENERAL_CHANNEL_ID });
  const view = await bot.waitFor(() => openView(bot.emulator, CAROL, 'declare_modal'), 3000, 'declare modal');
  await bot.driver.submitView(
    view.id,
    {
      [DeclareBlocks.title]: { [INPUT]: `M ${HOSTILE}` },
      [DeclareBlocks.severity]: { [INPUT]: 'critical' },
      [DeclareBlocks.description]: { [INPUT]: HOSTILE },
      [DeclareBlocks.commander]: { [INPUT]: CAROL },
      [DeclareBlocks.services]: { [INPUT]: 'edge <!here>, api' },
      [DeclareBlocks.private]: { [INPUT]: [] },
    },
    { user: CAROL },
  );
  const modal = await incidentTitled(`M ${HOSTILE}`);
  await bot.waitFor(() => bot.emulator.state.messages(modal.channelId!).find((m) => /On call for api:/.test(m.text ?? '')), 5000, 'on-call invite notice');

  // 3. Alert-created: every field of a generic alert is hostile.
  const alertBody = JSON.stringify({
    title: `A ${HOSTILE}`,
    service: '<!everyone>',
    severity: 'critical',
    url: 'https://evil.example/a|<!here>',
    external_id: '<!here>',
    details: { note: HOSTILE },
  });
  const ts = Math.floor(Date.now() / 1000);
  const alertRes = await fetch(`${bot.url}/webhooks/alerts/generic`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-firebreak-timestamp': String(ts), 'x-firebreak-signature': signGeneric(ALERT_SECRET, ts, alertBody) },
    body: alertBody,
  });
  assert.equal(alertRes.status, 202, await alertRes.text());
  const alerted = await incidentTitled(`[GENERIC] A ${HOSTILE}`);

  // 4. Created by a backend webhook (an incident made in Rootly's own UI).
  const rootlyBody = JSON.stringify({
    event: { id: randomUUID(), type: 'incident.created', issued_at: new Date().toISOString() },
    data: {
      id: 'r-hostile-1',
      sequential_id: 9,
      title: `R ${HOSTILE}`,
      kind: 'normal',
      private: false,
      summary: HOSTILE,
      status: 'started',
      url: 'https://rootly.com/account/incidents/9',
      severity: { id: 'sev0', name: 'SEV0', slug: 'sev0', severity: 'critical' },
      started_at: new Date().toISOString(),
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
    },
  });
  const rootlyRes = await fetch(`${bot.url}/webhooks/rootly`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-rootly-signature': signRootly(ROOTLY_SECRET, rootlyBody, Math.floor(Date.now() / 1000)) },
    body: rootlyBody,
  });
  assert.ok(rootlyRes.status < 300, `rootly webhook: ${rootlyRes.status}`);
  const fromRootly = await incidentTitled(`R ${HOSTILE}`);

  const ch = modal.channelId!;
  // 5. An update, a status change with a message, a summary, a post-mortem; the brief came with the declare.
  await bot.driver.slash(`update ${HOSTILE}`, { user: CAROL, channel: ch });
  await bot.driver.userMessage(ch, BOB, HOSTILE);
  await bot.driver.slash('summary', { user: CAROL, channel: ch });
  await bot.waitFor(
    () => messagesWithMarker(bot.emulator, ch, `summary:${modal.id}:1`).find((m) => /Written by Claude/.test(JSON.stringify(m.blocks))),
    10_000,
    'summary',
  );
  await bot.driver.slash('postmortem', { user: CAROL, channel: ch });
  await bot.waitFor(() => messagesWithMarker(bot.emulator, ch, `postmortem:${modal.id}`)[0], 10_000, 'post-mortem');
  await bot.waitFor(() => messagesWithMarker(bot.emulator, ch, `brief:${modal.id}`)[0], 10_000, 'brief');
  await bot.driver.slash('status', { user: CAROL, channel: ch });
  await bot.driver.slash('list', { user: CAROL, channel: ch });
  await bot.driver.slash(`mitigate ${HOSTILE}`, { user: CAROL, channel: ch });

  // 6. Proposals: a person (modal, hostile reason), an agent (hostile reason and parameter), Claude (after the summary).
  const card = messagesWithMarker(bot.emulator, ch, `card:${modal.id}`)[0]!;
  await bot.driver.click({ channel: ch, ts: card.ts }, Actions.cardProposeAction, { user: BOB });
  const pv = await bot.waitFor(() => openView(bot.emulator, BOB, 'propose_modal'), 3000, 'propose modal');
  await bot.driver.submitView(
    pv.id,
    { [FormBlocks.action]: { [INPUT]: 'clear_cache' }, [FormBlocks.params]: { [INPUT]: `cache=${HOSTILE}` }, [FormBlocks.reason]: { [INPUT]: HOSTILE } },
    { user: BOB },
  );
  // Another cache than the person's: the same action with the same parameters would be refused as already proposed.
  const agentBody = JSON.stringify({
    agent: 'copilot',
    incident: { id: modal.id },
    action: 'clear_cache',
    params: { cache: `agent ${HOSTILE}` },
    reason: HOSTILE,
  });
  const ats = Math.floor(Date.now() / 1000);
  const agentRes = await fetch(`${bot.url}/webhooks/agents/proposals`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-firebreak-timestamp': String(ats), 'x-firebreak-signature': signGeneric(AGENT_SECRET, ats, agentBody) },
    body: agentBody,
  });
  assert.equal(agentRes.status, 202, await agentRes.text());
  await bot.waitFor(
    async () => {
      const kinds = new Set((await bot.fb.deps.store.listApprovals({ incidentId: modal.id })).map((a) => a.proposerKind));
      return kinds.has('user') && kinds.has('agent') && kinds.has('claude');
    },
    10_000,
    'proposals from a person, an agent and Claude',
  );
  await bot.fb.deps.jobs.idle();
  // The deny modal shows the proposal; denying with a hostile reason re-renders the message.
  const approvals = await bot.fb.deps.store.listApprovals({ incidentId: modal.id });
  const agentApproval = approvals.find((a) => a.proposerKind === 'agent')!;
  const msg = messagesWithMarker(bot.emulator, ch, `approval:${agentApproval.id}`)[0]!;
  await bot.driver.click({ channel: ch, ts: msg.ts }, Actions.deny, { user: CAROL });
  const dv = await bot.waitFor(() => openView(bot.emulator, CAROL, 'deny_modal'), 3000, 'deny modal');
  await bot.driver.submitView(dv.id, { [FormBlocks.reason]: { [INPUT]: HOSTILE } }, { user: CAROL });
  await bot.waitFor(async () => (await bot.fb.deps.store.getApproval(agentApproval.id))?.status === 'denied', 5000, 'denied');
  await bot.fb.deps.jobs.idle();
  // 7. A follow-up with hostile text; then the status answer lists the latest timeline entries
  // (the denial with its hostile reason and parameter, the follow-up).
  await bot.driver.slash(`followup <@${CAROL}> ${HOSTILE}`, { user: CAROL, channel: ch });
  await bot.waitFor(async () => (await bot.fb.deps.store.listFollowups({ incidentId: modal.id })).length > 0, 5000, 'follow-up');
  await bot.fb.deps.jobs.idle();
  const statusCalls = () => bot.emulator.calls().filter((c) => c.method === 'response_url' && /\*Latest\*/.test(String(c.args.text ?? ''))).length;
  const before = statusCalls();
  await bot.driver.slash('status', { user: CAROL, channel: ch });
  await bot.waitFor(() => statusCalls() > before, 5000, 'status answer after the denial and the follow-up');

  // The hostile text did reach Slack (as text), in every kind of call.
  const calls = bot.emulator.calls();
  const methods = new Set(calls.map((c) => c.method));
  for (const m of ['chat.postMessage', 'chat.update', 'conversations.setTopic', 'views.open', 'response_url']) assert.ok(methods.has(m), `the bot called ${m}`);
  const seen = calls.flatMap((c) => mrkdwnStrings(c.method, c.args)).filter((s) => s.includes('Edge down'));
  assert.ok(seen.length >= 20, `hostile text reached Slack as text in ${seen.length} places`);
  assert.ok(
    seen.some((s) => s.includes('https://evil.example')),
    'the real URL is shown',
  );

  // ...and none of it is active: no mass mention, no foreign mention, no disguised link.
  const allowed = new Set([BOB, CAROL, bot.fb.deps.chat.botUserId() ?? '', ...[inline, modal, alerted, fromRootly].map((i) => i.channelId ?? '')]);
  const problems: string[] = [];
  for (const c of calls)
    for (const s of mrkdwnStrings(c.method, c.args))
      for (const bad of activeFormatting(s, allowed)) problems.push(`${c.method}: ${bad} in ${JSON.stringify(s.slice(0, 160))}`);
  assert.deepEqual([...new Set(problems)], []);
});

test('names from a pager or backend and pinned messages stay inert: the page lines in the timeline, /incident status', async () => {
  await bot.driver.slash('declare high Checkout paging drill', { user: CAROL, channel: GENERAL_CHANNEL_ID });
  const i = await incidentTitled('Checkout paging drill');
  const ch = i.channelId!;
  const deps = bot.fb.deps;
  // Someone's message with a mass mention, pinned to the timeline with a :pushpin:.
  const m = await bot.driver.userMessage(ch, BOB, `heads up ${HOSTILE}`);
  await bot.driver.reaction(ch, m.ts, CAROL, 'pushpin');
  await bot.waitFor(async () => (await deps.store.listTimeline(i.id)).some((t) => t.kind === 'pin'), 5000, 'pinned to the timeline');
  // A page to a target, acknowledged by someone the pager (PagerDuty, a backend) names with a hostile name.
  const at = new Date();
  await deps.store.insertPage({ incidentId: i.id, targetKey: 'pd:edge', targetName: 'edge <!here>', message: 'edge is down', pagedBy: CAROL, createdAt: at });
  await deps.store.patchPage(i.id, 'pd:edge', { state: 'sent', externalId: 'PDX1', sentAt: at });
  await recordPageAck(deps, (await deps.store.getPage(i.id, 'pd:edge'))!, {
    at,
    by: { slackUserId: null, email: null, name: 'Walter <!channel> <@U0ALICE01> <https://evil.example|https://status.example.com>' },
  });
  const line = (await deps.store.listTimeline(i.id)).find((t) => t.kind === 'page')!;
  assert.equal(line.author, null, 'a name is not a user id, even one starting with W');
  const allowed = new Set([BOB, CAROL, bot.fb.deps.chat.botUserId() ?? '', ch]);
  // Record text keeps the record's own mentions live where it is shown (summaries, post-mortem skeletons).
  assert.deepEqual(activeFormatting(escapeKeepingUserMentions(line.text), allowed), [], line.text);
  assert.match(line.text, /Walter/);

  const answers = () => bot.emulator.calls().filter((c) => c.method === 'response_url' && /\*Latest\*/.test(String(c.args.text ?? '')));
  const before = answers().length;
  await bot.driver.slash('status', { user: CAROL, channel: ch });
  const text = String((await bot.waitFor(() => answers()[before], 5000, 'the status answer')).args.text);
  assert.match(text, /heads up Edge down/);
  assert.match(text, /acknowledged the page/);
  assert.deepEqual(activeFormatting(text, allowed), [], text);
});

test('activeFormatting finds what a raw post would contain (the check itself can fail)', () => {
  const raw = activeFormatting(`New incident: ${HOSTILE}`, new Set());
  assert.deepEqual(raw, ['<!channel>', '<https://evil.example|https://status.example.com>', '<@U0ALICE01>', '<!subteam^S1>']);
});
