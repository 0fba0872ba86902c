import { randomUUID } from 'node:crypto';
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createLocalBackend } from './adapters/backend/local.js';
import { createFallbackSummarizer } from './adapters/fallback-summarizer.js';
import { SlackChat, slackLogger } from './adapters/slack/chat.js';
import { openAndMigrate } from './adapters/store/index.js';
import type { IncidentBackend } from './ports/backend.js';
import { systemClock, type Clock } from './ports/clock.js';
import type { Store } from './ports/store.js';
import type { Summarizer } from './ports/summarizer.js';
import { BRIEF_JOB, DECLARE_FLOW_JOB, runDeclareFlow } from './services/declare.js';
import type { Deps } from './services/deps.js';
import { JobRunner, PermanentJobError } from './services/jobs.js';
import { BackendError, ChatError, userMessage } from './errors.js';
import { BACKEND_SYNC_JOB, POSTMORTEM_JOB, REFRESH_JOB, refreshIncidentViews, syncToBackend, type BackendOp } from './services/lifecycle.js';
import { CLAUDE_PROPOSE_JOB, postBrief, postPostmortem } from './services/summaries.js';
import { proposeFromClaude } from './services/claude-proposals.js';
import { registerApprovalJobs } from './services/approvals.js';
import { registerAlertJobs } from './services/alerts.js';
import { registerBackendEventJobs } from './services/backend-events.js';
import { registerPagingJobs } from './services/paging.js';
import { registerReminderJobs } from './services/reminders.js';
import { registerFollowupJobs } from './services/followups.js';
import type { OnCall } from './ports/oncall.js';
import { registerActions } from './slack/listeners/actions.js';
import { registerApprovalListeners } from './slack/listeners/approvals.js';
import { registerCommands } from './slack/listeners/commands.js';
import { registerEvents } from './slack/listeners/events.js';
import { registerViews } from './slack/listeners/views.js';
import { registerFollowThroughListeners } from './slack/listeners/followthrough.js';
import { incidentLabel } from './domain/incident.js';

const MAINTENANCE_JOB = 'maintenance.prune';

export interface BuildOptions {
  logger: Logger;
  clock?: Clock;
  store?: Store;
  backend?: IncidentBackend;
  oncall?: OnCall;
  summarizer?: Summarizer;
  metrics?: Metrics;
  /** Override the job runner's timing (tests). */
  jobs?: { pollMs?: number; leaseMs?: number; workerId?: string };
  /** Slack Web API retries (tests use 0 to see errors at once). */
  slackRetries?: number;
}

export interface Firebreak {
  deps: Deps;
  bolt: App;
  /** HTTP mode: the Slack request listener for `/slack/events`. */
  slackListener: HTTPReceiver['requestListener'] | null;
  /** Connects Socket Mode, starts background work. */
  start(): Promise<void>;
  stop(): Promise<void>;
  ready(): Promise<{ ok: boolean; checks: Record<string, string>; warnings?: string[] }>;
}

/** The configured backend. Vendor adapters are loaded only when configured (start-up time, memory). */
export async function buildBackend(config: Config, store: Store, logger: Logger): Promise<IncidentBackend> {
  const log = logger.child({ component: `backend-${config.backend}` });
  switch (config.backend) {
    case 'rootly': {
      const { createRootlyBackend } = await import('./adapters/backend/rootly/backend.js');
      return createRootlyBackend({
        apiKey: config.env.ROOTLY_API_KEY!,
        baseUrl: config.rootlyApiUrl,
        logger: log,
        createGuard: { get: (k) => store.getStep('rootly-create', k), put: (k, v) => store.putStep('rootly-create', k, v) },
      });
    }
    case 'incidentio': {
      const { createIncidentIoBackend } = await import('./adapters/backend/incidentio/backend.js');
      return createIncidentIoBackend({ apiKey: config.env.INCIDENTIO_API_KEY!, baseUrl: config.incidentioApiUrl, logger: log });
    }
    case 'local':
      return createLocalBackend(store, config.env.FIREBREAK_PUBLIC_URL ? { publicUrl: config.env.FIREBREAK_PUBLIC_URL } : {});
  }
}

