/**
 * Hostile input: several thousand malformed, oversize, wrongly encoded and forged requests against
 * /slack/events and every webhook path. No crash, no 5xx, forged signatures always 401, and the
 * store unchanged by rejected requests. Seeded: the seed is printed; FUZZ_SEED=<n> replays a run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startBot, type Bot } from '../e2e/harness.js';
import { seededRandom } from '../fault/fault-kit.js';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`# fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED})`);

const prng = seededRandom;

const SECRETS = {
  SLACK_SIGNING_SECRET: 'test-signing-secret-0123456789',
  ALERT_WEBHOOK_SECRET: 'fuzz-alert-secret-0123456789',
  PAGERDUTY_WEBHOOK_SECRET: 'fuzz-pd-secret-0123456789',
  DATADOG_WEBHOOK_SECRET: 'fuzz-dd-secret-0123456789',
  ALERTMANAGER_WEBHOOK_TOKEN: 'fuzz-am-token-0123456789',
  ROOTLY_WEBHOOK_SECRET: 'fuzz-rootly-secret-0123456789',
  AGENT_WEBHOOK_SECRET: 'fuzz-agent-secret-0123456789',
  INCIDENTIO_WEBHOOK_SECRET: 'whsec_ZnV6ei1pbmNpZGVudGlvLXNlY3JldA==',
};

const PATHS = [
  '/slack/events',
  '/webhooks/alerts/generic',
  '/webhooks/alerts/pagerduty',
  '/webhooks/alerts/datadog',
  '/webhooks/alerts/alertmanager',
  '/webhooks/rootly',
  '/webhooks/incidentio',
  '/webhooks/agents/proposals',
];

let bot: Bot;
before(async () => {
  bot = await startBot({ rateLimits: 'off', env: { LOG_LEVEL: 'warn', ...SECRETS } });
});
after(async () => {
  await bot?.close();
});

async function counts(): Promise<Record<string, number>> {
  const s = bot.fb.deps.store;
  return {
    incidents: (await s.listOpenIncidents()).length,
    alerts: (await s.listAlerts({ limit: 100_000 })).length,
    audit: (await s.listAudit({ limit: 100_000 })).length,
    jobs: await s.countJobs({}),
  };
}

function send(path: string, method: string, headers: Record<string, string>, body: Buffer): Promise<number> {
  const url = new URL(bot.url);
  return new Promise((resolve) => {
    const req = request(
      { host: url.hostname, port: url.port, path, method, headers: { ...headers, 'content-length': String(body.length) }, timeout: 5000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(-1));
      },
    );
    // A connection the server closes (oversize body) is an answer, not a crash.
    req.on('error', () => resolve(-1));
    req.on('timeout', () => req.destroy());
    req.end(body);
  });
}

test('thousands of hostile requests: no 5xx, forged signatures 401, store unchanged', async () => {
  const rnd = prng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
  const nowSec = Math.floor(Date.now() / 1000);
  const bodies: Array<() => Buffer> = [
    () => Buffer.from(''),
    () => bytes(Math.floor(rnd() * 512)),
    () => Buffer.from('{"title":'),
    () => Buffer.from(JSON.stringify({ title: 'x'.repeat(Math.floor(rnd() * 5000)), severity: pick(['critical', 'sev9', '', null]) })),
    () => Buffer.from(`payload=${encodeURIComponent('{"type":"block_actions","actions":[{"action_id":"approval_approve","value":"nope"}]}')}`),
    () => Buffer.from('payload=%E0%A4%A'), // broken percent-encoding
    () => Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x00]), // UTF-16 BOM, not UTF-8
    () => Buffer.from(JSON.stringify({ type: 'url_verification', challenge: 'x' })),
    () => Buffer.from(JSON.stringify({ event: { id: 'x', event_type: 'incident.triggered', data: { id: 'P1', title: 'forged' } } })),
    () => Buffer.from(JSON.stringify({ alerts: [{ labels: { alertname: 'forged' }, status: 'firing' }] })),
    () => Buffer.from('['.repeat(5000)),
    () => Buffer.alloc(rnd() < 0.1 ? 3 * 1024 * 1024 : 2048, 0x61), // occasionally far above any body limit
  ];
  const forgedHeaders: Array<() => Record<string, string>> = [
    () => ({}),
    () => ({ 'x-slack-signature': `v0=${bytes(32).toString('hex')}`, 'x-slack-request-timestamp': String(nowSec) }),
    () => ({ 'x-slack-signature': 'v0=', 'x-slack-request-timestamp': 'yesterday' }),
    () => ({ 'x-firebreak-signature': `sha256=${bytes(32).toString('hex')}`, 'x-firebreak-timestamp': String(nowSec) }),
    () => ({ 'x-firebreak-signature': 'md5=abc', 'x-firebreak-timestamp': String(nowSec - 10_000) }),
    () => ({ 'x-pagerduty-signature': `v1=${bytes(32).toString('hex')}` }),
    () => ({ 'x-firebreak-token': 'wrong' }),
    () => ({ authorization: `Bearer ${bytes(8).toString('hex')}` }),
    () => ({ authorization: `Basic ${Buffer.from('u:wrong').toString('base64')}` }),
    () => ({ 'x-rootly-signature': `t=${nowSec},v1=${bytes(32).toString('hex')}` }),
    () => ({ 'webhook-id': 'msg_1', 'webhook-timestamp': String(nowSec), 'webhook-signature': `v1,${bytes(32).toString('base64')}` }),
  ];
  const contentTypes = [
    'application/json',
    'application/x-www-form-urlencoded',
    'text/plain',
    'application/json; charset=utf-16',
    'multipart/form-data; boundary=x',
    '',
  ];

  const before = await counts();
  const CASES = 6000;
  const statuses = new Map<number, number>();
  const failures: string[] = [];
  const started = Date.now();
  let i = 0;
  const worker = async () => {
    while (i < CASES && Date.now() - started < 35_000) {
      const n = i++;
      const path = pick(PATHS);
      const method = rnd() < 0.9 ? 'POST' : pick(['GET', 'PUT', 'DELETE']);
      const headers: Record<string, string> = { ...pick(forgedHeaders)() };
      const ct = pick(contentTypes);
      if (ct) headers['content-type'] = ct;
      const body = pick(bodies)();
      const status = await send(path + (rnd() < 0.05 ? '?x=%zz' : ''), method, headers, body);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status >= 500) failures.push(`#${n} ${method} ${path} → ${status}`);
      // Every signed path with a forged or missing signature must be refused as unauthenticated.
      if (method === 'POST' && status !== -1 && status !== 401 && status !== 413 && status !== 404 && status !== 405 && status !== 429)
        failures.push(`#${n} forged ${method} ${path} (${JSON.stringify(headers).slice(0, 120)}) → ${status}, expected 401`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  console.log(`# ${i} cases in ${Date.now() - started} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);

  // Still alive and answering.
  const health = await fetch(`${bot.url}/healthz`);
  assert.equal(health.status, 200);
  assert.ok(i >= 1000, `ran ${i} cases`);
  assert.deepEqual(failures.slice(0, 10), [], `seed ${SEED}: ${failures.length} failures`);
  assert.deepEqual(await counts(), before, 'rejected requests changed nothing in the store');
});
