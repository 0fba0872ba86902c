/**
 * The Store contract: one suite, run against SQLite and PostgreSQL. What it pins down is what the
 * declare flow, the approval gate, alert ingestion and the job queue rely on; the concurrency
 * cases are the ones a user would notice as a duplicate incident, a double-run action or a job
 * run twice.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ApprovalStatus, NewAlert, NewApproval, NewIncident, Store, StoredAlert } from '../../src/ports/store.js';
import { AppError } from '../../src/errors.js';
import { openTestPgStore, openTestSqliteStore, pgUnreachableReason, withPgSchema, type PgSchema } from './pg-helper.js';

// -- builders ---------------------------------------------------------------------------------

const uid = (p = '') => `${p}${randomUUID().slice(0, 8)}`;
/** The webhook's jobs for insertAlertsWithJobs, of a test's own kind: one per burst (with its alerts' ids and titles), one per replay. */
const burstJobs = (kind: string) => ({
  burst: (xs: StoredAlert[]) => ({
    id: uid('job_'),
    kind,
    key: null,
    payload: { ids: xs.map((x) => x.id), titles: xs.map((x) => x.title) },
    runAfter: new Date(0),
  }),
  replay: (x: StoredAlert) => ({ id: uid('job_'), kind, key: `${kind}:${x.id}`, payload: { ids: [x.id] }, runAfter: new Date(0) }),
});
const T0 = new Date('2025-03-01T10:00:00.000Z');
const at = (sec: number) => new Date(T0.getTime() + sec * 1000);

function newIncident(o: Partial<NewIncident> = {}): NewIncident {
  return {
    id: uid('inc_'),
    title: 'Checkout 500s',
    description: 'Elevated errors on checkout',
    severity: 'high',
    services: ['checkout', 'payments'],
    private: false,
    origin: 'slack',
    declaredBy: 'U_DECLARER',
    commanderId: 'U_CMD',
    backend: 'local',
    createdAt: T0,
    ...o,
  };
}

function newApproval(incidentId: string, o: Partial<NewApproval> = {}): NewApproval {
  return {
    id: uid('apr_'),
    incidentId,
    actionId: 'rollback_deployment',
    params: { service: 'checkout', to: 'v41' },
    approvers: { roles: { commander: 'U_CMD' }, users: [], usergroups: { S1: ['U_LEAD'] } },
    reason: 'v42 broke checkout',
    proposedBy: 'U_PROPOSER',
    proposerKind: 'user',
    policy: { approvers: { roles: ['commander'] }, required: 1 },
    requiresApproval: true,
    createdAt: T0,
    expiresAt: at(900),
    channelId: 'C_INC',
    ...o,
  };
}

function newAlert(o: Partial<NewAlert> = {}): NewAlert {
  return {
    id: uid('alr_'),
    source: 'pagerduty',
    deliveryId: uid('dlv_'),
    fingerprint: uid('fp_'),
    externalId: 'PD123',
    title: 'High error rate',
    service: 'checkout',
    severity: 'critical',
    status: 'firing',
    url: 'https://pd.example/incidents/PD123',
    raw: { event: { id: 'x', nested: [1, 2, { a: true }] } },
    receivedAt: T0,
    ...o,
  };
}

// -- the suite ----------------------------------------------------------------------------------

type Opened = { store: Store; cleanup(): Promise<void> };

