import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { SandboxRefusedError, startSandbox } from '../../src/sandbox/index.js';
import { startSandboxBot, type RunningSandbox } from './helpers.js';
import { request as httpRequest } from 'node:http';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { openKyselyStore } from '../../src/adapters/store/index.js';
import { OWNER_KEY, procStart } from '../../src/adapters/store/sqlite-owner.js';
import { join } from 'node:path';
import { startReceiver } from '../services/approvals-fixture.js';

const ALICE = 'U0ALICE01';
const BOB = 'U0BOB0001';
const INCIDENTS = 'C0INCIDENTS';

const silent = () => createLogger({ level: 'silent', secrets: [], destination: new Writable({ write: (_c, _e, cb) => cb() }), pretty: false });

describe('sandbox console API', () => {
  let sb: RunningSandbox;
  before(async () => {
    sb = await startSandboxBot();
  });
  after(async () => {
    await sb?.close();
  });

  test('start-up says loudly that this is a sandbox and how to connect a real workspace', () => {
    const line = sb.logs.find((l) => l.includes('SANDBOX MODE'));
    assert.ok(line, 'a SANDBOX MODE log line');
    assert.match(line, /"level":40/, 'logged as a warning');
    assert.match(line, /SLACK_BOT_TOKEN/);
    assert.match(line, /manifest\.yml/);
    assert.equal(sb.sandbox.config.slackMode, 'sandbox');
    assert.match(sb.sandbox.config.env.SLACK_BOT_TOKEN!, /^xoxb-sandbox-/);
    assert.equal(sb.sandbox.config.env.ANNOUNCE_CHANNEL, INCIDENTS);
  });

  test('GET /sandbox serves the page with its banner and shipped assets, and nothing outside them', async () => {
    const page = await fetch(`${sb.url}/sandbox`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    const html = await page.text();
    assert.match(html, /SANDBOX — not connected to Slack/);
    assert.doesNotMatch(html, /https?:\/\/(?!localhost)/, 'no CDN or remote asset');
    for (const asset of ['app.js', 'style.css']) {
      const r = await fetch(`${sb.url}/sandbox/assets/${asset}`);
      assert.equal(r.status, 200, asset);
      await r.arrayBuffer();
    }
    const escaped = await fetch(`${sb.url}/sandbox/assets/..%2F..%2Fpackage.json`);
    assert.equal(escaped.status, 404);
    await escaped.arrayBuffer();
  });

  test('/incident stats posts the chart; the console state lists the file and the page can load the image', async () => {
    const r = await sb.post('/sandbox/api/message', { user: ALICE, channel: INCIDENTS, text: '/incident stats 7d' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const msg = await sb.waitFor(
      (s) => s.channels.find((c) => c.id === INCIDENTS)?.messages.find((m) => (m.files?.length ?? 0) > 0),
      'the chart message',
      30_000,
    );
    assert.match(msg.text, /Incident figures/);
    const file = msg.files![0]!;
    const noToken = await fetch(`${sb.url}/sandbox/api/files/${file.id}`);
    assert.equal(noToken.status, 403, 'the per-run token guards files too');
    await noToken.arrayBuffer();
    const img = await fetch(`${sb.url}/sandbox/api/files/${file.id}?token=${sb.sandbox.token}`);
    assert.equal(img.status, 200);
    assert.equal(img.headers.get('content-type'), 'image/png');
    const bytes = Buffer.from(await img.arrayBuffer());
    assert.equal(bytes.subarray(1, 4).toString('ascii'), 'PNG');
    const missing = await fetch(`${sb.url}/sandbox/api/files/F0NOPE?token=${sb.sandbox.token}`);
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();
  });

  test('/incident declare sev2 creates an inc-* channel with a pinned card, visible in the state', async () => {
    const r = await sb.post('/sandbox/api/message', { user: ALICE, channel: INCIDENTS, text: '/incident declare sev2 Checkout errors after deploy' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const ch = await sb.waitFor(
      // The pin (the card) and the topic go out in separate rounds of Slack calls: wait for both.
      (s) => s.channels.find((c) => c.name.startsWith('inc-') && c.name.includes('checkout-errors') && c.pins.length > 0 && c.topic !== ''),
      'the incident channel with a pin and a topic',
    );
    assert.match(ch.pins[0]!.text, /Checkout errors after deploy/);
    assert.match(ch.topic, /HIGH/);
    assert.ok(ch.members.includes(ALICE), 'the declarer is in the channel');
    const card = ch.messages.find((m) => m.ts === ch.pins[0]!.ts);
    assert.ok(
      card?.blocks?.some((b) => (b as { type: string }).type === 'actions'),
      'the card has buttons',
    );
    // The command's acknowledgement is shown only to the person who typed it.
    const s = await sb.state();
    assert.ok((s.ephemerals[ALICE] ?? []).some((e) => /Declared/.test(e.text)));
    assert.equal((s.ephemerals[BOB] ?? []).length, 0);
  });

  test('@bob and #incidents typed in the console reach the bot as Slack sends them: /incident role scribe @bob assigns bob', async () => {
    await sb.post('/sandbox/api/message', { user: ALICE, channel: INCIDENTS, text: '/incident declare sev2 Mentions typed by hand' });
    const ch = await sb.waitFor((s) => s.channels.find((c) => c.name.includes('mentions-typed-by-hand') && c.pins.length > 0), 'the incident channel');
    const incident = (await sb.fb.deps.store.findIncidentByChannel(ch.id))!;
    const r = await sb.post('/sandbox/api/message', { user: ALICE, channel: ch.id, text: '/incident role scribe @bob' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await sb.settled();
    assert.equal((await sb.fb.deps.store.getRoles(incident.id)).scribe, BOB);
    const refused = ((await sb.state()).ephemerals[ALICE] ?? []).filter((e) => /Name the person/.test(e.text));
    assert.deepEqual(refused, []);
    // A message: Slack's client writes the mention as <@U…>; an address or an unknown handle stays as typed.
    await sb.post('/sandbox/api/message', { user: ALICE, channel: ch.id, text: '@bob see #incidents, mail bob@example.com or @nobody' });
    const said = await sb.waitFor((s) => s.channels.find((c) => c.id === ch.id)?.messages.find((m) => m.user === ALICE && /see/.test(m.text)), 'the message');
    assert.equal(said.text, `<@${BOB}> see <#${INCIDENTS}>, mail bob@example.com or @nobody`);
  });

  test('/incident with no text opens the declare modal for that person only; submitting it declares', async () => {
    await sb.post('/sandbox/api/message', { user: BOB, channel: INCIDENTS, text: '/incident' });
    const view = await sb.waitFor((s) => s.views[BOB], 'the declare modal for bob');
    assert.equal((await sb.state()).views[ALICE], undefined);
    const r = await sb.post('/sandbox/api/submit', {
      user: BOB,
      viewId: view.id,
      values: { declare_title: { value: 'Search latency through the roof' }, declare_severity: { value: 'medium' } },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await sb.waitFor((s) => s.channels.find((c) => c.name.includes('search-latency') && c.pins.length), 'the modal-declared channel');
    assert.equal((await sb.state()).views[BOB], undefined, 'the modal closed');
  });

  test('a proposal by one responder is approved by the commander and the message shows the result', async () => {
    const ch = (await sb.state()).channels.find((c) => c.name.includes('checkout-errors'))!;
    const p = await sb.post('/sandbox/api/message', { user: BOB, channel: ch.id, text: '/incident action rollback_deployment service=api version=v41' });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    const msg = await sb.waitFor(
      (s) => s.channels.find((c) => c.id === ch.id)!.messages.find((m) => m.text.startsWith('Approval requested')),
      'the approval message',
    );
    // The two-person rule: the proposer's own Approve is refused, and only they are told.
    const self = await sb.post('/sandbox/api/click', { user: BOB, channel: ch.id, ts: msg.ts, actionId: 'approval_approve' });
    assert.equal(self.status, 200);
    await sb.waitFor(
      (s) => (s.ephemerals[BOB] ?? []).find((e) => e.channel === ch.id && /someone else must approve/.test(e.text)),
      'the self-approval refusal',
    );
    assert.match((await sb.state()).channels.find((c) => c.id === ch.id)!.messages.find((m) => m.ts === msg.ts)!.text, /^Approval requested/);
    const ok = await sb.post('/sandbox/api/click', { user: ALICE, channel: ch.id, ts: msg.ts, actionId: 'approval_approve' });
    assert.equal(ok.status, 200);
    // The sandbox's demo executor really receives the signed call and answers; the message says it ran.
    const done = await sb.waitFor(
      (s) => s.channels.find((c) => c.id === ch.id)!.messages.find((m) => m.ts === msg.ts && /· ran/.test(m.text)),
      'the action to run',
    );
    assert.match(done.text, /^Approved by <@U0ALICE01> · ran/);
    assert.match(
      JSON.stringify(done.blocks),
      /\*Ran\*: webhook answered 200: demo executor: signature verified; would run rollback_deployment service=api version=v41/,
    );
    const calls = (await sb.state()).executorCalls ?? [];
    assert.equal(calls.length, 1);
    assert.deepEqual(
      [calls[0]!.status, calls[0]!.action, calls[0]!.params, calls[0]!.approvedBy],
      [200, 'rollback_deployment', { service: 'api', version: 'v41' }, [ALICE]],
    );
    const timeline = await sb.fb.deps.store.listTimeline((await sb.fb.deps.store.listOpenIncidents()).find((i) => i.channelId === ch.id)!.id);
    assert.ok(
      timeline.some((t) => /^`rollback_deployment` service=api version=v41 ran: .* \(proposed by <@U0BOB0001>, approved by <@U0ALICE01>\)$/.test(t.text)),
      'proposer and approver in the timeline',
    );
  });

  test('the demo executor refuses a call that is not signed with its per-run secret', async () => {
    const url = sb.sandbox.config.actions.find((a) => a.id === 'rollback_deployment')!.executor;
    assert.equal(url.type, 'webhook');
    const before = (await sb.state()).executorCalls?.length ?? 0;
    const body = JSON.stringify({ approval_id: 'x', action: 'rollback_deployment', params: {}, approved_by: [ALICE] });
    const ts = String(Math.floor(Date.now() / 1000));
    const r = await fetch((url as { url: string }).url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-firebreak-timestamp': ts, 'x-firebreak-signature': `sha256=${'0'.repeat(64)}` },
      body,
    });
    assert.equal(r.status, 401);
    assert.match(await r.text(), /bad signature/);
    const s = await sb.state();
    assert.equal(s.executorCalls!.length, before + 1);
    assert.equal(s.executorCalls!.at(-1)!.status, 401);
  });

  test('each sample alert reaches the real webhook route, authenticated', async () => {
    for (const source of ['pagerduty', 'datadog', 'alertmanager', 'generic']) {
      const r = await sb.post('/sandbox/api/alert', { source });
      assert.equal(r.status, 200, `${source}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.status, 202, source);
    }
    // PagerDuty's sample is P2 (high): high enough for its own channel.
    await sb.waitFor((s) => s.channels.find((c) => c.name.includes('pagerduty-checkout')), 'the PagerDuty incident channel');
  });

  test('bad requests get a 400 naming the problem; unknown people and missing buttons are refused', async () => {
    const bad = await sb.post('/sandbox/api/message', { user: ALICE, channel: INCIDENTS });
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.error), /text/);
    assert.equal((await sb.post('/sandbox/api/message', '{not json')).status, 400);
    assert.equal((await sb.post('/sandbox/api/alert', { source: 'nagios' })).status, 400);
    assert.equal((await sb.post('/sandbox/api/click', { user: ALICE, actionId: 'x' })).status, 400);
    assert.equal((await sb.post('/sandbox/api/message', { user: 'U0NOBODY1', channel: INCIDENTS, text: 'hi' })).status, 404);
    const ch = (await sb.state()).channels.find((c) => c.name.includes('checkout-errors'))!;
    const missing = await sb.post('/sandbox/api/click', { user: ALICE, channel: ch.id, ts: ch.messages[0]!.ts, actionId: 'no_such_button' });
    assert.equal(missing.status, 409);
    assert.match(String(missing.body.error), /no_such_button/);
  });

  test('the event stream pushes a change when someone posts', async () => {
    const ac = new AbortController();
    const res = await fetch(`${sb.url}/sandbox/api/events?token=${sb.sandbox.token}`, { signal: ac.signal });
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let text = '';
    const first = await reader.read();
    text += dec.decode(first.value);
    assert.match(text, /event: hello/);
    await sb.post('/sandbox/api/message', { user: ALICE, channel: 'C0GENERAL1', text: 'morning all' });
    while (!/event: change/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value);
    }
    ac.abort();
    assert.match(text, /event: change/);
    const general = (await sb.state()).channels.find((c) => c.name === 'general')!;
    assert.ok(general.messages.some((m) => m.text === 'morning all' && m.user === ALICE));
  });
});

/** A raw request, so the Host header can be anything (fetch would set it from the URL). */
function raw(url: string, path: string, o: { method?: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path, method: o.method ?? 'GET', headers: o.headers ?? {} }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

describe('the sandbox is local-only by construction', () => {
  let sb: RunningSandbox;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  before(async () => {
    receiver = await startReceiver(() => 200);
    const dir = mkdtempSync(join(tmpdir(), 'fb-sbx-'));
    const cfg = join(dir, 'firebreak.yml');
    writeFileSync(
      cfg,
      `actions:
  - id: rollback_deployment
    title: Roll back a deployment
    params: { service: { type: string, required: true }, version: { type: string, required: true } }
    requires_approval: true
    executor: { type: webhook, url: '${receiver.url}', secret_env: ROLLBACK_WEBHOOK_SECRET, retries: 0 }
`,
    );
    sb = await startSandboxBot({ FIREBREAK_CONFIG: cfg });
  });
  after(async () => {
    await sb?.close();
    await receiver?.close();
  });

  const declare = { user: ALICE, channel: INCIDENTS, text: '/incident declare sev2 Forged request' };
  const port = () => new URL(sb.url).port;
  const good = () => ({ host: `127.0.0.1:${port()}`, 'content-type': 'application/json', 'x-sandbox-token': sb.sandbox.token });
  const unchanged = async () => {
    await sb.settled();
    const s = await sb.state();
    assert.equal(s.channels.find((c) => c.id === INCIDENTS)!.messages.length, 0, 'nothing was posted');
    assert.equal((await sb.fb.deps.store.listOpenIncidents()).length, 0, 'nothing was declared');
  };

  test('a foreign Host (DNS rebinding), a foreign Origin, a text/plain POST or no token gets 403 and changes nothing', async () => {
    const body = JSON.stringify(declare);
    const cases: Array<[string, Record<string, string>]> = [
      ['foreign Host', { ...good(), host: `evil.example:${port()}` }],
      ['foreign Origin', { ...good(), origin: 'https://evil.example' }],
      ['text/plain POST', { ...good(), 'content-type': 'text/plain' }],
      ['no token', { host: good().host, 'content-type': 'application/json' }],
      ['wrong token', { ...good(), 'x-sandbox-token': 'f'.repeat(32) }],
    ];
    for (const [what, headers] of cases) {
      const r = await raw(sb.url, '/sandbox/api/message', { method: 'POST', headers, body });
      assert.equal(r.status, 403, `${what}: ${r.body}`);
      assert.match(JSON.parse(r.body).error, /\w/, what);
    }
    // Reading is guarded too: the workspace is not readable from another site.
    assert.equal((await raw(sb.url, '/sandbox/api/state', { headers: { host: good().host } })).status, 403);
    assert.equal((await raw(sb.url, '/sandbox', { headers: { host: 'evil.example' } })).status, 403);
    await unchanged();
    // The same request, done right, works (so the refusals above were not for another reason).
    const ok = await raw(sb.url, '/sandbox/api/message', {
      method: 'POST',
      headers: { ...good(), origin: `http://127.0.0.1:${port()}` },
      body: JSON.stringify({ ...declare, channel: 'C0GENERAL1', text: 'hello' }),
    });
    assert.equal(ok.status, 200, ok.body);
  });

  test('an approved action in the sandbox never reaches the webhook configured in firebreak.yml; the message shows what would have been sent', async () => {
    const d = await sb.post('/sandbox/api/message', { user: ALICE, channel: INCIDENTS, text: '/incident declare sev2 Dry run drill' });
    assert.equal(d.status, 200);
    const ch = await sb.waitFor((s) => s.channels.find((c) => c.name.includes('dry-run-drill') && c.pins.length), 'the incident channel');
    await sb.post('/sandbox/api/message', { user: BOB, channel: ch.id, text: '/incident action rollback_deployment service=api version=v41' });
    const msg = await sb.waitFor(
      (s) => s.channels.find((c) => c.id === ch.id)!.messages.find((m) => m.text.startsWith('Approval requested')),
      'the approval message',
    );
    const ok = await sb.post('/sandbox/api/click', { user: ALICE, channel: ch.id, ts: msg.ts, actionId: 'approval_approve' });
    assert.equal(ok.status, 200);
    const done = await sb.waitFor(
      (s) => s.channels.find((c) => c.id === ch.id)!.messages.find((m) => m.ts === msg.ts && /· not executed/.test(m.text)),
      'the approval to finish',
    );
    await sb.fb.deps.jobs.idle();
    assert.equal(receiver.received.length, 0, 'the configured webhook was never called');
    assert.match(JSON.stringify(done.blocks), /not sent \(sandbox\): would have POSTed to http:\/\/127\.0\.0\.1/);
  });
});

describe('sandbox refuses to run next to production settings', () => {
  const base = () => loadConfig({ PORT: '0' }, '/nonexistent');
  for (const [name, value] of [
    ['ROOTLY_API_KEY', 'rootly-live-key-0123456789'],
    ['INCIDENTIO_API_KEY', 'inc-live-key-0123456789'],
  ] as const) {
    test(`${name} set: refused with a line naming it, never its value`, async () => {
      const config = loadConfig({ PORT: '0', [name]: value }, '/nonexistent');
      await assert.rejects(
        startSandbox(config, silent(), {}),
        (err: unknown) => err instanceof SandboxRefusedError && err.message.includes(name) && !err.message.includes(value),
      );
    });
  }
  test('an executor secret, a PostgreSQL DATABASE_URL or a non-loopback HOST without opt-in is refused', async () => {
    const withSecret = {
      ...base(),
      actions: [
        {
          ...base().actions[0]!,
          executor: { type: 'webhook' as const, url: 'https://deploy.example.com/hook', secret_env: 'ROLLBACK_SECRET', timeout_ms: 1000, retries: 0 },
        },
      ],
    };
    await assert.rejects(startSandbox(withSecret, silent(), { ROLLBACK_SECRET: 'x'.repeat(32) }), /ROLLBACK_SECRET is set/);
    await assert.rejects(startSandbox({ ...base(), databaseUrl: 'postgres://prod@db:5432/firebreak' }, silent(), {}), /PostgreSQL/);
    await assert.rejects(startSandbox({ ...base(), host: '0.0.0.0' }, silent(), {}), /SANDBOX_ALLOW_REMOTE=1/);
  });
});

describe('sandbox refuses to run next to real Slack credentials', () => {
  test('a real-looking SLACK_BOT_TOKEN is refused', async () => {
    const real = loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1234-5678-realtoken', SLACK_SIGNING_SECRET: 'abc123', PORT: '0' }, '/nonexistent');
    // main never calls startSandbox in HTTP mode; a forged config that claims sandbox mode is refused too.
    for (const config of [real, { ...real, slackMode: 'sandbox' as const }]) {
      await assert.rejects(startSandbox(config, silent(), {}), (err: unknown) => err instanceof SandboxRefusedError && /SLACK_BOT_TOKEN/.test(err.message));
    }
  });

  test('a Socket Mode app token is refused', async () => {
    const base = loadConfig({ PORT: '0' }, '/nonexistent');
    const forged = { ...base, env: { ...base.env, SLACK_APP_TOKEN: 'xapp-1-A1-123-abc' } };
    await assert.rejects(startSandbox(forged, silent(), {}), /SLACK_APP_TOKEN/);
  });
});

describe('sandbox agent over MCP', () => {
  let sb: RunningSandbox;
  before(async () => {
    sb = await startSandboxBot();
  });
  after(async () => {
    await sb?.close();
  });

  test('the printed agent token reaches /mcp, and its proposal shows on the page like any other, waiting for a person', async () => {
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
    await sb.post('/sandbox/api/message', { user: ALICE, channel: INCIDENTS, text: '/incident declare sev2 Cart errors after deploy' });
    const ch = await sb.waitFor((s) => s.channels.find((c) => c.name.includes('cart-errors') && c.pins.length > 0), 'the incident channel');
    const client = new Client({ name: 'sandbox-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${sb.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${sb.sandbox.agentToken}` } } }),
    );
    try {
      const r = (await client.callTool({
        name: 'propose_action',
        arguments: { incident: ch.id, action: 'clear_cache', params: { cache: 'cart' }, reason: 'stale cart config' },
      })) as { isError?: boolean; structuredContent?: { approval_id: string; status: string } };
      assert.notEqual(r.isError, true, JSON.stringify(r));
      assert.equal(r.structuredContent?.status, 'pending');
      const msg = await sb.waitFor(
        (s) =>
          s.channels.find((c) => c.id === ch.id)?.messages.find((m) => JSON.stringify(m.blocks ?? []).includes(`approval:${r.structuredContent!.approval_id}`)),
        'the approval message on the page',
      );
      const text = JSON.stringify(msg.blocks);
      assert.match(text, /sandbox-agent/);
      assert.match(text, /stale cart config/);
      assert.match(text, /approval_approve/, 'with the Approve button for a person');
    } finally {
      await client.close();
    }
  });
});

describe('a second `npm run sandbox` (another port) beside a running one', () => {
  test('is refused, naming the running one, and leaves its database as it was; once that one is gone, a new one starts fresh', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'firebreak-sandbox-second-'));
    const file = join(dir, 'data', 'sandbox.db');
    mkdirSync(join(dir, 'data'));
    // The running sandbox: a live process recorded as the file's owner, with an incident of its drill.
    const running = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    await once(running, 'spawn');
    const pid = running.pid!;
    const owner = JSON.stringify({ pid, hostname: hostname(), startedAt: new Date().toISOString(), procStart: procStart(pid) ?? undefined });
    const seed = await openKyselyStore(`sqlite:${file}`);
    await seed.migrate();
    await seed.db.insertInto('kv').values({ key: OWNER_KEY, value: owner, updated_at: 0 }).execute();
    await seed.db.insertInto('kv').values({ key: 'drill.marker', value: 'the running drill', updated_at: 0 }).execute();
    await seed.close();
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const config = () => loadConfig({ PORT: '0' }, '/nonexistent');
      await assert.rejects(
        startSandbox(config(), silent(), {}),
        (err: unknown) =>
          err instanceof SandboxRefusedError &&
          err.message.includes(`another sandbox (pid ${pid}) is running on ${file}`) &&
          err.message.includes('DATABASE_URL='),
      );
      const after = await openKyselyStore(`sqlite:${file}`);
      try {
        assert.equal((await after.db.selectFrom('kv').select('value').where('key', '=', 'drill.marker').executeTakeFirst())?.value, 'the running drill');
      } finally {
        await after.close();
      }
      running.kill();
      await once(running, 'exit');
      const fresh = await startSandbox(config(), silent(), {});
      await fresh.close();
      assert.equal(existsSync(file), false, "the old drill's file is gone: the bot starts on a fresh one");
    } finally {
      process.chdir(cwd);
      running.kill();
    }
  });
});
