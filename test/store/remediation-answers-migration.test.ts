/**
 * Migration 006 merges the two "was this remediation needed?" tables (003's `remediation_answers`,
 * written for insights, and 005's `remediation_feedback`, written by the runbooks' post-resolve
 * question) into one. A store is built at 005 with answers in both, migrated, and read back through
 * the store: nothing is lost, the later answer wins where both held one, and the figures count them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openKyselyStore } from '../../src/adapters/store/index.js';
import type { KyselyStore } from '../../src/adapters/store/kysely-store.js';
import { MIGRATIONS, runMigrations } from '../../src/adapters/store/migrations.js';
import { RunbookSchema, toRunbook } from '../../src/domain/runbook.js';
import { succeededApproval } from '../services/insights-seed.js';
import { withPgSchema } from './pg-helper.js';

const T0 = new Date('2026-11-02T10:00:00Z');
const min = (n: number) => new Date(T0.getTime() + n * 60_000);
const runbook = toRunbook(
  RunbookSchema.parse({
    id: 'rb',
    title: 'RB',
    steps: [
      { id: 'check', check: 'look' },
      { id: 'fix', action: { id: 'rollback_deployment' } },
    ],
  }),
  'test',
);
const BEFORE_006 = MIGRATIONS.findIndex((m) => m.name === '006_remediation_answers');

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`migration 006: one table for remediation answers (${dialect})`, () => {
    let store: KyselyStore;
    let cleanup = async () => {};
    let skip: string | null = null;
    before(async () => {
      if (dialect === 'sqlite') {
        const dir = mkdtempSync(join(tmpdir(), 'firebreak-006-'));
        store = await openKyselyStore(`sqlite:${join(dir, 'old.db')}`);
        cleanup = async () => {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        };
      } else {
        const pg = await withPgSchema();
        if (!pg) return void (skip = 'PostgreSQL not reachable');
        store = await openKyselyStore(pg.url);
        cleanup = async () => {
          await store.close();
          await pg.cleanup();
        };
      }
      assert.ok(BEFORE_006 > 0, 'migration 006 is in the list');
      await runMigrations(store.db, dialect, () => T0, undefined, MIGRATIONS.slice(0, BEFORE_006));
    });
    after(async () => cleanup());

    test('answers from both tables survive, the later one wins for the same remediation, and the figures count them', async (t) => {
      if (skip) return t.skip(skip);
      const incidentId = randomUUID();
      await store.createIncident({
        id: incidentId,
        title: 'Checkout down',
        description: '',
        severity: 'high',
        services: ['checkout'],
        private: false,
        origin: 'slack',
        declaredBy: 'U0ALICE01',
        commanderId: 'U0ALICE01',
        backend: 'local',
        createdAt: min(0),
      });
      const approval = (actionId: string) => succeededApproval(store, { incidentId, actionId, createdAt: min(5), expiresAt: min(30) });
      // A: a runbook step, answered on the runbook message (005) and later in 003 ("no" wins).
      // B: proposed by hand, answered only in 003. D: a runbook step answered in 003, then (later) on the message.
      // C: an 003 answer whose approval no longer exists (kept, counted nowhere).
      const [a, b, d] = [await approval('rollback_deployment'), await approval('clear_cache'), await approval('scale_infrastructure')];
      const c = randomUUID();
      const { run } = await store.createRunbookRun({
        id: randomUUID(),
        incidentId,
        runbookId: 'rb',
        runbook,
        startedBy: 'U0BOB0001',
        channelId: 'C1',
        dedupeKey: null,
        createdAt: min(1),
      });
      await store.transitionRunbookStep(run.id, 1, ['pending'], 'done', { approvalId: a });
      await store.transitionRunbookStep(run.id, 0, ['pending'], 'done', { approvalId: d });
      const feedback = async (approvalId: string, stepIndex: number, actionId: string, answer: string, at: Date) =>
        sql`insert into remediation_feedback (approval_id, incident_id, run_id, step_index, action_id, answer, answered_by, answered_at)
            values (${approvalId}, ${incidentId}, ${run.id}, ${stepIndex}, ${actionId}, ${answer}, ${'U0ALICE01'}, ${at.getTime()})`.execute(store.db);
      const answer = async (approvalId: string, value: string, by: string, at: Date) =>
        sql`insert into remediation_answers (approval_id, answer, answered_by, answered_at) values (${approvalId}, ${value}, ${by}, ${at.getTime()})`.execute(
          store.db,
        );
      await feedback(a, 1, 'rollback_deployment', 'unsure', min(100));
      await answer(a, 'no', 'U0CAROL01', min(110));
      await answer(b, 'no', 'U0ALICE01', min(120));
      await answer(c, 'yes', 'U0ALICE01', min(130));
      await answer(d, 'no', 'U0CAROL01', min(90));
      await feedback(d, 0, 'scale_infrastructure', 'yes', min(140));

      await store.migrate(); // 006 and what follows it
      const applied = (await store.db.selectFrom('firebreak_migrations').select('name').execute()).map((r) => r.name);
      assert.ok(applied.includes('006_remediation_answers'));

      const rows = await store.listRemediationAnswers({ incidentId });
      const by = (id: string) => rows.find((r) => r.approvalId === id);
      assert.equal(rows.length, 3);
      assert.deepEqual(
        { ...by(a)! },
        {
          approvalId: a,
          incidentId,
          actionId: 'rollback_deployment',
          runId: run.id,
          stepIndex: 1,
          answer: 'no',
          answeredBy: 'U0CAROL01',
          answeredAt: min(110),
        },
      );
      assert.deepEqual(
        { ...by(b)! },
        { approvalId: b, incidentId, actionId: 'clear_cache', runId: null, stepIndex: null, answer: 'no', answeredBy: 'U0ALICE01', answeredAt: min(120) },
      );
      assert.deepEqual(
        { ...by(d)! },
        {
          approvalId: d,
          incidentId,
          actionId: 'scale_infrastructure',
          runId: run.id,
          stepIndex: 0,
          answer: 'yes',
          answeredBy: 'U0ALICE01',
          answeredAt: min(140),
        },
      );
      // The orphan answer is kept as it was.
      const orphan = await store.db.selectFrom('remediation_answers').selectAll().where('approval_id', '=', c).executeTakeFirst();
      assert.deepEqual(
        { ...orphan!, answered_at: Number(orphan!.answered_at) },
        {
          approval_id: c,
          incident_id: null,
          action_id: null,
          run_id: null,
          step_index: null,
          answer: 'yes',
          answered_by: 'U0ALICE01',
          answered_at: min(130).getTime(),
        },
      );
      // One table: the runbooks' table is gone, and the figures read the merged answers.
      await assert.rejects(sql`select count(*) from remediation_feedback`.execute(store.db));
      const [facts] = await store.listIncidentFacts({ from: min(-1), to: min(1000) });
      assert.deepEqual(facts!.remediations, { executed: 3, notNeeded: 2 });

      // Both surfaces now write the one table: an answer on the runbook message replaces the earlier one.
      await store.recordRemediationAnswer({
        approvalId: a,
        incidentId,
        actionId: 'rollback_deployment',
        runId: run.id,
        stepIndex: 1,
        answer: 'yes',
        answeredBy: 'U0ALICE01',
        answeredAt: min(200),
      });
      const [after006] = await store.listIncidentFacts({ from: min(-1), to: min(1000) });
      assert.deepEqual(after006!.remediations, { executed: 3, notNeeded: 1 });
    });
  });
}
