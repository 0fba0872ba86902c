/**
 * Helpers shared by the benchmark (bench/run.ts) and the replica, fault and crash tests: reading
 * outcomes off the Slack emulator's workspace, signing alert webhooks, a counting executor target,
 * temp firebreak.yml files. Nothing here talks to anything but loopback.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { SlackEmulator } from '../src/emulator/slack/index.js';
import { signGeneric } from '../src/webhooks/verify.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Write `content` as firebreak.yml in a fresh temp dir; returns the path for FIREBREAK_CONFIG. */
export function writeConfigFile(content: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-bench-cfg-'));
  const path = join(dir, 'firebreak.yml');
  writeFileSync(path, stringify(content));
  return path;
}

/**
 * The rollback the approval, crash and cost scenarios propose, as a firebreak.yml `actions:` entry:
 * needs approval by the commander or one of `users`, runs a webhook at `url` signed with the secret
 * in env `secretEnv`, never retried (a retry would hide the run being measured). `timeoutMs` is
 * for executors that answer late on purpose (the crash scenarios).
 */
export function rollbackAction(o: { url: string; secretEnv: string; users: string[]; timeoutMs?: number }): Record<string, unknown> {
  return {
    id: 'rollback_deployment',
    title: 'Roll back a deployment',
    params: { service: { type: 'string', required: true }, version: { type: 'string', required: true } },
    requires_approval: true,
    policy: { roles: ['commander'], users: o.users },
    executor: {
      type: 'webhook',
      url: o.url,
      secret_env: o.secretEnv,
      retries: 0,
      ...(o.timeoutMs === undefined ? {} : { timeout_ms: o.timeoutMs }),
    },
  };
}

/** Run `fn` over `items` with at most `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Poll `check` until truthy or `ms` passed (bounded: every wait in the bench and tests is). */
export async function waitUntil<T>(check: () => T | Promise<T>, ms: number, what: string, everyMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

type Obj = Record<string, unknown>;
const blockIds = (blocks: unknown): string[] =>
  Array.isArray(blocks) ? blocks.map((b) => (b && typeof b === 'object' ? String((b as Obj).block_id ?? '') : '')) : [];

/** Messages in any channel whose blocks carry a block_id starting with `prefix` (e.g. `card:`). */
export function markedMessages(emu: SlackEmulator, prefix: string): Array<{ channel: string; ts: string; blockId: string }> {
  const out: Array<{ channel: string; ts: string; blockId: string }> = [];
  for (const ch of emu.state.channels.values()) {
    for (const m of emu.state.messages(ch.id)) {
      const id = blockIds(m.blocks).find((b) => b.startsWith(prefix));
      if (id) out.push({ channel: ch.id, ts: m.ts, blockId: id });
    }
  }
  return out;
}

/** Channels the bot created (the emulator seeds a few; incident channels are created by the bot). */
export function botChannels(emu: SlackEmulator): Array<{ id: string; name: string }> {
  return [...emu.state.channels.values()].filter((c) => c.creator === emu.botUserId).map((c) => ({ id: c.id, name: c.name }));
}

/**
 * What a person would see for one incident: its channels, cards and announcements. Used to check
 * "exactly once": one channel, one card, one announcement, per incident id.
 */
export function slackOutcome(emu: SlackEmulator): {
  channels: number;
  cards: Map<string, number>;
  announcements: Map<string, number>;
  rateLimited: number;
} {
  const count = (prefix: string) => {
    const m = new Map<string, number>();
    for (const x of markedMessages(emu, prefix)) {
      const id = x.blockId.slice(prefix.length);
      m.set(id, (m.get(id) ?? 0) + 1);
    }
    return m;
  };
  return {
    channels: botChannels(emu).length,
    cards: count('card:'),
    announcements: count('announce:'),
    rateLimited: emu.calls().filter((c) => c.status === 429).length,
  };
}

/** POST a generic alert signed as docs/alerts.md describes. */
export async function postGenericAlert(baseUrl: string, secret: string, alert: Obj, opts: { now?: number } = {}): Promise<number> {
  const body = JSON.stringify(alert);
  const ts = Math.floor((opts.now ?? Date.now()) / 1000);
  const res = await fetch(`${baseUrl}/webhooks/alerts/generic`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-firebreak-timestamp': String(ts), 'x-firebreak-signature': signGeneric(secret, ts, body) },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

/** A webhook executor target that counts executions; optionally slow (crash tests kill mid-call). */
export interface CountingServer {
  url: string;
  calls: Array<{ at: number; body: string; headers: IncomingMessage['headers'] }>;
  setDelay(ms: number): void;
  close(): Promise<void>;
}

export async function startCountingServer(delayMs = 0): Promise<CountingServer> {
  const calls: CountingServer['calls'] = [];
  let delay = delayMs;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      calls.push({ at: Date.now(), body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      };
      if (delay > 0) setTimeout(answer, delay).unref();
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/execute`,
    calls,
    setDelay: (ms) => (delay = ms),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A free loopback port (for child processes, which must be told their port up front). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Add `n` people to the emulated workspace (approval races need many distinct authorised users). */
export function addPeople(emu: SlackEmulator, n: number, prefix = 'U0RACE'): string[] {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `${prefix}${String(i).padStart(4, '0')}`;
    if (!emu.state.users.has(id)) emu.state.addUser({ id, name: `racer${i}`, realName: `Racer ${i}`, email: `racer${i}@example.com` });
    ids.push(id);
  }
  return ids;
}