/** Paging, on-call and follow-ups for the configured backend (PagerDuty + firebreak.yml rotations for local). */
export async function buildOnCall(config: Config, logger: Logger): Promise<OnCall> {
  const log = logger.child({ component: `oncall-${config.backend}` });
  switch (config.backend) {
    case 'rootly': {
      const { createRootlyOnCall } = await import('./adapters/backend/rootly/oncall.js');
      return createRootlyOnCall({ apiKey: config.env.ROOTLY_API_KEY!, baseUrl: config.rootlyApiUrl, logger: log });
    }
    case 'incidentio': {
      const { createIncidentIoOnCall } = await import('./adapters/backend/incidentio/oncall.js');
      return createIncidentIoOnCall({ apiKey: config.env.INCIDENTIO_API_KEY!, baseUrl: config.incidentioApiUrl, logger: log });
    }
    case 'local': {
      const [{ createLocalOnCall }, { createPagerDutyEvents }] = await Promise.all([import('./adapters/backend/local-oncall.js'), import('./adapters/pagerduty/events.js')]);
      return createLocalOnCall({
        pagerduty: createPagerDutyEvents({ ...(config.env.PAGERDUTY_EVENTS_URL ? { baseUrl: config.env.PAGERDUTY_EVENTS_URL } : {}), logger: log }),
        routingKeys: config.pagerdutyRoutingKeys,
        rotations: config.file.oncall.schedules.map((r) => ({ id: r.id, users: r.users, shiftHours: r.shift_hours, start: new Date(r.start) })),
      });
    }
  }
}

/**
 * Claude when ANTHROPIC_API_KEY is set, else the plain structured summariser. The Anthropic SDK and
 * the prompt templates are loaded only when Claude is configured.
 */
export async function buildSummarizer(config: Config, logger: Logger, metrics: Metrics, clock: Clock): Promise<Summarizer> {
  const fallback = createFallbackSummarizer({ clock });
  if (!config.env.ANTHROPIC_API_KEY) {
    logger.info('ANTHROPIC_API_KEY is not set: briefs, summaries and post-mortems are plain structured summaries from the record');
    return fallback;
  }
  const [{ createClaudeSummarizer }, { PromptRenderer }] = await Promise.all([import('./adapters/anthropic/claude-summarizer.js'), import('./adapters/anthropic/prompts.js')]);
  return createClaudeSummarizer({
    apiKey: config.env.ANTHROPIC_API_KEY,
    baseURL: config.env.ANTHROPIC_BASE_URL ?? null,
    model: config.anthropicModel,
    maxTokens: config.file.claude.max_tokens,
    timeoutMs: config.file.claude.timeout_ms,
    maxRetries: config.file.claude.max_retries,
    transcriptBudgetTokens: config.file.claude.transcript_budget_tokens,
    logger: logger.child({ component: 'claude' }),
    metrics: { registry: metrics.registry },
    prompts: new PromptRenderer({ overrides: config.file.prompts }),
    fallback,
    clock,
  });
}

/**
 * Build the whole bot from config: store, ports, services, Bolt listeners and background jobs.
 * Nothing listens on a port here (server.ts does), so tests can build an app and drive it.
 */
