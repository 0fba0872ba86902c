import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { refuseIfSqliteInUse } from '../adapters/store/index.js';
import type { AppError } from '../errors.js';
import { dirname, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Route } from '../http/routes.js';
import { INCIDENTS_CHANNEL_ID, SRE_LEADS_GROUP_ID, startSlackEmulator } from '../emulator/slack/index.js';
import { DEMO_EXECUTOR_SECRET_ENV, startDemoExecutor } from './demo-executor.js';
import { DEMO_PAGER_KEY_ENV, startDemoPager } from './demo-pager.js';
import { SEED_PEOPLE } from '../emulator/slack/index.js';
import { sandboxRoutes } from './routes.js';
import { loadRunbooks } from '../config-runbooks.js';
import { packageRoot } from './routes.js';
import { startDemoService, type DemoService } from './demo-service.js';
import { isLoopbackHost } from './host.js';

/**
 * Sandbox mode: the real bot against a Slack workspace emulated in this process, with a browser
 * console at `/sandbox` to play every person in that workspace.
 *
 * Only Slack is emulated. The bot's Bolt HTTP receiver gets requests signed with a generated
 * secret, its Web API client talks to the emulator over loopback, and the store, backend,
 * summariser and approval gate are the ones production uses.
 */
export interface Sandbox {
  /** The config the bot must be built with: Slack pointed at the emulator. */
  config: Config;
  /** Per-run random token every console API call must carry; it is in the URL printed at start. */
  token: string;
  /** The console URL to print, token included. */
  consoleUrl(port: number): string;
  /** A bearer token for `/mcp` as the agent `sandbox-agent` (read, update, propose, runbooks); printed at start. */
  agentToken: string;
  /** The console and its API, served on the bot's own HTTP server. */
  routes: Route[];
  close(): Promise<void>;
}

/** Tokens the sandbox makes itself; anything else that looks like a Slack token is a real one. */
export const SANDBOX_TOKEN_PREFIX = 'xoxb-sandbox-';
/** The MCP agent every sandbox run declares (docs/agents.md). */
export const SANDBOX_AGENT = 'sandbox-agent';

export class SandboxRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxRefusedError';
  }
}

/**
 * Refuse when real Slack credentials are present: a sandbox that quietly ignored a real token
 * could be mistaken for production during a drill (or production for a drill).
 */
function assertNoRealSlack(config: Config): void {
  const token = config.env.SLACK_BOT_TOKEN;
  if (token && !token.startsWith(SANDBOX_TOKEN_PREFIX))
    throw new SandboxRefusedError(
      'sandbox mode refused: SLACK_BOT_TOKEN is set to a real-looking Slack token. Unset it to use the sandbox, or start Firebreak normally to use that workspace.',
    );
  if (config.env.SLACK_APP_TOKEN)
    throw new SandboxRefusedError(
      'sandbox mode refused: SLACK_APP_TOKEN is set. Unset it to use the sandbox, or set SLACK_BOT_TOKEN too to use the real workspace.',
    );
  if (config.slackMode !== 'sandbox') throw new SandboxRefusedError(`sandbox mode refused: Slack mode is "${config.slackMode}", not "sandbox".`);
}

/**
 * The sandbox is local by construction: the backend is the local one, no configured executor is
 * ever called, and nothing that belongs to production may be in reach. Anything of the kind in the
 * environment stops it with a line naming it (never its value). ANTHROPIC_API_KEY stays allowed:
 * real Claude is the best demo and reaches nothing of the team's.
 */
