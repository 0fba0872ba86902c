import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { buildFirebreak, type BuildOptions, type Firebreak } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createHttpServer, listen } from '../../src/server.js';
import { INCIDENTS_CHANNEL_ID, SlackDriver, startSlackEmulator, type SlackEmulator } from '../../src/emulator/slack/index.js';
import type { Server } from 'node:http';

export const BOT_TOKEN = 'xoxb-test-token';
export const SIGNING_SECRET = 'test-signing-secret-0123456789';
export const APP_TOKEN = 'xapp-1-A0FIREBRK-socket-test';

export interface Bot {
  fb: Firebreak;
  emulator: SlackEmulator;
  driver: SlackDriver;
  server: Server;
  url: string;
  /** Every log line the bot wrote, as text. */
  logs: string[];
  /** `fb.stop()` once (in Socket Mode this disconnects the socket); later calls do nothing. */
  stop(): Promise<void>;
  /** Wait until `check` returns a truthy value (polling), or fail after `ms`. */
  waitFor<T>(check: () => T | Promise<T>, ms?: number, what?: string): Promise<NonNullable<T>>;
  close(): Promise<void>;
}

export interface StartBotOptions {
  env?: Record<string, string>;
  /** Reuse an emulator (two bot instances against one workspace). */
  emulator?: SlackEmulator;
  build?: Partial<BuildOptions>;
  /** Emulator options when the harness starts one. */
  latencyMs?: number;
  /** The bot token's scopes in the emulator (default: manifest.yml's bot scopes). */
  scopes?: string[];
  rateLimits?: 'enforce' | 'off';
  /** 'http' (default): signed requests to /slack/events. 'socket': Socket Mode envelopes. */
  transport?: 'http' | 'socket';
}

/**
 * The real bot: real config parsing, real store (a temp SQLite file unless DATABASE_URL is given),
 * real Bolt receiver talking to the Slack emulator. In HTTP mode (the default) the driver signs
 * requests exactly as Slack does and posts them to /slack/events on a loopback port; in Socket Mode
 * (SLACK_APP_TOKEN set) it delivers the same payloads as envelopes over the emulator's socket, and
 * the HTTP server carries only health, readiness, metrics and webhooks.
 */
export async function startBot(opts: StartBotOptions = {}): Promise<Bot> {
  const socket = opts.transport === 'socket';
  const emulator =
    opts.emulator ??
    (await startSlackEmulator({
      botToken: BOT_TOKEN,
      rateLimits: opts.rateLimits ?? 'enforce',
      ...(socket ? { appToken: APP_TOKEN } : {}),
      ...(opts.latencyMs ? { latencyMs: opts.latencyMs } : {}),
      ...(opts.scopes ? { scopes: opts.scopes } : {}),
    }));
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-e2e-'));
  const config = loadConfig(
    {
      SLACK_BOT_TOKEN: BOT_TOKEN,
      ...(socket ? { SLACK_APP_TOKEN: APP_TOKEN } : { SLACK_SIGNING_SECRET: SIGNING_SECRET }),
      SLACK_API_URL: emulator.apiUrl,
      ANNOUNCE_CHANNEL: INCIDENTS_CHANNEL_ID,
      DATABASE_URL: `sqlite:${join(dir, 'firebreak.db')}`,
      PORT: '0',
      LOG_LEVEL: 'debug',
      ...opts.env,
    },
    dir,
  );
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const logger = createLogger({ level: config.logLevel, secrets: [BOT_TOKEN, SIGNING_SECRET, APP_TOKEN], destination: sink, pretty: false });
  const fb = await buildFirebreak(config, { logger, slackRetries: 0, jobs: { pollMs: 50 }, ...opts.build });
  const server = createHttpServer(fb);
  const port = await listen(server, 0, '127.0.0.1');
  await fb.start();
  const url = `http://127.0.0.1:${port}`;
  const driver = socket ? new SlackDriver({ emulator, transport: 'socket' }) : new SlackDriver({ emulator, requestUrl: `${url}/slack/events`, signingSecret: SIGNING_SECRET });
  let stopped: Promise<void> | null = null;
  let closed = false;
  const stop = () => (stopped ??= fb.stop());
  return {
    stop,
    fb,
    emulator,
    driver,
    server,
    url,
    logs,
    async waitFor(check, ms = 5000, what = 'condition') {
      const deadline = Date.now() + ms;
      for (;;) {
        const v = await check();
        if (v) return v as NonNullable<typeof v>;
        if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      server.closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
      // The bot before the emulator: its socket closes from its side, so it does not reconnect.
      await stop();
      if (!opts.emulator) await emulator.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
