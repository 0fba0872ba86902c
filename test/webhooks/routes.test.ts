import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { signGeneric, signPagerDuty, signRootly, signSvix } from '../../src/webhooks/verify.js';
import { buildHarness, call, route, SECRETS, type Harness } from './harness.js';
import { openTestStore } from '../store/pg-helper.js';

const fixtureText = (name: string): string => readFileSync(new URL(`../fixtures/alerts/${name}`, import.meta.url), 'utf8');

const unix = (h: Harness) => Math.floor(h.clock.now().getTime() / 1000);

async function alertRows(h: Harness): Promise<number> {
  return (await h.store.listAlerts({})).length;
}

/**
 * One block per webhook: a valid delivery is stored (202), a wrong signature (401) and a stale one
 * (401) store nothing, and a replay of the valid delivery is a 200 duplicate with no new row.
 */
describe('webhook signatures', () => {
  let h: Harness;
  before(async () => {
    h = await buildHarness({ file: { alerts: { rate_limit_per_minute: 1000 } } });
  });
  after(async () => h.close());

  test('PagerDuty: v1 HMAC; any of several signatures may match; wrong → 401; replay → duplicate', async () => {
    const r = route(h, '/webhooks/alerts/pagerduty');
    const body = fixtureText('pagerduty-triggered.json');
    const before = await alertRows(h);
    const wrong = await call(r, body, { 'X-PagerDuty-Signature': signPagerDuty('not-the-secret', body) });
    assert.equal(wrong.status, 401);
    assert.match(wrong.body.error, /signature mismatch/);
    const missing = await call(r, body);
    assert.equal(missing.status, 401);
    assert.equal(await alertRows(h), before);

    // During rotation PagerDuty lists the old and the new signature.
    const sig = `${signPagerDuty('old-rotated-secret', body)},${signPagerDuty(SECRETS.PAGERDUTY_WEBHOOK_SECRET, body)}`;
    const ok = await call(r, body, { 'X-PagerDuty-Signature': sig });
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    assert.equal(ok.body.accepted, 1);
    assert.equal(await alertRows(h), before + 1);
    assert.equal(await h.store.countJobs({ kind: 'alert.process' }), 1);

    const replay = await call(r, body, { 'X-PagerDuty-Signature': sig });
    assert.equal(replay.status, 200);
    assert.equal(replay.body.duplicate, true);
    assert.equal(await alertRows(h), before + 1);
    assert.equal(await h.store.countJobs({ kind: 'alert.process' }), 1);
  });

  test('a tampered body fails the signature made for the original', async () => {
    const r = route(h, '/webhooks/alerts/pagerduty');
    const body = fixtureText('pagerduty-resolved.json');
    const sig = signPagerDuty(SECRETS.PAGERDUTY_WEBHOOK_SECRET, body);
    const res = await call(r, body.replace('"P2"', '"P1"'), { 'X-PagerDuty-Signature': sig });
    assert.equal(res.status, 401);
  });

  test('Datadog: X-Firebreak-Token or HTTP Basic; wrong → 401; replay of $ID → duplicate', async () => {
    const r = route(h, '/webhooks/alerts/datadog');
    const body = fixtureText('datadog-triggered.json');
    assert.equal((await call(r, body, { 'X-Firebreak-Token': 'guess' })).status, 401);
    assert.equal((await call(r, body, { Authorization: `Basic ${Buffer.from('datadog:guess').toString('base64')}` })).status, 401);
    assert.equal((await call(r, body)).status, 401);
    const ok = await call(r, body, { 'X-Firebreak-Token': SECRETS.DATADOG_WEBHOOK_SECRET });
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    const basic = await call(r, body, { Authorization: `Basic ${Buffer.from(`datadog:${SECRETS.DATADOG_WEBHOOK_SECRET}`).toString('base64')}` });
    assert.equal(basic.status, 200);
    assert.equal(basic.body.duplicate, true);
  });

  test('Alertmanager: bearer token; one POST → one row per alert', async () => {
    const r = route(h, '/webhooks/alerts/alertmanager');
    const body = fixtureText('alertmanager-firing.json');
    assert.equal((await call(r, body, { Authorization: 'Bearer nope' })).status, 401);
    const before = await alertRows(h);
    const ok = await call(r, body, { Authorization: `Bearer ${SECRETS.ALERTMANAGER_WEBHOOK_TOKEN}` });
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    assert.equal(ok.body.accepted, 2);
    assert.equal(await alertRows(h), before + 2);
  });

  test('Alertmanager: basic_auth works as well as the bearer token (the token is the password, any user)', async () => {
    const r = route(h, '/webhooks/alerts/alertmanager');
    const body = fixtureText('alertmanager-firing.json');
    const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    assert.equal((await call(r, body, { Authorization: basic('alertmanager', 'wrong') })).status, 401);
    const ok = await call(r, body, { Authorization: basic('alertmanager', SECRETS.ALERTMANAGER_WEBHOOK_TOKEN) });
    assert.ok(ok.status === 202 || ok.status === 200, JSON.stringify(ok.body));
  });

  test('generic: HMAC over timestamp.body; stale (>5 min) → 401; replay → duplicate', async () => {
    const r = route(h, '/webhooks/alerts/generic');
    const body = fixtureText('generic-firing.json');
    const ts = unix(h);
    const headers = (t: number, secret: string = SECRETS.ALERT_WEBHOOK_SECRET) => ({
      'X-Firebreak-Timestamp': String(t),
      'X-Firebreak-Signature': signGeneric(secret, t, body),
    });
    assert.equal((await call(r, body, headers(ts, 'wrong'))).status, 401);
    const stale = await call(r, body, headers(ts - 301));
    assert.equal(stale.status, 401);
    assert.match(stale.body.error, /window/);
    const ok = await call(r, body, headers(ts - 10));
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    const replay = await call(r, body, headers(ts - 10));
    assert.equal(replay.status, 200);
    assert.equal(replay.body.duplicate, true);
  });

  test('generic: the signature must be exactly the HMAC in hex (either case); a digit more or less, or another digest, is refused', async () => {
    const r = route(h, '/webhooks/alerts/generic');
    const ts = unix(h);
    const body = JSON.stringify({ title: 'Signature exactness check', service: 'auth', severity: 'low', external_id: 'sig-exact' });
    const hex = signGeneric(SECRETS.ALERT_WEBHOOK_SECRET, ts, body).slice('sha256='.length);
    const send = (sig: string) => call(r, body, { 'X-Firebreak-Timestamp': String(ts), 'X-Firebreak-Signature': sig });
    const before = await alertRows(h);
    for (const sig of [
      `sha256=${hex}0`,
      `sha256=${hex}00`,
      `sha256=${hex.slice(0, -1)}`,
      `sha256=${hex.slice(0, -2)}`,
      `sha256=${hex.slice(0, -1)}${hex.endsWith('0') ? '1' : '0'}`,
    ]) {
      const res = await send(sig);
      assert.equal(res.status, 401, sig);
      assert.match(res.body.error, /signature mismatch/);
    }
    assert.equal(await alertRows(h), before, 'nothing stored for a refused signature');
    const ok = await send(`sha256=${hex.toUpperCase()}`);
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    assert.equal(await alertRows(h), before + 1);
  });

  test('generic: JSON nested more than 32 deep is refused with a reason; brackets inside strings do not count as nesting', async () => {
    const r = route(h, '/webhooks/alerts/generic');
    const ts = unix(h);
    const send = (body: string) =>
      call(r, body, { 'X-Firebreak-Timestamp': String(ts), 'X-Firebreak-Signature': signGeneric(SECRETS.ALERT_WEBHOOK_SECRET, ts, body) });
    const nested = (depth: number) => {
      let v: unknown = 'leaf';
      for (let i = 0; i < depth; i++) v = i % 2 ? { k: v } : [v];
      return v;
    };
    // details is the 2nd level: 30 more containers inside make 32 in all (allowed), 31 make 33.
    const alert = (details: unknown, title = 'Nesting check') => JSON.stringify({ title, service: 'api', severity: 'low', details });
    const deep = await send(alert({ x: nested(31) }, 'Nesting check deep'));
    assert.equal(deep.status, 400);
    assert.match(deep.body.error, /nested deeper than 32/);
    const limit = await send(alert({ x: nested(30) }, 'Nesting check at the limit'));
    assert.equal(limit.status, 202, JSON.stringify(limit.body));
    const brackets = await send(alert({ note: '[[[[[[[[[[{{{{{{{{{{[[[[[[[[[[{{{{{{{{{{' }, 'Nesting check [[[ in text {{{'));
    assert.equal(brackets.status, 202, JSON.stringify(brackets.body));
  });

  test('generic: deliveries arriving together are each stored once with their processing job; a repeat among them is a duplicate', async () => {
    const r = route(h, '/webhooks/alerts/generic');
    const before = await alertRows(h);
    const idsBefore = new Set((await h.store.listAlerts({})).map((a) => a.id));
    const jobsBefore = await h.store.countJobs({ kind: 'alert.process' });
    const ts = unix(h);
    const signed = (body: string) => ({ 'X-Firebreak-Timestamp': String(ts), 'X-Firebreak-Signature': signGeneric(SECRETS.ALERT_WEBHOOK_SECRET, ts, body) });
    const distinct = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({ title: `Burst alert ${String.fromCharCode(97 + i)} on queue`, service: 'queue', severity: 'high', external_id: `burst-${i}` }),
    );
    const repeated = JSON.stringify({ title: 'Burst alert sent five times', service: 'queue', severity: 'high', external_id: 'burst-repeat' });
    // All in flight at once: they reach the store in the same transaction.
    const results = await Promise.all([...distinct, repeated, repeated, repeated, repeated, repeated].map((b) => call(r, b, signed(b))));
    const distinctResults = results.slice(0, 20);
    const repeatResults = results.slice(20);
    assert.deepEqual(
      distinctResults.map((x) => x.status),
      Array(20).fill(202),
    );
    assert.equal(repeatResults.filter((x) => x.status === 202).length, 1, JSON.stringify(repeatResults.map((x) => x.body)));
    assert.ok(repeatResults.filter((x) => x.status !== 202).every((x) => x.status === 200 && x.body.duplicate === true));
    // The repeats name the one stored alert.
    assert.equal(new Set(repeatResults.map((x) => x.body.alerts[0])).size, 1);
    assert.equal((await alertRows(h)) - before, 21);
    // Every stored alert is named by a queued processing job (one per burst that reached the store together).
    const fresh = (await h.store.listAlerts({})).map((a) => a.id).filter((id) => !idsBefore.has(id));
    const queued = (await h.store.claimJobs(['alert.process'], 'test', 1000, h.clock.now(), 1000)).flatMap((j) => {
      const p = j.payload as { alertId?: string; alertIds?: string[] };
      return p.alertIds ?? [p.alertId!];
    });
    assert.deepEqual(
      fresh.filter((id) => !queued.includes(id)),
      [],
      'every stored alert has its processing job',
    );
    // One job per burst that reached the store together, not one per alert (each job row is
    // written, claimed and completed: in a storm that was most of the database's work).
    assert.ok((await h.store.countJobs({ kind: 'alert.process' })) - jobsBefore < 21, 'fewer processing jobs than alerts');
  });

  test('Rootly: t + body HMAC; stale → 401; replayed event id → duplicate', async () => {
    const r = route(h, '/webhooks/rootly');
    const body = fixtureText('rootly-incident-created.json');
    const ts = unix(h);
    assert.equal((await call(r, body, { 'X-Rootly-Signature': signRootly('wrong', body, ts) })).status, 401);
    const stale = await call(r, body, { 'X-Rootly-Signature': signRootly(SECRETS.ROOTLY_WEBHOOK_SECRET, body, ts - 6 * 60) });
    assert.equal(stale.status, 401);
    const jobs = await h.store.countJobs({ kind: 'backend.event' });
    const ok = await call(r, body, { 'X-Rootly-Signature': signRootly(SECRETS.ROOTLY_WEBHOOK_SECRET, body, ts) });
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    // Rootly re-delivers with a fresh timestamp: still the same event id.
    const replay = await call(r, body, { 'X-Rootly-Signature': signRootly(SECRETS.ROOTLY_WEBHOOK_SECRET, body, ts + 30) });
    assert.equal(replay.status, 200);
    assert.equal(replay.body.duplicate, true);
    assert.equal(await h.store.countJobs({ kind: 'backend.event' }), jobs + 1);
  });

  test('incident.io: Svix signature; stale → 401; replayed webhook-id → duplicate', async () => {
    const r = route(h, '/webhooks/incidentio');
    const body = fixtureText('incidentio-incident-created.json');
    const ts = unix(h);
    const id = 'msg_2pQx9Zc1LkT7fH3aN0bV5eRw';
    const headers = (t: number, secret: string = SECRETS.INCIDENTIO_WEBHOOK_SECRET) => ({
      'webhook-id': id,
      'webhook-timestamp': String(t),
      'webhook-signature': `v1,AAAA ${signSvix(secret, id, t, body)}`, // several signatures, space-separated
    });
    assert.equal((await call(r, body, headers(ts, `whsec_${Buffer.from('some-other-key').toString('base64')}`))).status, 401);
    assert.equal((await call(r, body, headers(ts + 301))).status, 401);
    const ok = await call(r, body, headers(ts));
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    const replay = await call(r, body, headers(ts + 5));
    assert.equal(replay.status, 200);
    assert.equal(replay.body.duplicate, true);
  });
});

