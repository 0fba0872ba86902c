import { mkdirSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Route } from '../http/routes.js';
import { INCIDENTS_CHANNEL_ID, startSlackEmulator } from '../emulator/slack/index.js';
import { sandboxRoutes } from './routes.js';
import { loadRunbooks } from '../config-runbooks.js';
import { packageRoot } from './routes.js';
import { startDemoService, type DemoService } from './demo-service.js';

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
  /** The console and its API, served on the bot's own HTTP server. */
  routes: Route[];
  close(): Promise<void>;
}

/** Tokens the sandbox makes itself; anything else that looks like a Slack token is a real one. */
export const SANDBOX_TOKEN_PREFIX = 'xoxb-sandbox-';

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
    throw new SandboxRefusedError('sandbox mode refused: SLACK_APP_TOKEN is set. Unset it to use the sandbox, or set SLACK_BOT_TOKEN too to use the real workspace.');
  if (config.slackMode !== 'sandbox') throw new SandboxRefusedError(`sandbox mode refused: Slack mode is "${config.slackMode}", not "sandbox".`);
}

export async function startSandbox(config: Config, logger: Logger): Promise<Sandbox> {
  assertNoRealSlack(config);
  const log = logger.child({ component: 'sandbox' });
  const botToken = `${SANDBOX_TOKEN_PREFIX}${randomBytes(12).toString('hex')}`;
  const signingSecret = randomBytes(24).toString('hex');
  // Loopback only: the emulated workspace is never reachable from another machine.
  const emulator = await startSlackEmulator({ botToken, host: '127.0.0.1', port: 0 });

  const env = {
    ...config.env,
    SLACK_BOT_TOKEN: botToken,
    SLACK_SIGNING_SECRET: signingSecret,
    SLACK_API_URL: emulator.apiUrl,
    ANNOUNCE_CHANNEL: config.env.ANNOUNCE_CHANNEL ?? INCIDENTS_CHANNEL_ID,
    // The alerts panel fires signed sample alerts; without a secret the webhook routes would refuse them.
    ALERT_WEBHOOK_SECRET: config.env.ALERT_WEBHOOK_SECRET ?? randomBytes(24).toString('hex'),
    // PagerDuty signs with its own secret and has no shared fallback in the webhook routes.
    PAGERDUTY_WEBHOOK_SECRET: config.env.PAGERDUTY_WEBHOOK_SECRET ?? randomBytes(24).toString('hex'),
  };
  // The emulated workspace is new on every start, so records from an earlier run would point at
  // channels that no longer exist: unless DATABASE_URL says otherwise, each run gets a fresh
  // SQLite file of its own, apart from the production default ./data/firebreak.db.
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const file = resolve('data', 'sandbox.db');
    mkdirSync(dirname(file), { recursive: true });
    for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    databaseUrl = `sqlite:${file}`;
  }
  let sandboxConfig: Config = { ...config, env, slackMode: 'sandbox', slackApiUrl: emulator.apiUrl, databaseUrl };

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
      log.info({ runbooks: examples.runbooks.map((r) => r.id), demo: base }, 'sandbox: loaded the example runbooks (examples/runbooks/) against a demo service on loopback');
    }
  }

  log.warn(
    { emulator: emulator.url },
    'SANDBOX MODE: no real Slack workspace is connected; Slack is emulated in this process and the console is at /sandbox. ' +
      'To connect a real workspace, create the Slack app from manifest.yml and set SLACK_BOT_TOKEN with SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode).',
  );

  const api = sandboxRoutes({ emulator, config: sandboxConfig, signingSecret, logger: log });
  return {
    config: sandboxConfig,
    routes: api.routes,
    async close() {
      api.close();
      await emulator.close();
      await demo?.close();
    },
  };
}
