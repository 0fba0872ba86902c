import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SocketModeClient } from '@slack/socket-mode';
import { WebClient } from '@slack/web-api';
import { WebSocket } from 'ws';
import { GENERAL_CHANNEL_ID, SlackDriver, startSlackEmulator, type SlackEmulator } from '../../src/emulator/slack/index.js';
import { silentSlackLogger as silent } from './helpers.js';

const BOT = 'xoxb-test';
const APP = 'xapp-1-test';
const ALICE = 'U0ALICE01';

type Args = {
  ack: (body?: Record<string, unknown>) => Promise<void>;
  body: Record<string, unknown>;
  retry_num?: number;
  retry_reason?: string;
  accepts_response_payload?: boolean;
};

/** The real client from @slack/socket-mode, pointed at the emulator, no reconnect retries to wait for. */
function smClient(emu: SlackEmulator, appToken = APP, o: { autoReconnect?: boolean; reconnectDelayMs?: number } = {}) {
  return new SocketModeClient({
    appToken,
    logger: silent,
    autoReconnectEnabled: o.autoReconnect ?? false,
    // Also the delay before reconnecting after a `disconnect` message.
    clientPingTimeout: o.reconnectDelayMs ?? 5000,
    clientOptions: { slackApiUrl: emu.apiUrl, retryConfig: { retries: 0 } },
  });
}

async function slackErrorOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { data?: { error?: string } }).data?.error;
  }
  assert.fail('expected a refusal');
}

