/**
 * Replays and amplification on the webhooks: generic alerts are deduplicated by their body, the
 * ingest limit counts alerts, one delivery carries at most alerts.max_alerts_per_delivery alerts,
 * unstorable payloads get 400 with a reason, and agents have a rate limit.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startBot, type Bot } from './harness.js';
import { postAgentProposal } from './helpers.js';
import { signGeneric } from '../../src/webhooks/verify.js';

const ALERT_SECRET = 'amplification-alert-secret-0123';
const AM_TOKEN = 'amplification-am-token-0123456';
const AGENT_SECRET = 'amplification-agent-secret-0123';
let bot: Bot;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fb-amp-'));
  writeFileSync(join(dir, 'firebreak.yml'), 'alerts:\n  rate_limit_per_minute: 20\n  max_alerts_per_delivery: 10\nagents:\n  rate_limit_per_minute: 3\n');
  bot = await startBot({
    env: {
      ALERT_WEBHOOK_SECRET: ALERT_SECRET,
      ALERTMANAGER_WEBHOOK_TOKEN: AM_TOKEN,
      AGENT_WEBHOOK_SECRET: AGENT_SECRET,
      FIREBREAK_CONFIG: join(dir, 'firebreak.yml'),
    },
  });
});
after(async () => bot.close());

function generic(body: string, ts = Math.floor(Date.now() / 1000)) {
  return fetch(`${bot.url}/webhooks/alerts/generic`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-firebreak-timestamp': String(ts), 'x-firebreak-signature': signGeneric(ALERT_SECRET, ts, body) },
    body,
  });
}

function alertmanager(n: number, prefix: string) {
  const body = JSON.stringify({
    version: '4',
    groupKey: `{}:{alertname="${prefix}"}`,
    status: 'firing',
    receiver: 'firebreak',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://am',
    truncatedAlerts: 0,
    alerts: Array.from({ length: n }, (_, k) => ({
      status: 'firing',
      labels: { alertname: `${prefix}-${k}`, severity: 'warning' },
      annotations: { summary: `${prefix} ${k}` },
      startsAt: new Date().toISOString(),
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: '',
      fingerprint: `${prefix}${k}`.padEnd(16, '0'),
    })),
  });
  return fetch(`${bot.url}/webhooks/alerts/alertmanager`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${AM_TOKEN}` },
    body,
  });
}

test('a generic alert re-sent with a fresh timestamp (a new signature) is the same delivery', async () => {
  const body = JSON.stringify({ title: 'Disk full on db-3', severity: 'low', external_id: 'disk-db-3' });
  const first = await generic(body);
  assert.equal(first.status, 202);
  const again = await generic(body, Math.floor(Date.now() / 1000) - 5);
  assert.equal(again.status, 200);
  assert.deepEqual(await again.json(), { duplicate: true, alerts: ((await first.json()) as { alerts: string[] }).alerts });
  assert.equal((await bot.fb.deps.store.listAlerts({ limit: 1000 })).filter((a) => a.title === 'Disk full on db-3').length, 1);
});

test('one delivery carries at most max_alerts_per_delivery alerts; the limit counts alerts, not deliveries', async () => {
  const tooMany = await alertmanager(11, 'many');
  assert.equal(tooMany.status, 413);
  assert.match(((await tooMany.json()) as { error: string }).error, /11 alerts in one delivery; at most 10/);
  assert.equal((await bot.fb.deps.store.listAlerts({ limit: 1000 })).filter((a) => a.title.startsWith('many')).length, 0);
  // 20 alerts a minute: two deliveries of 10 pass, the third is refused although it is only the third delivery.
  assert.equal((await alertmanager(10, 'burst-a')).status, 202);
  assert.equal((await alertmanager(10, 'burst-b')).status, 202);
  const third = await alertmanager(10, 'burst-c');
  // Alertmanager retries only on 5xx, so its overload answer is 503 (docs/alerts.md).
  assert.equal(third.status, 503);
  assert.ok(Number(third.headers.get('retry-after')) >= 1);
});

test('a payload nested too deep gets 400 with a reason (never a 500 the sender retries forever)', async () => {
  let details: unknown = 'x';
  for (let k = 0; k < 200; k++) details = { d: details };
  const deep = await generic(JSON.stringify({ title: 'Deep', severity: 'low', details }));
  assert.equal(deep.status, 400);
  assert.match(((await deep.json()) as { error: string }).error, /nested deeper than 32/);
  const long = await generic(JSON.stringify({ title: 'x'.repeat(5000), severity: 'low' }));
  assert.equal(long.status, 400);
  assert.match(((await long.json()) as { error: string }).error, /title/);
});

test('agents have a rate limit: 429 with Retry-After, and nothing is proposed', async () => {
  const statuses: number[] = [];
  let retryAfter: string | null = null;
  for (let k = 0; k < 5; k++) {
    const payload = { agent: 'flood', incident: { id: 'nope' }, action: 'clear_cache', params: { cache: 'c' }, reason: 'r' };
    const res = await postAgentProposal(bot, AGENT_SECRET, payload, { key: `k-${k}` });
    statuses.push(res.status);
    if (res.status === 429) retryAfter = res.headers.get('retry-after');
  }
  assert.deepEqual(statuses, [404, 404, 404, 429, 429]);
  assert.ok(Number(retryAfter) >= 1);
});
