import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRootlyBackend } from '../../src/adapters/backend/rootly/backend.js';
import { createIncidentIoBackend } from '../../src/adapters/backend/incidentio/backend.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import type { IncidentBackend } from '../../src/ports/backend.js';
import type { Chat } from '../../src/ports/chat.js';
import type { Store } from '../../src/ports/store.js';
import type { Deps } from '../../src/services/deps.js';
import { JobRunner } from '../../src/services/jobs.js';
import { syncHistory } from '../../src/services/insights-sync.js';
import { computeFigures } from '../../src/domain/insights.js';
import { startFakeRootly, type FakeRootly } from '../fakes/rootly/fake.js';
import { startFakeIncidentIo, type FakeIncidentIo } from '../fakes/incidentio/fake.js';
import { openTestSqliteStore, openTestStore } from '../store/pg-helper.js';
import { noCharts } from './deps-stubs.js';

/** Virtual time shared by the fake's rate-limit window, the adapter's sleeps and the sync's clock. */
function virtualTime(iso = '2026-11-30T12:00:00Z') {
  const t = { now: Date.parse(iso), sleeps: [] as number[] };
  return { t, now: () => t.now, sleep: async (ms: number) => void (t.sleeps.push(ms), (t.now += ms)) };
}

const DAY = 86_400_000;
const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

function depsFor(store: Store, backend: IncidentBackend, now: () => number, over: { page_size?: number; backfill_days?: number } = {}): Deps {
  const config = loadConfig({}, mkdtempSync(`${tmpdir()}/fb-cfg-`));
  config.file.insights.page_size = over.page_size ?? 100;
  if (over.backfill_days) config.file.insights.backfill_days = over.backfill_days;
  const clock = { now: () => new Date(now()) };
  const metrics = createMetrics();
  const jobs = new JobRunner(store, logger, clock, metrics);
  return {
    config,
    store,
    chat: {} as Chat,
    backend,
    executor: {} as Deps['executor'],
    oncall: {} as Deps['oncall'],
    summarizer: {} as Deps['summarizer'],
    clock,
    logger,
    metrics,
    jobs,
    charts: noCharts,
    newId: () => crypto.randomUUID(),
  };
}

