import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createRootlyBackend, type RootlyBackendOptions } from '../../../src/adapters/backend/rootly/backend.js';
import type { CreateGuard } from '../../../src/adapters/http/common.js';
import type { BackendCreateInput } from '../../../src/ports/backend.js';
import { BackendError } from '../../../src/errors.js';
import { SEVERITIES } from '../../../src/domain/severity.js';
import { startFakeRootly, type FakeRootly } from '../../fakes/rootly/fake.js';

/** A virtual clock shared by the adapter's sleep and the fake's rate-limit window: no real waiting. */
function virtualTime() {
  const t = { now: Date.parse('2026-03-01T12:00:00Z'), sleeps: [] as number[] };
  return {
    t,
    now: () => t.now,
    sleep: async (ms: number) => {
      t.sleeps.push(ms);
      t.now += ms;
    },
  };
}

let n = 0;
const input = (over: Partial<BackendCreateInput> = {}): BackendCreateInput => ({
  firebreakId: `fb-${++n}`,
  title: 'Checkout is down',
  summary: 'Payments failing for EU users',
  severity: 'high',
  private: false,
  services: [],
  commander: null,
  slackChannel: { id: 'C123', name: 'inc-20260301-checkout', url: 'https://slack.com/app_redirect?channel=C123' },
  ...over,
});

