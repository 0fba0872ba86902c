/**
 * The fault tests' kit: a seeded PRNG (so a failing run can be replayed with its seed); a webhook
 * receiver that misbehaves on purpose yet honours `Idempotency-Key`, recording enough to tell
 * "executed once" from "delivered again after we already answered 2xx"; and, for the crash tests,
 * the real bot as a child process that can be SIGKILLed and restarted on the same SQLite file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after, before } from 'node:test';
import { startCountingServer, waitUntil, type CountingServer } from '../../bench/lib.js';
import { SlackDriver, startSlackEmulator, type SlackEmulator } from '../../src/emulator/slack/index.js';

/** mulberry32: tiny, fast, and good enough to spread faults; the point is replayability, not quality. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FAULT_SEED replays a run; otherwise a fresh seed each run so CI explores new interleavings. */
export function pickSeed(): number {
  const fromEnv = process.env.FAULT_SEED;
  if (fromEnv && /^\d+$/.test(fromEnv)) return Number(fromEnv) >>> 0;
  return (Math.random() * 2 ** 32) >>> 0;
}

export interface KeyRecord {
  /** Every request that carried this key. */
  deliveries: number;
  /** Times the side effect ran (a receiver honouring the key runs it at most once). */
  executions: number;
  /** 2xx answers whose bytes were fully handed to the socket (the bot could have read them). */
  answered2xx: number;
  /** Deliveries that arrived after a 2xx had already been fully answered for this key. */
  afterSuccess: number;
  badSignature: number;
}

export interface FaultyReceiver {
  url: string;
  keys: Map<string, KeyRecord>;
  /** Requests without an Idempotency-Key (there must be none). */
  unkeyed: number;
  /** While true, a share of requests fail: 500 before the effect, or the effect then a dropped socket. */
  setFaulty(on: boolean): void;
  close(): Promise<void>;
}

/**
 * A team's action endpoint under stress. With faults on: ~20% answer 500 without acting, ~15% act
 * and then drop the connection (the caller cannot know it worked). A repeated key is answered 200
 * without acting again, as the webhook contract in docs asks receivers to do.
 */
export async function startFaultyReceiver(secret: string, random: () => number): Promise<FaultyReceiver> {
  const keys = new Map<string, KeyRecord>();
  let unkeyed = 0;
  let faulty = true;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const key = String(req.headers['idempotency-key'] ?? '');
      if (!key) {
        unkeyed++;
        res.writeHead(400).end('missing Idempotency-Key');
        return;
      }
      const rec = keys.get(key) ?? { deliveries: 0, executions: 0, answered2xx: 0, afterSuccess: 0, badSignature: 0 };
      keys.set(key, rec);
      rec.deliveries++;
      if (rec.answered2xx > 0) rec.afterSuccess++;
      const ts = String(req.headers['x-firebreak-timestamp'] ?? '');
      const want = `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`;
      const got = String(req.headers['x-firebreak-signature'] ?? '');
      if (got.length !== want.length || !timingSafeEqual(Buffer.from(got), Buffer.from(want))) {
        rec.badSignature++;
        res.writeHead(401).end('bad signature');
        return;
      }
      const roll = faulty ? random() : 1;
      if (roll < 0.2) {
        res.writeHead(500).end('temporarily broken');
        return;
      }
      if (rec.executions === 0) rec.executions++;
      if (roll < 0.35) {
        // Acted, but the answer is lost: the sender must not treat this as "not done".
        res.socket?.destroy();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}', () => {
        rec.answered2xx++;
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/execute`,
    keys,
    get unkeyed() {
      return unkeyed;
    },
    setFaulty(on) {
      faulty = on;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// -- crash tests: the bot as a child process -------------------------------------------------------

/** The real bot started from source (`node --import tsx src/main.ts`), in HTTP mode. */
export interface ChildBot {
  proc: ChildProcess;
  url: string;
  /** Signs requests as Slack does and posts them to the child's /slack/events. */
  driver: SlackDriver;
  /** Everything it wrote to stdout and stderr. */
  output(): string;
}

export interface ChildBotOptions {
  /** The Slack emulator the test owns (it outlives every child). */
  emulator: SlackEmulator;
  botToken: string;
  signingSecret: string;
  /** The SQLite file: a restart on the same file resumes what the killed process left. */
  dbFile: string;
  port: number;
  /** FIREBREAK_CONFIG. */
  config: string;
  /** More environment: webhook secrets, executor secrets. */
  env?: Record<string, string>;
  /** How long it may take to listen (starting from source under tsx is slow on a loaded machine). */
  readyMs?: number;
}

/** Start the bot and wait until /healthz answers; fails with its output when it exits first. */
export async function spawnBot(o: ChildBotOptions): Promise<ChildBot> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: join(import.meta.dirname, '../..'),
    env: {
      PATH: process.env.PATH ?? '',
      SLACK_BOT_TOKEN: o.botToken,
      SLACK_SIGNING_SECRET: o.signingSecret,
      SLACK_API_URL: o.emulator.apiUrl,
      ANNOUNCE_CHANNEL: 'C0INCIDENTS',
      DATABASE_URL: `sqlite:${o.dbFile}`,
      PORT: String(o.port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      FIREBREAK_CONFIG: o.config,
      ...o.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const url = `http://127.0.0.1:${o.port}`;
  await waitUntil(
    async () => {
      if (proc.exitCode !== null) throw new Error(`bot exited ${proc.exitCode}: ${out.slice(-1000)}`);
      try {
        const r = await fetch(`${url}/healthz`);
        await r.arrayBuffer();
        return r.ok;
      } catch {
        return false;
      }
    },
    o.readyMs ?? 60_000,
    'the bot to listen',
    50,
  );
  return { proc, url, driver: new SlackDriver({ emulator: o.emulator, requestUrl: `${url}/slack/events`, signingSecret: o.signingSecret }), output: () => out };
}

