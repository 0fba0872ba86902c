import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { startBot, SIGNING_SECRET, BOT_TOKEN, type Bot } from './harness.js';
import { GENERAL_CHANNEL_ID } from '../../src/emulator/slack/index.js';
import { Actions } from '../../src/slack/ids.js';
import { ALICE, channelsNamed, declare, messagesWithMarker, slashForm, waitForIncident } from './helpers.js';

let bot: Bot;
before(async () => {
  bot = await startBot();
});
after(async () => {
  await bot.close();
});

test('a signed /incident help is acked within 3 s with the help text', async () => {
  const r = await bot.driver.slash('help', { user: ALICE, channel: GENERAL_CHANNEL_ID });
  assert.equal(r.status, 200);
  assert.ok(r.ms < 3000, `ack took ${r.ms} ms`);
  assert.match(r.text, /declare <severity> <title>/);
  assert.equal((r.body as { response_type?: string }).response_type, 'ephemeral');
});

test('a forged signature gets 401 and reaches no handler', async () => {
  const before = (await bot.fb.deps.store.listOpenIncidents()).length;
  const body = new URLSearchParams({
    command: '/incident',
    text: 'declare sev1 forged',
    user_id: ALICE,
    channel_id: GENERAL_CHANNEL_ID,
    trigger_id: 'x',
    team_id: 'T1',
    response_url: 'http://127.0.0.1:1/x',
  }).toString();
  const forged = await bot.driver.send(body, {}, { secret: 'not-the-secret' });
  assert.equal(forged.status, 401);
  const ts = Math.floor(Date.now() / 1000);
  const unsigned = await bot.driver.send(body, { 'x-slack-signature': `v0=${'0'.repeat(64)}`, 'x-slack-request-timestamp': String(ts) }, { sign: false });
  assert.equal(unsigned.status, 401);
  await bot.settled();
  assert.equal((await bot.fb.deps.store.listOpenIncidents()).length, before);
  assert.equal(bot.emulator.calls('conversations.create').length, 0);
});

test('a correctly signed but stale (over 5 minutes) request gets 401', async () => {
  const body = new URLSearchParams({
    command: '/incident',
    text: 'help',
    user_id: ALICE,
    channel_id: GENERAL_CHANNEL_ID,
    trigger_id: 'x',
    team_id: 'T1',
  }).toString();
  const ts = Math.floor(Date.now() / 1000) - 6 * 60;
  const sig = `v0=${createHmac('sha256', SIGNING_SECRET).update(`v0:${ts}:${body}`).digest('hex')}`;
  const r = await bot.driver.send(body, { 'x-slack-signature': sig, 'x-slack-request-timestamp': String(ts) }, { sign: false });
  assert.equal(r.status, 401);
});