export async function buildFirebreak(config: Config, opts: BuildOptions): Promise<Firebreak> {
  const { logger } = opts;
  const clock = opts.clock ?? systemClock;
  const metrics = opts.metrics ?? createMetrics();
  const store = opts.store ?? (await openAndMigrate(config.databaseUrl, { logger: logger.child({ component: 'store' }) }));
  const token = config.env.SLACK_BOT_TOKEN!;
  const chat = new SlackChat({ token, apiUrl: config.slackApiUrl, logger, ...(opts.slackRetries !== undefined ? { retries: opts.slackRetries } : {}) });
  const [backend, summarizer, oncall] = await Promise.all([
    opts.backend ?? buildBackend(config, store, logger),
    opts.summarizer ?? buildSummarizer(config, logger, metrics, clock),
    opts.oncall ?? buildOnCall(config, logger),
  ]);
  const jobs = new JobRunner(store, logger.child({ component: 'jobs' }), clock, metrics, {
    ...opts.jobs,
    onDead: async (job, err) => {
      const p = job.payload as { incidentId?: string; notify?: { channelId: string; userId: string } | null };
      const tries = `${job.attempts} attempt${job.attempts === 1 ? '' : 's'}`;
      const text = `:warning: A background task (${job.kind}) failed for good after ${tries}: ${(err as Error)?.message ?? err}. The record is kept; a person needs to look.`;
      // Seen by the person who started it and, when there is one, by the incident channel.
      const incident = p.incidentId ? await store.getIncident(p.incidentId) : null;
      await Promise.allSettled([
        p.notify ? chat.postEphemeral(p.notify.channelId, p.notify.userId, text) : Promise.resolve(),
        incident?.channelId ? chat.post(incident.channelId, `${text} (${incidentLabel(incident)})`) : Promise.resolve(),
      ]);
    },
  });
  const deps: Deps = { config, store, chat, backend, oncall, summarizer, clock, logger, metrics, jobs, newId: randomUUID };

  jobs.register(DECLARE_FLOW_JOB, async (payload, job) => {
    const p = payload as Parameters<typeof runDeclareFlow>[1];
    try {
      await runDeclareFlow(deps, p);
    } catch (err) {
      // The backend refused the record (a field it rejects, a key without the scope): retrying the
      // same request cannot help. Stop now and tell the declarer why; Slack's side is already done.
      if (err instanceof BackendError && (err.code === 'backend.validation' || err.code === 'backend.auth'))
        throw new PermanentJobError(`the incident was not recorded in ${backend.name}: ${userMessage(err).replace(/^:warning: /, '')}`);
      // Tell the declarer once, at the first failure, that we are on it; the job retries.
      if (job.attempts === 1 && p.notify)
        await chat
          .postEphemeral(p.notify.channelId, p.notify.userId, `:hourglass: Setting up the incident hit an error (${(err as Error).message}). Firebreak kept the record and is retrying.`)
          .catch(() => undefined);
      throw err;
    }
  });
  jobs.register(BRIEF_JOB, async (p) => postBrief(deps, (p as { incidentId: string }).incidentId));
  jobs.register(REFRESH_JOB, async (p) => refreshIncidentViews(deps, (p as { incidentId: string }).incidentId));
  jobs.register(BACKEND_SYNC_JOB, async (p) => syncToBackend(deps, p as { incidentId: string } & BackendOp));
  jobs.register(POSTMORTEM_JOB, async (p) => {
    const { incidentId, check } = p as { incidentId: string; check?: number };
    await postPostmortem(deps, incidentId, null, { reuse: true, check: check ?? 0 });
  });
  jobs.register(CLAUDE_PROPOSE_JOB, async (p) => {
    await proposeFromClaude(deps, (p as { incidentId: string }).incidentId);
  });
  // Housekeeping, once an hour on one replica (the job key is the hour): replay-protection keys
  // outlive their 5-minute windows by a day, finished jobs are kept a week for inspection.
  jobs.register(MAINTENANCE_JOB, async () => {
    const now = clock.now().getTime();
    const keys = await store.pruneProcessed(new Date(now - 24 * 3600_000));
    const done = await store.pruneJobs(new Date(now - 7 * 24 * 3600_000));
    if (keys || done) logger.info({ keys, jobs: done }, 'housekeeping: pruned old replay keys and finished jobs');
  });
  registerApprovalJobs(deps);
  registerAlertJobs(deps);
  registerBackendEventJobs(deps);
  registerPagingJobs(deps);
  registerReminderJobs(deps);
  registerFollowupJobs(deps);

  const boltLogger = slackLogger(logger.child({ component: 'bolt' }));
  let receiver: HTTPReceiver | null = null;
  let bolt: App;
  if (config.slackMode === 'socket') {
    bolt = new App({
      token,
      appToken: config.env.SLACK_APP_TOKEN!,
      socketMode: true,
      logger: boltLogger,
      logLevel: LogLevel.WARN,
      clientOptions: { slackApiUrl: config.slackApiUrl },
      installerOptions: { clientOptions: { slackApiUrl: config.slackApiUrl } },
      convoStore: false,
      deferInitialization: true,
    });
  } else {
    receiver = new HTTPReceiver({
      signingSecret: config.env.SLACK_SIGNING_SECRET!,
      endpoints: '/slack/events',
      processBeforeResponse: false,
      logger: boltLogger,
      logLevel: LogLevel.WARN,
      unhandledRequestTimeoutMillis: 2900,
      // Runs after the signature is verified: the signature goes to the context, where the
      // replay check below finds it.
      customPropertiesExtractor: (req) => ({ slackSignature: String(req.headers['x-slack-signature'] ?? '') }),
    });
    // convoStore off: the bot keeps no per-conversation state in Bolt (the store is ours), and the
    // middleware would cost every request a lookup before the ack.
    bolt = new App({
      token,
      receiver,
      logger: boltLogger,
      logLevel: LogLevel.WARN,
      convoStore: false,
      clientOptions: { slackApiUrl: config.slackApiUrl, retryConfig: { retries: 2 } },
      deferInitialization: true,
    });
  }
  if (config.slackMode === 'socket') {
    // In HTTP mode the server times each request to its ack; over a socket there is no HTTP
    // request, so the same histogram is fed here, from the envelope's arrival to its ack.
    const process = bolt.processEvent.bind(bolt);
    bolt.processEvent = async (event) => {
      const started = performance.now();
      const ack = event.ack;
      event.ack = async (response) => {
        await ack(response);
        metrics.ackSeconds.observe({ kind: 'slack' }, (performance.now() - started) / 1000);
        metrics.slackRequests.inc({ kind: 'slack', outcome: 'acked' });
      };
      return process(event);
    };
  }
  bolt.error(async (err) => {
    logger.error({ err, errorId: randomUUID().slice(0, 8) }, 'unhandled error in a Slack listener');
  });
  bolt.use(async (args) => {
    const body = args.body as { api_app_id?: string; team_id?: string; team?: { id?: string } | null };
    // A request for another workspace (a shared signing secret, a misrouted app) changes nothing here.
    const team = body.team_id ?? body.team?.id;
    const ours = chat.teamId();
    if (ours && team && team !== ours) {
      logger.warn({ team }, 'Slack request for another workspace refused');
      if ('ack' in args && typeof args.ack === 'function') await (args.ack as () => Promise<void>)();
      return;
    }
    // A replayed request (same signature within Slack's five-minute window) is acknowledged and
    // ignored: no second effect. The store holds the signatures, so every replica sees them.
    const sig = (args.context as { slackSignature?: string }).slackSignature;
    if (sig && !(await store.markProcessed(`slack-sig:${sig.slice(0, 80)}`, clock.now()))) {
      logger.warn('replayed Slack request ignored');
      if ('ack' in args && typeof args.ack === 'function') await (args.ack as () => Promise<void>)();
      return;
    }
    await args.next();
  });
  registerCommands(bolt, deps);
  registerViews(bolt, deps);
  registerActions(bolt, deps);
  registerEvents(bolt, deps);
  registerApprovalListeners(bolt, deps);
  registerFollowThroughListeners(bolt, deps);

  let slackOk = false;
  let backendCheck = 'not checked';
  // Whether the bot can post in ANNOUNCE_CHANNEL: conversations.info at most once a minute while it
  // can, every 15 s while it cannot (so inviting the bot shows up soon).
  const announceChannel = config.env.ANNOUNCE_CHANNEL;
  let announceCheck: { at: number; text: string } | null = null;
  const checkAnnounce = async (): Promise<string> => {
    const now = clock.now().getTime();
    if (announceCheck && now - announceCheck.at < (announceCheck.text === 'ok' ? 60_000 : 15_000)) return announceCheck.text;
    let text: string;
    try {
      const problem = await chat.postingProblem(announceChannel!);
      text = problem ? `cannot post in ANNOUNCE_CHANNEL: ${problem}` : 'ok';
    } catch (err) {
      text = `not checked: ${(err as Error).message}`;
    }
    if (text !== 'ok' && text !== announceCheck?.text) logger.warn({ check: 'announce' }, text);
    announceCheck = { at: now, text };
    return text;
  };
  let backendVerify: Promise<unknown> = Promise.resolve();
  let maintenanceTimer: NodeJS.Timeout | null = null;
  return {
    deps,
    bolt,
    slackListener: receiver ? receiver.requestListener : null,
    async start() {
      await chat.init().catch((err) => {
        throw startupFailure(err, `${config.slackApiUrl}auth.test`, 'SLACK_BOT_TOKEN');
      }); // auth.test: proves the token, learns the bot user id
      slackOk = true;
      if (announceChannel) void checkAnnounce(); // warns in the log at start, not only on /readyz
      await bolt.init();
      if (config.slackMode === 'socket') await startSocketMode(bolt, config.slackApiUrl);
      jobs.start();
      const hourly = () => void jobs.enqueue(MAINTENANCE_JOB, {}, { key: `maintenance:${Math.floor(clock.now().getTime() / 3600_000)}` }).catch((err) => logger.warn({ err }, 'scheduling housekeeping failed'));
      hourly();
      maintenanceTimer = setInterval(hourly, 10 * 60_000);
      maintenanceTimer.unref();
      // The key is checked once at start (a bad key fails readiness at once, not at the first
      // incident); start() does not wait for it, so a slow backend never delays Slack acks.
      backendVerify = backend
        .verify()
        .then(() => (backendCheck = 'ok'))
        .catch((err) => {
          backendCheck = `failed: ${(err as Error).message}`;
          logger.error({ err }, `the ${backend.name} backend refused the credentials check`);
        });
    },
    async stop() {
      if (maintenanceTimer) clearInterval(maintenanceTimer);
      await jobs.stop();
      if (config.slackMode === 'socket') await bolt.stop().catch(() => undefined);
      await store.close();
    },
    async ready() {
      const checks: Record<string, string> = {};
      try {
        await store.ping();
        checks.store = 'ok';
      } catch (err) {
        checks.store = `failed: ${(err as Error).message}`;
      }
      checks.slack = slackOk ? 'ok' : 'not connected';
      await Promise.race([backendVerify, new Promise((r) => setTimeout(r, 2000).unref())]);
      checks.backend = backendCheck;
      // Reported, not fatal: a replica that cannot announce still runs incidents, and taking every
      // replica out of the load balancer for it would stop far more than announcements.
      const warnings: string[] = [];
      if (announceChannel && slackOk) {
        checks.announce = await checkAnnounce();
        if (checks.announce !== 'ok') warnings.push(checks.announce);
      }
      const claudeProblem = summarizer.problem?.() ?? null;
      if (claudeProblem) {
        checks.claude = claudeProblem;
        warnings.push(claudeProblem);
      }
      return { ok: checks.store === 'ok' && slackOk && backendCheck === 'ok', checks, ...(warnings.length ? { warnings } : {}) };
    },
  };
}

