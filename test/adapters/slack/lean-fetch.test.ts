import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { leanFetch } from '../../../src/adapters/slack/web-api.js';

/**
 * Bolt's respond() posts answers to a response_url through `leanFetch`: whatever it sees of the
 * answer (ok, status, statusText, headers, body) must be what the runtime's fetch would show, or a
 * refused response_url would pass for a delivered answer (and the chat.postEphemeral fallback
 * would never run).
 */
async function withServer(fn: (base: string, seen: Array<{ method: string; url: string; body: string; type: string }>) => Promise<void>): Promise<void> {
  const seen: Array<{ method: string; url: string; body: string; type: string }> = [];
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const c of req) body += c;
    seen.push({ method: req.method ?? '', url: req.url ?? '', body, type: String(req.headers['content-type'] ?? '') });
    if (req.url === '/ok') res.writeHead(200, { 'content-type': 'application/json', 'x-twice': ['a', 'b'] }).end('{"ok":true}');
    else if (req.url === '/gone') res.writeHead(404, { 'content-type': 'text/plain' }).end('no_response_url');
    else if (req.url === '/moved') res.writeHead(307, { location: '/ok' }).end();
    else if (req.url === '/empty') res.writeHead(204).end();
    else res.writeHead(500).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen);
  } finally {
    await new Promise((r) => server.close(r));
  }
}

const post = (body: string) => ({ method: 'POST', headers: { 'Content-Type': 'application/json' }, body });

test('leanFetch answers as the runtime fetch does: ok, status, statusText, headers and body', async () => {
  await withServer(async (base, seen) => {
    for (const f of [fetch, leanFetch]) {
      const ok = await f(`${base}/ok`, post('{"text":"hi"}'));
      assert.equal(ok.ok, true);
      assert.equal(ok.status, 200);
      assert.equal(ok.statusText, 'OK');
      assert.equal(ok.headers.get('content-type'), 'application/json');
      assert.equal(ok.headers.get('x-twice'), 'a, b');
      assert.deepEqual(await ok.json(), { ok: true });

      const gone = await f(`${base}/gone`, post('{}'));
      assert.equal(gone.ok, false, 'a refused response_url is not ok');
      assert.equal(gone.status, 404);
      assert.equal(gone.statusText, 'Not Found');
      assert.equal(await gone.text(), 'no_response_url');

      const empty = await f(`${base}/empty`, post('{}'));
      assert.equal(empty.status, 204);
      assert.equal(await empty.text(), '');
    }
    // What the server received is the same both ways: method, content type, body.
    const byFetch = seen.filter((_, i) => i < seen.length / 2);
    const byLean = seen.filter((_, i) => i >= seen.length / 2);
    assert.deepEqual(byLean, byFetch);
    assert.deepEqual(byLean[0], { method: 'POST', url: '/ok', body: '{"text":"hi"}', type: 'application/json' });
  });
});

test('leanFetch follows a redirect as fetch does, and hands any other body to the runtime fetch', async () => {
  await withServer(async (base, seen) => {
    const moved = await leanFetch(`${base}/moved`, post('{"text":"again"}'));
    assert.equal(moved.status, 200);
    assert.deepEqual(
      seen.map((s) => [s.method, s.url, s.body]),
      [
        ['POST', '/moved', '{"text":"again"}'],
        ['POST', '/ok', '{"text":"again"}'],
      ],
    );
    seen.length = 0;
    const form = await leanFetch(`${base}/ok`, { method: 'POST', body: new URLSearchParams({ a: '1' }) });
    assert.equal(form.status, 200);
    assert.deepEqual(seen[0], { method: 'POST', url: '/ok', body: 'a=1', type: 'application/x-www-form-urlencoded;charset=UTF-8' });
  });
});
