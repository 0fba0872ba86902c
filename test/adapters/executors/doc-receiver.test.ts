import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { signWebhook } from '../../../src/adapters/executors/index.js';

/**
 * The sample receiver in docs/executors.md is what teams copy: it must accept what Firebreak sends.
 * Run as written (only the port changed), against a signed request whose body reaches it in two
 * chunks split inside a UTF-8 character, as TCP may deliver it.
 */
const SECRET = 'doc-receiver-secret-0123456789';

function sample(): string {
  const doc = readFileSync(new URL('../../../docs/executors.md', import.meta.url), 'utf8');
  const code = /### Verifying it[\s\S]*?```js\n([\s\S]*?)```/.exec(doc)?.[1];
  if (!code?.includes('.listen(8080)')) throw new Error('the sample receiver is not in docs/executors.md');
  return code.replace('.listen(8080)', '.listen(Number(process.env.PORT))');
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** One request over a raw socket, its body written in two parts cut inside the first 'é'. */
function send(port: number, body: Buffer, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const head = `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\nConnection: close\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`;
    const cut = body.indexOf(Buffer.from('é')) + 1;
    let out = '';
    const s = connect(port, '127.0.0.1', () => {
      s.write(head);
      s.write(body.subarray(0, cut));
      setTimeout(() => s.write(body.subarray(cut)), 50);
    });
    s.on('data', (d) => {
      out += d;
    });
    s.on('error', reject);
    s.on('end', () => {
      const [head, ...rest] = out.split('\r\n\r\n');
      let text = rest.join('\r\n\r\n');
      // Node answers in chunked encoding: `<hex size>\r\n<data>\r\n ... 0\r\n\r\n`.
      if (/transfer-encoding: chunked/i.test(head!))
        text = text
          .split('\r\n')
          .filter((_, i) => i % 2 === 1)
          .join('');
      resolve({ status: Number(head!.split(' ')[1]), text });
    });
  });
}

test('the sample receiver in docs/executors.md verifies a signed request whose body arrives split inside a character, and runs each key once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fb-doc-receiver-'));
  const file = join(dir, 'receiver.mjs');
  writeFileSync(file, sample());
  const port = await freePort();
  const child = spawn(process.execPath, [file], { env: { ...process.env, PORT: String(port), ROLLBACK_WEBHOOK_SECRET: SECRET }, stdio: 'ignore' });
  try {
    const body = Buffer.from(
      JSON.stringify({
        approval_id: '6f1c0c5e-6a43-4c1e-9d7e-2b1f0e3c9a10',
        action: 'rollback_deployment',
        params: { service: 'api', version: 'v41' },
        incident: { id: 'i1', title: 'Paiements refusés après le déploiement ✓', severity: 'critical', backend_id: null },
        approved_by: ['U0CAROL01'],
        approved_at: '2026-11-30T21:04:05.000Z',
      }),
    );
    const ts = String(Math.floor(Date.now() / 1000));
    const headers = {
      'Content-Type': 'application/json',
      'Idempotency-Key': '6f1c0c5e-6a43-4c1e-9d7e-2b1f0e3c9a10',
      'X-Firebreak-Timestamp': ts,
      'X-Firebreak-Signature': signWebhook(SECRET, ts, body.toString('utf8')),
    };
    let first: { status: number; text: string } | null = null;
    for (let i = 0; i < 50 && !first; i++) first = await send(port, body, headers).catch(() => new Promise<null>((r) => setTimeout(() => r(null), 100)));
    assert.deepEqual(first, { status: 200, text: 'rolled back api to v41' });
    assert.deepEqual(await send(port, body, headers), { status: 200, text: 'rolled back api to v41' }, 'a repeated key answers the first result');
    const forged = await send(port, body, { ...headers, 'X-Firebreak-Signature': signWebhook('another-secret-0123456789', ts, body.toString('utf8')) });
    assert.equal(forged.status, 401);
  } finally {
    child.kill();
  }
});