describe('Slack emulator: Socket Mode', () => {
  let emu: SlackEmulator;
  let driver: SlackDriver;
  const clients: SocketModeClient[] = [];

  before(async () => {
    emu = await startSlackEmulator({ botToken: BOT, appToken: APP, rateLimits: 'off' });
    driver = new SlackDriver({ emulator: emu, transport: 'socket' });
  });
  after(async () => {
    for (const c of clients) await c.disconnect().catch(() => undefined);
    await emu.close();
  });

  async function connect(o: Parameters<typeof smClient>[2] = {}): Promise<SocketModeClient> {
    const c = smClient(emu, APP, o);
    clients.push(c);
    await c.start();
    return c;
  }

  // Every test starts with nothing connected, whatever the previous one left behind.
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.disconnect().catch(() => undefined);
    await waitUntil(() => emu.socketMode.connections().length === 0);
  });

  test('the real SocketModeClient connects, gets hello, and acks a slash command with the ephemeral answer', async () => {
    const c = smClient(emu);
    clients.push(c);
    const hello = new Promise<unknown>((resolve) => c.once('connected', resolve));
    const conn = (await c.start()) as { ok: boolean; url: string };
    await hello;
    assert.equal(conn.ok, true);
    assert.match(conn.url, /^ws:\/\/127\.0\.0\.1:\d+\/link\/\?ticket=/);
    assert.equal(emu.socketMode.connections().length, 1);
    assert.equal(emu.calls('apps.connections.open').at(-1)?.ok, true);

    let seen: Args | undefined;
    c.on('slash_commands', async (a: Args) => {
      seen = a;
      await a.ack({ response_type: 'ephemeral', text: `You ran ${String(a.body.command)} ${String(a.body.text)}` });
    });
    const r = await driver.slash('help', { user: ALICE, channel: GENERAL_CHANNEL_ID });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { response_type: 'ephemeral', text: 'You ran /incident help' });
    assert.ok(r.ms < 3000);
    assert.equal(seen?.accepts_response_payload, true);
    // The same fields Slack posts over HTTP, as a JSON object, with a live trigger and response URL.
    assert.equal(seen?.body.user_id, ALICE);
    assert.equal(seen?.body.channel_id, GENERAL_CHANNEL_ID);
    assert.equal(seen?.body.trigger_id, r.triggerId);
    assert.equal(seen?.body.response_url, r.responseUrl);
  });

  test('only the app-level token opens a connection; the app token is refused elsewhere', async () => {
    const wrong = smClient(emu, 'xapp-1-wrong');
    assert.equal(await slackErrorOf(wrong.start()), 'invalid_auth');
    const withBot = new WebClient(BOT, { slackApiUrl: emu.apiUrl, retryConfig: { retries: 0 }, logger: silent });
    assert.equal(await slackErrorOf(withBot.apps.connections.open()), 'not_allowed_token_type');
    const withApp = new WebClient(APP, { slackApiUrl: emu.apiUrl, retryConfig: { retries: 0 }, logger: silent });
    assert.equal(await slackErrorOf(withApp.chat.postMessage({ channel: GENERAL_CHANNEL_ID, text: 'x' })), 'not_allowed_token_type');
    assert.equal(emu.socketMode.connections().length, 0);

    const noSocket = await startSlackEmulator({ botToken: BOT });
    try {
      assert.equal(await slackErrorOf(smClient(noSocket).start()), 'invalid_auth', 'an emulator without an app token refuses Socket Mode');
    } finally {
      await noSocket.close();
    }
  });

  test('a ticket URL works once', async () => {
    const open = (await (await fetch(`${emu.apiUrl}apps.connections.open`, { method: 'POST', headers: { authorization: `Bearer ${APP}` } })).json()) as {
      ok: boolean;
      url: string;
    };
    assert.equal(open.ok, true);
    const first = new WebSocket(open.url);
    const hello = await new Promise<Record<string, unknown>>((resolve, reject) => {
      first.once('message', (d) => resolve(JSON.parse(d.toString()) as Record<string, unknown>));
      first.once('error', reject);
    });
    assert.equal(hello.type, 'hello');
    assert.equal(hello.num_connections, 1);
    assert.deepEqual(hello.connection_info, { app_id: emu.appId });
    assert.ok(typeof (hello.debug_info as { host?: unknown }).host === 'string');
    const second = new WebSocket(open.url);
    const status = await new Promise<number>((resolve) => {
      second.on('error', () => undefined);
      second.once('unexpected-response', (req, res) => {
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      second.once('open', () => resolve(101));
    });
    assert.equal(status, 401);
    await new Promise<void>((resolve) => {
      first.once('close', () => resolve());
      first.close();
    });
    await waitUntil(() => emu.socketMode.connections().length === 0);
  });

  test('with two connections open each envelope goes to exactly one of them, in turn', async () => {
    const a = await connect();
    const b = await connect();
    const got = { a: 0, b: 0 };
    a.on('slash_commands', async (x: Args) => {
      got.a += 1;
      await x.ack({ text: 'from a' });
    });
    b.on('slash_commands', async (x: Args) => {
      got.b += 1;
      await x.ack({ text: 'from b' });
    });
    const answers: string[] = [];
    for (let i = 0; i < 4; i++)
      answers.push(String(((await driver.slash('status', { user: ALICE, channel: GENERAL_CHANNEL_ID })).body as { text: string }).text));
    assert.deepEqual(got, { a: 2, b: 2 });
    assert.notEqual(answers[0], answers[1]);
    assert.deepEqual(answers.slice(2), answers.slice(0, 2));
  });

  test('no ack within the timeout: the driver reports it; an unacked event is redelivered with retry_attempt', async () => {
    const c = await connect();
    const slow = new SlackDriver({ emulator: emu, transport: 'socket', ackTimeoutMs: 200, eventRetryDelaysMs: [20] });
    c.on('slash_commands', () => undefined);
    const r = await slow.slash('help', { user: ALICE, channel: GENERAL_CHANNEL_ID });
    assert.equal(r.status, 0);
    assert.equal(r.timedOut, true);
    assert.ok(r.ms >= 190 && r.ms < 1000, `gave up after ${r.ms} ms`);

    const deliveries: Array<{ retry?: number; reason?: string; eventId: unknown }> = [];
    // The client emits events_api envelopes under the inner event's type.
    c.on('app_mention', async (x: Args) => {
      deliveries.push({
        ...(x.retry_num !== undefined ? { retry: x.retry_num } : {}),
        ...(x.retry_reason ? { reason: x.retry_reason } : {}),
        eventId: x.body.event_id,
      });
      if (x.retry_num !== undefined) await x.ack();
    });
    const e = await slow.event({ type: 'app_mention', user: ALICE, channel: GENERAL_CHANNEL_ID, text: 'hi' });
    assert.equal(e.status, 200);
    assert.equal(e.text, '');
    assert.deepEqual(deliveries, [{ eventId: e.eventId }, { retry: 1, reason: 'timeout', eventId: e.eventId }]);
  });

  test('a view submission ack acts on the modal as over HTTP: errors keep it open, a bare ack closes it', async () => {
    const c = await connect();
    const web = new WebClient(BOT, { slackApiUrl: emu.apiUrl, retryConfig: { retries: 0 }, logger: silent });
    let reply: Record<string, unknown> | undefined = { response_action: 'errors', errors: { title: 'Give it a title' } };
    c.on('slash_commands', async (x: Args) => {
      await x.ack();
      await web.views.open({
        trigger_id: String(x.body.trigger_id),
        view: {
          type: 'modal',
          callback_id: 'm',
          title: { type: 'plain_text', text: 'Declare' },
          submit: { type: 'plain_text', text: 'Go' },
          blocks: [{ type: 'input', block_id: 'title', label: { type: 'plain_text', text: 'Title' }, element: { type: 'plain_text_input', action_id: 'v' } }],
        },
      });
    });
    c.on('interactive', async (x: Args) => {
      assert.equal(x.body.type, 'view_submission');
      assert.equal(x.accepts_response_payload, true);
      await x.ack(reply);
    });
    await driver.slash('', { user: ALICE, channel: GENERAL_CHANNEL_ID });
    const view = await waitUntil(() => emu.state.snapshot().views.find((v) => v.callback_id === 'm' && v.open));
    const bad = await driver.submitView(view.id, { title: { v: '' } }, { user: ALICE });
    assert.equal((bad.body as { response_action: string }).response_action, 'errors');
    assert.equal(emu.state.view(view.id)?.open, true);
    reply = undefined;
    const good = await driver.submitView(view.id, { title: { v: 'Checkout down' } }, { user: ALICE });
    assert.equal(good.status, 200);
    assert.equal(emu.state.view(view.id)?.open, false);
  });

  test('a disconnect (refresh_requested) makes the client reconnect with a new ticket, and delivery continues', async () => {
    const c = await connect({ autoReconnect: true, reconnectDelayMs: 100 });
    c.on('slash_commands', async (x: Args) => x.ack({ text: 'still here' }));
    const [before] = emu.socketMode.connections();
    const opens = emu.calls('apps.connections.open').length;
    emu.socketMode.requestDisconnect();
    await waitUntil(() => emu.socketMode.connections().some((x) => x.id !== before!.id));
    assert.equal(emu.calls('apps.connections.open').length, opens + 1);
    const r = await driver.slash('status', { user: ALICE, channel: GENERAL_CHANNEL_ID });
    assert.deepEqual(r.body, { text: 'still here' });
  });

  test('with nothing connected the delivery fails like Slack (dispatch_failed)', async () => {
    await assert.rejects(driver.slash('help', { user: ALICE, channel: GENERAL_CHANNEL_ID }), /dispatch_failed/);
  });
});

async function waitUntil<T>(check: () => T, ms = 3000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
