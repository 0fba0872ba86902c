import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRootlyBackend } from '../../../src/adapters/backend/rootly/backend.js';
import { createIncidentIoBackend } from '../../../src/adapters/backend/incidentio/backend.js';
import { createIncidentIoOnCall } from '../../../src/adapters/backend/incidentio/oncall.js';
import { createRootlyOnCall } from '../../../src/adapters/backend/rootly/oncall.js';
import { loadSpecValidator, specPath, specsRequired } from '../../fakes/shared/openapi.js';
import type { CallRecord } from '../../fakes/shared/server.js';
import { startFakeRootly } from '../../fakes/rootly/fake.js';
import { startFakeIncidentIo } from '../../fakes/incidentio/fake.js';

/**
 * Every body the adapters send, captured from the fakes (with the fakes' own spec check switched
 * off, so nothing is filtered out before we look), must validate against the vendor's OpenAPI
 * requestBody. The specs live in ../shared/specs, outside the project: absent in a user's clone,
 * in which case these tests skip and say so.
 */

const noSleep = async () => {};

function checkAll(file: string, calls: CallRecord[]): { checked: number; problems: string[] } {
  const v = loadSpecValidator(file)!;
  const problems: string[] = [];
  let checked = 0;
  for (const c of calls) {
    if (!c.route) continue;
    const [method, template] = c.route.split(' ') as [string, string];
    // Every query parameter the adapters send is one the operation declares.
    for (const q of v.unknownQueryParams(method, template, Object.keys(c.query)) ?? []) problems.push(`${c.route}: query parameter "${q}" is not in the spec`);
    if (c.body === null) continue;
    const errs = v.validateRequest(method, template, c.body);
    if (errs === null) {
      problems.push(`${c.route}: no requestBody in the spec, yet a body was sent`);
      continue;
    }
    checked += 1;
    for (const e of errs) problems.push(`${c.route}: ${e}`);
  }
  return { checked, problems };
}

/**
 * Every answer the fakes gave, checked against the spec's response schema for its status: a fake
 * must answer as the vendor does, or the adapters are tested against a service that does not exist.
 * Statuses the spec does not describe (its error bodies are not in these documents) are counted apart.
 */
function checkAnswers(file: string, calls: CallRecord[]): { checked: number; problems: string[] } {
  const v = loadSpecValidator(file)!;
  const problems: string[] = [];
  let checked = 0;
  for (const c of calls) {
    if (!c.route || c.status === null || c.status < 200 || c.status >= 300 || c.response === undefined) continue;
    const [method, template] = c.route.split(' ') as [string, string];
    const errs = v.validateResponse(method, template, c.status, c.response);
    if (errs === null) {
      problems.push(`${c.route}: answered ${c.status}, a status the spec does not give for it`);
      continue;
    }
    checked += 1;
    for (const e of errs) problems.push(`${c.route} -> ${c.status}: ${e}`);
  }
  return { checked, problems: [...new Set(problems)] };
}