/** `n` incidents spread over the last `days` days, each with its own lifecycle. */
function rootlyHistory(n: number, nowMs: number, days = 120) {
  return Array.from({ length: n }, (_, k) => {
    const start = nowMs - days * DAY + Math.floor((k * days * DAY) / n);
    const iso = (ms: number) => new Date(ms).toISOString();
    return {
      created_at: iso(start),
      started_at: iso(start),
      updated_at: iso(start + 3 * 3600_000),
      acknowledged_at: k % 5 === 0 ? null : iso(start + (k % 7) * 60_000),
      mitigated_at: iso(start + 30 * 60_000),
      resolved_at: iso(start + 3 * 3600_000),
      status: 'resolved',
      services: [k % 2 ? 'api' : 'checkout'],
    };
  });
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`insights sync from Rootly (${dialect})`, () => {
    let fake: FakeRootly;
    let store: Store;
    let cleanup: () => Promise<void> = async () => {};
    let vt: ReturnType<typeof virtualTime>;
    let skip: string | false = false;

    before(async () => {
      vt = virtualTime();
      fake = await startFakeRootly({ now: vt.now });
      const s = await openTestStore(dialect);
      if (!s) {
        skip = 'PostgreSQL not reachable';
        return;
      }
      ({ store, cleanup } = s);
    });
    after(async () => {
      await fake.close();
      await cleanup();
    });
    const rootly = () => createRootlyBackend({ apiKey: 'rootly-test-key', baseUrl: fake.url, now: vt.now, sleep: vt.sleep, random: () => 0.5 });

    test('the first run backfills page by page (page[size]=100, filter[updated_at][gte], sort=updated_at); later runs fetch only what changed', async (t) => {
      if (skip) return t.skip(skip);
      const seeded = fake.seedHistory(rootlyHistory(250, vt.t.now));
      // An incident from before the backfill period and a drill are not history.
      fake.seedHistory([{ ...rootlyHistory(1, vt.t.now - 400 * DAY)[0]! }, { ...rootlyHistory(1, vt.t.now)[0]!, kind: 'test' }]);
      const deps = depsFor(store, rootly(), vt.now);
      const before = fake.calls({ route: 'GET /v1/incidents' }).length;
      const first = await syncHistory(deps);
      const calls = fake.calls({ route: 'GET /v1/incidents' }).slice(before);
      assert.equal(first.finished, true);
      assert.equal(calls.length, 3, 'three pages of at most 100 for 250 incidents');
      for (const c of calls) {
        assert.equal(c.query['page[size]'], '100');
        assert.equal(c.query.sort, 'updated_at');
        assert.ok(c.query['filter[updated_at][gte]']);
      }
      assert.equal(Date.parse(calls[0]!.query['filter[updated_at][gte]']!), vt.t.now - 180 * DAY, 'default backfill: 180 days');
      assert.deepEqual(await store.countBackendIncidents('rootly'), { rows: 250, distinct: 250 });

      // Increments: two incidents change in Rootly's UI, one is declared there.
      vt.t.now += 15 * 60_000;
      fake.touch(seeded[3]!.id, { status: 'started', resolved_at: null });
      fake.touch(seeded[7]!.id, { title: 'Renamed in Rootly' });
      fake.seedHistory([
        { ...rootlyHistory(1, vt.t.now, 0)[0]!, status: 'started', resolved_at: null, mitigated_at: null, title: 'Declared in the Rootly UI' },
      ]);
      const mark = fake.calls({ route: 'GET /v1/incidents' }).length;
      const second = await syncHistory(deps);
      assert.equal(fake.calls({ route: 'GET /v1/incidents' }).length - mark, 1, 'one page holds every change');
      assert.equal(second.incidents, 3);
      assert.deepEqual(await store.countBackendIncidents('rootly'), { rows: 251, distinct: 251 });
      const facts = await store.listIncidentFacts({ from: new Date(vt.t.now - 200 * DAY), to: new Date(vt.t.now + DAY) });
      assert.equal(facts.length, 251);
      assert.equal(facts.find((f) => f.title === 'Declared in the Rootly UI')?.origin, 'backend', 'incidents never seen in Slack count too');
      assert.equal(facts.filter((f) => f.status === 'resolved').length, 249);
      const figures = computeFigures(facts);
      assert.equal(figures.mttr!.medianMs, 3 * 3600_000);
      assert.equal(figures.mtta!.n, 250 - 50, 'every fifth seeded incident, and the new one, were never acknowledged');
    });

    test('a 429 with RateLimit headers is waited out, then the walk goes on', async (t) => {
      if (skip) return t.skip(skip);
      fake.seedHistory(rootlyHistory(300, vt.t.now, 30));
      const deps = depsFor(store, rootly(), vt.now, { backfill_days: 365 });
      await store.setKv('insights.sync:rootly', null); // a fresh backfill over everything
      fake.setLimit(2, 10_000);
      vt.t.sleeps.length = 0;
      try {
        const res = await syncHistory(deps);
        assert.equal(res.finished, true);
      } finally {
        fake.setLimit(6000, 60_000);
      }
      const limited = fake.calls({ route: 'GET /v1/incidents' }).filter((c) => c.status === 429);
      assert.ok(limited.length >= 1, 'the fake refused some pages');
      assert.ok(
        vt.t.sleeps.some((ms) => ms >= 1000),
        `waited as RateLimit-Reset said (slept ${vt.t.sleeps.join(', ')} ms)`,
      );
      const counted = await store.countBackendIncidents('rootly');
      assert.equal(counted.rows, counted.distinct);
      assert.ok(counted.rows >= 551);
    });

    test('a sync that dies mid-walk resumes at its saved cursor: no page lost, no duplicate row', async (t) => {
      if (skip) return t.skip(skip);
      const f2 = await startFakeRootly({ now: vt.now });
      try {
        f2.seedHistory(rootlyHistory(450, vt.t.now, 60));
        const key = 'insights.sync:rootly';
        await store.setKv(key, null);
        const backend = createRootlyBackend({ apiKey: 'rootly-test-key', baseUrl: f2.url, now: vt.now, sleep: vt.sleep });
        const deps = depsFor(store, backend, vt.now);
        // Crash 1: after two pages (the cursor of page 3 is saved).
        const cut = await syncHistory(deps, { maxPages: 2 });
        assert.equal(cut.finished, false);
        const saved = (await store.getKv<{ run: { cursor: string } | null }>(key))!;
        assert.ok(saved.run?.cursor, 'the cursor is in the store');
        // Crash 2: the page is written but the process dies before the cursor is saved.
        let failSave = true;
        const crashing = new Proxy(store, {
          get(target, prop, recv) {
            if (prop === 'setKv' && failSave) return async () => ((failSave = false), Promise.reject(new Error('SIGKILL')));
            const v = Reflect.get(target, prop, recv);
            return typeof v === 'function' ? v.bind(target) : v;
          },
        });
        await assert.rejects(syncHistory({ ...deps, store: crashing }), /SIGKILL/);
        const mark = f2.calls({ route: 'GET /v1/incidents' }).length;
        const res = await syncHistory(deps);
        assert.equal(res.finished, true);
        const resumed = f2.calls({ route: 'GET /v1/incidents' }).slice(mark);
        assert.notEqual(
          resumed[0]!.query['filter[updated_at][gte]'],
          f2.calls({ route: 'GET /v1/incidents' })[0]!.query['filter[updated_at][gte]'],
          'resumed at the cursor, not from the start',
        );
        const all = await store.listIncidentFacts({ from: new Date(vt.t.now - 70 * DAY), to: new Date(vt.t.now + DAY) });
        const keys = all.map((f) => f.key);
        assert.equal(new Set(keys).size, keys.length, 'no duplicates');
        const counted = await store.countBackendIncidents('rootly');
        assert.equal(counted.rows, counted.distinct);
        for (const inc of f2.incidents()) assert.ok(keys.includes(`rootly:${inc.id}`), `incident ${inc.sequential_id} synced`);
      } finally {
        await f2.close();
      }
    });
  });
}

