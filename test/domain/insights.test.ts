import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  acknowledgement,
  computeFigures,
  filterFacts,
  isoWeek,
  parsePeriodDays,
  percentile,
  sliceFigures,
  summarize,
  weeklyTrend,
  weekStart,
  type IncidentFacts,
} from '../../src/domain/insights.js';

const T0 = new Date('2026-11-02T10:00:00Z'); // a Monday
const min = (n: number) => new Date(T0.getTime() + n * 60_000);

function facts(over: Partial<IncidentFacts> & { key: string }): IncidentFacts {
  return {
    title: over.key,
    severity: 'high',
    services: ['api'],
    origin: 'slack',
    status: 'resolved',
    startedAt: T0,
    acknowledgedAt: null,
    mitigatedAt: null,
    resolvedAt: null,
    reopened: 0,
    postmortem: 'none',
    remediations: { executed: 0, notNeeded: 0 },
    runbook: false,
    ...over,
  };
}

test('percentiles interpolate between closest ranks; median and p90 beside the mean', () => {
  assert.equal(percentile([1, 2, 3, 4], 50), 2.5);
  assert.equal(percentile([10], 90), 10);
  assert.equal(percentile([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 90), 90);
  assert.deepEqual(summarize([5, 1, 3]), { n: 3, meanMs: 3, medianMs: 3, p90Ms: 4.6 });
  assert.equal(summarize([]), null);
});

test('acknowledgement: the backend time first, else the earlier of commander and first human entry, never before the start', () => {
  const base = { startedAt: min(0), backendAcknowledgedAt: null, firstCommanderAt: null, firstHumanEntryAt: null };
  assert.equal(acknowledgement(base), null, 'never acknowledged');
  assert.deepEqual(acknowledgement({ ...base, backendAcknowledgedAt: min(7), firstCommanderAt: min(2) }), min(7));
  assert.deepEqual(acknowledgement({ ...base, firstCommanderAt: min(9), firstHumanEntryAt: min(4) }), min(4));
  assert.deepEqual(acknowledgement({ ...base, firstCommanderAt: min(3) }), min(3));
  assert.deepEqual(acknowledgement({ ...base, backendAcknowledgedAt: min(-5) }), min(0), 'skewed clocks clamp to the start');
});

test('MTTA, MTTR and MTTM on hand-built timelines: never acknowledged, reopened, open, cancelled', () => {
  const list = [
    // acked after 4 min, mitigated at 20, resolved at 60
    facts({ key: 'a', acknowledgedAt: min(4), mitigatedAt: min(20), resolvedAt: min(60) }),
    // acked at 10, resolved at 120 without a separate mitigation (MTTM = resolve)
    facts({ key: 'b', acknowledgedAt: min(10), resolvedAt: min(120) }),
    // never acknowledged, resolved by automation after 30 min: counts for MTTR, not MTTA
    facts({ key: 'c', resolvedAt: min(30), origin: 'alert' }),
    // resolved at 15, reopened, resolved again at 240: counts once, to the last resolve
    facts({ key: 'd', acknowledgedAt: min(2), mitigatedAt: min(10), resolvedAt: min(240), reopened: 1 }),
    // reopened and still open: no resolution time
    facts({ key: 'e', status: 'investigating', acknowledgedAt: min(6), resolvedAt: null, reopened: 1 }),
    // cancelled: not an incident for the figures
    facts({ key: 'f', status: 'cancelled', acknowledgedAt: min(1), resolvedAt: min(2) }),
  ];
  const f = computeFigures(list);
  assert.equal(f.incidents, 5);
  assert.deepEqual(f.mtta, { n: 4, meanMs: 5.5 * 60_000, medianMs: 5 * 60_000, p90Ms: 8.8 * 60_000 });
  assert.equal(f.mttr!.n, 4);
  assert.equal(f.mttr!.meanMs, ((60 + 120 + 30 + 240) / 4) * 60_000);
  assert.equal(f.mttr!.medianMs, 90 * 60_000);
  assert.equal(f.mttm!.n, 4); // a: 20, b: 120 (resolve), c: 30 (resolve), d: 10
  assert.equal(f.mttm!.medianMs, 25 * 60_000);
});

test('false-positive remediation rate: executed answered "not needed" ÷ executed; none executed = no figure', () => {
  assert.equal(computeFigures([facts({ key: 'x' })]).falsePositive, null);
  const f = computeFigures([
    facts({ key: 'a', remediations: { executed: 3, notNeeded: 1 }, runbook: true }),
    facts({ key: 'b', remediations: { executed: 1, notNeeded: 1 }, runbook: true }),
    facts({ key: 'c' }),
  ]);
  assert.deepEqual(f.falsePositive, { numerator: 2, denominator: 4, rate: 0.5 });
});

test('post-mortem completion: completed ÷ resolved with a known state; none and drafts count against, open and untracked do not count', () => {
  const f = computeFigures([
    facts({ key: 'a', resolvedAt: min(5), postmortem: 'completed' }),
    facts({ key: 'b', resolvedAt: min(5), postmortem: 'draft' }),
    facts({ key: 'c', resolvedAt: min(5), postmortem: 'none' }), // no post-mortem at all
    facts({ key: 'd', status: 'investigating', postmortem: 'none' }), // not resolved
    facts({ key: 'e', resolvedAt: min(5), postmortem: null }), // the backend does not track it
  ]);
  assert.deepEqual(f.postmortem, { numerator: 1, denominator: 3, rate: 1 / 3 });
  assert.equal(computeFigures([facts({ key: 'z', postmortem: null, resolvedAt: min(1) })]).postmortem, null);
});

test('slices by severity, service, origin and runbook; filters by period, severity and service', () => {
  const list = [
    facts({ key: 'a', severity: 'critical', services: ['api', 'db'], origin: 'alert', resolvedAt: min(10), runbook: true }),
    facts({ key: 'b', severity: 'low', services: ['web'], origin: 'backend', resolvedAt: min(20), startedAt: min(60 * 24 * 3) }),
    facts({ key: 'c', severity: 'critical', services: [], resolvedAt: min(30) }),
  ];
  const bySev = sliceFigures(list, 'severity');
  assert.equal(bySev.get('critical')!.incidents, 2);
  assert.equal(bySev.get('low')!.incidents, 1);
  const bySvc = sliceFigures(list, 'service');
  assert.deepEqual([...bySvc.keys()].sort(), ['(none)', 'api', 'db', 'web']);
  assert.equal(sliceFigures(list, 'origin').get('backend')!.incidents, 1);
  assert.equal(sliceFigures(list, 'runbook').get('runbook')!.incidents, 1);
  assert.equal(sliceFigures(list, 'runbook').get('none')!.incidents, 2);

  const window = { from: min(-1), to: min(60 * 24) };
  assert.deepEqual(
    filterFacts(list, window).map((f) => f.key),
    ['a', 'c'],
  );
  assert.deepEqual(
    filterFacts(list, { ...window, service: 'API' }).map((f) => f.key),
    ['a'],
  );
  assert.deepEqual(
    filterFacts(list, { from: min(0), to: min(60 * 24 * 7), severity: 'low' }).map((f) => f.key),
    ['b'],
  );
});

test('ISO weeks and the weekly trend', () => {
  assert.equal(isoWeek(new Date('2026-11-30T23:59:00Z')), '2026-W49');
  assert.equal(isoWeek(new Date('2027-01-01T00:00:00Z')), '2026-W53');
  assert.equal(isoWeek(new Date('2021-01-03T12:00:00Z')), '2020-W53');
  assert.equal(isoWeek(new Date('2024-12-30T00:00:00Z')), '2025-W01');
  assert.deepEqual(weekStart(new Date('2026-11-05T13:00:00Z')), new Date('2026-11-02T00:00:00Z'));
  const trend = weeklyTrend(
    [
      facts({ key: 'a', resolvedAt: min(30), acknowledgedAt: min(3) }),
      facts({ key: 'b', severity: 'low', startedAt: min(60 * 24 * 8), resolvedAt: min(60 * 24 * 8 + 60) }),
    ],
    T0,
    new Date(T0.getTime() + 14 * 86_400_000),
  );
  assert.equal(trend.length, 3); // the window starts mid-week 1 and ends mid-week 3
  assert.equal(trend[0]!.bySeverity.high, 1);
  assert.equal(trend[0]!.mtta!.medianMs, 3 * 60_000);
  assert.equal(trend[1]!.bySeverity.low, 1);
  assert.equal(trend[1]!.mttr!.medianMs, 60 * 60_000);
  assert.equal(trend[2]!.mttr, null);
  assert.equal(parsePeriodDays('90d'), 90);
  assert.equal(parsePeriodDays('90'), null);
  assert.equal(parsePeriodDays('0d'), null);
});
