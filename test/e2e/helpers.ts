import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Incident } from '../../src/domain/incident.js';
import { GENERAL_CHANNEL_ID, type SlackEmulator } from '../../src/emulator/slack/index.js';
import type { RunbookRun } from '../../src/ports/runbook-store.js';
import type { Approval } from '../../src/ports/store.js';
import { DeclareBlocks, INPUT } from '../../src/slack/ids.js';
import { SECRET, SECRET_ENV, startReceiver } from '../services/approvals-fixture.js';
import { signAgent, signGeneric } from '../../src/webhooks/verify.js';
import { startBot, type Bot } from './harness.js';

export const ALICE = 'U0ALICE01';
export const BOB = 'U0BOB0001';
export const CAROL = 'U0CAROL01';

/** The open modal a user sees with the given callback id (the newest one). */
export function openView(emulator: SlackEmulator, user: string, callbackId: string) {
  return emulator.state
    .snapshot()
    .views.filter((v) => v.user_id === user && v.callback_id === callbackId && (v as { open?: boolean }).open !== false)
    .at(-1);
}

export function channelsNamed(emulator: SlackEmulator, prefix: string) {
  return emulator.state.snapshot().channels.filter((c) => c.name.startsWith(prefix));
}

/** Messages in a channel whose blocks carry a block_id starting with `marker`. */
export function messagesWithMarker(emulator: SlackEmulator, channel: string, marker: string) {
  return emulator.state.messages(channel).filter((m) => (m.blocks ?? []).some((b) => String((b as { block_id?: string }).block_id ?? '').startsWith(marker)));
}

export function blocksText(blocks: unknown[] | undefined): string {
  return JSON.stringify(blocks ?? []);
}

/** Wait until the incident's declare flow finished (audit entry written). */
export async function flowDone(bot: Bot, incidentId: string, ms = 8000) {
  await bot.waitFor(
    async () => (await bot.fb.deps.store.listAudit({ incidentId })).some((a) => a.action === 'incident.flow_completed'),
    ms,
    `declare flow of ${incidentId}`,
  );
  await bot.fb.deps.jobs.idle();
}

/**
 * The open incident titled `title` (any open incident when no title is given), once its declare
 * flow finished: as the store holds it then, with its channel, card and backend record.
 */
export async function waitForIncident(bot: Bot, title?: string, opts: { ms?: number; flowMs?: number } = {}): Promise<Incident> {
  const what = title === undefined ? 'an incident' : `incident "${title}"`;
  const found = await bot.waitFor(
    async () => (await bot.fb.deps.store.listOpenIncidents()).find((i) => title === undefined || i.title === title),
    opts.ms ?? 5000,
    what,
  );
  await flowDone(bot, found.id, opts.flowMs);
  return (await bot.fb.deps.store.getIncident(found.id))!;
}

/** `/incident declare <severity> <title>` in #general (acked), and the incident once it is set up. */
export async function declare(bot: Bot, severityAndTitle: string, user = ALICE): Promise<Incident> {
  const r = await bot.driver.slash(`declare ${severityAndTitle}`, { user, channel: GENERAL_CHANNEL_ID });
  assert.equal(r.status, 200);
  return waitForIncident(bot, severityAndTitle.split(' ').slice(1).join(' '));
}

/** The declare modal, filled in and submitted by `user` with *Private* ticked (commander: `user`); the incident once it is set up. */
export async function declarePrivate(bot: Bot, title: string, user: string, severity = 'critical'): Promise<Incident> {
  await bot.driver.slash('declare', { user, channel: GENERAL_CHANNEL_ID });
  const view = await bot.waitFor(() => openView(bot.emulator, user, 'declare_modal'), 3000, 'declare modal');
  await bot.driver.submitView(
    view.id,
    {
      [DeclareBlocks.title]: { [INPUT]: title },
      [DeclareBlocks.severity]: { [INPUT]: severity },
      [DeclareBlocks.commander]: { [INPUT]: user },
      [DeclareBlocks.private]: { [INPUT]: ['private'] },
    },
    { user },
  );
  return waitForIncident(bot, title);
}

/** The approval once it has `status` (waits up to `ms`). */
export async function approvalWith(bot: Bot, approvalId: string, status: Approval['status'], ms = 8000): Promise<Approval> {
  return bot.waitFor(
    async () => {
      const a = await bot.fb.deps.store.getApproval(approvalId);
      return a?.status === status ? a : null;
    },
    ms,
    `approval ${approvalId} ${status}`,
  );
}

/**
 * A `/incident` command's form body as Slack sends it (our workspace and app, a fresh trigger id
 * and response URL), to sign and send by hand with `bot.driver.send` (same bytes twice, a stale or
 * forged signature). `over` replaces any field (another team or app, a channel).
 */
