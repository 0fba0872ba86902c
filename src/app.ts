import { randomUUID } from 'node:crypto';
import type { App, HTTPReceiver } from '@slack/bolt';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createLocalBackend } from './adapters/backend/local.js';
import { createFallbackSummarizer } from './adapters/fallback-summarizer.js';
import { SlackChat } from './adapters/slack/chat.js';
import { openBotStore } from './adapters/store/index.js';
import type { IncidentBackend } from './ports/backend.js';
import { systemClock, type Clock } from './ports/clock.js';
import type { Store } from './ports/store.js';
import type { Summarizer } from './ports/summarizer.js';
import type { OnCall } from './ports/oncall.js';
import { allJobs } from './services/all-jobs.js';
import { scheduleHistorySync } from './services/insights-sync.js';
import { scheduleDigest } from './services/insights.js';
import { createVegaChartRenderer } from './adapters/charts/vega.js';
import type { ChartRenderer } from './ports/charts.js';
import type { Deps } from './services/deps.js';
import { createActionExecutor } from './adapters/executors/index.js';
import { deadJobNotice, JobRunner, maintenanceJob } from './services/jobs.js';
import { buildBolt, startSocketMode, startupFailure } from './slack/bolt.js';
import { commandEarly } from './slack/listeners/commands.js';
import { declareModalAck } from './slack/listeners/views.js';
import { Views } from './slack/ids.js';
import { registerListeners } from './slack/listeners/index.js';
import { createStepRunners } from './adapters/runbook/step-runners.js';
import type { StepRunners } from './ports/step-runners.js';