describe('insights sync from incident.io', () => {
  let fake: FakeIncidentIo;
  let store: Store;
  let cleanup: () => Promise<void>;
  const vt = virtualTime();
  before(async () => {
    fake = await startFakeIncidentIo({ now: vt.now });
    ({ store, cleanup } = await openTestSqliteStore());
  });
  after(async () => {
    await fake.close();
    await cleanup();
  });

  test('walks the after cursor oldest first, filtered by updated_at[gte]; maps lifecycle timestamps, severity rank and post-mortems; increments', async () => {
    const [live, closed, monitored] = [
      fake.statuses()[1]!,
      fake.statuses().find((s) => s.category === 'closed')!,
      fake.statuses().find((s) => s.name === 'Monitoring')!,
    ];
    const sevs = fake.severities();
    const t0 = vt.t.now - 10 * DAY;
    const iso = (ms: number) => new Date(ms).toISOString();
    const rows = Array.from({ length: 60 }, (_, k) => ({
      name: `Incident ${k}`,
      incident_status_id: k % 3 === 0 ? live.id : k % 3 === 1 ? closed.id : monitored.id,
      severity_id: sevs[k % 4]!.id,
      created_at: iso(t0 + k * 3600_000),
      updated_at: iso(t0 + k * 3600_000 + 60_000),
      timestamps: {
        'Reported at': iso(t0 + k * 3600_000),
        'Accepted at': iso(t0 + k * 3600_000 + 5 * 60_000),
        ...(k % 3 === 1 ? { 'Resolved at': iso(t0 + k * 3600_000 + 45 * 60_000) } : {}),
      },
      postmortems: k % 6 === 1 ? [{ id: `pm-${k}`, title: 'PM', content: '' }] : [],
    }));
    fake.seedHistory(rows);
    const backend = createIncidentIoBackend({ apiKey: 'incidentio-test-key', baseUrl: fake.url, now: vt.now, sleep: vt.sleep });
    const deps = depsFor(store, backend, vt.now, { page_size: 25 });
    const res = await syncHistory(deps);
    assert.deepEqual({ pages: res.pages, incidents: res.incidents, finished: res.finished }, { pages: 3, incidents: 60, finished: true });
    const calls = fake.calls({ route: 'GET /v2/incidents' });
    assert.equal(calls[0]!.query.sort_by, 'created_at_oldest_first');
    assert.equal(calls[0]!.query['updated_at[gte]'], new Date(vt.t.now - 180 * DAY).toISOString().slice(0, 10));
    assert.equal(calls[1]!.query.after, fake.incidents()[24]!.id);

    const facts = await store.listIncidentFacts({ from: new Date(t0 - DAY), to: new Date(vt.t.now) });
    assert.equal(facts.length, 60);
    const f1 = facts.find((f) => f.title === 'Incident 1')!;
    assert.equal(f1.status, 'resolved');
    assert.equal(f1.acknowledgedAt!.getTime() - f1.startedAt.getTime(), 5 * 60_000);
    assert.equal(f1.resolvedAt!.getTime() - f1.startedAt.getTime(), 45 * 60_000);
    assert.equal(f1.postmortem, 'completed', 'a document on a closed incident');
    assert.equal(facts.find((f) => f.title === 'Incident 2')!.status, 'mitigated');
    assert.equal(facts.find((f) => f.title === 'Incident 0')!.severity, 'low', 'lowest rank = least severe');
    assert.equal(facts.find((f) => f.title === 'Incident 3')!.severity, 'critical');
    const figures = computeFigures(facts);
    assert.deepEqual(figures.postmortem, { numerator: 10, denominator: 20, rate: 0.5 });

    // Increment: only what changed since the last run (by date, so the same day is read again, harmlessly).
    vt.t.now += 2 * DAY;
    fake.seedHistory([{ name: 'Declared in incident.io', created_at: iso(vt.t.now), updated_at: iso(vt.t.now), timestamps: { 'Reported at': iso(vt.t.now) } }]);
    const mark = fake.calls({ route: 'GET /v2/incidents' }).length;
    const again = await syncHistory(deps);
    assert.equal(again.incidents, 1);
    assert.equal(fake.calls({ route: 'GET /v2/incidents' }).length - mark, 1);
    assert.deepEqual(await store.countBackendIncidents('incidentio'), { rows: 61, distinct: 61 });
  });
});
