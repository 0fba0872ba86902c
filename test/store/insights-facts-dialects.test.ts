import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BackendIncidentRecord, IncidentFacts } from '../../src/domain/insights.js';
import { RunbookSchema, toRunbook } from '../../src/domain/runbook.js';
import type { Store } from '../../src/ports/store.js';
import type { Deps } from '../../src/services/deps.js';
import { buildStats, type StatsReport } from '../../src/services/insights.js';
import { seedHistory, succeededApproval } from '../services/insights-seed.js';
import { openTestStore } from './pg-helper.js';

/**
 * The facts the figures are computed from, read by one statement per aggregate on each dialect:
 * SQLite and PostgreSQL must give the same facts and the same report over the same history.
 */

const NOW = new Date('2026-11-30T12:00:00Z');
const DAY = 86_400_000;
const N = 160;
const at = (msBeforeNow: number) => new Date(NOW.getTime() - msBeforeNow);

/** The seeded history plus the cases the seed has none of, with the same ids on both dialects. */
async function history(store: Store): Promise<void> {
  await seedHistory(store, { n: N, days: 30, now: NOW, concurrency: 1 });
  const incident = async (id: string, createdAt: Date, over: { backend?: string; backendId?: string } = {}) => {
    await store.createIncident({
      id,
      title: id,
      description: '',
      severity: 'high',
      services: ['search', 'api'],
      private: false,
      origin: 'slack',
      declaredBy: 'U0ALICE01',
      commanderId: null,
      backend: over.backend ?? 'local',
      backendId: over.backendId,
      createdAt,
    });
  };
  // A runbook ran, no remediation: "runbook", not "by hand".
  await incident('runbook-ran', at(3 * DAY));
  const runbook = toRunbook(RunbookSchema.parse({ id: 'look', title: 'Look', steps: [{ id: 'logs', check: 'read the logs' }] }), 'test');
  await store.createRunbookRun({
    id: 'run-1',
    incidentId: 'runbook-ran',
    runbookId: 'look',
    runbook,
    startedBy: 'U0BOB0001',
    channelId: 'C1',
    dedupeKey: null,
    createdAt: at(3 * DAY - 60_000),
  });
  // Two executed remediations (one answered "not needed"), a read-only action that ran, one still pending.
  await incident('remediated', at(4 * DAY));
  const no = await succeededApproval(store, { id: 'ap-no', incidentId: 'remediated', actionId: 'restart', createdAt: at(4 * DAY - 60_000), expiresAt: NOW });
  await succeededApproval(store, { id: 'ap-yes', incidentId: 'remediated', actionId: 'scale', createdAt: at(4 * DAY - 120_000), expiresAt: NOW });
  await succeededApproval(store, {
    id: 'ap-read',
    incidentId: 'remediated',
    actionId: 'read_logs',
    requiresApproval: false,
    createdAt: at(4 * DAY - 30_000),
    expiresAt: NOW,
  });
  await store.createApproval({
    id: 'ap-pending',
    incidentId: 'remediated',
    actionId: 'rollback',
    params: {},
    reason: '',
    proposedBy: 'U0BOB0001',
    proposerKind: 'user',
    policy: {},
    approvers: null,
    requiresApproval: true,
    createdAt: at(4 * DAY - 10_000),
    expiresAt: NOW,
    channelId: null,
  });
  await store.recordRemediationAnswer({
    approvalId: no,
    incidentId: 'remediated',
    actionId: 'restart',
    runId: null,
    stepIndex: null,
    answer: 'no',
    answeredBy: 'U0ALICE01',
    answeredAt: at(DAY),
  });
  // Cancelled: not an incident in the figures. Outside both periods: not read at all.
  await incident('cancelled', at(5 * DAY));
  await store.updateIncident('cancelled', { status: 'cancelled', updatedAt: at(5 * DAY) });
  await incident('long-ago', at(200 * DAY));
  // Declared here, tracked in Rootly: one fact, Rootly's acknowledgement; and one from Rootly's UI.
  await incident('in-rootly', at(6 * DAY), { backend: 'rootly', backendId: 'r-1' });
  const record = {
    firebreakId: null,
    title: 'x',
    severity: 'critical',
    status: 'resolved',
    services: [],
    origin: 'backend',
    url: null,
  } satisfies Partial<BackendIncidentRecord>;
  await store.upsertBackendIncidents(
    'rootly',
    [
      {
        ...record,
        backendId: 'r-1',
        startedAt: at(6 * DAY),
        acknowledgedAt: at(6 * DAY - 120_000),
        mitigatedAt: null,
        resolvedAt: at(5 * DAY),
        postmortem: 'completed',
        updatedAt: at(5 * DAY),
      },
      {
        ...record,
        backendId: 'r-2',
        startedAt: at(40 * DAY),
        acknowledgedAt: null,
        mitigatedAt: null,
        resolvedAt: at(39 * DAY),
        postmortem: 'draft',
        updatedAt: at(39 * DAY),
      },
    ],
    NOW,
  );
}