/**
 * A start-up call to Slack that failed, as one line an operator can act on: which URL, what came
 * back, and which setting to check. Slack's own refusals name the token; the rest are the network.
 */
function startupFailure(err: unknown, url: string, tokenVar: 'SLACK_BOT_TOKEN' | 'SLACK_APP_TOKEN'): Error {
  const slackError = err instanceof ChatError ? err.slackError : ((err as { data?: { error?: string } })?.data?.error ?? null);
  const refusals: Record<string, string> = {
    invalid_auth: `${tokenVar} is not valid for this workspace (copy it again from the app's settings)`,
    not_authed: `${tokenVar} was not sent`,
    account_inactive: `${tokenVar} belongs to an app that was uninstalled or a deleted account (reinstall the app)`,
    token_revoked: `${tokenVar} was revoked (reinstall the app and copy the new token)`,
    missing_scope: `${tokenVar} lacks a scope (connections:write for SLACK_APP_TOKEN; reinstall the app from manifest.yml for the bot)`,
    invalid_token: `${tokenVar} is not a token Slack accepts here (SLACK_APP_TOKEN must be the app-level xapp- token)`,
  };
  if (slackError && slackError !== 'request_failed' && slackError in refusals)
    return new Error(`Slack refused the call to ${url} (${slackError}): ${refusals[slackError]}`, { cause: err });
  const cause = rootCause(err);
  return new Error(
    `could not reach Slack at ${url} (${cause}): check SLACK_API_URL (default https://slack.com/api/), DNS, and any outbound proxy or firewall on this host`,
    { cause: err },
  );
}

