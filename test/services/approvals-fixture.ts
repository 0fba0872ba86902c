/**
 * Builders for the approval-gate service tests: a recording Chat fake, a settable clock, a
 * loopback webhook receiver that verifies our HMAC, and `makeGate()` wiring real Store + JobRunner.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { loadConfig } from '../../src/config.js';
import { ActionSchema, DEFAULT_ACTIONS, type ActionDefinition } from '../../src/domain/actions.js';
import { createLocalBackend } from '../../src/adapters/backend/local.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import type { IncidentBackend } from '../../src/ports/backend.js';
import type { Block, Chat, ChatMessage } from '../../src/ports/chat.js';
import type { Store } from '../../src/ports/store.js';
import { approvalJobs } from '../../src/services/approvals.js';
import { createActionExecutor } from '../../src/adapters/executors/index.js';
import type { Deps } from '../../src/services/deps.js';
import { JobRunner } from '../../src/services/jobs.js';
import { noCharts, noOnCall } from './deps-stubs.js';

export class TestClock {
  t: number;
  constructor(iso = '2025-03-01T10:00:00.000Z') {
    this.t = Date.parse(iso);
  }
  now = () => new Date(this.t);
  advance(ms: number) {
    this.t += ms;
  }
}

interface Posted {
  channel: string;
  ts: string;
  text: string;
  blocks: Block[];
}

/** A Chat that records every call; messages keep their latest text and blocks (updates apply in place). */
export class RecordingChat implements Chat {
  messages = new Map<string, Posted>();
  posts: Posted[] = [];
  updates: Posted[] = [];
  ephemerals: { channel: string; user: string; text: string }[] = [];
  views: Block[] = [];
  groups = new Map<string, string[]>();
  groupCalls = 0;
  private seq = 0;
  constructor(private readonly clock: TestClock) {}

  async createChannel(name: string) {
    return { id: `C${++this.seq}`, name };
  }
  async findChannelByName() {
    return null;
  }
  async channelIsPrivate() {
    return null;
  }
  async invite() {}
  async setTopic() {}
  async post(channel: string, text: string, blocks: Block[] = []) {
    const ts = `${Math.floor(this.clock.t / 1000)}.${String(++this.seq).padStart(6, '0')}`;
    const m = { channel, ts, text, blocks };
    this.posts.push(m);
    this.messages.set(ts, m);
    return { ts, channel };
  }
  async update(channel: string, ts: string, text: string, blocks: Block[] = []) {
    const m = this.messages.get(ts);
    if (!m || m.channel !== channel) throw new Error(`update of unknown message ${ts}`);
    m.text = text;
    m.blocks = blocks;
    this.updates.push({ channel, ts, text, blocks });
  }
  uploads: { channelId: string; filename: string; bytes: Uint8Array }[] = [];
  async uploadFile(f: { channelId: string; filename: string; bytes: Uint8Array }) {
    this.uploads.push(f);
    return { fileId: `F${this.uploads.length}` };
  }
  async postEphemeral(channel: string, user: string, text: string) {
    this.ephemerals.push({ channel, user, text });
  }
  async pin() {}
  async addBookmark() {}
  async openView(_t: string, view: Block) {
    this.views.push(view);
    return { viewId: `V${++this.seq}` };
  }
  async publishHome() {}
  async history(channel: string): Promise<ChatMessage[]> {
    return [...this.messages.values()]
      .filter((m) => m.channel === channel)
      .map((m) => ({ ts: m.ts, user: null, botId: 'B1', text: m.text, blockIds: m.blocks.map((b) => String(b.block_id ?? '')) }));
  }
  async getMessage() {
    return null;
  }
  async replies(): Promise<ChatMessage[]> {
    return [];
  }
  async listBookmarks() {
    return [];
  }
  async lookupByEmail(_email: string): Promise<string | null> {
    return null;
  }
  async userInfo(id: string) {
    return { id, name: id.toLowerCase(), email: null, isBot: false };
  }
  async usergroupMembers(id: string) {
    this.groupCalls++;
    return this.groups.get(id) ?? [];
  }
  permalink(channel: string, ts?: string) {
    return `https://example.slack.com/archives/${channel}/p${ts ?? ''}`;
  }
  botUserId() {
    return 'UBOT';
  }