export function slashForm(bot: Bot, text: string, over: Record<string, string> = {}): string {
  const channel = over.channel_id ?? GENERAL_CHANNEL_ID;
  return new URLSearchParams({
    token: 'x',
    team_id: bot.emulator.teamId,
    team_domain: 'acme',
    channel_id: channel,
    channel_name: 'general',
    user_id: ALICE,
    user_name: 'alice',
    command: '/incident',
    text,
    api_app_id: bot.emulator.appId,
    is_enterprise_install: 'false',
    response_url: bot.emulator.issueResponseUrl({ channel, user: ALICE }),
    trigger_id: bot.emulator.issueTrigger(ALICE),
    ...over,
  }).toString();
}

/** The approval id an approval message carries (its `approval:<id>` block). */
export function approvalIdIn(message: { blocks?: unknown[] }): string {
  const ids = (message.blocks ?? []).map((b) => String((b as { block_id?: string }).block_id ?? ''));
  const marker = ids.find((id) => id.startsWith('approval:'));
  assert.ok(marker, `not an approval message: ${ids.join(', ')}`);
  return marker.slice('approval:'.length);
}

/** `/incident action <text>` in `channel`: the slash command's ack, and the approval message it posted. */
export async function propose(bot: Bot, channel: string, text: string, user: string) {
  const before = messagesWithMarker(bot.emulator, channel, 'approval:').length;
  const ack = await bot.driver.slash(`action ${text}`, { user, channel });
  const msg = await bot.waitFor(() => messagesWithMarker(bot.emulator, channel, 'approval:')[before], 5000, 'approval message');
  return { ack, ts: msg.ts, approvalId: approvalIdIn(msg) };
}

/** A firebreak.yml, as a team writes it, in a fresh temp folder; returns its path. */
/**
 * A suite's bot for the approval gate: an executor receiver answering 200, and the bot started with
 * `firebreakYml(yaml(receiverUrl))` and the executor's webhook secret (plus `env`). Started before
 * the suite and closed after it; read `bot` and `receiver` inside tests.
 */
export function gateSuite(yaml: (receiverUrl: string) => string, env: Record<string, string> = {}) {
  const suite = {} as { bot: Bot; receiver: Awaited<ReturnType<typeof startReceiver>> };
  before(async () => {
    suite.receiver = await startReceiver(() => 200);
    suite.bot = await startBot({ env: { FIREBREAK_CONFIG: firebreakYml(yaml(suite.receiver.url)), [SECRET_ENV]: SECRET, ...env } });
  });
  after(async () => {
    await suite.bot?.close();
    await suite.receiver?.close();
  });
  return suite;
}

/**
 * POST `payload` to the agents' proposals webhook, signed as an agent does: the idempotency key in
 * the signature when `key` is given (`unsignedKey`: the older signature without it).
 */
export async function postAgentProposal(bot: Bot, secret: string, payload: unknown, opts: { key?: string; unsignedKey?: boolean } = {}) {
  const body = JSON.stringify(payload);
  const ts = Math.floor(Date.now() / 1000);
  return fetch(`${bot.url}/webhooks/agents/proposals`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-firebreak-timestamp': String(ts),
      'x-firebreak-signature': opts.unsignedKey ? signGeneric(secret, ts, body) : signAgent(secret, ts, body, opts.key),
      ...(opts.key ? { 'idempotency-key': opts.key } : {}),
    },
    body,
  });
}

export function firebreakYml(yaml: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'fb-e2e-cfg-')), 'firebreak.yml');
  writeFileSync(path, yaml);
  return path;
}

/**
 * The rollback the approval suites propose, as an `actions:` entry: a webhook executor at `url`
 * signing with SECRET_ENV. `policy` is the YAML flow mapping (default: the commander approves);
 * `versionPattern`: versions must look like `v41`.
 */
export function rollbackAction(url: string, o: { policy?: string; versionPattern?: boolean; retries?: number; timeoutMs?: number } = {}): string {
  return `  - id: rollback_deployment
    title: Roll back a deployment
    params:
      service: { type: string, required: true }
      version: { type: string, required: true${o.versionPattern ? ", pattern: '^v\\d+$'" : ''} }
    requires_approval: true
    policy: ${o.policy ?? '{ roles: [commander] }'}
    executor: { type: webhook, url: '${url}', secret_env: ${SECRET_ENV}, retries: ${o.retries ?? 0}${o.timeoutMs ? `, timeout_ms: ${o.timeoutMs}` : ''} }
`;
}

/** The two-person restart: any two members of `usergroup`, as an `actions:` entry. */
export function restartAction(url: string, usergroup: string): string {
  return `  - id: restart_service
    title: Restart a service
    params:
      service: { type: string, required: true }
    requires_approval: true
    policy: { roles: [], usergroups: [${usergroup}], min_approvals: 2 }
    executor: { type: webhook, url: '${url}', secret_env: ${SECRET_ENV}, retries: 0 }
`;
}

/** The hostile string of issue 12: a mass mention, a disguised link, a user and a group mention, pre-escaped text. */
export const HOSTILE = 'Edge down <!channel> see <https://evil.example|https://status.example.com> <@U0ALICE01> <!subteam^S1> &lt;!here&gt;';

