import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommand } from '../../src/domain/command.js';
import { parseSeverity } from '../../src/domain/severity.js';
import { renderChannelName, withCollisionSuffix } from '../../src/domain/channel-name.js';

const ROLES = ['commander', 'communications', 'scribe'];

test('severity is case-insensitive and sev1..sev4 map to critical..low', () => {
  assert.equal(parseSeverity('CRITICAL'), 'critical');
  assert.equal(parseSeverity('High'), 'high');
  assert.equal(parseSeverity('SEV1'), 'critical');
  assert.equal(parseSeverity('sev4'), 'low');
  assert.equal(parseSeverity('sev5'), null);
  assert.equal(parseSeverity('urgent'), null);
});

test('/incident grammar', () => {
  assert.deepEqual(parseCommand('', ROLES), { ok: true, command: { kind: 'declare_modal' } });
  assert.deepEqual(parseCommand('declare', ROLES), { ok: true, command: { kind: 'declare_modal' } });
  assert.deepEqual(parseCommand('declare SEV1 API 500 error rate spike', ROLES), {
    ok: true,
    command: { kind: 'declare', severity: 'critical', title: 'API 500 error rate spike' },
  });
  const bad = parseCommand('declare urgent API down', ROLES);
  assert.equal(bad.ok, false);
  assert.match((bad as { error: string }).error, /critical, high, medium, low/);
  assert.deepEqual(parseCommand('role commander <@U0BOB0001|bob>', ROLES), { ok: true, command: { kind: 'role', role: 'commander', userId: 'U0BOB0001' } });
  assert.equal(parseCommand('role pilot <@U0BOB0001>', ROLES).ok, false);
  assert.deepEqual(parseCommand('action rollback_deployment service=api version=v41 note="two words"', ROLES), {
    ok: true,
    command: { kind: 'action', actionId: 'rollback_deployment', params: { service: 'api', version: 'v41', note: 'two words' } },
  });
  assert.equal(parseCommand('action rollback_deployment service', ROLES).ok, false);
  assert.deepEqual(parseCommand('resolve fixed by rollback', ROLES), { ok: true, command: { kind: 'resolve', message: 'fixed by rollback' } });
  assert.equal(parseCommand('explode', ROLES).ok, false);
});

test('channel names follow Slack rules and collide to -2, -3', () => {
  const name = renderChannelName('inc-{date}-{slug}', {
    date: new Date('2026-11-25T10:00:00Z'),
    title: 'API 500s in EU / Ünïcode!!',
    seq: 7,
    severity: 'high',
  });
  assert.equal(name, 'inc-20261125-api-500s-in-eu-unicode');
  const long = renderChannelName(`inc-{date}-{slug}-{seq}-${'x'.repeat(100)}`, { date: new Date(), title: 't', seq: 1, severity: 'low' });
  assert.ok(long.length <= 80 && /^[a-z0-9_-]+$/.test(long));
  assert.equal(withCollisionSuffix('inc-a', 1), 'inc-a');
  assert.equal(withCollisionSuffix('inc-a', 3), 'inc-a-3');
  assert.equal(withCollisionSuffix('x'.repeat(80), 2).length, 80);
});
