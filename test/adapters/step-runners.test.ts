import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createStepRunners } from '../../src/adapters/runbook/step-runners.js';
import { StepRunError } from '../../src/ports/step-runners.js';

const runners = createStepRunners();
const env = { PATH: process.env.PATH ?? '' };

test('command: argv without a shell (metacharacters are plain arguments), output captured', async () => {
  const r = await runners.command({
    argv: [process.execPath, '-e', 'console.log(process.argv.slice(1).join("|"))', '$(whoami)', '; rm -rf /', '`id`'],
    env,
    timeoutMs: 10_000,
    maxChars: 1000,
  });
  assert.equal(r.exitCode, 0);
  assert.equal(r.output.trim(), '$(whoami)|; rm -rf /|`id`');
});

test('command: only the allowlisted environment reaches the child', async () => {
  process.env.FIREBREAK_TEST_LEAK = 'leaked';
  const r = await runners.command({
    argv: [process.execPath, '-e', 'console.log(JSON.stringify(Object.keys(process.env).sort()))'],
    env: { ...env, ALLOWED: '1' },
    timeoutMs: 10_000,
    maxChars: 1000,
  });
  delete process.env.FIREBREAK_TEST_LEAK;
  const keys = JSON.parse(r.output) as string[];
  assert.ok(keys.includes('ALLOWED'));
  assert.ok(!keys.includes('FIREBREAK_TEST_LEAK'));
});

test('command: a timeout kills it; output is capped; a missing program is a StepRunError', async () => {
  const slow = await runners.command({ argv: [process.execPath, '-e', 'setTimeout(() => {}, 10000)'], env, timeoutMs: 300, maxChars: 1000 });
  assert.equal(slow.timedOut, true);
  assert.equal(slow.signal, 'SIGKILL');
  const big = await runners.command({ argv: [process.execPath, '-e', 'process.stdout.write("x".repeat(50000))'], env, timeoutMs: 10_000, maxChars: 100 });
  assert.equal(big.output.length, 100);
  assert.equal(big.truncated, true);
  await assert.rejects(runners.command({ argv: ['/nonexistent/firebreak-program'], env, timeoutMs: 1000, maxChars: 10 }), StepRunError);
});

test('http: status and body captured and capped; no redirect followed; a hang is a timeout', async () => {
  const server = createServer((req, res) => {
    if (req.url === '/big') return res.end('y'.repeat(100_000));
    if (req.url === '/redirect') {
      res.writeHead(302, { location: 'http://example.invalid/steal' });
      return res.end();
    }
    if (req.url === '/hang') return; // never answers
    res.writeHead(418);
    res.end(`auth=${req.headers.authorization}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const r = await runners.http({ method: 'GET', url: `${base}/x`, headers: { Authorization: 'Bearer t' }, timeoutMs: 2000, maxChars: 1000 });
    assert.deepEqual(r, { status: 418, body: 'auth=Bearer t', truncated: false });
    const big = await runners.http({ method: 'GET', url: `${base}/big`, headers: {}, timeoutMs: 2000, maxChars: 500 });
    assert.equal(big.body.length, 500);
    assert.equal(big.truncated, true);
    const red = await runners.http({ method: 'GET', url: `${base}/redirect`, headers: {}, timeoutMs: 2000, maxChars: 500 });
    assert.equal(red.status, 302);
    await assert.rejects(runners.http({ method: 'GET', url: `${base}/hang`, headers: {}, timeoutMs: 200, maxChars: 10 }), /no answer within 200 ms/);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