function storeContract(open: () => Promise<Opened>): void {
  let s: Store;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ store: s, cleanup } = await open());
  });
  after(async () => {
    await cleanup();
  });

  test('migrate twice is a no-op and ping answers', async () => {
    await s.migrate();
    await s.ping();
  });

  describe('incidents', () => {
    test('create then get returns every field as the domain type', async () => {
      const input = newIncident({
        private: true,
        source: 'pagerduty',
        origin: 'alert',
        backendId: 'rt_1',
        backendUrl: 'https://rootly/x',
        dedupeKey: uid('dk_'),
      });
      const { incident, created } = await s.createIncident(input);
      assert.equal(created, true);
      const expected = {
        id: input.id,
        seq: incident.seq,
        title: input.title,
        description: input.description,
        severity: 'high',
        status: 'investigating',
        services: ['checkout', 'payments'],
        private: true,
        origin: 'alert',
        source: 'pagerduty',
        declaredBy: 'U_DECLARER',
        commanderId: 'U_CMD',
        backend: 'local',
        backendId: 'rt_1',
        backendUrl: 'https://rootly/x',
        channelId: null,
        channelName: null,
        cardTs: null,
        announceTs: null,
        alertCount: 0,
        createdAt: T0,
        updatedAt: T0,
        resolvedAt: null,
        version: 1,
      };
      assert.deepEqual(incident, expected);
      assert.ok(incident.createdAt instanceof Date);
      assert.equal(typeof incident.seq, 'number');
      assert.deepEqual(await s.getIncident(input.id), expected);
      assert.deepEqual(await s.findIncidentByDedupeKey(input.dedupeKey!), expected);
      assert.deepEqual(await s.findIncidentsByDedupeKeys([input.dedupeKey!, uid('dk_')]), new Map([[input.dedupeKey!, expected]]));
      assert.deepEqual(await s.findIncidentByBackendId('local', 'rt_1'), expected);
      assert.equal(await s.getIncident('nope'), null);
      assert.equal(await s.findIncidentByBackendId('rootly', 'rt_1'), null);
    });

    test('seq increases with each new incident', async () => {
      const a = await s.createIncident(newIncident());
      const b = await s.createIncident(newIncident());
      assert.ok(b.incident.seq > a.incident.seq);
    });

    test('a second create with the same dedupeKey returns the first incident', async () => {
      const dedupeKey = uid('view_');
      const first = await s.createIncident(newIncident({ dedupeKey, title: 'first' }));
      const second = await s.createIncident(newIncident({ dedupeKey, title: 'second' }));
      assert.equal(second.created, false);
      assert.deepEqual(second.incident, first.incident);
    });

    test('20 concurrent creates with one dedupeKey create exactly one incident', async () => {
      const dedupeKey = uid('view_');
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.createIncident(newIncident({ dedupeKey, title: `try ${i}` }))));
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.equal(new Set(results.map((r) => r.incident.id)).size, 1);
      assert.equal(new Set(results.map((r) => r.incident.seq)).size, 1);
    });

    test('with its declaration records: the incident, its roles, audit entry, timeline line and flow job are written together', async () => {
      const input = newIncident({ dedupeKey: uid('view_') });
      const kind = uid('declare.flow.');
      const job = { id: uid('job_'), kind, key: `${kind}:${input.id}`, payload: { incidentId: input.id }, runAfter: T0 };
      const records = {
        roles: { commander: 'U_CMD' },
        audit: { at: T0, incidentId: input.id, actor: 'U_DECLARER', action: 'incident.declared', detail: { title: input.title } },
        timeline: { incidentId: input.id, at: T0, kind: 'declared', text: 'Declared (high)', author: 'U_DECLARER' },
        job: { job, claim: { worker: 'w-1', until: new Date(T0.getTime() + 60_000) } },
      };
      const { created } = await s.createIncident(input, records);
      assert.equal(created, true);
      assert.deepEqual(await s.getRoles(input.id), { commander: 'U_CMD' });
      assert.deepEqual(
        (await s.listAudit({ incidentId: input.id })).map((a) => a.action),
        ['incident.declared'],
      );
      assert.deepEqual(
        (await s.listTimeline(input.id)).map((t) => t.text),
        ['Declared (high)'],
      );
      // Written already claimed by the declaring worker: nobody else claims it while its lease runs.
      assert.equal(await s.countJobs({ kind, state: 'running' }), 1);
      assert.deepEqual(await s.claimJobs([kind], 'w-2', 10, T0, 60_000), []);

      // The same declaration again (its dedupe key): the first incident, and none of the records twice.
      const again = await s.createIncident({ ...input, id: uid('inc_') }, { ...records, job: { job: { ...job, id: uid('job_'), key: uid('k_') } } });
      assert.equal(again.created, false);
      assert.equal(again.incident.id, input.id);
      assert.equal((await s.listAudit({ incidentId: input.id })).length, 1);
      assert.equal((await s.listTimeline(input.id)).length, 1);
      assert.equal(await s.countJobs({ kind }), 1);
    });

    test('a declaration whose records fail to write leaves no incident behind (all or nothing)', async () => {
      const input = newIncident({ dedupeKey: uid('view_') });
      // A payload the job's JSON column cannot take: the job is the last record written, after the incident.
      const kind = uid('declare.flow.');
      const bad = { id: uid('job_'), kind, key: null, payload: { n: 1n }, runAfter: T0 };
      await assert.rejects(
        s.createIncident(input, { audit: { at: T0, incidentId: input.id, actor: 'U_DECLARER', action: 'incident.declared' }, job: { job: bad } }),
        /BigInt/,
      );
      assert.equal(await s.getIncident(input.id), null);
      assert.equal(await s.findIncidentByDedupeKey(input.dedupeKey!), null);
      assert.deepEqual(await s.listAudit({ incidentId: input.id }), []);
      assert.equal(await s.countJobs({ kind }), 0);
      // The declaration tried again is the first one: nothing of the failed try is in its way.
      assert.equal((await s.createIncident(input)).created, true);
    });

    test('30 concurrent creates get 30 distinct seq numbers', async () => {
      const results = await Promise.all(Array.from({ length: 30 }, () => s.createIncident(newIncident())));
      assert.ok(results.every((r) => r.created));
      assert.equal(new Set(results.map((r) => r.incident.seq)).size, 30);
    });

    test('update patches given fields only, bumps version and updatedAt', async () => {
      const { incident } = await s.createIncident(newIncident());
      const channelId = uid('C');
      const updated = await s.updateIncident(incident.id, {
        channelId,
        channelName: 'inc-20250301-checkout',
        severity: 'critical',
        services: ['checkout'],
        updatedAt: at(60),
      });
      assert.ok(updated);
      assert.equal(updated.version, 2);
      assert.equal(updated.severity, 'critical');
      assert.deepEqual(updated.services, ['checkout']);
      assert.equal(updated.title, incident.title, 'untouched field kept');
      assert.deepEqual(updated.updatedAt, at(60));
      assert.deepEqual(await s.findIncidentByChannel(channelId), updated);
    });

    test('update can make an incident private (a backend made it so); the other fields stay', async () => {
      const { incident } = await s.createIncident(newIncident());
      assert.equal(incident.private, false);
      const updated = await s.updateIncident(incident.id, { private: true, updatedAt: at(5) });
      assert.equal(updated?.private, true);
      assert.equal((await s.getIncident(incident.id))?.private, true);
      assert.equal(updated?.title, incident.title);
    });

    test('update with a stale expectedVersion changes nothing and returns null', async () => {
      const { incident } = await s.createIncident(newIncident());
      const v2 = await s.updateIncident(incident.id, { title: 'A', updatedAt: at(1) }, { expectedVersion: 1 });
      assert.equal(v2?.version, 2);
      const stale = await s.updateIncident(incident.id, { title: 'B', updatedAt: at(2) }, { expectedVersion: 1 });
      assert.equal(stale, null);
      assert.equal((await s.getIncident(incident.id))?.title, 'A');
    });

    test('concurrent updates with the same expectedVersion: exactly one applies', async () => {
      const { incident } = await s.createIncident(newIncident());
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => s.updateIncident(incident.id, { title: `t${i}`, updatedAt: at(i) }, { expectedVersion: 1 })),
      );
      assert.equal(results.filter((r) => r !== null).length, 1);
      assert.equal((await s.getIncident(incident.id))?.version, 2);
    });

    test('update guarded by expectedStatus; resolve and reopen', async () => {
      const { incident } = await s.createIncident(newIncident());
      assert.equal(await s.updateIncident(incident.id, { status: 'resolved', updatedAt: at(1) }, { expectedStatus: 'mitigated' }), null);
      const resolved = await s.updateIncident(incident.id, { status: 'resolved', resolvedAt: at(5), updatedAt: at(5) }, { expectedStatus: 'investigating' });
      assert.equal(resolved?.status, 'resolved');
      assert.deepEqual(resolved?.resolvedAt, at(5));
      assert.ok(!(await s.listOpenIncidents()).some((i) => i.id === incident.id), 'resolved is not open');
      const reopened = await s.updateIncident(incident.id, { status: 'investigating', resolvedAt: null, updatedAt: at(9) });
      assert.equal(reopened?.resolvedAt, null);
      assert.ok((await s.listOpenIncidents()).some((i) => i.id === incident.id));
      assert.equal(await s.updateIncident('missing', { title: 'x', updatedAt: at(1) }), null);
    });

    test('bumpAlertCount is atomic under concurrency', async () => {
      const { incident } = await s.createIncident(newIncident());
      const counts = await Promise.all(Array.from({ length: 10 }, () => s.bumpAlertCount(incident.id, 1)));
      assert.deepEqual(
        [...counts].sort((a, b) => a - b),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      );
      assert.equal(await s.bumpAlertCount(incident.id, 5), 15);
      await assert.rejects(s.bumpAlertCount('missing', 1), (e) => e instanceof AppError && e.code === 'incident.not_found');
    });
  });

  test('roles, timeline and approvals refer to an existing incident (foreign keys enforced)', async () => {
    const ghost = uid('inc_ghost_');
    await assert.rejects(s.setRole(ghost, 'commander', 'U1'));
    await assert.rejects(s.addTimeline({ incidentId: ghost, at: at(0), kind: 'note', text: 'x', author: null }));
    await assert.rejects(s.createApproval(newApproval(ghost)));
  });

  test('listIncidents: filters by status, severity, service (whole names), since and text (case-insensitive, % and _ literal), newest first, paged', async () => {
    const tag = uid('Zq');
    const mk = (o: Partial<NewIncident>) => s.createIncident(newIncident({ title: `${tag} db down`, ...o })).then((r) => r.incident);
    const a = await mk({ severity: 'low', services: ['api'], createdAt: at(0) });
    const b = await mk({ severity: 'high', services: ['api-gw'], createdAt: at(100), title: `${tag} 100%_OFF sale broke` });
    const c = await mk({ severity: 'high', status: 'resolved', services: ['search'], createdAt: at(200), description: `${tag.toLowerCase()} search` });
    const ids = async (f: Omit<Parameters<Store['listIncidents']>[0], 'limit'> & { limit?: number }) =>
      (await s.listIncidents({ limit: 50, ...f })).map((i) => i.id);
    assert.deepEqual(await ids({ text: tag }), [c.id, b.id, a.id]);
    assert.deepEqual(await ids({ text: tag.toUpperCase(), severities: ['high'] }), [c.id, b.id]);
    assert.deepEqual(await ids({ text: tag, statuses: ['resolved'] }), [c.id]);
    assert.deepEqual(await ids({ text: tag, services: ['api'] }), [a.id], '"api" is not "api-gw"');
    assert.deepEqual(await ids({ text: tag, since: at(50) }), [c.id, b.id]);
    assert.deepEqual(await ids({ text: '100%_off' }), [b.id]);
    assert.deepEqual(await ids({ text: `${tag} 100x_off` }), [], '% and _ match only themselves');
    const first = await s.listIncidents({ text: tag, limit: 2 });
    assert.deepEqual(await ids({ text: tag, beforeSeq: first.at(-1)!.seq }), [a.id]);
  });

  test('roles: set, reassign, read', async () => {
    const { incident } = await s.createIncident(newIncident());
    assert.deepEqual(await s.getRoles(incident.id), {});
    await s.setRole(incident.id, 'commander', 'U1');
    await s.setRole(incident.id, 'scribe', 'U2');
    await s.setRole(incident.id, 'commander', 'U3');
    assert.deepEqual(await s.getRoles(incident.id), { commander: 'U3', scribe: 'U2' });
  });

  test('timeline: dedupe by sourceRef, entries without sourceRef always added, in time order', async () => {
    const { incident } = await s.createIncident(newIncident());
    const ref = `pin:C1:${uid()}`;
    assert.equal(await s.addTimeline({ incidentId: incident.id, at: at(10), kind: 'pin', text: 'pinned', author: 'U1', sourceRef: ref }), true);
    assert.equal(await s.addTimeline({ incidentId: incident.id, at: at(11), kind: 'pin', text: 'again', author: 'U1', sourceRef: ref }), false);
    assert.equal(await s.addTimeline({ incidentId: incident.id, at: at(5), kind: 'note', text: 'n1', author: null }), true);
    assert.equal(await s.addTimeline({ incidentId: incident.id, at: at(5), kind: 'note', text: 'n1', author: null, sourceRef: null }), true);
    const list = await s.listTimeline(incident.id);
    assert.deepEqual(
      list.map((e) => [e.text, e.sourceRef, e.at.toISOString()]),
      [
        ['n1', null, at(5).toISOString()],
        ['n1', null, at(5).toISOString()],
        ['pinned', ref, at(10).toISOString()],
      ],
    );
    assert.equal(typeof list[0]!.id, 'number');
    // Same sourceRef on another incident is a different entry.
    const other = await s.createIncident(newIncident());
    assert.equal(await s.addTimeline({ incidentId: other.incident.id, at: at(1), kind: 'pin', text: 'x', author: null, sourceRef: ref }), true);
  });

  test('getStepOfFlows reads one step of many flows: recorded results by flow, absent when not completed', async () => {
    const [f1, f2, f3] = [uid('flow_'), uid('flow_'), uid('flow_')];
    await s.putStep(f1, 'meta', { group: 'all' });
    await s.putStep(f2, 'other', 1);
    await s.putStep(f3, 'meta', null);
    const got = await s.getStepOfFlows([f1, f2, f3, uid('flow_')], 'meta');
    assert.deepEqual(
      got,
      new Map<string, unknown>([
        [f1, { group: 'all' }],
        [f3, null],
      ]),
    );
    assert.deepEqual(await s.getStepOfFlows([], 'meta'), new Map());
  });

  test('flow steps: first writer wins, also under concurrency', async () => {
    const flow = uid('flow_');
    assert.equal(await s.getStep(flow, 'channel'), undefined);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => s.putStep(flow, 'channel', { channelId: `C${i}` })));
    const winner = results[0]!;
    assert.ok(
      results.every((r) => r.channelId === winner.channelId),
      'every caller sees the winner',
    );
    assert.deepEqual(await s.getStep(flow, 'channel'), winner);
    assert.deepEqual(await s.putStep(flow, 'channel', { channelId: 'late' }), winner);
    await s.putStep(flow, 'announce', 'ts.1');
    assert.deepEqual(await s.listSteps(flow), { channel: winner, announce: 'ts.1' });
  });

  describe('approvals', () => {
    test('create and read back the exact approval', async () => {
      const { incident } = await s.createIncident(newIncident());
      const input = newApproval(incident.id);
      const created = await s.createApproval(input);
      const expected = {
        ...input,
        status: 'pending',
        messageTs: null,
        decidedBy: null,
        decidedAt: null,
        denyReason: null,
        result: null,
        error: null,
        updatedAt: created.updatedAt,
      };
      assert.deepEqual(created, expected);
      assert.ok(created.updatedAt instanceof Date);
      assert.deepEqual(await s.getApproval(input.id), expected);
      assert.equal(await s.getApproval('missing'), null);
    });

    test('50 concurrent pending→approved transitions: exactly one wins', async () => {
      const { incident } = await s.createIncident(newIncident());
      const a = await s.createApproval(newApproval(incident.id));
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => s.transitionApproval(a.id, ['pending'], 'approved', { decidedBy: `U${i}`, decidedAt: at(i) })),
      );
      const winners = results.filter((r) => r !== null);
      assert.equal(winners.length, 1);
      const stored = await s.getApproval(a.id);
      assert.equal(stored?.status, 'approved');
      assert.equal(stored?.decidedBy, winners[0]!.decidedBy);
    });

    test('transition from the wrong state returns null and leaves the row alone', async () => {
      const { incident } = await s.createIncident(newIncident());
      const a = await s.createApproval(newApproval(incident.id));
      assert.equal(await s.transitionApproval(a.id, ['approved'], 'executing'), null);
      assert.equal(await s.transitionApproval(a.id, [], 'executing'), null);
      assert.equal(await s.transitionApproval('missing', ['pending'], 'denied'), null);
      const denied = await s.transitionApproval(a.id, ['pending', 'approved'], 'denied', {
        decidedBy: 'U9',
        decidedAt: at(3),
        denyReason: 'not now',
      });
      assert.equal(denied?.status, 'denied');
      assert.equal(denied?.denyReason, 'not now');
      assert.deepEqual(denied?.decidedAt, at(3));
      assert.equal(await s.transitionApproval(a.id, ['pending'], 'approved'), null);
    });

    test('patchApproval sets message ts and result without a state check', async () => {
      const { incident } = await s.createIncident(newIncident());
      const a = await s.createApproval(newApproval(incident.id));
      await s.transitionApproval(a.id, ['pending'], 'succeeded');
      const p = await s.patchApproval(a.id, { messageTs: '1700.1', result: { runId: 'r1', ok: true } });
      assert.equal(p?.status, 'succeeded');
      assert.equal(p?.messageTs, '1700.1');
      assert.deepEqual(p?.result, { runId: 'r1', ok: true });
      assert.equal(await s.patchApproval('missing', { messageTs: 'x' }), null);
    });

    test('listApprovals filters by incident and status', async () => {
      const { incident } = await s.createIncident(newIncident());
      const a1 = await s.createApproval(newApproval(incident.id, { createdAt: at(1) }));
      const a2 = await s.createApproval(newApproval(incident.id, { createdAt: at(2) }));
      await s.transitionApproval(a2.id, ['pending'], 'approved');
      assert.deepEqual(
        (await s.listApprovals({ incidentId: incident.id })).map((a) => a.id),
        [a1.id, a2.id],
      );
      assert.deepEqual(
        (await s.listApprovals({ incidentId: incident.id, status: ['pending'] })).map((a) => a.id),
        [a1.id],
      );
      assert.deepEqual(await s.listApprovals({ incidentId: incident.id, status: [] }), []);
    });

    test('votes: one per user, also under concurrency', async () => {
      const { incident } = await s.createIncident(newIncident());
      const a = await s.createApproval(newApproval(incident.id));
      const same = await Promise.all(Array.from({ length: 10 }, () => s.addVote({ approvalId: a.id, userId: 'U1', at: at(1) })));
      assert.equal(same.filter(Boolean).length, 1);
      assert.equal(await s.addVote({ approvalId: a.id, userId: 'U2', at: at(2) }), true);
      assert.deepEqual(await s.listVotes(a.id), [
        { approvalId: a.id, userId: 'U1', at: at(1) },
        { approvalId: a.id, userId: 'U2', at: at(2) },
      ]);
    });
  });

  test('audit: append-only, listed in append order, filtered, newest `limit` entries', async () => {
    const incidentId = uid('inc_');
    const approvalId = uid('apr_');
    await s.audit({ at: at(1), incidentId, actor: 'U1', action: 'incident.declared', detail: { severity: 'high' } });
    await s.audit({ at: at(2), incidentId, approvalId, actor: 'U2', action: 'approval.approved' });
    await s.audit({ at: at(3), incidentId, approvalId, actor: 'system', action: 'approval.executed', detail: { ok: true } });
    const all = await s.listAudit({ incidentId });
    assert.deepEqual(
      all.map((e) => [e.action, e.approvalId, e.detail]),
      [
        ['incident.declared', null, { severity: 'high' }],
        ['approval.approved', approvalId, {}],
        ['approval.executed', approvalId, { ok: true }],
      ],
    );
    assert.ok(all[0]!.id < all[1]!.id && all[1]!.id < all[2]!.id);
    assert.deepEqual(all[0]!.at, at(1));
    assert.deepEqual(
      (await s.listAudit({ approvalId })).map((e) => e.action),
      ['approval.approved', 'approval.executed'],
    );
    assert.deepEqual(
      (await s.listAudit({ incidentId, limit: 2 })).map((e) => e.action),
      ['approval.approved', 'approval.executed'],
    );
    // The port has no way to change or remove an entry.
    const names = new Set([...Object.getOwnPropertyNames(s), ...Object.getOwnPropertyNames(Object.getPrototypeOf(s))]);
    const methods = [...names].filter((m) => /audit/i.test(m) && typeof (s as unknown as Record<string, unknown>)[m] === 'function');
    assert.deepEqual(methods.sort(), ['audit', 'listAudit']);
  });

  test('processed keys: first time true, replays false, prune by age', async () => {
    const k = uid('evt_');
    const first = await Promise.all(Array.from({ length: 5 }, () => s.markProcessed(k, at(0))));
    assert.equal(first.filter(Boolean).length, 1);
    const old = uid('evt_');
    await s.markProcessed(old, new Date('2000-01-01T00:00:00Z'));
    const pruned = await s.pruneProcessed(new Date('2000-01-02T00:00:00Z'));
    assert.ok(pruned >= 1);
    assert.equal(await s.markProcessed(old, at(0)), true, 'a pruned key is new again');
    assert.equal(await s.markProcessed(k, at(1)), false, 'a recent key survives the prune');
  });

  describe('pages', () => {
    test('an acknowledgement is recorded once: only a sent page moves, and only the first of concurrent callers gets it back', async () => {
      const { incident } = await s.createIncident(newIncident());
      const key = `${incident.id}:target:payments`;
      assert.equal(await s.insertPage({ incidentId: incident.id, targetKey: key, targetName: 'payments', message: '', pagedBy: 'U1', createdAt: T0 }), true);
      assert.equal(await s.ackPage(incident.id, key, { at: at(60), ackedByUser: 'U2', ackedByName: 'Person 2' }), null, 'not sent yet: nothing to acknowledge');
      await s.patchPage(incident.id, key, { state: 'sent', externalId: 'ext-1', sentAt: at(5) });
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => s.ackPage(incident.id, key, { at: at(60 + i), ackedByUser: `U${i}`, ackedByName: `Person ${i}` })),
      );
      const won = results.filter((r) => r !== null);
      assert.equal(won.length, 1);
      const page = (await s.getPage(incident.id, key))!;
      assert.equal(page.state, 'acknowledged');
      assert.equal(page.ackedByUser, won[0]!.ackedByUser);
      assert.equal(page.ackedByName, `Person ${page.ackedByUser!.slice(1)}`, 'the id and the name of one acknowledger, kept apart');
      assert.equal(page.ackedAt?.getTime(), won[0]!.ackedAt?.getTime());
      assert.equal((await s.findPageByExternalId('ext-1'))?.state, 'acknowledged');
    });
  });

  describe('alerts', () => {
    test('the same (source, deliveryId) is stored once; null deliveryId is never deduped', async () => {
      const a = newAlert();
      const first = await s.insertAlert(a);
      assert.equal(first.inserted, true);
      assert.deepEqual(first.alert, { ...a, state: 'pending', incidentId: null, error: null });
      const replay = await s.insertAlert({ ...a, id: uid('alr_'), title: 'replayed' });
      assert.equal(replay.inserted, false);
      assert.equal(replay.alert.id, a.id);
      assert.equal((await s.insertAlert({ ...a, id: uid('alr_'), source: 'datadog' })).inserted, true, 'other source');
      const n1 = await s.insertAlert(newAlert({ deliveryId: null }));
      const n2 = await s.insertAlert(newAlert({ deliveryId: null }));
      assert.ok(n1.inserted && n2.inserted);
    });

    test('a burst is stored in one go: each alert once (a repeat in the burst or of a stored one is found), with one job for the burst', async () => {
      const stored = newAlert();
      await s.insertAlert(stored);
      const kind = uid('kind_');
      const a = newAlert();
      const b = newAlert({ deliveryId: null });
      const repeatOfA = { ...a, id: uid('alr_'), title: 'the same delivery again' };
      const repeatOfStored = { ...stored, id: uid('alr_') };
      const jobs = {
        burst: (xs: StoredAlert[]) => ({ id: uid('job_'), kind, key: null, payload: { ids: xs.map((x) => x.id) }, runAfter: at(0) }),
        replay: (x: StoredAlert) => ({ id: uid('job_'), kind, key: `${kind}:${x.id}`, payload: { ids: [x.id] }, runAfter: at(0) }),
      };
      const out = await s.insertAlertsWithJobs([a, b, repeatOfA, repeatOfStored], jobs);
      assert.deepEqual(
        out.map((r) => [r.alert.id, r.inserted]),
        [
          [a.id, true],
          [b.id, true],
          [a.id, false],
          [stored.id, false],
        ],
      );
      assert.deepEqual(out[0]!.alert, { ...a, state: 'pending', incidentId: null, error: null });
      // The burst's job names every alert given (the repeats' ids were never stored: skipped by
      // whoever runs it); the repeat of the stored, still pending alert gets its own job, once.
      const claimed = await s.claimJobs([kind], 'w', 10, at(1), 1000);
      assert.deepEqual(
        claimed.map((j) => (j.payload as { ids: string[] }).ids).sort((x, y) => y.length - x.length),
        [[a.id, b.id, repeatOfA.id, repeatOfStored.id], [stored.id]],
      );
      await s.insertAlertsWithJobs([{ ...repeatOfStored, id: uid('alr_') }], jobs);
      assert.equal(await s.countJobs({ kind }), 2, 'a second replay: no alert stored, so no burst job; its replay job is the same key');
      assert.deepEqual(
        await s.insertAlertsWithJobs([], { burst: () => assert.fail('no job for nothing'), replay: () => assert.fail('no job for nothing') }),
        [],
      );
    });

    test('a burst keeps every field exactly, whatever text it carries (quotes, braces, NULL, emoji, nulls)', async () => {
      const odd = newAlert({
        title: 'a "quoted", {braced} \\ back\\slash, NULL, \'single\', 🔥 and é',
        service: null,
        externalId: null,
        url: null,
        raw: { 'k"ey': 'v\\al{ue}', list: ['NULL', null, '', ','], n: 1.5 },
        receivedAt: at(123),
      });
      const plain = newAlert({ title: 'NULL', service: '' });
      const kind = uid('kind_');
      const out = await s.insertAlertsWithJobs([odd, plain], burstJobs(kind));
      assert.deepEqual(
        out.map((r) => r.inserted),
        [true, true],
      );
      for (const a of [odd, plain]) assert.deepEqual(await s.getAlert(a.id), { ...a, state: 'pending', incidentId: null, error: null });
      assert.equal(await s.countJobs({ kind }), 1);
      const [job] = await s.claimJobs([kind], 'w', 10, at(1), 1000);
      assert.deepEqual(job!.payload, { ids: [odd.id, plain.id], titles: [odd.title, plain.title] }, 'the job payload keeps the text too');
    });

    test('insertAlertsWithJobs: a lone UTF-16 surrogate (a \\ud800 escape in a webhook body) is stored as U+FFFD, the burst with it', async () => {
      const lone = newAlert({ title: 'disk \ud800 full \\ud800 \udfff', raw: { note: 'x\udc00y', ok: '🔥' } });
      const plain = newAlert();
      const out = await s.insertAlertsWithJobs([lone, plain], burstJobs(uid('kind_')));
      assert.deepEqual(
        out.map((r) => r.inserted),
        [true, true],
      );
      const stored = (await s.getAlert(lone.id))!;
      // U+FFFD in place of each (SQLite writes one per byte of the surrogate's encoding, three).
      assert.match(stored.title, /^disk \ufffd+ full \\ud800 \ufffd+$/u);
      // The raw payload is stored as JSON text, where the escape is plain ASCII: kept as it came.
      assert.deepEqual(stored.raw, lone.raw);
      assert.ok(await s.getAlert(plain.id));
    });

    test('a NUL (U+0000) in untrusted text is stored as U+FFFD on every path: alert, burst, incident, timeline, audit', async () => {
      // PostgreSQL refuses NUL in text: without this the webhook's insert fails and the sender retries forever.
      const single = newAlert({ title: 'disk\u0000full', service: 'check\u0000out', raw: { note: 'a\u0000b' } });
      assert.equal((await s.insertAlert(single)).inserted, true);
      assert.equal((await s.getAlert(single.id))?.title, 'disk\ufffdfull');
      assert.equal((await s.getAlert(single.id))?.service, 'check\ufffdout');
      // The raw payload is JSON text, where NUL is the ASCII escape \u0000: kept as it came.
      assert.deepEqual((await s.getAlert(single.id))?.raw, single.raw);

      const burst = newAlert({ title: '\u0000 cpu \\u0000 \u0000', raw: { note: 'x\u0000' } });
      const kind = uid('kind_');
      const out = await s.insertAlertsWithJobs([burst, newAlert()], burstJobs(kind));
      assert.deepEqual(
        out.map((r) => r.inserted),
        [true, true],
      );
      assert.equal((await s.getAlert(burst.id))?.title, '\ufffd cpu \\u0000 \ufffd', 'an escaped backslash before u0000 is text, kept');
      assert.deepEqual((await s.getAlert(burst.id))?.raw, burst.raw);
      assert.equal(await s.countJobs({ kind }), 1);

      const { incident } = await s.createIncident(newIncident({ title: 'db\u0000down', description: 'see\u0000logs' }));
      assert.deepEqual([incident.title, incident.description], ['db\ufffddown', 'see\ufffdlogs']);
      const updated = await s.updateIncident(incident.id, { title: 'still\u0000down', updatedAt: at(1) });
      assert.equal(updated?.title, 'still\ufffddown');
      assert.equal(await s.addTimeline({ incidentId: incident.id, at: at(2), kind: 'note', text: 'pinned\u0000note', author: 'U\u00001' }), true);
      assert.deepEqual(
        (await s.listTimeline(incident.id)).map((e) => [e.text, e.author]),
        [['pinned\ufffdnote', 'U\ufffd1']],
      );
      await s.audit({ at: at(3), incidentId: incident.id, actor: 'U\u00002', action: 'incident.note' });
      assert.deepEqual(
        (await s.listAudit({ incidentId: incident.id })).map((e) => e.actor),
        ['U\ufffd2'],
      );
    });

    test('joinAlerts applies pending repeats once, in one transaction with the count, the fingerprint and the job', async () => {
      const { incident } = await s.createIncident(newIncident());
      const fingerprint = uid('fp_');
      await s.claimFingerprint(fingerprint, incident.id, at(0), { incidentIdIn: null });
      const alerts = [newAlert({ fingerprint, receivedAt: at(5) }), newAlert({ fingerprint, receivedAt: at(9) }), newAlert({ fingerprint, receivedAt: at(7) })];
      for (const a of alerts) await s.insertAlert(a);
      await s.markAlert(alerts[2]!.id, { state: 'processed', incidentId: incident.id }); // applied earlier, alone
      const kind = uid('kind_');
      const job = () => ({ id: uid('job_'), kind, key: `${kind}:note`, payload: {}, runAfter: at(30) });
      const ids = alerts.map((a) => a.id);
      const [applied] = await s.joinAlerts([{ incidentId: incident.id, fingerprint, alertIds: ids, lastSeen: at(9), job: job() }]);
      assert.deepEqual(new Set(applied), new Set([alerts[0]!.id, alerts[1]!.id]));
      assert.equal((await s.getIncident(incident.id))!.alertCount, incident.alertCount + 2);
      const fp = (await s.getFingerprint(fingerprint))!;
      assert.equal(fp.count, 3);
      assert.equal(fp.lastSeen.getTime(), at(9).getTime());
      assert.ok((await s.getAlerts(ids)).every((a) => a.state === 'processed' && a.incidentId === incident.id));
      assert.equal(await s.countJobs({ kind }), 1);
      // Run again (a batch retried after a crash): nothing counted twice, no second job.
      assert.deepEqual(await s.joinAlerts([{ incidentId: incident.id, fingerprint, alertIds: ids, lastSeen: at(1), job: job() }]), [[]]);
      assert.equal((await s.getIncident(incident.id))!.alertCount, incident.alertCount + 2);
      assert.equal((await s.getFingerprint(fingerprint))!.lastSeen.getTime(), at(9).getTime(), 'last seen never moves back');
      // All or nothing: a join whose incident is gone fails the whole call.
      const more = newAlert({ fingerprint, receivedAt: at(10) });
      const orphan = newAlert({ receivedAt: at(10) });
      await s.insertAlert(more);
      await s.insertAlert(orphan);
      await assert.rejects(
        s.joinAlerts([
          { incidentId: incident.id, fingerprint, alertIds: [more.id], lastSeen: at(10), job: job() },
          { incidentId: uid('missing_'), fingerprint: orphan.fingerprint, alertIds: [orphan.id], lastSeen: at(10), job: job() },
        ]),
        (e) => e instanceof AppError && e.code === 'incident.not_found',
      );
      assert.equal((await s.getAlert(more.id))!.state, 'pending');
      assert.equal((await s.getAlert(orphan.id))!.state, 'pending');
      assert.equal((await s.getIncident(incident.id))!.alertCount, incident.alertCount + 2);
    });

    test('countOpeningAlert counts a pending alert into its incident once, marking it processed; two at once count it once', async () => {
      const { incident } = await s.createIncident(newIncident());
      const a = newAlert({ receivedAt: at(3) });
      await s.insertAlert(a);
      const both = await Promise.all([s.countOpeningAlert(a.id, incident.id), s.countOpeningAlert(a.id, incident.id)]);
      assert.deepEqual(both.sort(), [false, true]);
      assert.equal((await s.getIncident(incident.id))!.alertCount, incident.alertCount + 1);
      assert.deepEqual(await s.getAlert(a.id), { ...a, state: 'processed', incidentId: incident.id, error: null });
      assert.equal(await s.countOpeningAlert(a.id, incident.id), false, 'a retry after the commit');
      assert.equal((await s.getIncident(incident.id))!.alertCount, incident.alertCount + 1);
      const orphan = newAlert({ receivedAt: at(4) });
      await s.insertAlert(orphan);
      await assert.rejects(s.countOpeningAlert(orphan.id, uid('missing_')), (e) => e instanceof AppError && e.code === 'incident.not_found');
      assert.equal((await s.getAlert(orphan.id))!.state, 'pending', 'all or nothing');
    });

    test('mark, get and list by fingerprint and incident', async () => {
      const fp = uid('fp_');
      const a1 = (await s.insertAlert(newAlert({ fingerprint: fp, receivedAt: at(1) }))).alert;
      const a2 = (await s.insertAlert(newAlert({ fingerprint: fp, receivedAt: at(2) }))).alert;
      await s.markAlert(a1.id, { state: 'processed', incidentId: 'inc_x' });
      await s.markAlert(a2.id, { state: 'failed', error: 'backend down' });
      assert.deepEqual({ ...(await s.getAlert(a1.id)) }, { ...a1, state: 'processed', incidentId: 'inc_x', error: null });
      assert.equal((await s.getAlert(a2.id))?.error, 'backend down');
      assert.deepEqual(
        (await s.listAlerts({ fingerprint: fp })).map((a) => a.id),
        [a1.id, a2.id],
      );
      assert.deepEqual(
        (await s.listAlerts({ fingerprint: fp, limit: 1 })).map((a) => a.id),
        [a2.id],
      );
      assert.deepEqual(
        (await s.listAlerts({ incidentId: 'inc_x' })).map((a) => a.id),
        [a1.id],
      );
      assert.equal(await s.getAlert('missing'), null);
    });
  });

  describe('fingerprints', () => {
    test('claim when absent, refuse while the incident is open, take over once it is closed', async () => {
      const fp = uid('fp_');
      assert.equal(await s.getFingerprint(fp), null);
      assert.equal(await s.claimFingerprint(fp, 'inc_1', at(0), { incidentIdIn: null }), true);
      assert.deepEqual(await s.getFingerprint(fp), { fingerprint: fp, incidentId: 'inc_1', firstSeen: at(0), lastSeen: at(0), count: 1 });
      assert.equal(await s.claimFingerprint(fp, 'inc_2', at(1), { incidentIdIn: null }), false);
      assert.equal(await s.claimFingerprint(fp, 'inc_2', at(1), { incidentIdIn: ['inc_other'] }), false);
      assert.equal((await s.getFingerprint(fp))?.incidentId, 'inc_1');
      assert.equal(await s.claimFingerprint(fp, 'inc_1', at(2), { incidentIdIn: null }), true, 'a retry of the same claim');
      assert.equal(await s.claimFingerprint(fp, 'inc_2', at(3), { incidentIdIn: ['inc_1'] }), true);
      assert.deepEqual(await s.getFingerprint(fp), { fingerprint: fp, incidentId: 'inc_2', firstSeen: at(3), lastSeen: at(3), count: 1 });
    });

    test('concurrent claims and takeovers: exactly one caller opens the incident', async () => {
      const fp = uid('fp_');
      const claims = await Promise.all(Array.from({ length: 10 }, (_, i) => s.claimFingerprint(fp, `inc_a${i}`, at(0), { incidentIdIn: null })));
      assert.equal(claims.filter(Boolean).length, 1);
      const owner = (await s.getFingerprint(fp))!.incidentId;
      const takeovers = await Promise.all(Array.from({ length: 10 }, (_, i) => s.claimFingerprint(fp, `inc_b${i}`, at(5), { incidentIdIn: [owner] })));
      assert.equal(takeovers.filter(Boolean).length, 1);
    });

    test('getFingerprints reads many rows at once, leaving out the unknown', async () => {
      const [a, b] = [uid('fp_'), uid('fp_')];
      await s.claimFingerprint(a, 'inc_a', at(1), { incidentIdIn: null });
      await s.claimFingerprint(b, 'inc_b', at(2), { incidentIdIn: null });
      const rows = await s.getFingerprints([a, b, uid('fp_')]);
      assert.deepEqual(
        rows.sort((x, y) => x.incidentId.localeCompare(y.incidentId)),
        [await s.getFingerprint(a), await s.getFingerprint(b)],
      );
      assert.deepEqual(await s.getFingerprints([]), []);
    });

    test('joinAlerts: several fingerprints feeding one incident (a storm) add up; a join that takes nothing enqueues nothing', async () => {
      const { incident } = await s.createIncident(newIncident());
      const [fa, fb, fc] = [uid('fp_'), uid('fp_'), uid('fp_')];
      for (const f of [fa, fb, fc]) await s.claimFingerprint(f, incident.id, at(0), { incidentIdIn: null });
      const a = [newAlert({ fingerprint: fa, receivedAt: at(3) }), newAlert({ fingerprint: fa, receivedAt: at(4) })];
      const b = [newAlert({ fingerprint: fb, receivedAt: at(6) })];
      const c = [newAlert({ fingerprint: fc, receivedAt: at(8) })];
      for (const x of [...a, ...b, ...c]) await s.insertAlert(x);
      await s.markAlert(c[0]!.id, { state: 'processed', incidentId: incident.id });
      const kind = uid('kind_');
      const job = (key: string) => ({ id: uid('job_'), kind, key: `${kind}:${key}`, payload: {}, runAfter: at(30) });
      const applied = await s.joinAlerts([
        { incidentId: incident.id, fingerprint: fa, alertIds: a.map((x) => x.id), lastSeen: at(4), job: job('a') },
        { incidentId: incident.id, fingerprint: fb, alertIds: b.map((x) => x.id), lastSeen: at(6), job: job('b') },
        { incidentId: incident.id, fingerprint: fc, alertIds: c.map((x) => x.id), lastSeen: at(8), job: job('c') },
      ]);
      assert.deepEqual(
        applied.map((ids) => new Set(ids)),
        [new Set(a.map((x) => x.id)), new Set([b[0]!.id]), new Set()],
      );
      assert.equal((await s.getIncident(incident.id))!.alertCount, incident.alertCount + 3);
      assert.deepEqual([(await s.getFingerprint(fa))!.count, (await s.getFingerprint(fb))!.count, (await s.getFingerprint(fc))!.count], [3, 2, 1]);
      assert.equal((await s.getFingerprint(fc))!.lastSeen.getTime(), at(0).getTime(), 'a join that took nothing leaves its fingerprint alone');
      assert.equal(await s.countJobs({ kind }), 2, 'the jobs of the joins that took alerts, not of the one that took none');
    });

    test('joinAlerts: an out-of-order repeat is counted but never moves last seen back', async () => {
      const { incident } = await s.createIncident(newIncident());
      const fp = uid('fp_');
      await s.claimFingerprint(fp, incident.id, at(0), { incidentIdIn: null });
      const kind = uid('kind_');
      const join = (a: ReturnType<typeof newAlert>) => ({
        incidentId: incident.id,
        fingerprint: fp,
        alertIds: [a.id],
        lastSeen: a.receivedAt,
        job: { id: uid('job_'), kind, key: null, payload: {}, runAfter: at(0) },
      });
      const late = newAlert({ fingerprint: fp, receivedAt: at(10) });
      const early = newAlert({ fingerprint: fp, receivedAt: at(5) });
      for (const a of [late, early]) await s.insertAlert(a);
      await s.joinAlerts([join(late)]);
      assert.deepEqual(await s.getFingerprint(fp), { fingerprint: fp, incidentId: incident.id, firstSeen: at(0), lastSeen: at(10), count: 2 });
      await s.joinAlerts([join(early)]);
      assert.deepEqual(await s.getFingerprint(fp), { fingerprint: fp, incidentId: incident.id, firstSeen: at(0), lastSeen: at(10), count: 3 });
    });
  });

  describe('jobs', () => {
    test('enqueue with a key is idempotent; claim returns the payload and counts the attempt', async () => {
      const kind = uid('kind_');
      const key = uid('key_');
      assert.equal(await s.enqueueJob({ id: uid('job_'), kind, key, payload: { a: 1 }, runAfter: at(0) }), true);
      assert.equal(await s.enqueueJob({ id: uid('job_'), kind, key, payload: { a: 2 }, runAfter: at(0) }), false);
      assert.equal(await s.countJobs({ kind }), 1);
      const [job, ...rest] = await s.claimJobs([kind], 'w1', 10, at(1), 30_000);
      assert.equal(rest.length, 0);
      assert.deepEqual(job, { id: job!.id, kind, key, payload: { a: 1 }, state: 'running', attempts: 1, runAfter: at(0), lastError: null });
      assert.equal(await s.countJobs({ kind, state: 'running' }), 1);
    });

    test('enqueue already claimed: the lease holds it from other workers, its end hands it over; the key still deduplicates', async () => {
      const kind = uid('kind_');
      const key = uid('key_');
      const id = uid('job_');
      assert.equal(await s.enqueueJob({ id, kind, key, payload: { a: 1 }, runAfter: at(0) }, { worker: 'here', until: at(10) }), true);
      assert.equal(await s.enqueueJob({ id: uid('job_'), kind, key, payload: { a: 2 }, runAfter: at(0) }), false);
      assert.equal(await s.countJobs({ kind, state: 'running' }), 1);
      assert.deepEqual(await s.claimJobs([kind], 'w2', 10, at(5), 10_000), [], 'claimed by the enqueuer while its lease runs');
      const [taken] = await s.claimJobs([kind], 'w2', 10, at(11), 10_000);
      assert.deepEqual(taken, { id, kind, key, payload: { a: 1 }, state: 'running', attempts: 2, runAfter: at(0), lastError: null });
      await s.completeJob(id, 'here');
      assert.equal(await s.countJobs({ kind, state: 'running' }), 1, 'the enqueuer lost it with its lease');
    });

    test('pruneJobs deletes finished jobs only: queued, running and dead ones stay', async () => {
      const kind = uid('kind_');
      for (let i = 0; i < 4; i++) await s.enqueueJob({ id: uid('job_'), kind, payload: i, runAfter: at(0) });
      const [a, b, c] = await s.claimJobs([kind], 'w1', 3, at(1), 60_000);
      await s.completeJob(a!.id, 'w1');
      await s.failJob(b!.id, 'w1', 'gave up', null); // dead
      void c; // still running
      const pruned = await s.pruneJobs(new Date(Date.now() + 60_000));
      assert.ok(pruned >= 1);
      assert.equal(await s.countJobs({ kind, state: 'done' }), 0);
      assert.equal(await s.countJobs({ kind, state: 'dead' }), 1);
      assert.equal(await s.countJobs({ kind, state: 'running' }), 1);
      assert.equal(await s.countJobs({ kind, state: 'queued' }), 1);
      assert.equal(await s.pruneJobs(new Date(0)), 0, 'nothing older than the epoch');
    });

    test('completeJobs finishes the claimed jobs of this worker only', async () => {
      const kind = uid('kind_');
      for (let i = 0; i < 3; i++) await s.enqueueJob({ id: uid('job_'), kind, payload: i, runAfter: at(0) });
      const [a, b] = await s.claimJobs([kind], 'w1', 2, at(1), 60_000);
      const [c] = await s.claimJobs([kind], 'w2', 1, at(1), 60_000);
      await s.completeJobs([a!.id, b!.id, c!.id], 'w1');
      assert.equal(await s.countJobs({ kind, state: 'done' }), 2);
      assert.equal(await s.countJobs({ kind, state: 'running' }), 1, "w2's job is not w1's to complete");
      await s.completeJobs([], 'w1');
    });

    test('jobs not yet due and other kinds are not claimed', async () => {
      const kind = uid('kind_');
      await s.enqueueJob({ id: uid('job_'), kind, payload: null, runAfter: at(60) });
      await s.enqueueJob({ id: uid('job_'), kind: uid('other_'), payload: null, runAfter: at(0) });
      assert.deepEqual(await s.claimJobs([kind], 'w1', 10, at(30), 1000), []);
      assert.equal((await s.claimJobs([kind], 'w1', 10, at(60), 1000)).length, 1);
      assert.deepEqual(await s.claimJobs([], 'w1', 10, at(60), 1000), []);
    });

    test('two concurrent claimers never get the same job', async () => {
      const kind = uid('kind_');
      for (let i = 0; i < 40; i++) await s.enqueueJob({ id: `job_${kind}_${i}`, kind, payload: { i }, runAfter: at(i % 5) });
      const claimed = await drainConcurrently([s, s], kind, at(10));
      assert.equal(claimed.length, 40);
      assert.equal(new Set(claimed).size, 40, 'no job claimed twice');
    });

    test('an expired lease is taken over; the old worker can no longer complete it', async () => {
      const kind = uid('kind_');
      await s.enqueueJob({ id: uid('job_'), kind, payload: {}, runAfter: at(0) });
      const [j] = await s.claimJobs([kind], 'crashed', 1, at(0), 10_000);
      assert.ok(j);
      assert.deepEqual(await s.claimJobs([kind], 'w2', 1, at(5), 10_000), [], 'lease still valid');
      const [taken] = await s.claimJobs([kind], 'w2', 1, at(11), 10_000);
      assert.equal(taken?.id, j.id);
      assert.equal(taken?.attempts, 2);
      await s.completeJob(j.id, 'crashed');
      assert.equal(await s.countJobs({ kind, state: 'running' }), 1, 'stale worker ignored');
      await s.completeJob(j.id, 'w2');
      assert.equal(await s.countJobs({ kind, state: 'done' }), 1);
      assert.deepEqual(await s.claimJobs([kind], 'w3', 1, at(100), 10_000), [], 'done jobs are never claimed');
    });

    test('fail with a retry time requeues; fail without one marks it dead', async () => {
      const kind = uid('kind_');
      await s.enqueueJob({ id: uid('job_'), kind, payload: {}, runAfter: at(0) });
      const [j] = await s.claimJobs([kind], 'w1', 1, at(0), 10_000);
      await s.failJob(j!.id, 'w1', 'HTTP 503', at(30));
      assert.deepEqual(await s.claimJobs([kind], 'w1', 1, at(20), 10_000), [], 'not before retryAt');
      const [again] = await s.claimJobs([kind], 'w1', 1, at(30), 10_000);
      assert.equal(again?.attempts, 2);
      assert.equal(again?.lastError, 'HTTP 503');
      assert.deepEqual(again?.runAfter, at(30));
      await s.failJob(j!.id, 'w1', 'HTTP 400: invalid', null);
      assert.equal(await s.countJobs({ kind, state: 'dead' }), 1);
      assert.deepEqual(await s.claimJobs([kind], 'w1', 1, at(1000), 10_000), [], 'dead jobs are never claimed');
    });

    test('release gives claimed jobs back without counting an attempt', async () => {
      const kind = uid('kind_');
      await s.enqueueJob({ id: uid('job_'), kind, payload: {}, runAfter: at(0) });
      await s.enqueueJob({ id: uid('job_'), kind, payload: {}, runAfter: at(0) });
      await s.claimJobs([kind], 'leaving', 2, at(0), 60_000);
      assert.equal(await s.releaseJobs('leaving'), 2);
      assert.equal(await s.releaseJobs('leaving'), 0);
      const again = await s.claimJobs([kind], 'w2', 5, at(1), 60_000);
      assert.equal(again.length, 2, 'released jobs are due at once, lease or not');
      assert.ok(again.every((j) => j.attempts === 1));
    });

    test('expireLeases ends the leases of earlier generations of one database, not this one nor another database', async () => {
      const kind = uid('kind_');
      const db = uid('db');
      for (let i = 0; i < 4; i++) await s.enqueueJob({ id: uid('job_'), kind, payload: {}, runAfter: at(0) });
      await s.claimJobs([kind], `${db}#1`, 1, at(0), 3_600_000);
      await s.claimJobs([kind], `${db}#2`, 1, at(0), 3_600_000);
      await s.claimJobs([kind], `${db}#3`, 1, at(0), 3_600_000);
      await s.claimJobs([kind], `${db}x#1`, 1, at(0), 3_600_000);
      assert.equal(await s.expireLeases(`${db}#`, `${db}#3`, at(5)), 2);
      const again = await s.claimJobs([kind], `${db}#3`, 5, at(6), 60_000);
      assert.equal(again.length, 2, 'the two jobs of dead generations, at once');
      assert.ok(
        again.every((j) => j.attempts === 2),
        'their interrupted attempt counts',
      );
    });
  });

  test('kv: absent, set, overwrite', async () => {
    const k = uid('kv_');
    assert.equal(await s.getKv(k), undefined);
    await s.setKv(k, { summary: 'x', n: 1 });
    assert.deepEqual(await s.getKv(k), { summary: 'x', n: 1 });
    await s.setKv(k, ['y']);
    assert.deepEqual(await s.getKv(k), ['y']);
    await s.setKv(k, false);
    assert.equal(await s.getKv(k), false);
  });
}

