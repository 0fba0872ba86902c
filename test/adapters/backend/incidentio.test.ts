import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createIncidentIoBackend, type IncidentIoBackendOptions } from '../../../src/adapters/backend/incidentio/backend.js';
import type { BackendCreateInput } from '../../../src/ports/backend.js';
import { BackendError } from '../../../src/errors.js';
import { SEVERITIES } from '../../../src/domain/severity.js';
import { startFakeIncidentIo, type FakeIncidentIo } from '../../fakes/incidentio/fake.js';

let n = 0;
const input = (over: Partial<BackendCreateInput> = {}): BackendCreateInput => ({
  firebreakId: `fbi-${++n}`,
  title: 'Search latency',
  summary: 'p99 over 2 s',
  severity: 'medium',
  private: false,
  services: [],
  commander: null,
  ...over,
});

describe('incident.io adapter against the fake', () => {
  let fake: FakeIncidentIo;
  const t = { now: Date.parse('2026-03-01T12:00:00Z'), sleeps: [] as number[] };
  const sleep = async (ms: number) => {
    t.sleeps.push(ms);
    t.now += ms;
  };
  const make = (over: Partial<IncidentIoBackendOptions> = {}) =>
    createIncidentIoBackend({ apiKey: 'incidentio-test-key', baseUrl: fake.url, sleep, now: () => t.now, random: () => 0.5, timeoutMs: 1000, ...over });
  const refOf = (backendId: string) => ({ firebreakId: `fbi-${n}`, backendId });

  before(async () => {
    fake = await startFakeIncidentIo({ now: () => t.now });
  });
  after(async () => fake.close());
  beforeEach(() => {
    fake.clearFaults();
    fake.setLimit(1200, 60_000);
    t.sleeps.length = 0;
  });

  test('verify; a bad key is backend.auth naming INCIDENTIO_API_KEY', async () => {
    await make().verify();
    await assert.rejects(
      make({ apiKey: 'nope' }).verify(),
      (e: unknown) => e instanceof BackendError && e.code === 'backend.auth' && /INCIDENTIO_API_KEY/.test(e.message),
    );
  });

  test('create maps each severity by rank and sends a stable idempotency key and visibility', async () => {
    const b = make();
    const byRank = [...fake.severities()].sort((a, c) => c.rank - a.rank);
    for (const [i, sev] of SEVERITIES.entries()) {
      const ref = await b.createIncident(input({ severity: sev, private: sev === 'critical' }));
      const inc = fake.incidents().find((x) => x.id === ref.backendId)!;
      assert.equal(inc.severity_id, byRank[i]!.id, sev);
      assert.equal(inc.idempotency_key, `fbi-${n}`);
      assert.equal(inc.visibility, sev === 'critical' ? 'private' : 'public');
      assert.equal(ref.url, inc.permalink);
    }
  });

  test('a known commander is assigned on create; assignRole edits the incident', async () => {
    const b = make();
    const ref = await b.createIncident(input({ commander: { slackUserId: 'U1', email: 'a@example.com', name: 'A' } }));
    const lead = fake.roles().find((r) => r.role_type === 'lead')!;
    const comms = fake.roles().find((r) => r.shortform === 'comms')!;
    await b.assignRole(refOf(ref.backendId), 'communications', { slackUserId: 'U2', email: null, name: null });
    const inc = fake.incidents().find((x) => x.id === ref.backendId)!;
    assert.deepEqual(inc.roles, [
      { incident_role_id: lead.id, assignee: { slack_user_id: 'U1' } },
      { incident_role_id: comms.id, assignee: { slack_user_id: 'U2' } },
    ]);
  });

  test('transitions follow the spec: resolve goes to the post-incident status; decline and reopening a closed incident are refused as the API refuses them', async () => {
    const b = make();
    const ref = await b.createIncident(input());
    const cat = () => {
      const inc = fake.incidents().find((x) => x.id === ref.backendId)!;
      return fake.statuses().find((s) => s.id === inc.incident_status_id)!;
    };
    await b.transition(refOf(ref.backendId), 'mitigated');
    assert.deepEqual([cat().category, cat().name], ['live', 'Monitoring']);
    await b.transition(refOf(ref.backendId), 'investigating');
    assert.deepEqual([cat().category, cat().name], ['live', 'Investigating']);
    // Cancelling (live → declined) is not an allowed edit: a clear refusal, and no call that would fail.
    const calls = fake.calls({ route: 'POST /v2/incidents/{id}/actions/edit' }).length;
    await assert.rejects(
      b.transition(refOf(ref.backendId), 'cancelled'),
      (e: unknown) => e instanceof BackendError && e.code === 'backend.validation' && /decline/.test(e.message),
    );
    assert.equal(fake.calls({ route: 'POST /v2/incidents/{id}/actions/edit' }).length, calls);
    await b.transition(refOf(ref.backendId), 'resolved');
    assert.deepEqual([cat().category, cat().name], ['learning', 'Documenting'], 'the post-incident flow, not straight to closed');
  });

  test("the fake enforces the spec's status edits with its error shape", async () => {
    const b = make();
    const ref = await b.createIncident(input());
    const edit = (statusId: string) =>
      fetch(`${fake.url}/v2/incidents/${ref.backendId}/actions/edit`, {
        method: 'POST',
        headers: { authorization: 'Bearer incidentio-test-key', 'content-type': 'application/json' },
        body: JSON.stringify({ incident: { incident_status_id: statusId }, notify_incident_channel: false }),
      });
    const of = (c: string) => fake.statuses().find((s) => s.category === c)!.id;
    const declined = await edit(of('declined'));
    assert.equal(declined.status, 422);
    const body = (await declined.json()) as { type: string; errors: { code: string; source?: { field: string } }[] };
    assert.equal(body.type, 'validation_error');
    assert.equal(body.errors[0]!.source?.field, 'incident.incident_status_id');
    assert.equal((await edit(of('closed'))).status, 422, 'closing past the post-incident flow needs a key permission');
    assert.equal((await edit(of('learning'))).status, 200);
    assert.equal((await edit(of('closed'))).status, 200, 'learning → closed is allowed');
    assert.equal((await edit(of('live'))).status, 422, 'closed → live is not an allowed edit');
  });

  test('without a post-incident status, resolving closes', async () => {
    const flat = await startFakeIncidentIo({ postIncidentFlow: false });
    try {
      const b = createIncidentIoBackend({ apiKey: 'incidentio-test-key', baseUrl: flat.url, timeoutMs: 1000 });
      const ref = await b.createIncident(input());
      await b.transition(refOf(ref.backendId), 'resolved');
      const inc = flat.incidents().find((x) => x.id === ref.backendId)!;
      assert.equal(flat.statuses().find((s) => s.id === inc.incident_status_id)!.category, 'closed');
    } finally {
      await flat.close();
    }
  });

  test('channel ownership: with a Firebreak channel the record attaches to it (no second channel); without one, incident.io makes its own', async () => {
    const b = make();
    const ours = await b.createIncident(input({ slackChannel: { id: 'C0FB1', name: 'inc-search', url: 'https://slack.com/app_redirect?channel=C0FB1' } }));
    const inc = fake.incidents().find((x) => x.id === ours.backendId)!;
    assert.equal(inc.slack_channel_id, 'C0FB1');
    assert.equal(inc.channel_made_by_incidentio, false, 'incident.io made no channel of its own');
    assert.equal(fake.statuses().find((s) => s.id === inc.incident_status_id)!.category, 'live', 'a live incident, not a closed retrospective');
    const theirs = await b.createIncident(input());
    assert.equal(fake.incidents().find((x) => x.id === theirs.backendId)!.channel_made_by_incidentio, true);
  });

  test('timeline events are accepted without a call (no public write API)', async () => {
    const b = make();
    const ref = await b.createIncident(input());
    const before = fake.calls().length;
    await b.addTimelineEvent(refOf(ref.backendId), { text: 'note', at: new Date() });
    assert.equal(fake.calls().length, before);
  });

  test('fetchIncident: the incident as incident.io has it now (our severity and status read back as sent), by id or reference number; unknown → null', async () => {
    const b = make();
    for (const sev of SEVERITIES) {
      const ref = await b.createIncident(input({ title: `Fetch ${sev}`, severity: sev, private: sev === 'high' }));
      const snap = await b.fetchIncident(ref.backendId);
      assert.deepEqual(
        { ...snap, updatedAt: typeof snap?.updatedAt },
        {
          backendId: ref.backendId,
          title: `Fetch ${sev}`,
          summary: 'p99 over 2 s',
          status: 'investigating',
          severity: sev,
          severityMatches: [sev],
          url: ref.url,
          private: sev === 'high',
          updatedAt: 'string',
        },
      );
    }
    const ref = await b.createIncident(input({ severity: 'low' }));
    await b.transition(refOf(ref.backendId), 'mitigated');
    assert.equal((await b.fetchIncident(ref.backendId))?.status, 'mitigated', '"Monitoring" reads back as mitigated');
    await b.transition(refOf(ref.backendId), 'resolved');
    assert.equal((await b.fetchIncident(ref.backendId))?.status, 'resolved');
    const reference = fake.incidents().find((x) => x.id === ref.backendId)!.reference;
    assert.equal((await b.fetchIncident(reference.replace('INC-', '')))?.backendId, ref.backendId);
    assert.equal(await b.fetchIncident('01NOSUCHINCIDENT'), null);
    assert.equal(fake.calls({ route: 'GET /v2/incidents/{id}' }).at(-1)?.status, 404);
    await assert.rejects(make({ apiKey: 'nope' }).fetchIncident(ref.backendId), (e: unknown) => e instanceof BackendError && e.code === 'backend.auth');
    // The same per-key window as every other route: a lookup over it waits for the 429's retry_after.
    const unlimited = make({ limiter: null });
    await unlimited.fetchIncident(ref.backendId); // its severity list read, outside the window below
    t.now += 61_000;
    t.sleeps.length = 0;
    fake.setLimit(1, 60_000);
    await unlimited.fetchIncident(ref.backendId);
    assert.equal((await unlimited.fetchIncident(ref.backendId))?.backendId, ref.backendId);
    assert.equal(fake.calls({ route: 'GET /v2/incidents/{id}' }).filter((c) => c.status === 429).length, 1);
    assert.equal(t.sleeps.length, 1);
  });

  test('fetchIncident in a workspace of six severities: the two least severe read as low, and the severity list is read once', async () => {
    const six = await startFakeIncidentIo({ now: () => t.now, severities: ['Info', 'Minor', 'Moderate', 'Major', 'Critical', 'Catastrophic'] });
    try {
      const b = createIncidentIoBackend({ apiKey: 'incidentio-test-key', baseUrl: six.url, sleep, now: () => t.now, random: () => 0.5, timeoutMs: 1000 });
      const ref = await b.createIncident(input({ severity: 'low' }));
      assert.equal(six.severities().find((s) => s.id === six.incidents().at(-1)!.severity_id)?.name, 'Moderate', 'our low is its fourth worst');
      const read: (string | null | undefined)[] = [];
      for (const name of ['Info', 'Minor', 'Moderate', 'Major', 'Catastrophic']) {
        await six.changeInUi(ref.backendId, { severity: name });
        read.push((await b.fetchIncident(ref.backendId))?.severity);
      }
      assert.deepEqual(read, ['low', 'low', 'low', 'medium', 'critical']);
      assert.equal(six.calls({ route: 'GET /v1/severities' }).length, 1, 'one severity list for the create and every lookup');
    } finally {
      await six.close();
    }
  });

  test('fetchIncident: a private incident is null to a key that may not view private incidents (the fake answers 404, as for an unknown id)', async () => {
    const blind = await startFakeIncidentIo({ now: () => t.now, viewPrivate: false });
    try {
      const b = createIncidentIoBackend({ apiKey: 'incidentio-test-key', baseUrl: blind.url, sleep, now: () => t.now, random: () => 0.5, timeoutMs: 1000 });
      const priv = await b.createIncident(input({ private: true }));
      const pub = await b.createIncident(input());
      assert.equal(await b.fetchIncident(priv.backendId), null);
      assert.equal((await b.fetchIncident(pub.backendId))?.private, false);
      assert.equal(blind.calls({ route: 'GET /v2/incidents/{id}' })[0]!.status, 404);
      const res = await fetch(`${blind.url}/v2/incidents/${priv.backendId}`, { headers: { authorization: 'Bearer incidentio-test-key' } });
      const body = (await res.json()) as { type: string; status: number; request_id: string; errors: { code: string }[] };
      assert.deepEqual([res.status, body.type, body.status, typeof body.request_id, body.errors[0]!.code], [404, 'not_found', 404, 'string', 'not_found']);
      // Nor does a list show it.
      const listed = await fetch(`${blind.url}/v2/incidents`, { headers: { authorization: 'Bearer incidentio-test-key' } });
      assert.deepEqual(
        ((await listed.json()) as { incidents: { id: string }[] }).incidents.map((i) => i.id),
        [pub.backendId],
      );
    } finally {
      await blind.close();
    }
  });

  test('post-mortem: imported once; a retried save finds the document instead of importing a second', async () => {
    const b = make();
    const ref = await b.createIncident(input());
    assert.equal(await b.savePostmortem(refOf(ref.backendId), '## Summary'), 'saved');
    assert.equal(await b.savePostmortem(refOf(ref.backendId), '## Summary'), 'saved');
    const docs = fake.incidents().find((x) => x.id === ref.backendId)!.postmortems;
    assert.equal(docs.length, 1);
    assert.equal(docs[0]!.content, '## Summary');
  });

  test('listIncidents follows the after cursor over several pages', async () => {
    fake.seedIncidents(12);
    const before = fake.calls({ route: 'GET /v2/incidents' }).length;
    const all = [];
    for await (const i of make({ pageSize: 5 }).listIncidents()) all.push(i);
    assert.equal(all.length, fake.incidents().length);
    assert.equal(new Set(all.map((i) => i.id)).size, all.length);
    assert.equal(fake.calls({ route: 'GET /v2/incidents' }).length - before, Math.ceil(fake.incidents().length / 5));
  });

  test('422 carries the field from errors[].source.field', async () => {
    const b = make();
    const ref = await b.createIncident(input());
    fake.inject('POST /v2/incidents/{id}/actions/edit', {
      status: 422,
      body: {
        type: 'validation_error',
        status: 422,
        request_id: 'r1',
        errors: [{ code: 'invalid_value', message: 'Name is too long', source: { field: 'incident.name' } }],
      },
      times: 1,
    });
    await assert.rejects(
      b.updateIncident(refOf(ref.backendId), { title: 'x'.repeat(500) }),
      (e: unknown) =>
        e instanceof BackendError && e.code === 'backend.validation' && e.field === 'incident.name' && /incident\.name: Name is too long/.test(e.message),
    );
  });

  test("429 body rate_limit.retry_after is honoured (the fake's sliding window)", async () => {
    const b = make({ limiter: null });
    const ref = await b.createIncident(input());
    const r = { firebreakId: ref.backendId, backendId: ref.backendId };
    t.now += 61_000;
    t.sleeps.length = 0;
    fake.setLimit(2, 60_000);
    // Three single-request calls in one window of two: the third waits for the 429's retry_after.
    await b.updateIncident(r, { title: 'one' });
    await b.updateIncident(r, { title: 'two' });
    await b.updateIncident(r, { title: 'three' });
    assert.equal(t.sleeps.length, 1);
    assert.ok(t.sleeps[0]! >= 59_000 && t.sleeps[0]! <= 60_000, `slept ${t.sleeps[0]}`);
  });

  test('the 429 is the one the API reference documents: retry_after an HTTP-date to the second, and an errors entry', async () => {
    fake.setLimit(1, 60_000);
    t.now += 61_000;
    const get = () => fetch(`${fake.url}/v1/identity`, { headers: { authorization: 'Bearer incidentio-test-key' } });
    assert.equal((await get()).status, 200);
    const res = await get();
    assert.equal(res.status, 429);
    const body = (await res.json()) as { type: string; rate_limit: { retry_after: string }; errors: { code: string }[] };
    assert.equal(body.type, 'too_many_requests');
    // e.g. "Thu, 17 Apr 2025 11:17:18 UTC"
    assert.match(body.rate_limit.retry_after, /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} UTC$/);
    assert.equal(body.errors[0]?.code, 'too_many_requests');
  });

  test('5xx is retried; a hanging call times out and is retried', async () => {
    const b = make({ timeoutMs: 150 });
    fake.inject('GET /v1/identity', { status: 502, body: { type: 'internal_error', status: 502, request_id: 'r', errors: [] }, times: 1 });
    await b.verify();
    assert.deepEqual(t.sleeps, [375]);
    fake.inject('GET /v1/identity', { hang: true, times: 1 });
    await b.verify();
    fake.inject('GET /v1/identity', { status: 500, body: { type: 'internal_error', status: 500, request_id: 'r', errors: [] } });
    await assert.rejects(b.verify(), (e: unknown) => e instanceof BackendError && e.code === 'backend.unavailable');
  });

  test('lost response on create: the retry with the same idempotency key makes no duplicate', async () => {
    const b = make();
    fake.inject('POST /v2/incidents', { drop: true, times: 1 });
    const ref = await b.createIncident(input({ firebreakId: 'fbi-lost' }));
    const mine = fake.incidents().filter((i) => i.idempotency_key === 'fbi-lost');
    assert.equal(mine.length, 1);
    assert.equal(ref.backendId, mine[0]!.id);
    assert.equal(fake.calls({ route: 'POST /v2/incidents' }).filter((c) => (c.body as { idempotency_key?: string }).idempotency_key === 'fbi-lost').length, 2);
  });

  test('runWorkflow is backend.unsupported', async () => {
    await assert.rejects(
      make().runWorkflow({ firebreakId: 'x', backendId: 'y' }, 'wf', {}),
      (e: unknown) => e instanceof BackendError && e.code === 'backend.unsupported',
    );
  });

  test('escalations: the fake refuses an escalation path and users together, as incident.io does; the adapter sends one or the other', async () => {
    const withOnCall = await startFakeIncidentIo({
      onCall: { users: [{ id: 'iu-carol', email: 'carol@example.com', name: 'Carol', slack_user_id: 'U0CAROL01' }], escalationPaths: ['ep-payments'] },
    });
    try {
      const post = (body: Record<string, unknown>) =>
        fetch(`${withOnCall.url}/v2/escalations`, {
          method: 'POST',
          headers: { authorization: 'Bearer incidentio-test-key', 'content-type': 'application/json' },
          body: JSON.stringify({ idempotency_key: `k-${++n}`, title: 'Checkout down', ...body }),
        });
      const both = await post({ escalation_path_id: 'ep-payments', user_ids: ['iu-carol'] });
      assert.equal(both.status, 422);
      assert.match(JSON.stringify(await both.json()), /not both/);
      assert.equal((await post({ escalation_path_id: 'ep-payments' })).status, 201);
      assert.equal((await post({ user_ids: ['iu-carol'] })).status, 201);
      assert.equal(withOnCall.escalations().length, 2);
    } finally {
      await withOnCall.close();
    }
  });
});
