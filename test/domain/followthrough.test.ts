import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFollowup, proposedFollowups } from '../../src/domain/followup.js';
import { nextReminderAt, DEFAULT_CADENCE } from '../../src/domain/reminders.js';
import { PAGE_CHECK_FOR_MS, onCallInRotation, pageCheckDelayMs, pageKey, resolveTarget } from '../../src/domain/oncall.js';
import { parsePagerDutyAck } from '../../src/domain/alert.js';
import { parseCommand } from '../../src/domain/command.js';

const at = (s: string) => new Date(`2026-12-01T${s}:00Z`);

test('followup grammar: owner and due date anywhere, bad dates refused with a clear answer', () => {
  const r = parseFollowup('Add <@U0BOB0001> an alert due:2026-12-15 on lag');
  assert.deepEqual(r, { ok: true, draft: { text: 'Add an alert on lag', ownerId: 'U0BOB0001', due: '2026-12-15' } });
  assert.match((parseFollowup('x due:2026-02-30') as { error: string }).error, /not a date/);
  assert.match((parseFollowup('x due:tomorrow') as { error: string }).error, /due:YYYY-MM-DD/);
  assert.match((parseFollowup('<@U0BOB0001>') as { error: string }).error, /Say what needs doing/);
  const c = parseCommand('followup Rotate keys', ['commander']);
  assert.ok(c.ok && c.command.kind === 'followup');
  const p = parseCommand('page payments db is down', ['commander']);
  assert.deepEqual(p.ok && p.command, { kind: 'page', target: 'payments', message: 'db is down' });
  assert.equal(parseCommand('page', ['commander']).ok, false);
});

test('reminder cadence: per severity, restarted by an update, moved by a snooze, none unless investigating', () => {
  const base = {
    status: 'investigating' as const,
    severity: 'critical' as const,
    cadence: DEFAULT_CADENCE,
    createdAt: at('09:00'),
    lastUpdateAt: null,
    snoozedUntil: null,
    lastNudgeAt: null,
  };
  assert.deepEqual(nextReminderAt(base), at('09:15'));
  assert.deepEqual(nextReminderAt({ ...base, severity: 'medium' }), at('10:00'));
  assert.equal(nextReminderAt({ ...base, severity: 'low' }), null);
  assert.deepEqual(nextReminderAt({ ...base, lastUpdateAt: at('09:10') }), at('09:25'));
  assert.deepEqual(nextReminderAt({ ...base, lastNudgeAt: at('09:15') }), at('09:30'));
  assert.deepEqual(nextReminderAt({ ...base, snoozedUntil: at('10:00') }), at('10:00'));
  assert.equal(nextReminderAt({ ...base, status: 'mitigated' }), null);
  assert.equal(nextReminderAt({ ...base, status: 'resolved' }), null);
});

test('on-call: a local rotation hands over every shift; targets resolve by name or mention; one page key per target', () => {
  const r = { id: 'p', users: ['U1', 'U2'], shiftHours: 24, start: new Date('2026-12-01T00:00:00Z') };
  assert.equal(onCallInRotation(r, at('09:00'))!.userId, 'U1');
  assert.equal(onCallInRotation(r, new Date('2026-12-02T09:00:00Z'))!.userId, 'U2');
  assert.equal(onCallInRotation(r, new Date('2026-12-03T09:00:00Z'))!.userId, 'U1');
  assert.equal(onCallInRotation(r, new Date('2026-11-30T09:00:00Z')), null);
  const targets = [{ name: 'Payments', kind: 'service' as const, routingKeyEnv: 'K' }];
  const t = resolveTarget('payments', targets)!;
  assert.equal(t.kind, 'configured');
  assert.equal(pageKey('inc', t), pageKey('inc', resolveTarget('PAYMENTS', targets)!));
  assert.deepEqual(resolveTarget('<@U0BOB0001|bob>', targets), { kind: 'slack_user', name: '<@U0BOB0001>', slackUserId: 'U0BOB0001' });
  assert.equal(resolveTarget('nobody', targets), null);
});

test('proposed follow-ups are the Prevention bullets, without emphasis and without the recorded ones', () => {
  const md = '## Summary\n- not this\n## Prevention\n- **Add** a canary\n1. Page faster (suggestion)\n### Open follow-ups\n- Rotate keys\n## Other\n- no';
  assert.deepEqual(proposedFollowups(md), ['Add a canary', 'Page faster']);
});

test('a page is asked about 30 s after it was sent, then with doubling waits, at most every 10 minutes, for a day', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 12].map(pageCheckDelayMs), [30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000, 600_000]);
  assert.equal(PAGE_CHECK_FOR_MS, 24 * 3600_000);
});

test('a PagerDuty incident.acknowledged webhook gives the incident key, the service, who and when; other events give nothing', () => {
  const event = (type: string) => ({
    event: {
      id: 'E1',
      event_type: type,
      occurred_at: '2026-12-01T09:05:00Z',
      agent: { summary: 'Carol Jiménez', type: 'user_reference' },
      data: { id: 'Q1', incident_key: 'inc-1', service: { summary: 'payments' } },
    },
  });
  assert.deepEqual(parsePagerDutyAck(event('incident.acknowledged')), {
    deliveryId: 'E1',
    incidentKey: 'inc-1',
    service: 'payments',
    agent: 'Carol Jiménez',
    at: '2026-12-01T09:05:00.000Z',
  });
  assert.equal(parsePagerDutyAck(event('incident.triggered')), null);
  assert.equal(
    parsePagerDutyAck({ event: { id: 'E2', event_type: 'incident.acknowledged', data: { id: 'Q2' } } }),
    null,
    'no incident key: not one of our pages',
  );
});