/** Claim everything of `kind` with several claimers in parallel; returns the claimed ids. */
async function drainConcurrently(stores: Store[], kind: string, now: Date): Promise<string[]> {
  const claimed: string[] = [];
  await Promise.all(
    stores.map(async (st, w) => {
      for (;;) {
        const jobs = await st.claimJobs([kind], `worker${w}`, 3, now, 60_000);
        if (jobs.length === 0) return;
        claimed.push(...jobs.map((j) => j.id));
      }
    }),
  );
  return claimed;
}

// -- SQLite ---------------------------------------------------------------------------------------

describe('Store contract: sqlite', () => {
  storeContract(openTestSqliteStore);
});

// -- PostgreSQL -------------------------------------------------------------------------------------

const pgReason = await pgUnreachableReason();
if (pgReason && process.env.CI) {
  test('PostgreSQL is reachable (required when CI is set)', () => {
    assert.fail(`${pgReason}; set TEST_DATABASE_URL or start PostgreSQL`);
  });
} else if (pgReason) {
  console.warn(`[store contract] ${pgReason}: PostgreSQL half skipped`);
  test('Store contract: postgres', (t) => {
    t.skip(`${pgReason}: skipped`);
  });
} else {
  describe('Store contract: postgres', () => {
    let pgs: PgSchema;
    before(async () => {
      pgs = (await withPgSchema())!;
    });
    after(async () => {
      await pgs?.cleanup();
    });

    describe('single instance', () => {
      storeContract(async () => {
        const store = await openTestPgStore(pgs.url);
        return { store, cleanup: () => store.close() };
      });
    });

    describe('two replicas (two pools) on one database', () => {
      let a: Store;
      let b: Store;
      before(async () => {
        [a, b] = await Promise.all([openTestPgStore(pgs.url), openTestPgStore(pgs.url)]);
      });
      after(async () => {
        await Promise.all([a?.close(), b?.close()]);
      });

      test('the same approval decided on both replicas: exactly one wins', async () => {
        const { incident } = await a.createIncident(newIncident());
        const ap = await a.createApproval(newApproval(incident.id));
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).transitionApproval(ap.id, ['pending'], 'approved', { decidedBy: `U${i}` })),
        );
        assert.equal(results.filter((r) => r !== null).length, 1);
      });

      test('the same dedupeKey created on both replicas: exactly one incident', async () => {
        const dedupeKey = uid('view_');
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).createIncident(newIncident({ dedupeKey }))));
        assert.equal(results.filter((r) => r.created).length, 1);
        assert.equal(new Set(results.map((r) => r.incident.id)).size, 1);
      });

      test('seq stays unique when both replicas create at once', async () => {
        const results = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).createIncident(newIncident())));
        assert.equal(new Set(results.map((r) => r.incident.seq)).size, 30);
      });

      test('jobs claimed from both replicas: none claimed twice', async () => {
        const kind = uid('kind_');
        for (let i = 0; i < 60; i++) await a.enqueueJob({ id: `job_${kind}_${i}`, kind, payload: { i }, runAfter: at(0) });
        const claimed = await drainConcurrently([a, b, a, b], kind, at(1));
        assert.equal(claimed.length, 60);
        assert.equal(new Set(claimed).size, 60);
      });

      test('fingerprint claimed from both replicas: one opener', async () => {
        const fp = uid('fp_');
        const claims = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).claimFingerprint(fp, `inc_${i}`, at(0), { incidentIdIn: null })));
        assert.equal(claims.filter(Boolean).length, 1);
      });
    });

    test('two replicas migrating a fresh schema at once both succeed (advisory lock)', async () => {
      const fresh = (await withPgSchema())!;
      const [x, y] = await Promise.all([openTestPgStore(fresh.url), openTestPgStore(fresh.url)]).finally(() => undefined);
      try {
        const { incident } = await x.createIncident(newIncident());
        assert.equal((await y.getIncident(incident.id))?.id, incident.id);
      } finally {
        await Promise.all([x.close(), y.close()]);
        await fresh.cleanup();
      }
    });
  });
}

// Typed list of statuses keeps the union honest if the port grows a new status.
const _statuses: ApprovalStatus[] = ['pending', 'approved', 'executing', 'succeeded', 'failed', 'denied', 'expired', 'unknown'];
void _statuses;