describe('incident.io escalation events (the prompt to check a page)', () => {
  let h: Harness;
  before(async () => {
    h = await buildHarness({});
  });
  after(async () => h.close());

  // incident.io sends the public variant with the escalation, and the private one with its id only.
  for (const [variant, data] of [
    ['public', { escalation: { id: 'esc-not-ours-1', status: 'acked' } }],
    ['private', { id: 'esc-not-ours-2' }],
  ] as const) {
    test(`${variant}_escalation.escalation_status_updated_v1 is read as an escalation event (not one Firebreak waits on here)`, async () => {
      const type = `${variant}_escalation.escalation_status_updated_v1`;
      const body = JSON.stringify({ event_type: type, [type]: data });
      const id = `msg_${variant}_escalation`;
      const ts = unix(h);
      const res = await call(route(h, '/webhooks/incidentio'), body, {
        'webhook-id': id,
        'webhook-timestamp': String(ts),
        'webhook-signature': signSvix(SECRETS.INCIDENTIO_WEBHOOK_SECRET, id, ts, body),
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.ignored, 'an escalation Firebreak is not waiting on');
    });
  }
});

describe('bad input', () => {
  let h: Harness;
  before(async () => {
    h = await buildHarness({ file: { alerts: { max_body_bytes: 2048 } } });
  });
  after(async () => h.close());

  const generic = (h: Harness, body: string) => {
    const t = unix(h);
    return call(route(h, '/webhooks/alerts/generic'), body, {
      'X-Firebreak-Timestamp': String(t),
      'X-Firebreak-Signature': signGeneric(SECRETS.ALERT_WEBHOOK_SECRET, t, body),
    });
  };

  test('malformed JSON → 400 with the parser reason; nothing stored', async () => {
    const res = await generic(h, '{"title": "half');
    assert.equal(res.status, 400);
    assert.match(res.body.error, /malformed JSON/);
    assert.equal((await h.store.listAlerts({})).length, 0);
  });

  test('an unknown shape → 400 naming the field', async () => {
    const res = await generic(h, JSON.stringify({ summary: 'no title here', severity: 'high' }));
    assert.equal(res.status, 400);
    assert.match(res.body.error, /title/);
  });

  test('an Alertmanager POST with one bad alert stores none of them', async () => {
    const body = JSON.parse(fixtureText('alertmanager-firing.json'));
    body.alerts[1].status = 'exploding';
    const res = await call(route(h, '/webhooks/alerts/alertmanager'), JSON.stringify(body), { Authorization: `Bearer ${SECRETS.ALERTMANAGER_WEBHOOK_TOKEN}` });
    assert.equal(res.status, 400);
    assert.equal((await h.store.listAlerts({})).length, 0);
  });

  test('oversize body → 413 before anything else', async () => {
    const res = await generic(h, JSON.stringify({ title: 'x'.repeat(3000), severity: 'low' }));
    assert.equal(res.status, 413);
  });

  test('PagerDuty acknowledged → 200 ignored, nothing stored', async () => {
    const body = fixtureText('pagerduty-acknowledged.json');
    const res = await call(route(h, '/webhooks/alerts/pagerduty'), body, { 'X-PagerDuty-Signature': signPagerDuty(SECRETS.PAGERDUTY_WEBHOOK_SECRET, body) });
    assert.equal(res.status, 200);
    assert.ok(res.body.ignored);
    assert.equal((await h.store.listAlerts({})).length, 0);
  });
});

describe('tokens sent in clear and HMAC keys are separate secrets', () => {
  test('ALERT_WEBHOOK_SECRET (the generic HMAC key) is never accepted as a Datadog token or an Alertmanager Bearer', async () => {
    const h = await buildHarness({ env: { DATADOG_WEBHOOK_SECRET: '', ALERTMANAGER_WEBHOOK_TOKEN: '' } });
    try {
      const key = SECRETS.ALERT_WEBHOOK_SECRET;
      const dd = await call(route(h, '/webhooks/alerts/datadog'), fixtureText('datadog-triggered.json'), { 'X-Firebreak-Token': key });
      assert.equal(dd.status, 503);
      assert.match(dd.body.error, /DATADOG_WEBHOOK_SECRET \(or ALERT_WEBHOOK_TOKEN\)/);
      const am = await call(route(h, '/webhooks/alerts/alertmanager'), fixtureText('alertmanager-firing.json'), { authorization: `Bearer ${key}` });
      assert.equal(am.status, 503);
      assert.equal((await h.store.listAlerts({})).length, 0);
    } finally {
      await h.close();
    }
  });

  test('ALERT_WEBHOOK_TOKEN is the shared token of both clear-text sources', async () => {
    const token = 'shared-clear-token-0123456789';
    const h = await buildHarness({ env: { DATADOG_WEBHOOK_SECRET: '', ALERTMANAGER_WEBHOOK_TOKEN: '', ALERT_WEBHOOK_TOKEN: token } });
    try {
      const dd = await call(route(h, '/webhooks/alerts/datadog'), fixtureText('datadog-triggered.json'), { 'X-Firebreak-Token': token });
      assert.equal(dd.status, 202, JSON.stringify(dd.body));
      const am = await call(route(h, '/webhooks/alerts/alertmanager'), fixtureText('alertmanager-firing.json'), { authorization: `Bearer ${token}` });
      assert.equal(am.status, 202, JSON.stringify(am.body));
    } finally {
      await h.close();
    }
  });
});

describe('a source with no secret configured', () => {
  test('answers 503 naming the variable to set, and never accepts the alert', async () => {
    const h = await buildHarness({ env: { PAGERDUTY_WEBHOOK_SECRET: '', ROOTLY_WEBHOOK_SECRET: '' } });
    try {
      const body = fixtureText('pagerduty-triggered.json');
      const res = await call(route(h, '/webhooks/alerts/pagerduty'), body, { 'X-PagerDuty-Signature': signPagerDuty('', body) });
      assert.equal(res.status, 503);
      assert.match(res.body.error, /PAGERDUTY_WEBHOOK_SECRET/);
      const rootly = await call(route(h, '/webhooks/rootly'), fixtureText('rootly-incident-created.json'));
      assert.equal(rootly.status, 503);
      assert.match(rootly.body.error, /ROOTLY_WEBHOOK_SECRET/);
      assert.equal((await h.store.listAlerts({})).length, 0);
    } finally {
      await h.close();
    }
  });
});

describe('ingest limit', () => {
  test('beyond rate_limit_per_minute a source gets 429 with Retry-After; other sources are unaffected; tokens refill', async () => {
    const h = await buildHarness({ file: { alerts: { rate_limit_per_minute: 3 } } });
    try {
      const r = route(h, '/webhooks/alerts/generic');
      const send = (i: number) => {
        const body = JSON.stringify({ title: `Queue backlog ${i}`, severity: 'low', external_id: `e-${i}` });
        const t = unix(h);
        return call(r, body, { 'X-Firebreak-Timestamp': String(t), 'X-Firebreak-Signature': signGeneric(SECRETS.ALERT_WEBHOOK_SECRET, t, body) });
      };
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await send(i)).status);
      assert.deepEqual(statuses, [202, 202, 202, 429]);
      const limited = await send(99);
      assert.equal(limited.status, 429);
      assert.equal(limited.headers['retry-after'], '20'); // 3/min → one token every 20 s
      assert.equal((await h.store.listAlerts({})).length, 3);

      const dd = fixtureText('datadog-triggered.json');
      assert.equal((await call(route(h, '/webhooks/alerts/datadog'), dd, { 'X-Firebreak-Token': SECRETS.DATADOG_WEBHOOK_SECRET })).status, 202);

      h.clock.advance(20_000);
      assert.equal((await send(5)).status, 202);
      assert.equal((await send(6)).status, 429);
      const m = await h.deps.metrics.registry.getSingleMetricAsString('firebreak_webhooks_total');
      assert.match(m, /source="generic",outcome="rate_limited"} 3/);

      // Datadog and Alertmanager retry only on 5xx: a 429 would lose the alert, so they get 503 + Retry-After.
      const ddRoute = route(h, '/webhooks/alerts/datadog');
      let dds: { status: number; headers: Record<string, unknown> } | null = null;
      for (let i = 0; i < 5 && (!dds || dds.status < 400); i++)
        dds = await call(ddRoute, dd.replace(/"id":\s*"[^"]*"/, `"id": "dd-limit-${i}"`), { 'X-Firebreak-Token': SECRETS.DATADOG_WEBHOOK_SECRET });
      assert.equal(dds!.status, 503);
      assert.ok(Number(dds!.headers['retry-after']) > 0);
      const am = fixtureText('alertmanager-firing.json');
      let ams: { status: number; headers: Record<string, unknown> } | null = null;
      for (let i = 0; i < 5 && (!ams || ams.status < 400); i++)
        ams = await call(route(h, '/webhooks/alerts/alertmanager'), am, { Authorization: `Bearer ${SECRETS.ALERTMANAGER_WEBHOOK_TOKEN}` });
      assert.equal(ams!.status, 503);
      assert.ok(Number(ams!.headers['retry-after']) > 0);
    } finally {
      await h.close();
    }
  });
});