function assertLocalOnly(config: Config, env: NodeJS.ProcessEnv): void {
  const problems: string[] = [];
  const e = config.env;
  for (const name of ['ROOTLY_API_KEY', 'INCIDENTIO_API_KEY', 'ROOTLY_WEBHOOK_SECRET', 'INCIDENTIO_WEBHOOK_SECRET'] as const)
    if (e[name])
      problems.push(
        `${name} is set: the sandbox uses the local backend only. Unset it (or connect a real Slack workspace to use ${name.startsWith('ROOTLY') ? 'Rootly' : 'incident.io'}).`,
      );
  if (e.INCIDENT_BACKEND && e.INCIDENT_BACKEND !== 'local') problems.push(`INCIDENT_BACKEND=${e.INCIDENT_BACKEND}: the sandbox uses the local backend only.`);
  const secretNames = [...new Set(config.actions.flatMap((a) => (a.executor.type === 'webhook' ? [a.executor.secret_env] : [])))];
  for (const name of secretNames)
    if (env[name]) problems.push(`${name} is set: executor secrets are not used in the sandbox (no configured executor is ever called). Unset it.`);
  const db = config.databaseUrl;
  if (db && !db.startsWith('sqlite:'))
    problems.push(
      'DATABASE_URL points at PostgreSQL: the sandbox keeps its records in a SQLite file of its own (unset DATABASE_URL, or use sqlite:/tmp/drill.db).',
    );
  else if (db && resolve(db.slice('sqlite:'.length)) === resolve('data', 'firebreak.db'))
    problems.push(
      'DATABASE_URL is the production default ./data/firebreak.db: the sandbox must not write to it (unset DATABASE_URL, or use sqlite:/tmp/drill.db).',
    );
  if (!isLoopbackHost(config.host) && !(e.SANDBOX_ALLOW_REMOTE === '1' || e.SANDBOX_ALLOW_REMOTE === 'true'))
    problems.push(
      `HOST=${config.host} is not a loopback address: the console can press Approve. Set SANDBOX_ALLOW_REMOTE=1 to serve it to other machines anyway.`,
    );
  if (problems.length) throw new SandboxRefusedError(`sandbox mode refused:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
}

/** Every configured executor becomes a dry run: in the sandbox nothing from firebreak.yml or the environment is ever called. */
function dryRunActions(actions: Config['actions']): Config['actions'] {
  return actions.map((a) =>
    a.executor.type === 'dry_run' || a.executor.type === 'none' ? a : { ...a, executor: { type: 'dry_run' as const, would: a.executor } },
  );
}

export async function startSandbox(config: Config, logger: Logger, processEnv: NodeJS.ProcessEnv = process.env): Promise<Sandbox> {
  assertNoRealSlack(config);
  assertLocalOnly(config, processEnv);
  const log = logger.child({ component: 'sandbox' });
  if (!isLoopbackHost(config.host))
    log.warn(
      { host: config.host },
      `SANDBOX_ALLOW_REMOTE: the sandbox console is served on ${config.host}, reachable from other machines; it is guarded only by the token in the printed URL`,
    );
  // The emulated workspace is new on every start, so records from an earlier run would point at
  // channels that no longer exist: unless DATABASE_URL says otherwise, each run gets a fresh
  // SQLite file of its own, apart from the production default ./data/firebreak.db. Not while a
  // sandbox still runs on it (a second `npm run sandbox` on another port): that one is refused
  // (`store.in_use`) before anything is deleted or started.
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const file = resolve('data', 'sandbox.db');
    mkdirSync(dirname(file), { recursive: true });
    if (existsSync(file))
      await refuseIfSqliteInUse(file).catch((err: AppError) => {
        // Anything else (an unreadable file from a crashed run) is for the fresh start to replace.
        if (err.code !== 'store.in_use') return;
        throw new SandboxRefusedError(
          `another sandbox (pid ${err.detail.pid}) is running on ${file}: stop it first, or give this one a file of its own (DATABASE_URL=sqlite:/tmp/drill.db)`,
        );
      });
    for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    databaseUrl = `sqlite:${file}`;
  }
  const token = randomBytes(16).toString('hex');
  const botToken = `${SANDBOX_TOKEN_PREFIX}${randomBytes(12).toString('hex')}`;
  const signingSecret = randomBytes(24).toString('hex');
  // Loopback only: the emulated workspace is never reachable from another machine.
  const emulator = await startSlackEmulator({ botToken, host: '127.0.0.1', port: 0 });

  // The sandbox's own webhook receiver: the default risky actions call it, so a drill shows a real result.
  let notify = () => {};
  const executor = await startDemoExecutor({ onCall: () => notify() });
  // The sandbox's own pager (PagerDuty Events v2), so paging in a drill makes a real call.
  const pager = await startDemoPager({ onPage: () => notify() });

  const env = {
    ...config.env,
    [DEMO_EXECUTOR_SECRET_ENV]: executor.secret,
    SLACK_BOT_TOKEN: botToken,
    SLACK_SIGNING_SECRET: signingSecret,
    SLACK_API_URL: emulator.apiUrl,
    ANNOUNCE_CHANNEL: config.env.ANNOUNCE_CHANNEL ?? INCIDENTS_CHANNEL_ID,
    // The alerts panel fires signed sample alerts; without a secret the webhook routes would refuse them.
    ALERT_WEBHOOK_SECRET: config.env.ALERT_WEBHOOK_SECRET ?? randomBytes(24).toString('hex'),
    // Datadog and Alertmanager send a token in clear: a value of its own, never the HMAC key above.
    ALERT_WEBHOOK_TOKEN: config.env.ALERT_WEBHOOK_TOKEN ?? randomBytes(24).toString('hex'),
    // PagerDuty signs with its own secret and has no shared fallback in the webhook routes.
    PAGERDUTY_WEBHOOK_SECRET: config.env.PAGERDUTY_WEBHOOK_SECRET ?? randomBytes(24).toString('hex'),
    PAGERDUTY_EVENTS_URL: pager.url,
  };
  // Who is eligible for command in the emulated workspace, unless firebreak.yml says: alice (the
  // drill's commander) and the @sre-leads group. They may take command of incidents opened by sample
  // alerts, and commanding gives them approval; dave and erin may declare and command, but the
  // commander role approves nothing for them (the README's trust model). alice is SEED_PEOPLE[0].
  const approvals = {
    ...config.file.approvals,
    eligible_commanders: config.file.approvals.eligible_commanders ?? { users: [SEED_PEOPLE[0].id], usergroups: [SRE_LEADS_GROUP_ID] },
  };
  // Runbooks in the sandbox: no command steps and no header secrets (a drill never reaches into real systems with real credentials).
  const runbooks = { ...config.file.runbooks, allow_commands: false };
  // Executors from firebreak.yml never run here (dry run: the message shows what would have been
  // sent); actions with no executor call the sandbox's own demo receiver, so a drill shows a real
  // signed call and its answer. The only executor secret is the demo's, made for this run.
  const agentToken = `fbagent-sandbox-${randomBytes(24).toString('hex')}`;
  // A fake on-call schedule and paging targets, unless firebreak.yml brings its own: Carol and Dave
  // take 8-hour turns from this morning; `checkout` and `api` incidents invite whoever is on call;
  // `/incident page platform` (or the card's Page button) pages through the sandbox's pager.
  const own = config.file.oncall;
  const dayStart = new Date();
  dayStart.setUTCHours(0, 0, 0, 0);
  const oncall = {
    ...own,
    targets: [...own.targets.filter((t) => !t.routing_key_env), { name: 'platform', type: 'service' as const, routing_key_env: DEMO_PAGER_KEY_ENV }],
    schedules: own.schedules.length
      ? own.schedules
      : [{ id: 'sandbox-primary', users: [SEED_PEOPLE[2].id, SEED_PEOPLE[3].id], shift_hours: 8, start: dayStart.toISOString() }],
    services: Object.keys(own.services).length ? own.services : { checkout: { schedule: 'sandbox-primary' }, api: { schedule: 'sandbox-primary' } },
  };
  let sandboxConfig: Config = {
    ...config,
    runbookEnv: config.runbookEnv.PATH ? { PATH: config.runbookEnv.PATH } : {},
    file: { ...config.file, approvals, runbooks, oncall },
    env,
    slackMode: 'sandbox',
    slack: { mode: 'http', botToken, signingSecret },
    slackApiUrl: emulator.apiUrl,
    databaseUrl,
    backend: 'local',
    actions: executor.wire(dryRunActions(config.actions)),
    executorSecrets: { [DEMO_EXECUTOR_SECRET_ENV]: executor.secret },
    // An MCP agent for trying docs/agents.md against the sandbox: its proposals reach the console
    // as approval messages like any other, and only a person there decides them.
    agents: [
      ...config.agents.filter((a) => a.name !== SANDBOX_AGENT),
      {
        name: SANDBOX_AGENT,
        token: agentToken,
        scopes: ['read', 'update', 'propose', 'runbooks'],
        incidents: null,
        ratePerMinute: 120,
        incidentRatePerMinute: 30,
      },
    ],
    pagerdutyRoutingKeys: { [DEMO_PAGER_KEY_ENV]: pager.routingKey },
  };

  // With no runbooks of the team's own, the sandbox ships two examples (examples/runbooks/) that
  // read from a small demo service on loopback, so a drill can run one end to end.
  let demo: DemoService | null = null;
  if (!config.runbooks.length) {
    demo = await startDemoService();
    const base = demo.url;
    const examples = loadRunbooks(
      { allow_commands: false, folder: 'examples/runbooks', max_output_chars: config.file.runbooks.max_output_chars, definitions: [] },
      { baseDir: packageRoot(), env: {}, actions: config.actions, rewrite: (text) => text.replaceAll('http://demo.sandbox.invalid', base) },
    );
    if (examples.problems.length) log.warn({ problems: examples.problems }, 'the example runbooks did not load');
    else {
      sandboxConfig = { ...sandboxConfig, runbooks: examples.runbooks, runbookEnv: { ...sandboxConfig.runbookEnv, ...examples.env } };
      log.info(
        { runbooks: examples.runbooks.map((r) => r.id), demo: base },
        'sandbox: loaded the example runbooks (examples/runbooks/) against a demo service on loopback',
      );
    }
  }

  log.warn(
    { emulator: emulator.url },
    'SANDBOX MODE: no real Slack workspace is connected; Slack is emulated in this process and the console is at /sandbox. ' +
      'To connect a real workspace, create the Slack app from manifest.yml and set SLACK_BOT_TOKEN with SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode).',
  );

  const api = sandboxRoutes({ emulator, config: sandboxConfig, signingSecret, logger: log, token, allowRemote: !isLoopbackHost(config.host), executor, pager });
  notify = api.notify;
  return {
    config: sandboxConfig,
    token,
    agentToken,
    consoleUrl: (port) => `http://localhost:${port}/sandbox?token=${token}`,
    routes: api.routes,
    async close() {
      api.close();
      await Promise.all([emulator.close(), executor.close(), demo?.close()]);
      await Promise.all([emulator.close(), executor.close(), pager.close()]);
    },
  };
}