/** Active formatting in mrkdwn: a special mention, a user/channel mention not from `allowedIds`, or a label that is not its URL. */
export function activeFormatting(text: string, allowedIds: Set<string>): string[] {
  const found: string[] = [];
  // Slack unescapes &lt; &gt; only for display: `&lt;!here&gt;` in the wire text is inert, `<!here>` is not.
  for (const m of text.matchAll(/<([^<>]*)>/g)) {
    const inner = m[1]!;
    if (inner.startsWith('!date^')) continue; // the bot's own date formatting
    if (/^[@#]/.test(inner)) {
      if (!allowedIds.has(inner.slice(1).split('|')[0]!)) found.push(m[0]);
    } else if (inner.startsWith('!')) found.push(m[0]);
    else if (inner.includes('|')) {
      const url = inner.slice(0, inner.indexOf('|'));
      if (/evil\.example/.test(url) || /example\.com/.test(inner.slice(inner.indexOf('|') + 1))) found.push(m[0]);
    }
  }
  return found;
}

/**
 * What the runbook suites read about a run: high-severity incidents declared in #general, their
 * runs, the checklist message, and waits for a run's or a step's status. `getBot` is called on
 * every use, as the suites start their bot in `before`, after these are bound.
 */
export function runbookProbes(getBot: () => Bot) {
  const runs = (i: Incident) => getBot().fb.deps.store.listRunbookRuns({ incidentId: i.id });
  const checklist = (i: Incident, run: RunbookRun) => messagesWithMarker(getBot().emulator, i.channelId!, `runbook:${run.id}`);
  return {
    declareHigh: (title: string, user = ALICE) => declare(getBot(), `high ${title}`, user),
    runs,
    /** The `n`th run of `runbookId` in the incident, once it exists. */
    runOf: (i: Incident, runbookId: string, n = 0): Promise<RunbookRun> =>
      getBot().waitFor(async () => (await runs(i)).filter((r) => r.runbookId === runbookId)[n], 5000, `run of ${runbookId}`),
    checklist,
    checklistText: (i: Incident, run: RunbookRun) => blocksText(checklist(i, run)[0]?.blocks),
    waitStatus: (run: RunbookRun, statuses: string[], what: string, ms = 8000) =>
      getBot().waitFor(
        async () => {
          const r = await getBot().fb.deps.store.getRunbookRun(run.id);
          return r && statuses.includes(r.status) ? r : null;
        },
        ms,
        what,
      ),
    waitStep: (run: RunbookRun, index: number, status: string, ms = 8000) =>
      getBot().waitFor(
        async () => {
          const s = await getBot().fb.deps.store.getRunbookStep(run.id, index);
          return s?.status === status ? s : null;
        },
        ms,
        `step ${index + 1} ${status}`,
      ),
    approvalMessage: (i: Incident, approvalId: string) => messagesWithMarker(getBot().emulator, i.channelId!, `approval:${approvalId}`)[0],
  };
}

/** A loopback HTTP service a runbook's HTTP steps call; every request is recorded (path with query, headers). */
export interface HttpTarget {
  url: string;
  calls: { path: string; headers: IncomingMessage['headers'] }[];
  close(): Promise<void>;
}

/** Starts an HttpTarget whose answers come from `answer` (given the path without its query). */
export async function startHttpTarget(answer: (path: string, req: IncomingMessage, res: ServerResponse) => void): Promise<HttpTarget> {
  const calls: HttpTarget['calls'] = [];
  const server = createServer((req, res) => {
    calls.push({ path: req.url ?? '', headers: req.headers });
    answer((req.url ?? '').split('?')[0]!, req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * A click from a client that still shows a message as it was (Slack updates messages for everyone,
 * but a click can be on its way): signed like any click, its payload carries the old message. The
 * driver's own click() refuses a button the message no longer shows.
 */
export async function staleClick(bot: Bot, channel: string, msg: { ts: string; blocks?: unknown[] }, actionId: string, userId: string) {
  const block = (msg.blocks as { block_id?: string; elements?: { action_id?: string; value?: string }[] }[]).find((b) =>
    b.elements?.some((e) => e.action_id === actionId),
  );
  if (!block) throw new Error(`staleClick: no element with action_id "${actionId}" in the given message`);
  const el = block.elements!.find((e) => e.action_id === actionId)!;
  const payload = {
    type: 'block_actions',
    user: { id: userId, username: userId.toLowerCase(), name: userId.toLowerCase(), team_id: bot.emulator.teamId },
    api_app_id: bot.emulator.appId,
    token: 'x',
    trigger_id: bot.emulator.issueTrigger(userId),
    team: { id: bot.emulator.teamId, domain: 'acme' },
    container: { type: 'message', message_ts: msg.ts, channel_id: channel, is_ephemeral: false },
    channel: { id: channel, name: 'incident' },
    message: msg,
    response_url: bot.emulator.issueResponseUrl({ channel, user: userId }),
    actions: [{ action_id: actionId, block_id: block.block_id, type: 'button', value: el.value, action_ts: String(Date.now() / 1000) }],
  };
  return bot.driver.send(new URLSearchParams({ payload: JSON.stringify(payload) }).toString());
}
