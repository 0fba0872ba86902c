import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  fingerprint,
  normaliseAlertTitle,
  parseAlertmanager,
  parseDatadog,
  parseGeneric,
  parsePagerDuty,
  severityFromPriority,
  type NormalisedAlert,
  type ParsedDelivery,
} from '../../src/domain/alert.js';

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/alerts/${name}`, import.meta.url), 'utf8'));

function alertsOf(p: ParsedDelivery): NormalisedAlert[] {
  assert.ok(p.ok, `expected a parse, got ${JSON.stringify(p)}`);
  return p.alerts;
}

describe('PagerDuty V3', () => {
  test('incident.triggered with priority P2 is a firing high alert keyed by incident_key', () => {
    const p = parsePagerDuty(fixture('pagerduty-triggered.json'));
    assert.ok(p.ok);
    assert.equal(p.deliveryId, '01HQORD3RS7T1GGERED0000001');
    const [a] = alertsOf(p);
    assert.deepEqual(
      { ...a!, raw: undefined },
      {
        source: 'pagerduty',
        title: 'Orders API 5xx ratio above 2%',
        service: 'Orders API',
        severity: 'high',
        status: 'firing',
        externalId: 'Q1ORDERS5XX9',
        dedupKey: 'orders-api/5xx-ratio',
        url: 'https://initech.pagerduty.com/incidents/Q1ORDERS5XX9',
        raw: undefined,
      },
    );
  });

  test('incident.resolved is resolved and shares the firing alert fingerprint', () => {
    const [fired] = alertsOf(parsePagerDuty(fixture('pagerduty-triggered.json')));
    const [resolved] = alertsOf(parsePagerDuty(fixture('pagerduty-resolved.json')));
    assert.equal(resolved!.status, 'resolved');
    assert.equal(fingerprint(resolved!), fingerprint(fired!));
  });

  test('without a priority, urgency decides: low → low', () => {
    const [a] = alertsOf(parsePagerDuty(fixture('pagerduty-low-urgency-no-priority.json')));
    assert.equal(a!.severity, 'low');
  });

  test('acknowledged carries no alert and is acknowledged, not refused (PagerDuty retries non-2xx)', () => {
    const p = parsePagerDuty(fixture('pagerduty-acknowledged.json'));
    assert.ok(p.ok);
    assert.equal(p.alerts.length, 0);
    assert.match(p.ignored ?? '', /incident\.acknowledged/);
  });

  test('an unknown shape is refused with the path that is wrong', () => {
    const p = parsePagerDuty({ messages: [{ event: 'incident.trigger' }] });
    assert.ok(!p.ok);
    assert.match(p.reason, /event/);
  });

  test('priority mapping P1..P5', () => {
    assert.deepEqual(['P1', 'p2', 'P3', 'P4', 'P5', 'P6', ''].map(severityFromPriority), ['critical', 'high', 'medium', 'low', 'low', null, null]);
  });
});

describe('Datadog', () => {
  test('a Triggered P3 event maps to a firing medium alert on the service tag, title without the transition prefix', () => {
    const p = parseDatadog(fixture('datadog-triggered.json'));
    assert.ok(p.ok);
    assert.equal(p.deliveryId, '7281930124851299042');
    const [a] = alertsOf(p);
    assert.equal(a!.title, 'Search indexer queue depth above 10k');
    assert.equal(a!.service, 'search-indexer');
    assert.equal(a!.severity, 'medium');
    assert.equal(a!.status, 'firing');
    assert.equal(a!.dedupKey, 'a41f09c2d7be3e50');
    assert.equal(a!.externalId, '98127777');
  });

  test('Recovered resolves the same fingerprint (same alert cycle key)', () => {
    const [fired] = alertsOf(parseDatadog(fixture('datadog-triggered.json')));
    const [rec] = alertsOf(parseDatadog(fixture('datadog-recovered.json')));
    assert.equal(rec!.status, 'resolved');
    assert.equal(fingerprint(rec!), fingerprint(fired!));
  });

  test('No Data with an unsubstituted $ALERT_PRIORITY fires at medium', () => {
    const [a] = alertsOf(parseDatadog(fixture('datadog-no-data-unsubstituted-priority.json')));
    assert.equal(a!.status, 'firing');
    assert.equal(a!.severity, 'medium');
  });

  test('an unknown transition is refused with a reason naming it', () => {
    const body = { ...(fixture('datadog-triggered.json') as object), transition: 'Exploded' };
    const p = parseDatadog(body);
    assert.ok(!p.ok);
    assert.match(p.reason, /Exploded/);
  });
});

describe('Alertmanager v4', () => {
  test('one POST carries several alerts; severity, service, title and fingerprint per alert', () => {
    const p = parseAlertmanager(fixture('alertmanager-firing.json'));
    const alerts = alertsOf(p);
    assert.equal(alerts.length, 2);
    const [disk, kafka] = alerts;
    assert.equal(disk!.title, 'Disk on pg-primary-0 will fill within 4 hours');
    assert.equal(disk!.service, 'postgres'); // labels.service wins over job
    assert.equal(disk!.severity, 'medium'); // warning
    assert.equal(disk!.dedupKey, '5e2a1c09b7f3d814');
    assert.equal(kafka!.title, 'DiskWillFillIn4Hours'); // no summary: alertname
    assert.equal(kafka!.service, 'node'); // no service label: job
    assert.equal(kafka!.severity, 'high'); // error
    assert.notEqual(fingerprint(disk!), fingerprint(kafka!));
  });

  test('resolved alerts keep their fingerprints', () => {
    const fired = alertsOf(parseAlertmanager(fixture('alertmanager-firing.json')));
    const resolved = alertsOf(parseAlertmanager(fixture('alertmanager-resolved.json')));
    assert.deepEqual(
      resolved.map((a) => a.status),
      ['resolved', 'resolved'],
    );
    assert.deepEqual(resolved.map(fingerprint), fired.map(fingerprint));
  });

  test('version other than 4 is refused', () => {
    const p = parseAlertmanager({ ...(fixture('alertmanager-firing.json') as object), version: '3' });
    assert.ok(!p.ok);
    assert.match(p.reason, /version/);
  });
});

describe('generic', () => {
  test('the documented shape: sev2 → high, defaults to firing', () => {
    const [a] = alertsOf(parseGeneric(fixture('generic-firing.json')));
    assert.equal(a!.severity, 'high');
    assert.equal(a!.status, 'firing');
    assert.equal(a!.service, 'billing-export');
    assert.equal(a!.externalId, 'run-2026-11-20-0300');
    const [b] = alertsOf(parseGeneric({ title: 'x', severity: 'P1' }));
    assert.equal(b!.severity, 'critical');
    assert.equal(b!.status, 'firing');
  });

  test('unknown severity and unknown fields are refused with a reason', () => {
    const bad = parseGeneric({ title: 'x', severity: 'catastrophic' });
    assert.ok(!bad.ok);
    assert.match(bad.reason, /catastrophic/);
    const extra = parseGeneric({ title: 'x', severity: 'low', priority: 1 });
    assert.ok(!extra.ok);
    assert.match(extra.reason, /priority/);
  });
});

describe('fingerprint', () => {
  const base = { source: 'generic' as const, dedupKey: null };
  test('numbers, ids and addresses in the title do not split an alert', () => {
    const a = fingerprint({ ...base, title: 'Error rate 5.3% on pod checkout-7f9c2d (10.0.3.17:8080)', service: 'Checkout' });
    const b = fingerprint({ ...base, title: 'error rate 6.1% on pod checkout-a81e03 (10.0.9.4:8080)', service: 'checkout' });
    assert.equal(a, b);
  });

  test('a different service or a different symptom is a different alert', () => {
    const a = fingerprint({ ...base, title: 'Error rate high', service: 'checkout' });
    assert.notEqual(a, fingerprint({ ...base, title: 'Error rate high', service: 'search' }));
    assert.notEqual(a, fingerprint({ ...base, title: 'Latency high', service: 'checkout' }));
  });

  test("a source's own dedup key wins over the title, namespaced by source", () => {
    const a = fingerprint({ source: 'pagerduty', title: 'A', service: 's', dedupKey: 'k1' });
    assert.equal(a, fingerprint({ source: 'pagerduty', title: 'totally different', service: 'x', dedupKey: 'k1' }));
    assert.notEqual(a, fingerprint({ source: 'datadog', title: 'A', service: 's', dedupKey: 'k1' }));
  });

  test('normalised title keeps words', () => {
    assert.equal(normaliseAlertTitle('Disk /var at 91% on db-0f3a9c1'), 'disk var at # on db #');
  });
});