/** The innermost error's code or message (ECONNREFUSED, ENOTFOUND, a TLS error...). */
function rootCause(err: unknown): string {
  // Our errors wrap with `cause`, @slack/web-api's request errors with `original`.
  let e = err as { cause?: unknown; original?: unknown; code?: unknown; message?: unknown } | undefined;
  for (let i = 0; i < 6 && e && typeof e === 'object' && (e.cause || e.original); i++) e = (e.cause ?? e.original) as typeof e;
  const code = typeof e?.code === 'string' ? e.code : null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

/**
 * Socket Mode: apps.connections.open with the app token, then a WebSocket to the URL Slack gives.
 * Either step failing stops start-up with the URL that failed (the ticket query string removed:
 * it is a single-use credential) and what to check.
 */
async function startSocketMode(bolt: App, slackApiUrl: string): Promise<void> {
  const client = (bolt as unknown as { receiver?: { client?: import('node:events').EventEmitter } }).receiver?.client;
  let wsUrl: string | null = null;
  client?.on('authenticated', (r: { url?: string }) => {
    if (r.url) wsUrl = r.url.split('?')[0]!;
  });
  try {
    await bolt.start();
  } catch (err) {
    if (!wsUrl) throw startupFailure(err, `${slackApiUrl}apps.connections.open`, 'SLACK_APP_TOKEN');
    throw new Error(
      `could not open the Socket Mode WebSocket at ${wsUrl} (${rootCause(err)}): outbound WebSocket connections (wss://, port 443) must be allowed from this host; behind a proxy that blocks them, use HTTP mode (SLACK_SIGNING_SECRET) instead`,
      { cause: err },
    );
  }
}