  /** All text of a message's blocks, for assertions. */
  render(ts: string): string {
    return JSON.stringify(this.messages.get(ts)?.blocks ?? []);
  }
  buttons(ts: string): { action_id: string; value: string }[] {
    const blocks = this.messages.get(ts)?.blocks ?? [];
    return blocks.filter((b) => b.type === 'actions').flatMap((b) => b.elements as { action_id: string; value: string }[]);
  }
}

export const SECRET_ENV = 'TEST_APPROVAL_WEBHOOK_SECRET';
export const SECRET = 'whk-test-secret-0123456789';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown>;
  signatureOk: boolean;
}

/** A receiver that checks X-Firebreak-Signature like a team's endpoint would. */
export async function startReceiver(
  answer: (n: number, r: Received) => number | Promise<number> = () => 200,
): Promise<{ url: string; received: Received[]; server: Server; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const ts = String(req.headers['x-firebreak-timestamp'] ?? '');
      const expected = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex')}`;
      const r: Received = { headers: req.headers, body, json: JSON.parse(body), signatureOk: req.headers['x-firebreak-signature'] === expected };
      received.push(r);
      const status = await answer(received.length, r);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: status < 300, n: received.length }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    server,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Build an action declaration as a team would write it in firebreak.yml. */
export const defineAction = (a: Record<string, unknown>): ActionDefinition => ActionSchema.parse(a);

export interface Gate {
  deps: Deps;
  chat: RecordingChat;
  clock: TestClock;
  jobs: JobRunner;
  incidentId: string;
  channelId: string;
  stop(): Promise<void>;
}

/** The executor options the jobs use: the test secret, and short backoff. */
export const EXECUTOR_OPTS = { webhook: { baseDelayMs: 5, env: { [SECRET_ENV]: SECRET } } };

export const CHANNEL = 'CINC0001';
export const COMMANDER = 'UCMD';
export const LEADS = 'SSRELEADS';

/**
 * A gate over `store`: config defaults plus `actions`, a real JobRunner (fast poll), one incident
 * with a channel and a commander. Pass `incidentId` to share an incident across two gates.
 */
export async function makeGate(
  store: Store,
  opts: { actions?: ActionDefinition[]; clock?: TestClock; incidentId?: string; backend?: IncidentBackend; chat?: RecordingChat } = {},
): Promise<Gate> {
  const clock = opts.clock ?? new TestClock();
  const chat = opts.chat ?? new RecordingChat(clock);
  const config = loadConfig({}, mkdtempSync(`${tmpdir()}/fb-cfg-`));
  const byId = new Map(DEFAULT_ACTIONS.map((a) => [a.id, a]));
  for (const a of opts.actions ?? []) byId.set(a.id, a);
  const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const metrics = createMetrics();
  const jobs = new JobRunner(store, logger, { now: clock.now }, metrics, { pollMs: 10, leaseMs: 60_000 });
  const backend = opts.backend ?? createLocalBackend(store);
  const deps: Deps = {
    config: { ...config, actions: [...byId.values()] },
    store,
    chat,
    backend,
    executor: createActionExecutor({ backend, webhook: EXECUTOR_OPTS.webhook }),
    summarizer: {} as Deps['summarizer'],
    clock: { now: clock.now },
    logger,
    metrics,
    jobs,
    charts: noCharts,
    oncall: noOnCall,
    newId: () => randomUUID(),
  };
  let incidentId = opts.incidentId;
  if (!incidentId) {
    incidentId = randomUUID();
    await store.createIncident({
      id: incidentId,
      title: 'API 500s',
      description: '',
      severity: 'high',
      services: ['api'],
      private: false,
      origin: 'slack',
      declaredBy: 'UDECL',
      commanderId: COMMANDER,
      backend: 'local',
      backendId: incidentId,
      createdAt: clock.now(),
    });
    await store.updateIncident(incidentId, { channelId: CHANNEL, channelName: 'inc-20250301-api-500s', updatedAt: clock.now() });
    await store.setRole(incidentId, 'commander', COMMANDER);
  }
  for (const job of approvalJobs) jobs.register(job, deps);
  jobs.start();
  return { deps, chat, clock, jobs, incidentId, channelId: CHANNEL, stop: () => jobs.stop(1000) };
}

/** Poll until `check` holds (jobs run in the background). */
export async function waitFor<T>(
  check: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  what: string,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
