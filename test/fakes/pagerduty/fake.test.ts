import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakePagerDuty, type FakePagerDuty } from './fake.js';
import { createPagerDutyEvents } from '../../../src/adapters/pagerduty/events.js';
import { BackendError } from '../../../src/errors.js';

const KEY = 'a'.repeat(32);
let pd: FakePagerDuty;
before(async () => {
  pd = await startFakePagerDuty({ perKeyPerMinute: 3 });
});
after(async () => pd.close());

const post = (body: unknown) => fetch(`${pd.url}/v2/enqueue`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

test('the fake refuses what PagerDuty refuses: 400 invalid event with errors[], 429 past the per-key limit', async () => {
  const bad = await post({ routing_key: 'short', event_action: 'trigger', payload: { summary: '', source: 'x', severity: 'fatal' } });
  assert.equal(bad.status, 400);
  const body = (await bad.json()) as { status: string; errors: string[] };
  assert.equal(body.status, 'invalid event');
  assert.ok(body.errors.some((e) => /routing_key/.test(e)));
  assert.ok(body.errors.some((e) => /severity/.test(e)));
  const ok = { routing_key: KEY, event_action: 'trigger', dedup_key: 'inc-1', payload: { summary: 's', source: 'firebreak', severity: 'critical' } };
  for (let n = 0; n < 3; n++) assert.equal((await post(ok)).status, 202);
  assert.equal((await post(ok)).status, 429);
  assert.equal(pd.alerts().length, 1, 'one dedup_key, one alert');
  assert.equal(pd.alerts()[0]!.triggers, 3);
});

test("the adapter: a 202 returns the dedup_key; a 400 is a validation error naming PagerDuty's reason, not the key", async () => {
  const events = createPagerDutyEvents({ baseUrl: pd.url, sleep: async () => {} });
  const other = 'b'.repeat(32);
  const r = await events.trigger({ routingKey: other, dedupKey: 'inc-2', summary: 'Checkout down', severity: 'error', source: 'firebreak' });
  assert.equal(r.dedupKey, 'inc-2');
  await assert.rejects(
    events.trigger({ routingKey: 'c'.repeat(31), dedupKey: 'inc-3', summary: 'x', severity: 'error', source: 'firebreak' }),
    (err: unknown) =>
      err instanceof BackendError && err.code === 'backend.validation' && /should be 32 characters/.test(err.message) && !err.message.includes('c'.repeat(31)),
  );
});