export interface BuildOptions {
  logger: Logger;
  clock?: Clock;
  store?: Store;
  backend?: IncidentBackend;
  oncall?: OnCall;
  summarizer?: Summarizer;
  charts?: ChartRenderer;
  metrics?: Metrics;
  /** Override the job runner's timing (tests). */
  jobs?: { pollMs?: number; leaseMs?: number; workerId?: string };
  /** Slack Web API retries (tests use 0 to see errors at once). */
  slackRetries?: number;
  /** Runbook HTTP and command runners (default: the real ones). */
  stepRunners?: StepRunners;
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
        apiKey: requiredKey(config.env.ROOTLY_API_KEY, 'ROOTLY_API_KEY'),
        baseUrl: config.rootlyApiUrl,
        logger: log,
        createGuard: { get: (k) => store.getStep('rootly-create', k), put: (k, v) => store.putStep('rootly-create', k, v) },
      });
    }
    case 'incidentio': {
      const { createIncidentIoBackend } = await import('./adapters/backend/incidentio/backend.js');
      return createIncidentIoBackend({
        apiKey: requiredKey(config.env.INCIDENTIO_API_KEY, 'INCIDENTIO_API_KEY'),
        baseUrl: config.incidentioApiUrl,
        logger: log,
      });
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
      const [{ createLocalOnCall }, { createPagerDutyEvents }] = await Promise.all([
        import('./adapters/backend/local-oncall.js'),
        import('./adapters/pagerduty/events.js'),
      ]);
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
  const [{ createClaudeSummarizer }, { PromptRenderer }] = await Promise.all([
    import('./adapters/anthropic/claude-summarizer.js'),
    import('./adapters/anthropic/prompts.js'),
  ]);
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
  // The bot's own SQLite file is claimed for this process first: a second live process is refused
  // here, before any migration or reclaim touches the file.
  const owned = opts.store ? null : await openBotStore(config.databaseUrl, { logger: logger.child({ component: 'store' }) });
  const store = opts.store ?? owned!.store;
  if (!config.slack) throw new Error('no Slack credentials: set SLACK_BOT_TOKEN (and SLACK_SIGNING_SECRET or SLACK_APP_TOKEN), or run the sandbox');
  const slack = config.slack;
  const chat = new SlackChat({
    token: slack.botToken,
    apiUrl: config.slackApiUrl,
    logger,
    now: () => clock.now().getTime(),
    ...(opts.slackRetries !== undefined ? { retries: opts.slackRetries } : {}),
  });
  const [backend, summarizer, oncall] = await Promise.all([
    opts.backend ?? buildBackend(config, store, logger),
    opts.summarizer ?? buildSummarizer(config, logger, metrics, clock),
    opts.oncall ?? buildOnCall(config, logger),
  ]);
  const jobs = new JobRunner(store, logger.child({ component: 'jobs' }), clock, metrics, {
    ...opts.jobs,
    onDead: deadJobNotice(store, chat),
  });
  // Secrets come from the configuration that was checked at start (the variables `secret_env` names).
  const executor = createActionExecutor({ backend, webhook: { env: config.executorSecrets } });
  const charts = opts.charts ?? createVegaChartRenderer();
  const deps: Deps = {
    config,
    store,
    chat,
    charts,
    backend,
    executor,
    oncall,
    summarizer,
    clock,
    logger,
    metrics,
    jobs,
    newId: randomUUID,
  };

  // The jobs' context: the deps, and the runbook step runners (HTTP calls and commands).
  const jobContext = { ...deps, stepRunners: opts.stepRunners ?? createStepRunners() };
  for (const job of allJobs) jobs.register(job, jobContext);
  for (const w of config.warnings) logger.warn(w);

  const { bolt, requestListener } = buildBolt(slack, {
    slackApiUrl: config.slackApiUrl,
    logger,
    metrics,
    chat,
    store,
    clock,
    commandEarly: (text) => commandEarly(text, config.file.roles),
    viewAck: (callbackId, values) => (callbackId === Views.declare ? declareModalAck(values) : undefined),
    viewWorkFirst: (callbackId) => callbackId === Views.declare,
  });
  registerListeners(bolt, deps);

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
      const problem = announceChannel ? await chat.postingProblem(announceChannel) : null;
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
  let insightsTimer: NodeJS.Timeout | null = null;
  return {
    deps,
    bolt,
    slackListener: requestListener,
    async start() {
      await chat.init().catch((err) => {
        throw startupFailure(err, `${config.slackApiUrl}auth.test`, 'SLACK_BOT_TOKEN');
      }); // auth.test: proves the token, learns the bot user id
      slackOk = true;
      if (announceChannel) void checkAnnounce(); // warns in the log at start, not only on /readyz
      await bolt.init();
      if (slack.mode === 'socket') await startSocketMode(bolt, config.slackApiUrl);
      // SQLite has one process: what its previous run left leased is resumed now, not after the
      // lease, unless that run was on another host (alive or not is unknown: its leases run out).
      if (store.dialect === 'sqlite' && !opts.jobs?.workerId) await jobs.reclaimPreviousRun({ expire: owned?.previousRun !== 'elsewhere' });
      jobs.start();
      const hourly = () =>
        void jobs
          .enqueue(maintenanceJob, {}, { key: String(Math.floor(clock.now().getTime() / 3600_000)) })
          .catch((err) => logger.warn({ err }, 'scheduling housekeeping failed'));
      hourly();
      maintenanceTimer = setInterval(hourly, 10 * 60_000);
      maintenanceTimer.unref();
      // Insights: the backend history sync (one job per slot) and the weekly digest (one per ISO
      // week); every replica schedules, the job keys make each run happen once.
      const insights = () => {
        void scheduleHistorySync(deps).catch((err) => logger.warn({ err }, 'scheduling the history sync failed'));
        void scheduleDigest(deps).catch((err) => logger.warn({ err }, 'scheduling the weekly digest failed'));
      };
      insights();
      insightsTimer = setInterval(insights, 60_000);
      insightsTimer.unref();
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
      if (insightsTimer) clearInterval(insightsTimer);
      await jobs.stop();
      if (slack.mode === 'socket') await bolt.stop().catch(() => undefined);
      await owned?.release().catch((err) => logger.warn({ err }, 'releasing the database file failed'));
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

/** A backend key the config check already required for this backend (a config built by hand may lack it). */
function requiredKey(value: string | undefined, name: string): string {
  if (!value) throw new Error(`${name} is required for this backend`);
  return value;
}
