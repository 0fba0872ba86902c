/**
 * Builds a real `Deps` for the alert and backend-webhook tests: a migrated SQLite store (or a
 * PostgreSQL one), the local backend, a JobRunner, a fixed-text summariser, a settable clock, and
 * a small recording Chat. `route(path)` returns the handler of one webhook route, and `call()`
 * drives it with an in-memory request, so no port is opened unless a test wants one.
 */
import { randomUUID } from 'node:crypto';
import { createActionExecutor } from '../../src/adapters/executors/index.js';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { loadConfig, type Config } from '../../src/config.js';
import { createLocalBackend } from '../../src/adapters/backend/local.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import type { IncidentBackend } from '../../src/ports/backend.js';
import type { Block, Chat, ChatMessage } from '../../src/ports/chat.js';
import type { Clock } from '../../src/ports/clock.js';
import type { Store } from '../../src/ports/store.js';
import type { Summarizer } from '../../src/ports/summarizer.js';
import { alertJobs } from '../../src/services/alerts.js';
import { backendEventJobs } from '../../src/services/backend-events.js';
import { declareFlowJob } from '../../src/services/declare.js';
import type { Deps } from '../../src/services/deps.js';
import { type AnyJob, JobRunner } from '../../src/services/jobs.js';
import { refreshJob } from '../../src/services/incident-views.js';
import { webhookRoutes } from '../../src/webhooks/routes.js';
import type { Route } from '../../src/http/routes.js';
import { openTestSqliteStore } from '../store/pg-helper.js';
import { noCharts, noOnCall } from '../services/deps-stubs.js';

export const ANNOUNCE = 'C0ANNOUNCE1';

export const SECRETS = {
  ALERT_WEBHOOK_SECRET: 'generic-shared-secret-0123456789',
  PAGERDUTY_WEBHOOK_SECRET: 'pd-subscription-secret-abcdef',
  DATADOG_WEBHOOK_SECRET: 'dd-header-token-9876543210',
  ALERTMANAGER_WEBHOOK_TOKEN: 'am-bearer-token-55aa55aa',
  ROOTLY_WEBHOOK_SECRET: 'rootly-webhook-secret-77',
  // Svix secrets are base64 after the prefix.
  INCIDENTIO_WEBHOOK_SECRET: `whsec_${Buffer.from('incident-io-signing-key-32-bytes!').toString('base64')}`,
} as const;

export class SettableClock implements Clock {
  constructor(private t: number) {}
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface Posted {
  channel: string;
  ts: string;
  text: string;
  blocks: Block[] | undefined;
  threadTs: string | null;
}

/** A Chat that records what the bot says. Channel creation, posts and updates behave like Slack's. */
export class RecordingChat implements Chat {
  posts: Posted[] = [];
  updates: { channel: string; ts: string; text: string; blocks: Block[] | undefined }[] = [];
  channels = new Map<string, { id: string; name: string; creator: string; isPrivate: boolean }>();
  private seq = 0;