describe('Rootly adapter against the fake', () => {
  let fake: FakeRootly;
  let vt: ReturnType<typeof virtualTime>;
  const make = (over: Partial<RootlyBackendOptions> = {}) =>
    createRootlyBackend({ apiKey: 'rootly-test-key', baseUrl: fake.url, sleep: vt.sleep, now: vt.now, random: () => 0.5, timeoutMs: 1000, ...over });

  before(async () => {
    vt = virtualTime();
    fake = await startFakeRootly({ now: () => vt.now() });
  });
  after(async () => fake.close());
  beforeEach(() => {
    fake.clearFaults();
    fake.setLimit(6000, 60_000);
    vt.t.sleeps.length = 0;
  });

  test('verify passes with the right key and names ROOTLY_API_KEY on a bad one', async () => {
    await make().verify();
    const bad = make({ apiKey: 'wrong-key' });
    await assert.rejects(
      bad.verify(),
      (e: unknown) => e instanceof BackendError && e.code === 'backend.auth' && e.status === 401 && /ROOTLY_API_KEY/.test(e.message),
    );
  });

  test('create sends the severity_id of the matching Rootly severity, for each severity, and lists severities once', async () => {
    const b = make();
    const before = fake.calls({ route: 'GET /v1/severities' }).length;
    for (const sev of SEVERITIES) {
      const ref = await b.createIncident(input({ severity: sev }));
      const inc = fake.incidents().find((i) => i.id === ref.backendId)!;
      const expected = fake.severities().find((s) => s.severity === sev)!;
      assert.equal(inc.severity_id, expected.id, `severity ${sev}`);
      assert.equal(inc.labels.firebreak_id, `fb-${n}`);
      assert.equal(inc.slack_channel_id, 'C123');
      assert.equal(ref.url, inc.url);
      assert.equal(b.incidentUrl({ firebreakId: `fb-${n}`, backendId: ref.backendId }), inc.url);
    }
    assert.equal(fake.calls({ route: 'GET /v1/severities' }).length - before, 1, 'severities are cached');
  });

  test('assignRole finds the Rootly user by email and the role by name', async () => {
    const b = make();
    const ref = await b.createIncident(input());
    const r = { firebreakId: `fb-${n}`, backendId: ref.backendId };
    await b.assignRole(r, 'commander', { slackUserId: 'U1', email: 'alice@example.com', name: 'Alice' });
    await b.assignRole(r, 'communications', { slackUserId: 'U2', email: 'bob@example.com', name: 'Bob' });
    const inc = fake.incidents().find((i) => i.id === ref.backendId)!;
    const alice = fake.users().find((u) => u.email === 'alice@example.com')!;
    const bob = fake.users().find((u) => u.email === 'bob@example.com')!;
    const role = (slug: string) => fake.roles().find((x) => x.slug === slug)!.id;
    assert.deepEqual(inc.roles, [
      { incident_role_id: role('commander'), user_id: alice.id },
      { incident_role_id: role('communications-lead'), user_id: bob.id },
    ]);
    await assert.rejects(
      b.assignRole(r, 'scribe', { slackUserId: 'U3', email: 'nobody@example.com', name: null }),
      (e: unknown) => e instanceof BackendError && e.code === 'backend.validation' && e.field === 'user_id',
    );
  });

  test('every status transition reaches the matching Rootly state', async () => {
    const b = make();
    const ref = await b.createIncident(input());
    const r = { firebreakId: `fb-${n}`, backendId: ref.backendId };
    const status = () => fake.incidents().find((i) => i.id === ref.backendId)!;
    await b.transition(r, 'mitigated', 'rolled back');
    assert.equal(status().status, 'mitigated');
    assert.equal(status().mitigation_message, 'rolled back');
    await b.transition(r, 'investigating');
    assert.equal(status().status, 'started');
    await b.transition(r, 'resolved', 'fixed');
    assert.equal(status().status, 'resolved');
    assert.equal(status().resolution_message, 'fixed');
    await b.transition(r, 'investigating');
    assert.equal(status().status, 'started');
    await b.transition(r, 'cancelled', 'false alarm');
    assert.equal(status().status, 'cancelled');
    assert.equal(status().cancellation_message, 'false alarm');
  });

  test('a refused transition is backend.validation naming the field', async () => {
    const b = make();
    const ref = await b.createIncident(input());
    const r = { firebreakId: `fb-${n}`, backendId: ref.backendId };
    await b.transition(r, 'cancelled');
    await assert.rejects(
      b.transition(r, 'mitigated'),
      (e: unknown) => e instanceof BackendError && e.code === 'backend.validation' && e.field === 'status' && /cannot transition/.test(e.message),
    );
  });

  test('a 422 with only a title still yields the field', async () => {
    const b = make();
    fake.inject('POST /v1/incidents', { status: 422, body: { errors: [{ title: "Title can't be blank", status: '422' }] }, times: 1 });
    await assert.rejects(
      b.createIncident(input({ title: '' })),
      (e: unknown) => e instanceof BackendError && e.code === 'backend.validation' && e.field === 'title' && /Title can't be blank/.test(e.message),
    );
  });

  test('timeline events are recorded as internal incident events', async () => {
    const b = make();
    const ref = await b.createIncident(input());
    await b.addTimelineEvent({ firebreakId: `fb-${n}`, backendId: ref.backendId }, { text: 'Rolled back deploy 42', at: new Date() });
    assert.deepEqual(
      fake
        .incidents()
        .find((i) => i.id === ref.backendId)!
        .events.map((e) => [e.event, e.visibility]),
      [['Rolled back deploy 42', 'internal']],
    );
  });

  test('post-mortem: the draft goes on the timeline once; the retrospective, when Rootly made one, shows it; none yet = not_ready', async () => {
    const b = make();
    const ref = await b.createIncident(input());
    const r = { firebreakId: `fb-${n}`, backendId: ref.backendId };
    const inc = () => fake.incidents().find((i) => i.id === ref.backendId)!;
    // No retrospective (none before a resolve, and none at all where no retrospective process applies).
    assert.equal(await b.savePostmortem(r, '## Summary\nIt broke.'), 'not_ready');
    assert.equal(inc().events.filter((e) => e.event.includes('## Summary')).length, 1, 'kept on the timeline even without a retrospective');
    await b.transition(r, 'resolved');
    assert.equal(await b.savePostmortem(r, '## Summary\nIt broke.'), 'saved');
    assert.equal(inc().events.filter((e) => e.event.includes('## Summary')).length, 1, 'a retry does not add the draft twice');
    assert.equal(inc().post_mortem!.show_timeline, true);
    // The fake refuses a content field, as the spec has none.
    const res = await fetch(`${fake.url}/v1/post_mortems/${inc().post_mortem!.id}`, {
      method: 'PUT',
      headers: { authorization: 'Bearer rootly-test-key', 'content-type': 'application/vnd.api+json' },
      body: JSON.stringify({ data: { type: 'incident_post_mortems', attributes: { content: '# draft' } } }),
    });
    assert.equal(res.status, 422);
  });

  test('listIncidents follows links.next over several pages', async () => {
    const b = make({ pageSize: 7 });
    fake.seedIncidents(20);
    const before = fake.calls({ route: 'GET /v1/incidents' }).length;
    const all = [];
    for await (const i of b.listIncidents()) all.push(i);
    assert.equal(all.length, fake.incidents().length);
    assert.equal(new Set(all.map((i) => i.id)).size, all.length);
    assert.equal(fake.calls({ route: 'GET /v1/incidents' }).length - before, Math.ceil(fake.incidents().length / 7));
  });

  test('429 with Retry-After is waited out (injected sleep) and then succeeds', async () => {
    const b = make();
    await b.verify();
    fake.inject('GET /v1/users/me', {
      status: 429,
      headers: { 'retry-after': '7' },
      body: { errors: [{ title: 'Rate limit exceeded', status: '429' }] },
      times: 1,
    });
    await b.verify();
    assert.deepEqual(vt.t.sleeps, [7000]);
  });

  test("the fake's sliding window: RateLimit-Reset (epoch seconds) is honoured", async () => {
    const b = make({ limiter: null });
    const ref = await b.createIncident(input());
    const r = { firebreakId: `fb-${n}`, backendId: ref.backendId };
    vt.t.now += 61_000; // let earlier tests' calls leave the window
    vt.t.sleeps.length = 0;
    fake.setLimit(2, 60_000);
    await b.updateIncident(r, { title: 'one' });
    await b.updateIncident(r, { title: 'two' });
    await b.updateIncident(r, { title: 'three' }); // third call in the window: 429, wait until the window frees, then success
    assert.equal(vt.t.sleeps.length, 1);
    assert.ok(vt.t.sleeps[0]! >= 59_000 && vt.t.sleeps[0]! <= 60_000, `slept ${vt.t.sleeps[0]}`);
  });

  test('429 that outlasts the retries is backend.rate_limited', async () => {
    const b = make();
    fake.inject('GET /v1/users/me', { status: 429, headers: { 'retry-after': '1' }, body: { errors: [{ title: 'Rate limit exceeded', status: '429' }] } });
    await assert.rejects(b.verify(), (e: unknown) => e instanceof BackendError && e.code === 'backend.rate_limited');
  });

  test('5xx on an update is retried with growing backoff; persistent 5xx is backend.unavailable', async () => {
    const b = make();
    const ref = await b.createIncident(input());
    const r = { firebreakId: `fb-${n}`, backendId: ref.backendId };
    vt.t.sleeps.length = 0;
    fake.inject('PUT /v1/incidents/{id}', { status: 503, body: { errors: [{ title: 'Service unavailable', status: '503' }] }, times: 2 });
    await b.updateIncident(r, { title: 'Checkout is down (EU)' });
    assert.equal(fake.incidents().find((i) => i.id === ref.backendId)!.title, 'Checkout is down (EU)');
    assert.deepEqual(vt.t.sleeps, [375, 750]);
    fake.inject('PUT /v1/incidents/{id}', { status: 500, body: { errors: [{ title: 'Internal error', status: '500' }] } });
    await assert.rejects(
      b.updateIncident(r, { title: 'x' }),
      (e: unknown) => e instanceof BackendError && e.code === 'backend.unavailable' && e.status === 500,
    );
  });

  test('a call that hangs times out and is retried; one that always hangs is backend.unavailable', async () => {
    const b = make({ timeoutMs: 150 });
    fake.inject('GET /v1/users/me', { hang: true, times: 1 });
    await b.verify();
    fake.inject('GET /v1/users/me', { hang: true });
    await assert.rejects(
      make({ timeoutMs: 100, retry: { maxAttempts: 2 } }).verify(),
      (e: unknown) => e instanceof BackendError && e.code === 'backend.unavailable' && /timed out/.test(e.message),
    );
  });

  test('lost response on create: the fake created it, the retry finds it instead of creating a second', async () => {
    const b = make();
    const count = fake.incidents().length;
    fake.inject('POST /v1/incidents', { drop: true, times: 1 });
    const ref = await b.createIncident(input({ firebreakId: 'fb-lost-1' }));
    const mine = fake.incidents().filter((i) => i.labels.firebreak_id === 'fb-lost-1');
    assert.equal(mine.length, 1);
    assert.equal(fake.incidents().length, count + 1);
    assert.equal(ref.backendId, mine[0]!.id);
    // A second call for the same firebreakId (e.g. the flow re-run) returns the same incident.
    const again = await b.createIncident(input({ firebreakId: 'fb-lost-1' }));
    assert.equal(again.backendId, ref.backendId);
    assert.equal(fake.incidents().filter((i) => i.labels.firebreak_id === 'fb-lost-1').length, 1);
  });

  test('create guard: a done mark skips every call; marks are written once each', async () => {
    const marks = new Map<string, unknown>();
    const guard: CreateGuard = { get: async (k) => marks.get(k), put: async (k, v) => (marks.has(k) ? marks.get(k) : (marks.set(k, v), v)) };
    const b = make({ createGuard: guard });
    const ref = await b.createIncident(input({ firebreakId: 'fb-guard-1' }));
    assert.ok(marks.has('rootly.create.attempted:fb-guard-1'));
    assert.deepEqual(marks.get('rootly.create.done:fb-guard-1'), ref);
    const callsBefore = fake.calls().length;
    const restarted = make({ createGuard: guard }); // a new process after a crash
    assert.deepEqual(await restarted.createIncident(input({ firebreakId: 'fb-guard-1' })), ref);
    assert.equal(fake.calls().length, callsBefore);
  });

  test('create guard: a first create is one POST (no lookup); after a crash between the POST and its record, the retry finds the incident', async () => {
    const marks = new Map<string, unknown>();
    const guard: CreateGuard = { get: async (k) => marks.get(k), put: async (k, v) => (marks.has(k) ? marks.get(k) : (marks.set(k, v), v)) };
    const b = make({ createGuard: guard });
    await b.createIncident(input({ firebreakId: 'fb-warm' })); // warms the severity cache
    const before = fake.calls().length;
    await b.createIncident(input({ firebreakId: 'fb-guard-2' }));
    assert.deepEqual(
      fake
        .calls()
        .slice(before)
        .map((c) => `${c.method} ${c.path.split('?')[0]}`),
      ['POST /v1/incidents'],
      'one round trip on the critical path',
    );
    // The process dies after Rootly created the incident but before the done mark was written.
    fake.inject('POST /v1/incidents', { drop: true, times: 1 });
    await assert.rejects(
      make({
        createGuard: { get: guard.get, put: async (k, v) => (k.includes('.done:') ? Promise.reject(new Error('crash')) : guard.put(k, v)) },
      }).createIncident(input({ firebreakId: 'fb-crash-1' })),
    );
    const restarted = make({ createGuard: guard });
    await restarted.createIncident(input({ firebreakId: 'fb-crash-1' }));
    assert.equal(fake.incidents().filter((i) => i.labels.firebreak_id === 'fb-crash-1').length, 1);
  });

  test('a retried create never adopts an unrelated incident: the label must match exactly, past a filter Rootly ignores', async () => {
    const marks = new Map<string, unknown>();
    const guard: CreateGuard = { get: async (k) => marks.get(k), put: async (k, v) => (marks.has(k) ? marks.get(k) : (marks.set(k, v), v)) };
    // The first attempt reached Rootly, then the process died before recording it.
    fake.inject('POST /v1/incidents', { drop: true, times: 1 });
    await assert.rejects(
      make({
        createGuard: { get: guard.get, put: async (k, v) => (k.includes('.done:') ? Promise.reject(new Error('crash')) : guard.put(k, v)) },
      }).createIncident(input({ firebreakId: 'fb-adopt-1' })),
    );
    const created = fake.incidents().filter((i) => i.labels.firebreak_id === 'fb-adopt-1');
    assert.equal(created.length, 1);
    // Meanwhile others declared incidents: some unlabelled (made in Rootly's UI), some another bot's.
    fake.seedIncidents(4);
    fake.seedIncidents(4, { firebreak_id: 'fb-someone-else' });
    const before = fake.incidents().length;
    const ref = await make({ createGuard: guard }).createIncident(input({ firebreakId: 'fb-adopt-1' }));
    assert.equal(ref.backendId, created[0]!.id, 'the incident our first attempt made, not the newest unrelated one');
    assert.equal(fake.incidents().length, before, 'no second incident');
    // Nothing of ours exists: the lookup finds nothing (no adoption of unlabelled incidents) and creates.
    const fresh = await make({ createGuard: guard }).createIncident(input({ firebreakId: 'fb-adopt-2' }));
    assert.equal(fake.incidents().find((i) => i.id === fresh.backendId)!.labels.firebreak_id, 'fb-adopt-2');
  });

  test('the create sends an Idempotency-Key naming our incident', async () => {
    await make().createIncident(input({ firebreakId: 'fb-idem-1' }));
    const post = fake.calls({ route: 'POST /v1/incidents' }).at(-1)!;
    assert.equal(post.headers['idempotency-key'], 'fb-idem-1');
  });

  test('runWorkflow returns the queued run and is never repeated after a 5xx', async () => {
    const b = make();
    const ref = await b.createIncident(input());
    const r = { firebreakId: `fb-${n}`, backendId: ref.backendId };
    const run = await b.runWorkflow(r, 'wf-rollback', { deploy: '42' });
    assert.equal(run.status, 'queued');
    assert.deepEqual(fake.workflowRuns().at(-1), {
      id: run.runId,
      workflow_id: 'wf-rollback',
      incident_id: ref.backendId,
      context: { deploy: '42' },
      status: 'queued',
    });
    const posts = fake.calls({ route: 'POST /v1/workflows/{workflow_id}/workflow_runs' }).length;
    fake.inject('POST /v1/workflows/{workflow_id}/workflow_runs', { status: 502, body: { errors: [{ title: 'Bad gateway', status: '502' }] }, times: 1 });
    await assert.rejects(b.runWorkflow(r, 'wf-rollback', {}), (e: unknown) => e instanceof BackendError && e.code === 'backend.unavailable');
    assert.equal(fake.calls({ route: 'POST /v1/workflows/{workflow_id}/workflow_runs' }).length, posts + 1);
  });

  test('recordAlert maps our source to the spec enum and labels to key/value pairs', async () => {
    const b = make();
    await b.recordAlert({ source: 'generic', summary: 'disk full', externalId: 'a-1', externalUrl: null, labels: { host: 'db1' }, data: { value: 97 } });
    await b.recordAlert({ source: 'pagerduty', summary: 'p1', externalId: 'a-2', externalUrl: 'https://pd.example/a-2', labels: {}, data: 'raw' });
    const [a, p] = fake.alerts().slice(-2);
    assert.equal(a!.attributes.source, 'generic_webhook');
    assert.deepEqual(a!.attributes.labels, [{ key: 'host', value: 'db1' }]);
    assert.equal(p!.attributes.source, 'pagerduty');
    assert.deepEqual(p!.attributes.data, { payload: 'raw' });
  });

  test('an alert recovery resolves the recorded alert (POST /v1/alerts/{id}/resolve), not a new alert', async () => {
    const b = make();
    const id = await b.recordAlert({ source: 'datadog', summary: 'cpu high', externalId: 'fp-1', externalUrl: null, labels: {}, data: {} });
    assert.ok(id);
    const count = fake.alerts().length;
    await b.resolveAlert(id!);
    assert.equal(fake.alerts().length, count, 'no second alert');
    assert.equal(fake.alerts().find((a) => a.id === id)!.status, 'resolved');
    await assert.rejects(b.resolveAlert('no-such-alert'), (e: unknown) => e instanceof BackendError && e.code === 'backend.not_found');
  });

  test('the fake refuses a body that is not JSON:API', async () => {
    const res = await fetch(`${fake.url}/v1/incidents`, {
      method: 'POST',
      headers: { authorization: 'Bearer rootly-test-key', 'content-type': 'application/json' },
      body: JSON.stringify({ data: { type: 'incidents', attributes: { title: 'x' } } }),
    });
    assert.equal(res.status, 415);
    const bad = await fetch(`${fake.url}/v1/incidents`, {
      method: 'POST',
      headers: { authorization: 'Bearer rootly-test-key', 'content-type': 'application/vnd.api+json' },
      body: JSON.stringify({ data: { type: 'incidents', attributes: { title: 5, sevirity: 'high' } } }),
    });
    assert.equal(bad.status, 422);
    const body = (await bad.json()) as { errors: { title: string }[] };
    assert.ok(body.errors.some((e) => e.title.includes('sevirity')));
    assert.ok(body.errors.some((e) => e.title.startsWith('title')));
  });
});
