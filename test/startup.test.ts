/**
 * Start-up failures an operator can act on: a Slack that cannot be reached or refuses a token stops
 * start-up with the URL that failed and the setting to check (no real network: a closed local port
 * and the Slack emulator).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { buildFirebreak } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { startSlackEmulator } from '../src/emulator/slack/index.js';

const BOT_TOKEN = 'xoxb-startup-test-token';
const APP_TOKEN = 'xapp-1-startup-test-app-token';

/** A local port nothing listens on: connecting to it is refused at once. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function startWith(env: Record<string, string>): Promise<{ error: Error; logs: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-startup-'));
  const lines: string[] = [];
  const sink = new Writable({
    write(c, _e, cb) {
      lines.push(c.toString());
      cb();
    },
  });
  const config = loadConfig(
    { DATABASE_URL: `sqlite:${join(dir, 'fb.db')}`, SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_APP_TOKEN: APP_TOKEN, LOG_LEVEL: 'silent', ...env },
    dir,
  );
  const logger = createLogger({ level: 'silent', destination: sink, pretty: false });
  const fb = await buildFirebreak(config, { logger, slackRetries: 0 });
  try {
    await fb.start();
    assert.fail('start-up should have failed');
  } catch (err) {
    return { error: err as Error, logs: lines.join('') };
  } finally {
    await fb.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

test('Socket Mode start-up against an unreachable SLACK_API_URL names the URL and what to check', async () => {
  const port = await closedPort();
  const { error } = await startWith({ SLACK_API_URL: `http://127.0.0.1:${port}/api/` });
  assert.match(error.message, new RegExp(`could not reach Slack at http://127\\.0\\.0\\.1:${port}/api/auth\\.test`));
  assert.match(error.message, /ECONNREFUSED/);
  assert.match(error.message, /check SLACK_API_URL/);
  assert.ok(!error.message.includes(BOT_TOKEN));
});

test('a refused app-level token stops Socket Mode start-up naming SLACK_APP_TOKEN and apps.connections.open', async () => {
  const emulator = await startSlackEmulator({ botToken: BOT_TOKEN, appToken: 'xapp-1-the-real-app-token' });
  try {
    const { error } = await startWith({ SLACK_API_URL: emulator.apiUrl });
    assert.match(error.message, /Slack refused the call to .*apps\.connections\.open \((invalid_auth|not_authed|invalid_token)\)/);
    assert.match(error.message, /SLACK_APP_TOKEN/);
    assert.ok(!error.message.includes(APP_TOKEN));
  } finally {
    await emulator.close();
  }
});

test('a refused bot token stops start-up naming SLACK_BOT_TOKEN', async () => {
  const emulator = await startSlackEmulator({ botToken: 'xoxb-another-token', appToken: APP_TOKEN });
  try {
    const { error } = await startWith({ SLACK_API_URL: emulator.apiUrl });
    assert.match(error.message, /Slack refused the call to .*auth\.test \(invalid_auth\): SLACK_BOT_TOKEN is not valid/);
  } finally {
    await emulator.close();
  }
});