test('a button click is acked at once only when its signature holds: forged, tampered and stale clicks get 401 and do nothing', async () => {
  const incident = await declare(bot, 'high Click signature check');
  const card = messagesWithMarker(bot.emulator, incident.channelId!, 'card:')[0]!;
  const payload = {
    type: 'block_actions',
    team: { id: bot.emulator.state.teamId },
    api_app_id: bot.emulator.state.appId,
    user: { id: ALICE },
    channel: { id: incident.channelId },
    container: { type: 'message', message_ts: card.ts, channel_id: incident.channelId },
    trigger_id: bot.emulator.issueTrigger(ALICE),
    response_url: 'http://127.0.0.1:1/never',
    actions: [{ type: 'button', action_id: Actions.cardUpdateStatus, block_id: 'card_actions', value: incident.id, action_ts: '1' }],
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const opensBefore = bot.emulator.calls('views.open').length;

  assert.equal((await bot.driver.send(body, {}, { secret: 'not-the-secret' })).status, 401, 'forged');
  const ts = Math.floor(Date.now() / 1000);
  const signed = (b: string, t: number) => `v0=${createHmac('sha256', SIGNING_SECRET).update(`v0:${t}:${b}`).digest('hex')}`;
  const tampered = `${body}&x=1`;
  assert.equal(
    (await bot.driver.send(tampered, { 'x-slack-signature': signed(body, ts), 'x-slack-request-timestamp': String(ts) }, { sign: false })).status,
    401,
    'tampered',
  );
  const old = ts - 6 * 60;
  assert.equal(
    (await bot.driver.send(body, { 'x-slack-signature': signed(body, old), 'x-slack-request-timestamp': String(old) }, { sign: false })).status,
    401,
    'stale',
  );
  await bot.settled();
  assert.equal(bot.emulator.calls('views.open').length, opensBefore, 'no refused click opened a modal');

  // The same click, correctly signed, is acked and opens the status modal.
  const ok = await bot.driver.send(body, { 'x-slack-signature': signed(body, ts), 'x-slack-request-timestamp': String(ts) }, { sign: false });
  assert.equal(ok.status, 200);
  await bot.waitFor(() => bot.emulator.calls('views.open').length > opensBefore || null, 5000, 'the status modal');
});

test('a click is handled whatever the order of its payload fields; a signed click that is not valid JSON is acked and does nothing', async () => {
  // Slack's payload begins with its type, which lets the ack go out before the payload is parsed;
  // one that names its type later is classified by the full parse instead, and works the same.
  const incident = await declare(bot, 'high Click field order');
  const card = messagesWithMarker(bot.emulator, incident.channelId!, 'card:')[0]!;
  const payload = {
    team: { id: bot.emulator.state.teamId },
    api_app_id: bot.emulator.state.appId,
    user: { id: ALICE },
    type: 'block_actions',
    channel: { id: incident.channelId },
    container: { type: 'message', message_ts: card.ts, channel_id: incident.channelId },
    trigger_id: bot.emulator.issueTrigger(ALICE),
    response_url: 'http://127.0.0.1:1/never',
    actions: [{ type: 'button', action_id: Actions.cardUpdateStatus, block_id: 'card_actions', value: incident.id, action_ts: '1' }],
  };
  const opensBefore = bot.emulator.calls('views.open').length;
  const later = await bot.driver.send(new URLSearchParams({ payload: JSON.stringify(payload) }).toString());
  assert.equal(later.status, 200);
  await bot.waitFor(() => bot.emulator.calls('views.open').length === opensBefore + 1 || null, 5000, 'the status modal');

  const { type: _type, ...rest } = payload;
  const broken = `${JSON.stringify({ type: 'block_actions', ...rest, trigger_id: bot.emulator.issueTrigger(ALICE) }).slice(0, -1)},`;
  const r = await bot.driver.send(new URLSearchParams({ payload: broken }).toString());
  assert.equal(r.status, 200, 'acked: it is signed and begins as a click');
  await bot.settled();
  assert.equal(bot.emulator.calls('views.open').length, opensBefore + 1, 'the broken click opened nothing');
  assert.ok(
    bot.logs.some((l) => l.includes('looked like a click is not one')),
    'and it is logged',
  );
  // The bot still answers.
  assert.equal((await bot.driver.slash('help', { user: ALICE, channel: GENERAL_CHANNEL_ID })).status, 200);
});

test('a slash command is acked at once only when its signature holds: forged, tampered, unsigned and stale ones get 401 and declare nothing', async () => {
  // Our workspace and app, so nothing but the signature stands between these and a declaration.
  const body = slashForm(bot, 'declare high Signature check target');
  const ts = Math.floor(Date.now() / 1000);
  const signed = (b: string, t: number) => `v0=${createHmac('sha256', SIGNING_SECRET).update(`v0:${t}:${b}`).digest('hex')}`;
  const send = (b: string, sig: string, t: number) => bot.driver.send(b, { 'x-slack-signature': sig, 'x-slack-request-timestamp': String(t) }, { sign: false });
  assert.equal((await bot.driver.send(body, {}, { secret: 'not-the-secret' })).status, 401, 'forged');
  assert.equal((await send(body.replace('Signature+check', 'Tampered'), signed(body, ts), ts)).status, 401, 'tampered');
  assert.equal((await send(body, `v0=${'0'.repeat(64)}`, ts)).status, 401, 'unsigned');
  assert.equal((await send(body, signed(body, ts - 6 * 60), ts - 6 * 60)).status, 401, 'stale');
  // Help and parse errors are answered in the ack, but not to a request that fails the check.
  const help = slashForm(bot, 'help');
  const forgedHelp = await bot.driver.send(help, {}, { secret: 'not-the-secret' });
  assert.equal(forgedHelp.status, 401);
  assert.doesNotMatch(forgedHelp.text, /declare <severity>/);
  await bot.settled();
  const declared = () => bot.fb.deps.store.listOpenIncidents().then((all) => all.filter((i) => /Signature check target|Tampered/.test(i.title)));
  assert.equal((await declared()).length, 0);
  assert.equal(channelsNamed(bot.emulator, 'inc-').filter((c) => /signature-check-target|tampered/.test(c.name)).length, 0);

  // The same command, correctly signed: an empty ack at once, then the declaration.
  const ok = await send(body, signed(body, ts), ts);
  assert.equal(ok.status, 200);
  assert.equal(ok.text, '');
  const incident = await waitForIncident(bot, 'Signature check target');
  assert.ok(incident.channelId);
});

test('a Slack request body over 4 MB gets 413 and the bot keeps answering', async () => {
  const r = await bot.driver.send(`payload=${'x'.repeat(5 * 1024 * 1024)}`);
  assert.equal(r.status, 413);
  assert.match(r.text, /body too large/);
  const ok = await bot.driver.send(slashForm(bot, 'help'));
  assert.equal(ok.status, 200);
  assert.match(ok.text, /declare <severity> <title>/);
});

test('a request with no signature or a stale timestamp is refused on its headers, before its body is read', async () => {
  // A 3 MB body of which only the first 64 KB is ever sent: the answer must not wait for the rest.
  const post = (headers: Record<string, string>) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(`${bot.url}/slack/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(3 * 1024 * 1024), ...headers },
      });
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error('no answer within 2 s: the body was being read'));
      }, 2000);
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          clearTimeout(timer);
          req.destroy();
          resolve({ status: res.statusCode ?? 0, text });
        });
      });
      req.on('error', () => undefined); // the server closes the connection on the unsent rest
      req.write(`payload=${'x'.repeat(64 * 1024)}`);
    });
  const now = Math.floor(Date.now() / 1000);
  const unsigned = await post({ 'x-slack-request-timestamp': String(now) });
  assert.equal(unsigned.status, 401);
  assert.match(unsigned.text, /missing signature/);
  const stale = await post({ 'x-slack-signature': `v0=${'0'.repeat(64)}`, 'x-slack-request-timestamp': String(now - 6 * 60) });
  assert.equal(stale.status, 401);
  assert.match(stale.text, /too old/);
  // The bot keeps answering.
  assert.equal((await bot.driver.send(slashForm(bot, 'help'))).status, 200);
});

test('health, readiness and Prometheus metrics', async () => {
  const h = await fetch(`${bot.url}/healthz`);
  assert.equal(h.status, 200);
  const r = await fetch(`${bot.url}/readyz`);
  const rb = (await r.json()) as { ok: boolean; checks: Record<string, string> };
  assert.equal(r.status, 200, JSON.stringify(rb));
  assert.equal(rb.checks.store, 'ok');
  assert.equal(rb.checks.slack, 'ok');
  const m = await fetch(`${bot.url}/metrics`);
  const text = await m.text();
  assert.match(m.headers.get('content-type') ?? '', /text\/plain/);
  assert.match(text, /firebreak_slack_ack_seconds_bucket/);
  // Process metrics carry the prefix once: firebreak_process_cpu_…, not firebreak_process_process_….
  assert.match(text, /^firebreak_process_cpu_user_seconds_total \d/m);
  assert.match(text, /^firebreak_nodejs_heap_size_used_bytes \d/m);
  assert.doesNotMatch(text, /firebreak_process_process_|firebreak_process_nodejs_/);
});

test('secrets given in config never appear in the captured logs', async () => {
  await bot.driver.slash('declare sev9 nope', { user: ALICE, channel: GENERAL_CHANNEL_ID });
  const all = bot.logs.join('');
  assert.ok(bot.logs.length > 0);
  assert.ok(!all.includes(BOT_TOKEN), 'bot token leaked');
  assert.ok(!all.includes(SIGNING_SECRET), 'signing secret leaked');
});