/** A loopback endpoint that accepts every webhook (the fakes sign them; nothing is verified here). */
async function sink(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200).end('{}'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('request bodies match the vendor OpenAPI documents', () => {
  test('Rootly', async (t) => {
    if (!existsSync(specPath('rootly-openapi.json'))) {
      assert.ok(!specsRequired(), `${specPath('rootly-openapi.json')} is missing and CI=true: the contract check cannot be skipped in CI`);
      t.skip(`spec not found at ${specPath('rootly-openapi.json')} (it is outside the project; present only in the team workspace and CI)`);
      return;
    }
    const fake = await startFakeRootly({ specValidation: false });
    try {
      const b = createRootlyBackend({ apiKey: 'rootly-test-key', baseUrl: fake.url, sleep: noSleep });
      const ref = await b.createIncident({
        firebreakId: 'fb-contract',
        title: 'Contract',
        summary: 's',
        severity: 'critical',
        private: true,
        services: [],
        commander: null,
        slackChannel: { id: 'C1', name: 'inc-contract', url: 'https://slack.example/C1' },
      });
      const r = { firebreakId: 'fb-contract', backendId: ref.backendId };
      await b.updateIncident(r, { title: 'Contract 2', severity: 'low', slackChannel: { id: 'C1', name: 'inc-contract', url: 'https://slack.example/C1' } });
      await b.assignRole(r, 'commander', { slackUserId: 'U1', email: 'alice@example.com', name: null });
      await b.addTimelineEvent(r, { text: 'note', at: new Date() });
      await b.transition(r, 'mitigated', 'm');
      await b.transition(r, 'investigating');
      await b.transition(r, 'resolved', 'r');
      await b.savePostmortem(r, '# PM');
      await b.runWorkflow(r, 'wf-1', { a: 1 });
      await b.recordAlert({ source: 'datadog', summary: 'cpu', externalId: 'x', externalUrl: null, labels: { k: 'v' }, data: { n: 1 } });
      await b.transition(r, 'investigating');
      await b.transition(r, 'cancelled', 'c');
      await b.verify();
      for await (const _ of b.listIncidents()) break;
      await b.listIncidentHistory!({ updatedSince: new Date('2026-01-01T00:00:00Z'), cursor: null, pageSize: 50 });
      const { checked, problems } = checkAll('rootly-openapi.json', fake.calls());
      assert.deepEqual(problems, []);
      assert.ok(checked >= 12, `only ${checked} bodies checked`);
      const answers = checkAnswers('rootly-openapi.json', fake.calls());
      assert.deepEqual(answers.problems, []);
      assert.ok(answers.checked >= 15, `only ${answers.checked} answers checked`);
      // The query check can fail: a filter the operation does not declare is reported.
      assert.deepEqual(loadSpecValidator('rootly-openapi.json')!.unknownQueryParams('GET', '/v1/incidents', ['filter[labels]', 'filter[firebreak]']), [
        'filter[firebreak]',
      ]);
      // The check can fail: a body with an attribute the spec does not allow is refused.
      assert.ok(
        (
          loadSpecValidator('rootly-openapi.json')!.validateRequest('POST', '/v1/incidents', {
            data: { type: 'incidents', attributes: { severity: 'high' } },
          }) ?? []
        ).length > 0,
      );
    } finally {
      await fake.close();
    }
  });

  test('incident.io', async (t) => {
    if (!existsSync(specPath('incidentio-openapi.json'))) {
      assert.ok(!specsRequired(), `${specPath('incidentio-openapi.json')} is missing and CI=true: the contract check cannot be skipped in CI`);
      t.skip(`spec not found at ${specPath('incidentio-openapi.json')} (it is outside the project; present only in the team workspace and CI)`);
      return;
    }
    const fake = await startFakeIncidentIo({ specValidation: false });
    const hooks = await sink();
    fake.subscribe(hooks.url, `whsec_${Buffer.from('contract-secret').toString('base64')}`);
    try {
      const b = createIncidentIoBackend({ apiKey: 'incidentio-test-key', baseUrl: fake.url, sleep: noSleep });
      const ref = await b.createIncident({
        firebreakId: 'fbi-contract',
        title: 'Contract',
        summary: 's',
        severity: 'high',
        private: false,
        services: [],
        commander: { slackUserId: 'U1', email: null, name: null },
        slackChannel: { id: 'C1', name: 'inc-contract', url: 'u' },
      });
      const r = { firebreakId: 'fbi-contract', backendId: ref.backendId };
      await b.updateIncident(r, { title: 'Contract 2', summary: 's2', severity: 'low' });
      await b.assignRole(r, 'scribe', { slackUserId: 'U2', email: null, name: null });
      await b.transition(r, 'mitigated');
      await b.transition(r, 'resolved');
      await b.savePostmortem(r, '# PM');
      await b.fetchIncident(ref.backendId);
      for await (const _ of b.listIncidents()) break;
      await b.listIncidentHistory!({ updatedSince: new Date('2026-01-01T00:00:00Z'), cursor: null, pageSize: 50 });
      await fake.createInUi({ name: 'From the UI', visibility: 'public', severity: 'Major' });
      await fake.createInUi({ name: 'Private from the UI', visibility: 'private' });
      await fake.webhooksSent();
      const { checked, problems } = checkAll('incidentio-openapi.json', fake.calls());
      assert.deepEqual(problems, []);
      assert.ok(checked >= 6, `only ${checked} bodies checked`);
      assert.ok((loadSpecValidator('incidentio-openapi.json')!.validateRequest('POST', '/v2/incidents', { name: 'no key' }) ?? []).length > 0);
      const answers = checkAnswers('incidentio-openapi.json', fake.calls());
      assert.deepEqual(answers.problems, []);
      assert.ok(answers.checked >= 8, `only ${answers.checked} answers checked`);
      assert.deepEqual(loadSpecValidator('incidentio-openapi.json')!.unknownQueryParams('GET', '/v2/incidents', ['updated_at[gte]', 'page', 'after']), [
        'page',
      ]);
      // The webhooks the fake sends (its own edits and the UI's): the spec's x-webhooks payloads.
      const v = loadSpecValidator('incidentio-openapi.json')!;
      const deliveries = fake.webhookDeliveries();
      const types = new Set(deliveries.map((d) => d.type));
      for (const t of ['public_incident.incident_created_v2', 'public_incident.incident_updated_v2', 'private_incident.incident_created_v2'])
        assert.ok(types.has(t), `${t} was sent`);
      const hookProblems = deliveries.flatMap((d) =>
        (v.validateWebhook(d.type, d.body) ?? [`${d.type}: not an event in the spec`]).map((e) => `${d.type}: ${e}`),
      );
      assert.deepEqual([...new Set(hookProblems)], []);
      // The check can fail: an IncidentV2 without its required fields is refused.
      assert.ok(
        (
          v.validateWebhook('public_incident.incident_created_v2', {
            event_type: 'public_incident.incident_created_v2',
            'public_incident.incident_created_v2': { id: 'x' },
          }) ?? []
        ).length > 0,
      );
    } finally {
      await fake.close();
      await hooks.close();
    }
  });
});

describe('on-call calls: request bodies and the fakes’ answers match the vendor OpenAPI documents', () => {
  const incident = (backendId: string) => ({ firebreakId: 'fb-oncall', backendId, title: 'Checkout down', severity: 'high', url: null });
  const target = { kind: 'slack_user' as const, name: '<@U0CAROL>', slackUserId: 'U0CAROL' };
  const carol = { slackUserId: 'U0CAROL', email: 'carol@example.com', name: 'Carol' };
  const SHIFT = { startsAt: '2026-01-01T00:00:00Z', endsAt: '2030-01-01T00:00:00Z' };

  test('Rootly: page, page status, who is on call, follow-ups', async (t) => {
    if (!existsSync(specPath('rootly-openapi.json'))) {
      assert.ok(!specsRequired(), 'CI=true: the contract check cannot be skipped in CI');
      t.skip('spec not found (outside the project)');
      return;
    }
    const fake = await startFakeRootly({
      specValidation: false,
      users: [{ email: 'carol@example.com', name: 'Carol' }],
      onCall: { schedules: [{ id: 'sched-1', shifts: [{ email: 'carol@example.com', ...SHIFT }] }] },
    });
    try {
      const b = createRootlyBackend({ apiKey: 'rootly-test-key', baseUrl: fake.url, sleep: noSleep });
      const ref = await b.createIncident({
        firebreakId: 'fb-oncall',
        title: 'Checkout down',
        summary: '',
        severity: 'high',
        private: false,
        services: [],
        commander: null,
      });
      const oc = createRootlyOnCall({ apiKey: 'rootly-test-key', baseUrl: fake.url, sleep: noSleep });
      const page = await oc.page({ incident: incident(ref.backendId), target, user: carol, message: 'please look', idempotencyKey: 'k1' });
      await oc.pageStatus!(page.externalId);
      await oc.onCallNow('sched-1', new Date('2026-06-01T00:00:00Z'));
      const r = { firebreakId: 'fb-oncall', backendId: ref.backendId };
      await oc.createFollowup(r, { title: 'Add a retry budget', description: 'after the outage', owner: carol, due: '2026-12-24', idempotencyKey: 'f1' });
      await oc.findFollowup(r, 'f1');
      const req = checkAll('rootly-openapi.json', fake.calls());
      assert.deepEqual(req.problems, []);
      const answers = checkAnswers('rootly-openapi.json', fake.calls());
      assert.deepEqual(answers.problems, []);
      for (const route of ['POST /v1/alerts', 'GET /v1/schedules/{id}/shifts', 'POST /v1/incidents/{incident_id}/action_items'])
        assert.ok(
          fake.calls({ route }).some((c) => c.status !== null && c.status < 300),
          `${route} was exercised`,
        );
    } finally {
      await fake.close();
    }
  });

  test('incident.io: escalation, its status, schedule entries, follow-ups', async (t) => {
    if (!existsSync(specPath('incidentio-openapi.json'))) {
      assert.ok(!specsRequired(), 'CI=true: the contract check cannot be skipped in CI');
      t.skip('spec not found (outside the project)');
      return;
    }
    const fake = await startFakeIncidentIo({
      specValidation: false,
      onCall: {
        users: [{ id: 'iu-carol', email: 'carol@example.com', name: 'Carol', slack_user_id: 'U0CAROL' }],
        schedules: [{ id: 'sched-1', entries: [{ userId: 'iu-carol', startAt: SHIFT.startsAt, endAt: SHIFT.endsAt }] }],
      },
    });
    try {
      const b = createIncidentIoBackend({ apiKey: 'incidentio-test-key', baseUrl: fake.url, sleep: noSleep });
      const ref = await b.createIncident({
        firebreakId: 'fb-oncall',
        title: 'Checkout down',
        summary: 's',
        severity: 'high',
        private: false,
        services: [],
        commander: null,
      });
      const oc = createIncidentIoOnCall({ apiKey: 'incidentio-test-key', baseUrl: fake.url, sleep: noSleep });
      const page = await oc.page({ incident: incident(ref.backendId), target, user: carol, message: 'please look', idempotencyKey: 'k1' });
      await oc.pageStatus!(page.externalId);
      await oc.onCallNow('sched-1', new Date('2026-06-01T00:00:00Z'));
      const r = { firebreakId: 'fb-oncall', backendId: ref.backendId };
      await oc.createFollowup(r, { title: 'Add a retry budget', description: 'after the outage', owner: carol, due: null, idempotencyKey: 'f1' });
      await oc.findFollowup(r, 'f1');
      const req = checkAll('incidentio-openapi.json', fake.calls());
      assert.deepEqual(req.problems, []);
      const answers = checkAnswers('incidentio-openapi.json', fake.calls());
      assert.deepEqual(answers.problems, []);
      for (const route of ['POST /v2/escalations', 'GET /v2/escalations/{id}', 'GET /v2/schedule_entries', 'POST /v2/follow_ups', 'GET /v2/follow_ups'])
        assert.ok(
          fake.calls({ route }).some((c) => c.status !== null && c.status < 300),
          `${route} was exercised`,
        );
    } finally {
      await fake.close();
    }
  });
});

describe("incident.io webhooks: the receiver's schemas against the spec's x-webhooks", () => {
  test("every event the receiver acts on parses from the spec's own example, and the test fixtures are valid payloads", async (t) => {
    const file = specPath('incidentio-openapi.json');
    if (!existsSync(file)) {
      assert.ok(!specsRequired(), 'CI=true: the contract check cannot be skipped in CI');
      t.skip('spec not found (outside the project)');
      return;
    }
    const { parseIncidentioEvent } = await import('../../../src/services/backend-events.js');
    const doc = JSON.parse(readFileSync(file, 'utf8')) as {
      'x-webhooks': Record<string, { get: { responses: { '200': { content: { 'application/json': { example: unknown } } } } } }>;
    };
    const example = (type: string) => doc['x-webhooks'][`/x-webhooks/${type}`]?.get.responses['200'].content['application/json'].example;
    for (const type of [
      'public_incident.incident_created_v2',
      'public_incident.incident_updated_v2',
      'public_incident.incident_status_updated_v2',
      'private_incident.incident_created_v2',
      'private_incident.incident_updated_v2',
    ]) {
      const r = parseIncidentioEvent(example(type), 'msg_spec');
      assert.ok(r.ok && 'event' in r, `${type}: ${JSON.stringify(r)}`);
      assert.equal(r.event.type, type);
      assert.ok(r.event.incident.backendId);
    }
    const v = loadSpecValidator('incidentio-openapi.json')!;
    for (const name of ['incidentio-incident-created.json', 'incidentio-status-updated-closed.json']) {
      const body = JSON.parse(readFileSync(new URL(`../../fixtures/alerts/${name}`, import.meta.url), 'utf8')) as { event_type: string };
      assert.deepEqual(v.validateWebhook(body.event_type, body), [], `${name} is a valid ${body.event_type}`);
    }
  });
});
