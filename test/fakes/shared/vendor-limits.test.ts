import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeRootly } from '../rootly/fake.js';
import { startFakeIncidentIo } from '../incidentio/fake.js';

/** The fakes' limits and refusals, as the vendors publish them (Rootly's API reference, incident.io's error shape). */

const rootlyHeaders = { authorization: 'Bearer rootly-test-key', 'content-type': 'application/vnd.api+json' };
/** A Rootly incident create, the write the limits below must leave alone. */
const createRootlyIncident = (url: string) =>
  fetch(`${url}/v1/incidents`, {
    method: 'POST',
    headers: rootlyHeaders,
    body: JSON.stringify({ data: { type: 'incidents', attributes: { title: 'still writable' } } }),
  });

test('Rootly counts GETs and writes in separate windows: a full read window does not refuse a write', async () => {
  const now = Date.parse('2026-12-01T00:00:00Z');
  const fake = await startFakeRootly({ limit: 3, now: () => now });
  try {
    const get = () => fetch(`${fake.url}/v1/severities`, { headers: rootlyHeaders });
    for (let k = 0; k < 3; k++) assert.equal((await get()).status, 200);
    const refused = await get();
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('ratelimit-remaining'), '0');
    assert.equal(Number(refused.headers.get('ratelimit-reset')), Math.ceil((now + 60_000) / 1000), 'RateLimit-Reset in epoch seconds');
    const body = (await refused.json()) as { errors: { title: string; status: string }[] };
    assert.equal(body.errors[0]!.status, '429');
    assert.equal((await createRootlyIncident(fake.url)).status, 201, 'other writes go on');
  } finally {
    await fake.close();
  }
});

test('Rootly refuses alert creation past about 50 a minute, while other writes go on', async () => {
  const now = Date.parse('2026-12-01T00:00:00Z');
  const fake = await startFakeRootly({ now: () => now });
  try {
    const alert = (n: number) =>
      fetch(`${fake.url}/v1/alerts`, {
        method: 'POST',
        headers: rootlyHeaders,
        body: JSON.stringify({ data: { type: 'alerts', attributes: { source: 'api', summary: `alert ${n}` } } }),
      });
    for (let n = 0; n < 50; n++) assert.equal((await alert(n)).status, 201, `alert ${n}`);
    assert.equal((await alert(50)).status, 429);
    assert.equal((await createRootlyIncident(fake.url)).status, 201, 'other writes go on');
  } finally {
    await fake.close();
  }
});

test("incident.io answers a body that is not JSON with its own error shape, not Rootly's", async () => {
  const fake = await startFakeIncidentIo();
  try {
    const res = await fetch(`${fake.url}/v2/incidents`, {
      method: 'POST',
      headers: { authorization: 'Bearer incidentio-test-key', 'content-type': 'application/json' },
      body: '{"idempotency_key": ',
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { type?: string; status?: number; request_id?: string; errors?: { code: string; message: string }[] };
    assert.equal(body.status, 400);
    assert.equal(typeof body.type, 'string');
    assert.equal(typeof body.request_id, 'string');
    assert.equal(typeof body.errors?.[0]?.code, 'string');
    assert.equal(typeof body.errors?.[0]?.message, 'string');
  } finally {
    await fake.close();
  }
});