/** The seeded incidents' ids are random: a fact is named by its title (unique here) instead. */
const named = (facts: IncidentFacts[]) => facts.map((f) => ({ ...f, key: f.title })).sort((a, b) => a.key.localeCompare(b.key));
const comparable = (r: StatsReport) => ({ ...r, facts: named(r.facts), bySeverity: [...r.bySeverity], byRunbook: [...r.byRunbook] });

let stores: { dialect: string; store: Store; cleanup(): Promise<void> }[] = [];
let skip: string | null = null;
before(async () => {
  for (const dialect of ['sqlite', 'postgres'] as const) {
    const s = await openTestStore(dialect);
    if (!s) {
      skip = 'PostgreSQL not reachable';
      continue;
    }
    await history(s.store);
    stores.push({ dialect, ...s });
  }
});
after(async () => {
  for (const s of stores) await s.cleanup();
  stores = [];
});

test('SQLite and PostgreSQL read the same facts and give the same 30-day report over the same history', async (t) => {
  if (skip) return t.skip(skip);
  const [lite, pg] = stores;
  const range = { from: at(60 * DAY), to: NOW };
  const facts = await Promise.all([lite!.store.listIncidentFacts(range), pg!.store.listIncidentFacts(range)]);
  assert.equal(facts[0].length, N + 5, 'the seeded incidents, four of ours in the window (Rootly twin merged) and the one from Rootly');
  assert.deepEqual(named(facts[1]), named(facts[0]));

  // The seed: every twentieth incident reopened; alert incidents k % 15 === 0 had no human; ours
  // (runbook-ran, remediated, cancelled) have no timeline at all, nor has Rootly's UI incident.
  assert.equal(facts[0].filter((f) => f.reopened > 0).length, N / 20);
  assert.equal(facts[0].filter((f) => f.acknowledgedAt === null).length, Math.ceil(N / 15) + 3 + 1);
  assert.equal(facts[0].filter((f) => f.mitigatedAt === null).length, 5, 'ours without a timeline and the two Rootly has (neither mitigated there)');
  const byKey = new Map(facts[0].map((f) => [f.key, f]));
  assert.equal(byKey.get('runbook-ran')!.runbook, true);
  assert.deepEqual(byKey.get('runbook-ran')!.remediations, { executed: 0, notNeeded: 0 });
  assert.deepEqual(byKey.get('remediated')!.remediations, { executed: 2, notNeeded: 1 }, 'the read-only action and the pending one are not remediations');
  assert.equal(byKey.get('remediated')!.runbook, true, 'an executed remediation counts as runbook-handled');
  assert.deepEqual(byKey.get('in-rootly')!.acknowledgedAt, at(6 * DAY - 120_000));
  assert.equal(byKey.get('in-rootly')!.postmortem, 'completed');
  assert.deepEqual(byKey.get('in-rootly')!.services, ['search', 'api'], 'Rootly had none: ours are kept');
  assert.equal(byKey.get('rootly:r-2')!.origin, 'backend');
  assert.equal(byKey.has('long-ago'), false);

  const reports = await Promise.all(
    stores.map((s) => buildStats({ store: s.store } as Pick<Deps, 'store'> as Deps, { days: 30, service: null, severity: null }, NOW)),
  );
  assert.deepEqual(comparable(reports[1]!), comparable(reports[0]!));
  const r = reports[0]!;
  // The seed: every fourth incident had a remediation, every other one of those "not needed".
  assert.equal(r.current.incidents, N + 3, 'the cancelled incident is not counted');
  assert.deepEqual(r.current.falsePositive, { numerator: N / 8 + 1, denominator: N / 4 + 2, rate: (N / 8 + 1) / (N / 4 + 2) });
  assert.equal(r.previous.incidents, 1, "the previous 30 days: Rootly's UI incident");
  assert.deepEqual(r.previous.postmortem, { numerator: 0, denominator: 1, rate: 0 });
  assert.equal(r.byRunbook.get('runbook')!.incidents, N / 4 + 2);
});