/**
 * A NUL (U+0000) in an alert's text: PostgreSQL refuses it in text, so without the store's
 * mending the insert failed (500) and the sender retried the delivery forever. Both stores keep
 * the alert, with U+FFFD in place of the NUL, alone or in a burst, and the incident it opens.
 */
for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`a NUL in an alert's text (${dialect})`, () => {
    let h: Harness;
    let opened: Awaited<ReturnType<typeof openTestStore>>;
    before(async () => {
      opened = await openTestStore(dialect);
      if (opened) h = await buildHarness({ store: opened.store, file: { alerts: { rate_limit_per_minute: 1000 } } });
    });
    after(async () => {
      await h?.close();
      await opened?.cleanup();
    });

    test('is accepted (202) and stored as U+FFFD, alone or with others at once; the incident it opens has it too', async (t) => {
      if (!opened) return t.skip('PostgreSQL not reachable');
      const r = route(h, '/webhooks/alerts/generic');
      const ts = unix(h);
      const send = (body: string) =>
        call(r, body, { 'X-Firebreak-Timestamp': String(ts), 'X-Firebreak-Signature': signGeneric(SECRETS.ALERT_WEBHOOK_SECRET, ts, body) });
      const alone = await send(JSON.stringify({ title: 'Disk\u0000full on db-1', service: 'db\u0000', severity: 'critical', external_id: 'nul-1' }));
      assert.equal(alone.status, 202, JSON.stringify(alone.body));
      const burst = await Promise.all(
        [2, 3, 4].map((i) => send(JSON.stringify({ title: `Queue\u0000stuck ${i}`, service: 'queue', severity: 'high', external_id: `nul-${i}` }))),
      );
      assert.deepEqual(
        burst.map((x) => x.status),
        [202, 202, 202],
        JSON.stringify(burst.map((x) => x.body)),
      );
      const titles = (await h.store.listAlerts({})).map((a) => a.title).sort();
      assert.deepEqual(titles, ['Disk\ufffdfull on db-1', 'Queue\ufffdstuck 2', 'Queue\ufffdstuck 3', 'Queue\ufffdstuck 4']);
      await h.drain();
      const incidents = await h.store.listOpenIncidents();
      assert.ok(
        incidents.some((i) => i.title.includes('Disk\ufffdfull on db-1')),
        JSON.stringify(incidents.map((i) => i.title)),
      );
      assert.ok(incidents.every((i) => !i.title.includes('\u0000')));
    });
  });
}
