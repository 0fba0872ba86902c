import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { buildFirebreak, type Firebreak } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createHttpServer, listen } from '../../src/server.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import type { ConsoleState } from '../../src/sandbox/state.js';
import { settledProbe } from '../e2e/harness.js';

export interface RunningSandbox {
  url: string;
  sandbox: Sandbox;
  fb: Firebreak;
  server: Server;
  logs: string[];
  state(): Promise<ConsoleState>;
  post(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  waitFor<T>(check: (s: ConsoleState) => T | undefined | null | false, what: string, ms?: number): Promise<T>;
  /** No Slack request in the bot's listeners and no job running (see the e2e harness). */
  settled(ms?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Start Firebreak the way main.ts does with no Slack credentials: startSandbox, then build the
 * bot with the config it returns, serve its routes on the bot's server, listen, start. Only the
 * port (random, loopback) and the store (a temp SQLite file) differ from `npm start`.
 */
export async function startSandboxBot(env: Record<string, string> = {}, processEnv: NodeJS.ProcessEnv = {}): Promise<RunningSandbox> {
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-sandbox-'));
  const base = loadConfig({ DATABASE_URL: `sqlite:${join(dir, 'sandbox.db')}`, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env }, dir);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const logger = createLogger({ level: base.logLevel, secrets: [], destination: sink, pretty: false });
  const sandbox = await startSandbox(base, logger, { ...env, ...processEnv });
  const fb = await buildFirebreak(sandbox.config, { logger, jobs: { pollMs: 50 } });
  const settled = settledProbe(fb);
  const { server } = createHttpServer(fb, sandbox.routes);
  const port = await listen(server, 0, '127.0.0.1');
  await fb.start();
  const url = `http://127.0.0.1:${port}`;

  const auth = { 'x-sandbox-token': sandbox.token };
  const state = async () => (await (await fetch(`${url}/sandbox/api/state`, { headers: auth })).json()) as ConsoleState;
  return {
    url,
    sandbox,
    fb,
    server,
    logs,
    state,
    settled,
    async post(path, body) {
      const res = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    async waitFor(check, what, ms = 10_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const v = check(await state());
        if (v) return v;
        if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await fb.stop();
      await sandbox.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
