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
  /**
   * Wait until the bot has finished everything it was handed: no Slack request (HTTP or socket
   * envelope) is still in its listeners and no job is running. The positive signal to wait for before
   * asserting that something did NOT happen, instead of sleeping.
   */
  settled(ms?: number): Promise<void>;
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
  const settled = settledProbe(fb);
  const { server } = createHttpServer(fb);
  const port = await listen(server, 0, '127.0.0.1');
  await fb.start();
  const url = `http://127.0.0.1:${port}`;
  const driver = socket
    ? new SlackDriver({ emulator, transport: 'socket' })
    : new SlackDriver({ emulator, requestUrl: `${url}/slack/events`, signingSecret: SIGNING_SECRET });
  let stopped: Promise<void> | null = null;
  let closed = false;
  const stop = () => (stopped ??= fb.stop());
  const waitFor: Bot['waitFor'] = async (check, ms = 5000, what = 'condition') => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await check();
      if (v) return v as NonNullable<Awaited<typeof v>>;
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return {
    stop,
    fb,
    emulator,
    driver,
    server,
    url,
    logs,
    waitFor,
    settled,
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

/**
 * `settled()` for a built bot: resolves once no Slack request is in its listeners and no job is
 * running, twice in a row (a listener may enqueue a job; a job's Slack call may bring an event back).
 * Slack requests are counted at `processEvent`, which both receivers call before the ack (events
 * are acked before the middleware even runs), so a request whose HTTP answer has arrived is counted.
 */
export function settledProbe(fb: Firebreak): (ms?: number) => Promise<void> {
  let inflight = 0;
  const processEvent = fb.bolt.processEvent.bind(fb.bolt);
  fb.bolt.processEvent = async (event) => {
    inflight++;
    try {
      return await processEvent(event);
    } finally {
      inflight--;
    }
  };
  return async (ms = 5000) => {
    const deadline = Date.now() + ms;
    for (let quiet = 0; quiet < 2; ) {
      while (inflight > 0) {
        if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${inflight} Slack request(s) to finish`);
        await new Promise((r) => setTimeout(r, 5));
      }
      await fb.deps.jobs.idle();
      quiet = inflight === 0 ? quiet + 1 : 0;
      await new Promise((r) => setImmediate(r));
    }
  };
}
