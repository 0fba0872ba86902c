import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { startSlackEmulator, type SlackEmulator } from '../../src/emulator/slack/index.js';

/**
 * The sandbox's emulated Slack listens on loopback, and `/_emulator/state` and `/_emulator/calls`
 * need no token. A web page in the operator's browser that rebinds its own name to 127.0.0.1 (DNS
 * rebinding) reaches that port with its own name as Host: it must be refused, as the console is.
 */
let emu: SlackEmulator;
before(async () => {
  emu = await startSlackEmulator({ botToken: 'xoxb-host-test' });
  emu.state.postMessage('C0GENERAL1', { user: 'U0ALICE01', text: 'drill: the payments database password is in the vault' });
});
after(async () => emu.close());

/** GET with an explicit Host header (fetch does not let a caller set one). */
function get(path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${emu.url}${path}`, { headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a request naming another host (DNS rebinding) gets 403 and none of the workspace', async () => {
  for (const host of [`rebind.attacker.example:${emu.port}`, 'attacker.example', `127.0.0.1.attacker.example:${emu.port}`]) {
    for (const path of ['/_emulator/state', '/_emulator/calls', '/api/auth.test']) {
      const r = await get(path, host);
      assert.equal(r.status, 403, `${path} with Host ${host}`);
      assert.doesNotMatch(r.body, /payments database/);
    }
  }
});

test('loopback names are served as before', async () => {
  for (const host of [`127.0.0.1:${emu.port}`, `localhost:${emu.port}`, `[::1]:${emu.port}`, 'localhost']) {
    const r = await get('/_emulator/state', host);
    assert.equal(r.status, 200, `Host ${host}`);
    assert.match(r.body, /payments database/);
  }
});
