/**
 * `./.env` is read when present, the real environment wins over it, and the process says which
 * file it read (names, never values). Port numbers out of range stop start-up with one clear line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadEnvFile } from '../src/env-file.js';
import { ConfigError, loadConfig } from '../src/config.js';

const MAIN = resolve(import.meta.dirname, '../src/main.ts');
const TSX = import.meta.resolve('tsx');

function tempDir(envText?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-envfile-'));
  if (envText !== undefined) writeFileSync(join(dir, '.env'), envText);
  return dir;
}

test('values from .env fill what the environment lacks; the environment wins, even when empty', () => {
  const dir = tempDir('# comment\nLOG_LEVEL=debug\nPORT=4000\nANTHROPIC_MODEL="claude from file"\nHOST=\n');
  try {
    const env: NodeJS.ProcessEnv = { PORT: '5000', HOST: '' };
    const r = loadEnvFile(env, dir);
    assert.equal(r.path, join(dir, '.env'));
    assert.equal(env.LOG_LEVEL, 'debug');
    assert.equal(env.ANTHROPIC_MODEL, 'claude from file');
    assert.equal(env.PORT, '5000', 'the real environment wins');
    assert.equal(env.HOST, '', 'a variable set to empty in the environment is still set');
    assert.deepEqual(r.applied.sort(), ['ANTHROPIC_MODEL', 'LOG_LEVEL']);
    assert.deepEqual(r.overridden.sort(), ['HOST', 'PORT']);
    assert.equal(loadConfig(env, dir).port, 5000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no .env: nothing read, nothing changed', () => {
  const dir = tempDir();
  try {
    const env: NodeJS.ProcessEnv = { PORT: '1' };
    assert.deepEqual(loadEnvFile(env, dir), { path: null, applied: [], overridden: [] });
    assert.deepEqual(env, { PORT: '1' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('PORT outside 0..65535 is a configuration problem, not a crash at listen', () => {
  for (const bad of ['99999', '65536', '-1', 'eighty']) {
    assert.throws(
      () => loadConfig({ PORT: bad }),
      (e: unknown) => e instanceof ConfigError && e.problems.some((p) => /^PORT: a port number from 1 to 65535/.test(p)),
      bad,
    );
  }
  assert.equal(loadConfig({ PORT: '65535' }).port, 65535);
  assert.equal(loadConfig({ PORT: '0' }).port, 0);
});

function runMain(cwd: string, env: Record<string, string>, until: RegExp | null): Promise<{ code: number | null; out: string }> {
  return new Promise((done, fail) => {
    const proc = spawn(process.execPath, ['--import', TSX, MAIN], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      fail(new Error(`firebreak did not ${until ? 'get ready' : 'exit'} in 60 s:\n${out}`));
    }, 60_000);
    const onData = (c: Buffer) => {
      out += c.toString();
      if (until?.test(out)) proc.kill('SIGTERM');
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, out });
    });
  });
}

test('npm start reads ./.env, logs which file it read and which names the environment kept', async () => {
  const secret = 'alert-secret-from-dotenv-0123456789';
  const dir = tempDir(`PORT=notaport\nHOST=127.0.0.1\nALERT_WEBHOOK_SECRET=${secret}\n`);
  try {
    const { out } = await runMain(dir, { PORT: '0' }, /firebreak ready on/);
    const lines = out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const read = lines.find((l) => String(l.msg).startsWith('read '));
    assert.ok(read, out);
    assert.equal(read.msg, `read 2 setting(s) from ${join(dir, '.env')}; the environment's own value kept for PORT`);
    assert.deepEqual((read.applied as string[]).sort(), ['ALERT_WEBHOOK_SECRET', 'HOST']);
    assert.ok(
      lines.some((l) => /^firebreak ready on :\d+/.test(String(l.msg))),
      'started: PORT=notaport from .env lost to PORT=0',
    );
    assert.ok(!out.includes(secret), 'values never logged');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad value in .env stops start-up with one line naming the variable and the file', async () => {
  const dir = tempDir('PORT=99999\n');
  try {
    const { code, out } = await runMain(dir, {}, null);
    assert.equal(code, 2);
    assert.match(out, new RegExp(`configuration problems \\(settings from the environment and ${join(dir, '.env').replace(/[.]/g, '\\.')}\\)`));
    assert.match(out, /- PORT: a port number from 1 to 65535/);
    assert.doesNotMatch(out, /RangeError|ERR_SOCKET_BAD_PORT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a second npm start beside a running one fails on the port before it touches anything: the running sandbox keeps its database', async () => {
  const dir = tempDir();
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as { port: number }).port;
  // What the running sandbox has in ./data (the second start would empty sandbox.db and its WAL).
  mkdirSync(join(dir, 'data'));
  for (const f of ['sandbox.db', 'sandbox.db-wal']) writeFileSync(join(dir, 'data', f), `the running sandbox's ${f}`);
  try {
    const { code, out } = await runMain(dir, { PORT: String(port) }, null);
    assert.equal(code, 1, out);
    assert.match(out, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: another process already listens there \\(set PORT to a free port\\)`));
    for (const f of ['sandbox.db', 'sandbox.db-wal']) assert.equal(readFileSync(join(dir, 'data', f), 'utf8'), `the running sandbox's ${f}`, f);
    assert.doesNotMatch(out, /store migration applied|SANDBOX MODE/, 'nothing was started');
  } finally {
    await new Promise<void>((r) => busy.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
});