/** SIGKILL: no shutdown hook runs, no job is handed back. A no-op for a process already gone. */
export async function kill9(c: ChildBot): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  const gone = new Promise((r) => c.proc.once('exit', r));
  c.proc.kill('SIGKILL');
  await gone;
}

/** One row of a query on the bot's SQLite file, read-only (what a person would find in the database). */
export function queryRow<T>(dbFile: string, sql: string): T | undefined {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db.prepare(sql).get() as T | undefined;
  } finally {
    db.close();
  }
}

/** What the passing of time does while the bot is down: the leases of the jobs it was running run out. */
export function expireLeases(dbFile: string): void {
  const db = new Database(dbFile);
  try {
    db.prepare(`update jobs set claimed_until = 0 where state = 'running'`).run();
  } finally {
    db.close();
  }
}

/** What a crash test file works against; the fields are set once its `before` hook ran. */
export interface CrashBench {
  /** The Slack emulator the file owns (rate limits off): it outlives every killed bot. */
  emulator: SlackEmulator;
  /** The webhook executor's target, counting calls (`setDelay` makes a call hang for the kill). */
  target: CountingServer;
  /** A temp folder for the bots' SQLite files. */
  dir: string;
  /** Start a bot on `dbFile` (kept across restarts) with the file's tokens and environment. */
  spawn(dbFile: string, port: number, config: string): Promise<ChildBot>;
}

/** Registers the file's `before`/`after` hooks that start and stop the bench. */
export function crashBench(o: { botToken: string; signingSecret: string; dirPrefix: string; env?: Record<string, string>; readyMs?: number }): CrashBench {
  const bench = {
    spawn: (dbFile: string, port: number, config: string) =>
      spawnBot({ emulator: bench.emulator, botToken: o.botToken, signingSecret: o.signingSecret, dbFile, port, config, env: o.env, readyMs: o.readyMs }),
  } as CrashBench;
  before(async () => {
    bench.emulator = await startSlackEmulator({ botToken: o.botToken, rateLimits: 'off' });
    bench.target = await startCountingServer();
    bench.dir = mkdtempSync(join(tmpdir(), o.dirPrefix));
  });
  after(async () => {
    await bench.emulator?.close();
    await bench.target?.close();
    if (bench.dir) rmSync(bench.dir, { recursive: true, force: true });
  });
  return bench;
}