  private nextTs(): string {
    this.seq += 1;
    return `1763632900.${String(this.seq).padStart(6, '0')}`;
  }
  async createChannel(name: string, isPrivate = false): Promise<{ id: string; name: string }> {
    if (this.channels.has(name)) {
      const { ChatError } = await import('../../src/errors.js');
      throw new ChatError('name_taken');
    }
    const id = `C${String(this.channels.size + 1).padStart(8, '0')}`;
    this.channels.set(name, { id, name, creator: this.botUserId(), isPrivate });
    return { id, name };
  }
  async findChannelByName(name: string) {
    return this.channels.get(name) ?? null;
  }
  /** Privacy as Slack would answer it: channels created here as created (a test may flip `isPrivate`); others unknown. */
  async channelIsPrivate(channelId: string): Promise<boolean | null> {
    return [...this.channels.values()].find((c) => c.id === channelId)?.isPrivate ?? null;
  }
  async invite(): Promise<void> {}
  topics: { channel: string; topic: string }[] = [];
  async setTopic(channel: string, topic: string): Promise<void> {
    this.topics.push({ channel, topic });
  }
  async post(channel: string, text: string, blocks?: Block[], opts?: { threadTs?: string }) {
    const ts = this.nextTs();
    this.posts.push({ channel, ts, text, blocks, threadTs: opts?.threadTs ?? null });
    return { ts, channel };
  }
  async update(channel: string, ts: string, text: string, blocks?: Block[]): Promise<void> {
    this.updates.push({ channel, ts, text, blocks });
  }
  uploads: { channelId: string; filename: string; bytes: Uint8Array }[] = [];
  async uploadFile(f: { channelId: string; filename: string; bytes: Uint8Array }) {
    this.uploads.push(f);
    return { fileId: `F${this.uploads.length}` };
  }
  async postEphemeral(): Promise<void> {}
  async pin(): Promise<void> {}
  async addBookmark(): Promise<void> {}
  async openView() {
    return { viewId: 'V1' };
  }
  async publishHome(): Promise<void> {}
  async history(channel: string): Promise<ChatMessage[]> {
    return this.posts
      .filter((p) => p.channel === channel && !p.threadTs)
      .map((p) => ({ ts: p.ts, user: 'UBOT', botId: 'BBOT', text: p.text, blockIds: (p.blocks ?? []).map((b) => String(b.block_id ?? '')) }));
  }
  async replies(channel: string, threadTs: string): Promise<ChatMessage[]> {
    return this.posts
      .filter((p) => p.channel === channel && p.threadTs === threadTs)
      .map((p) => ({ ts: p.ts, user: 'UBOT', botId: 'BBOT', text: p.text, blockIds: (p.blocks ?? []).map((b) => String(b.block_id ?? '')) }));
  }
  async listBookmarks() {
    return [];
  }
  async getMessage() {
    return null;
  }
  async lookupByEmail(_email: string): Promise<string | null> {
    return null;
  }
  async userInfo(id: string) {
    return { id, name: id.toLowerCase(), email: null, isBot: false };
  }
  async usergroupMembers(): Promise<string[]> {
    return [];
  }
  permalink(channel: string, ts?: string): string {
    return `https://acme.slack.com/archives/${channel}${ts ? `/p${ts.replace('.', '')}` : ''}`;
  }
  botUserId(): string {
    return 'UFIREBREAK';
  }

