import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Store } from '../../src/ports/store.js';
import type { BackendIncidentRecord } from '../../src/domain/insights.js';
import { RunbookSchema, toRunbook } from '../../src/domain/runbook.js';
import { succeededApproval } from '../services/insights-seed.js';
import { openTestStore } from './pg-helper.js';

const T0 = new Date('2026-11-02T10:00:00Z');
const min = (n: number) => new Date(T0.getTime() + n * 60_000);

function record(over: Partial<BackendIncidentRecord> & { backendId: string }): BackendIncidentRecord {
  return {
    firebreakId: null,
    title: 'x',
    severity: 'high',
    status: 'resolved',
    services: [],
    origin: 'backend',
    url: null,
    startedAt: T0,
    acknowledgedAt: null,
    mitigatedAt: null,
    resolvedAt: min(90),
    postmortem: 'none',
    updatedAt: min(90),
    ...over,
  };
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`insights store (${dialect})`, () => {
    let store: Store;
    let cleanup = async () => {};
    let skip: string | null = null;
    before(async () => {
      const s = await openTestStore(dialect);
      if (!s) return void (skip = 'PostgreSQL not reachable');
      ({ store, cleanup } = s);
    });
    after(async () => cleanup());

    test('an incident declared in Slack and synced from the backend is one fact: the backend times win, Slack adds remediations and reopens', async (t) => {
      if (skip) return t.skip(skip);
      const id = randomUUID();
      await store.createIncident({
        id,
        title: 'Checkout down',
        description: '',
        severity: 'high',
        services: ['checkout'],
        private: false,
        origin: 'slack',
        declaredBy: null,
        commanderId: null,
        backend: 'rootly',
        backendId: 'r-77',
        createdAt: min(1),
      });
      await store.addTimeline({ incidentId: id, at: min(6), kind: 'update', text: 'looking', author: 'U0BOB0001' });
      await store.addTimeline({ incidentId: id, at: min(50), kind: 'reopened', text: 'again', author: 'U0BOB0001' });
      const approvalId = await succeededApproval(store, { incidentId: id, actionId: 'clear_cache', createdAt: min(8), expiresAt: min(20) });
      // A read-only action that ran (logs, metrics) is not a remediation: not in the false-positive rate.
      await succeededApproval(store, {
        incidentId: id,
        actionId: 'read_logs',
        requiresApproval: false,
        createdAt: min(7),
        expiresAt: min(20),
      });
      const answer = { approvalId, incidentId: id, actionId: 'clear_cache', runId: null, stepIndex: null, answeredBy: 'U0ALICE01' };
      await store.recordRemediationAnswer({ ...answer, answer: 'unsure', answeredAt: min(100) });
      await store.recordRemediationAnswer({ ...answer, answer: 'no', answeredAt: min(101) }); // a later answer replaces it
      // A backend-only incident and the synced twin of ours (matched by backend id; no label on incident.io).
      assert.equal(
        await store.upsertBackendIncidents(
          'rootly',
          [record({ backendId: 'r-77', acknowledgedAt: min(3), postmortem: 'completed' }), record({ backendId: 'r-78', title: 'From the UI' })],
          min(200),
        ),
        2,
      );
      assert.equal(
        await store.upsertBackendIncidents('rootly', [record({ backendId: 'r-77', acknowledgedAt: min(3), postmortem: 'completed' })], min(300)),
        1,
        'idempotent',
      );
      const facts = await store.listIncidentFacts({ from: min(-10), to: min(1000) });
      assert.equal(facts.length, 2);
      const ours = facts.find((f) => f.key === id)!;
      assert.equal(ours.origin, 'slack');
      assert.deepEqual(ours.acknowledgedAt, min(3), 'the backend acknowledged_at wins');
      assert.deepEqual(ours.startedAt, T0);
      assert.equal(ours.postmortem, 'completed');
      assert.deepEqual(ours.remediations, { executed: 1, notNeeded: 1 });
      assert.equal(ours.runbook, true);
      assert.equal(ours.reopened, 1);
      assert.equal(ours.services[0], 'checkout', 'the backend had none: ours are kept');
      const ui = facts.find((f) => f.key === 'rootly:r-78')!;
      assert.equal(ui.origin, 'backend');
      assert.equal(ui.acknowledgedAt, null);
      assert.deepEqual(await store.countBackendIncidents('rootly'), { rows: 2, distinct: 2 });
    });

    test('runbook vs by hand: an incident a runbook ran for counts as runbook even when no remediation ran', async (t) => {
      if (skip) return t.skip(skip);
      const make = async (title: string) => {
        const id = randomUUID();
        await store.createIncident({
          id,
          title,
          description: '',
          severity: 'low',
          services: [],
          private: false,
          origin: 'slack',
          declaredBy: null,
          commanderId: null,
          backend: 'local',
          createdAt: min(2000),
        });
        return id;
      };
      const withRun = await make('Runbook read the logs');
      await make('Handled by hand');
      const runbook = toRunbook(RunbookSchema.parse({ id: 'look', title: 'Look', steps: [{ id: 'logs', check: 'read the logs' }] }), 'test');
      await store.createRunbookRun({
        id: randomUUID(),
        incidentId: withRun,
        runbookId: 'look',
        runbook,
        startedBy: 'U0BOB0001',
        channelId: 'C1',
        dedupeKey: null,
        createdAt: min(2001),
      });
      const facts = await store.listIncidentFacts({ from: min(1999), to: min(2100) });
      assert.deepEqual(facts.map((f) => [f.title, f.runbook, f.remediations.executed]).sort(), [
        ['Handled by hand', false, 0],
        ['Runbook read the logs', true, 0],
      ]);
    });
  });
}