  /** Top-level posts in the announcement channel. */
  announcements(): Posted[] {
    return this.posts.filter((p) => p.channel === ANNOUNCE && !p.threadTs);
  }
  threadReplies(ts: string): Posted[] {
    return this.posts.filter((p) => p.threadTs === ts);
  }
}

const fixedSummarizer: Summarizer = {
  async brief() {
    return { text: 'Brief: fixed test text.', fallback: true };
  },
  async summarize() {
    return { text: 'Summary: fixed test text.', fallback: true };
  },
  async postmortem() {
    return { text: 'Post-mortem: fixed test text.', fallback: true };
  },
  async proposeActions() {
    return { proposals: [], rejected: [], fallback: true, requestId: null };
  },
  async diagnose() {
    return { text: 'Diagnosis: fixed test text.', confidence: null, evidence: [], proposals: [], rejected: [], fallback: true, requestId: null };
  },
};

export interface Harness {
  deps: Deps;
  store: Store;
  chat: RecordingChat;
  clock: SettableClock;
  routes: Route[];
  runner: JobRunner;
  /** Run queued jobs until none is due (the clock does not move). */
  drain(): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  env?: Record<string, string>;
  /** firebreak.yml contents as an object (written to a temp file). */
  file?: Record<string, unknown>;
  store?: Store;
  backend?: IncidentBackend;
  startAt?: number;
  runnerOptions?: ConstructorParameters<typeof JobRunner>[4];
  /** Start the runner's loop (poll timer); off by default: tests call drain(). */
  start?: boolean;
}

export const T0 = Date.parse('2026-11-20T10:05:00.000Z');

export async function buildHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const clock = new SettableClock(opts.startAt ?? T0);
  let cleanupStore: (() => Promise<void>) | null = null;
  let store = opts.store;
  if (!store) {
    const s = await openTestSqliteStore({ clock });
    store = s.store;
    cleanupStore = s.cleanup;
  }
  const config = await configFrom({ ANNOUNCE_CHANNEL: ANNOUNCE, ...SECRETS, ...(opts.env ?? {}) }, opts.file);
  const logger = createLogger({ level: 'silent' });
  const metrics = createMetrics();
  const runner = new JobRunner(store, logger, clock, metrics, { pollMs: 10, concurrency: 16, ...(opts.runnerOptions ?? {}) });
  const chat = new RecordingChat();
  const backend = opts.backend ?? createLocalBackend(store);
  const deps: Deps = {
    config,
    store,
    chat,
    backend,
    executor: createActionExecutor({ backend, webhook: { env: config.executorSecrets } }),
    summarizer: fixedSummarizer,
    clock,
    logger,
    metrics,
    jobs: runner,
    charts: noCharts,
    oncall: noOnCall,
    newId: () => randomUUID(),
  };
  registerStandardJobs(deps, runner);
  const routes = webhookRoutes(deps);
  runner.start();
  const drain = async () => {
    // Keep kicking until a full pass finds nothing due: jobs enqueue jobs (alert → declare flow → ...).
    for (let i = 0; i < 200; i++) {
      runner.kick();
      await runner.idle();
      const queued = await countDue(store!, clock.now());
      if (queued === 0) {
        await runner.idle();
        return;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('jobs did not settle');
  };
  return {
    deps,
    store,
    chat,
    clock,
    routes,
    runner,
    drain,
    async close() {
      await runner.stop(2000);
      if (cleanupStore) await cleanupStore();
    },
  };
}

/** The job handlers the full app registers that our flows rely on. */
export function registerStandardJobs(deps: Deps, runner: JobRunner): void {
  const jobs: AnyJob[] = [declareFlowJob, refreshJob, ...alertJobs, ...backendEventJobs];
  for (const job of jobs) runner.register(job, deps);
}

/** Queued jobs whose time has come, across the kinds the harness runs. */
async function countDue(store: Store, now: Date): Promise<number> {
  // The Store port has no "count due" query; the kysely store's db is reachable in tests.
  const db = (store as unknown as { db: { selectFrom: (t: string) => any } }).db;
  const row = await db
    .selectFrom('jobs')
    .select((eb: any) => eb.fn.countAll().as('n'))
    .where('kind', 'in', ['declare.flow', 'incident.refresh', 'alert.process', 'alert.note', 'alert.record', 'backend.event'])
    .where('state', '=', 'queued')
    .where('run_after', '<=', now.getTime())
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

async function configFrom(env: Record<string, string>, file?: Record<string, unknown>): Promise<Config> {
  if (!file) return loadConfig(env, '/nonexistent-dir-for-tests');
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { stringify } = await import('yaml');
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-cfg-'));
  const path = join(dir, 'firebreak.yml');
  writeFileSync(path, stringify(file));
  return loadConfig({ ...env, FIREBREAK_CONFIG: path }, dir);
}

// -- driving a route in memory -----------------------------------------------------------------

export interface CallResult {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: any;
}

export function route(h: Pick<Harness, 'routes'>, path: string): Route {
  const r = h.routes.find((x) => x.path === path);
  if (!r) throw new Error(`no route ${path}`);
  return r;
}

/** Invoke a route handler with a real IncomingMessage/ServerResponse pair over a detached socket. */
export async function call(r: Route, body: string | Buffer, headers: Record<string, string> = {}): Promise<CallResult> {
  const raw = typeof body === 'string' ? Buffer.from(body) : body;
  const req = new IncomingMessage(new Socket());
  req.method = 'POST';
  req.url = r.path;
  req.headers = { 'content-type': 'application/json', 'content-length': String(raw.length), ...lower(headers) };
  const src = Readable.from([raw]);
  src.on('data', (c) => req.push(c));
  src.on('end', () => req.push(null));
  const res = new ServerResponse(req);
  const chunks: Buffer[] = [];
  let status = 0;
  let resHeaders: CallResult['headers'] = {};
  const done = new Promise<void>((resolve) => {
    res.writeHead = ((code: number, hdrs?: Record<string, string>) => {
      status = code;
      resHeaders = { ...(hdrs ?? {}) };
      return res;
    }) as typeof res.writeHead;
    res.end = ((chunk?: unknown) => {
      if (chunk) chunks.push(Buffer.from(chunk as string));
      resolve();
      return res;
    }) as typeof res.end;
  });
  await r.handler(req, res);
  await done;
  const text = Buffer.concat(chunks).toString('utf8');
  return { status, headers: resHeaders, body: text ? JSON.parse(text) : null };
}

function lower(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}
