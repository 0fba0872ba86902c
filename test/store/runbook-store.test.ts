import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { KyselyStore } from '../../src/adapters/store/kysely-store.js';
import { RunbookSchema, toRunbook } from '../../src/domain/runbook.js';
import { openTestPgStore, openTestSqliteStore, withPgSchema } from './pg-helper.js';

const runbook = toRunbook(
  RunbookSchema.parse({
    id: 'rb',
    title: 'RB',
    steps: [
      { id: 'a', check: 'one' },
      { id: 'b', check: 'two' },
    ],
  }),
  'test',
);

async function incident(store: KyselyStore): Promise<string> {
  const { incident } = await store.createIncident({
    id: randomUUID(),
    title: 'T',
    description: '',
    severity: 'high',
    services: [],
    private: false,
    origin: 'slack',
    declaredBy: 'U1',
    commanderId: 'U1',
    backend: 'local',
    createdAt: new Date(),
  });
  return incident.id;
}

/** The runbook store's concurrency contract, on one store or across two (two "replicas"). */
function contract(name: string, open: () => Promise<{ a: KyselyStore; b: KyselyStore; close(): Promise<void> } | null>) {
  describe(`runbook store (${name})`, () => {
    let ctx: Awaited<ReturnType<typeof open>>;
    after(async () => ctx?.close());

    test('a run and its steps are created together; the same dedupe key creates one run', async (t) => {
      ctx ??= await open();
      if (!ctx) return t.skip('PostgreSQL is not reachable');
      const incidentId = await incident(ctx.a);
      const make = (s: KyselyStore) =>
        s.createRunbookRun({
          id: randomUUID(),
          incidentId,
          runbookId: 'rb',
          runbook,
          startedBy: 'auto',
          channelId: 'C1',
          dedupeKey: `auto:${incidentId}:rb`,
          createdAt: new Date(),
        });
      const results = await Promise.all([make(ctx.a), make(ctx.b), make(ctx.a), make(ctx.b)]);
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.equal(new Set(results.map((r) => r.run.id)).size, 1);
      const steps = await ctx.b.listRunbookSteps(results[0]!.run.id);
      assert.deepEqual(
        steps.map((s) => [s.index, s.stepId, s.status, s.attempt]),
        [
          [0, 'a', 'pending', 0],
          [1, 'b', 'pending', 0],
        ],
      );
      assert.equal((await ctx.a.getRunbookRun(results[0]!.run.id))!.runbook.steps[1]!.id, 'b', 'the snapshot reads back');
    });

    test('of many concurrent pending → running moves of one step, exactly one wins; the attempt guard holds', async (t) => {
      ctx ??= await open();
      if (!ctx) return t.skip('PostgreSQL is not reachable');
      const incidentId = await incident(ctx.a);
      const { run } = await ctx.a.createRunbookRun({
        id: randomUUID(),
        incidentId,
        runbookId: 'rb',
        runbook,
        startedBy: 'U1',
        channelId: 'C1',
        dedupeKey: null,
        createdAt: new Date(),
      });
      const tries = Array.from({ length: 12 }, (_, k) =>
        (k % 2 ? ctx!.a : ctx!.b).transitionRunbookStep(run.id, 0, ['pending'], 'running', { startedAt: new Date() }, { attempt: 0 }),
      );
      const won = (await Promise.all(tries)).filter(Boolean);
      assert.equal(won.length, 1);
      assert.equal(await ctx.a.transitionRunbookStep(run.id, 0, ['running'], 'done', {}, { attempt: 1 }), null, 'an older attempt cannot record');
      const done = await ctx.b.transitionRunbookStep(run.id, 0, ['running'], 'done', { output: 'ok', detail: { status_code: 200 } }, { attempt: 0 });
      assert.equal(done?.status, 'done');
      assert.deepEqual(done?.detail, { status_code: 200 });
    });

    test('remediation answers from a runbook step: one row per approval, a later answer replaces the earlier one', async (t) => {
      ctx ??= await open();
      if (!ctx) return t.skip('PostgreSQL is not reachable');
      const incidentId = await incident(ctx.a);
      const base = { approvalId: randomUUID(), incidentId, runId: 'r', stepIndex: 2, actionId: 'rollback_deployment', answeredBy: 'U1' };
      await ctx.a.recordRemediationAnswer({ ...base, answer: 'unsure', answeredAt: new Date(1000) });
      await ctx.b.recordRemediationAnswer({ ...base, answer: 'no', answeredAt: new Date(2000) });
      const rows = await ctx.a.listRemediationAnswers({ incidentId });
      assert.equal(rows.length, 1);
      assert.deepEqual({ ...rows[0]! }, { ...base, answer: 'no', answeredAt: new Date(2000) });
    });
  });
}

contract('SQLite', async () => {
  const s = await openTestSqliteStore();
  return { a: s.store, b: s.store, close: s.cleanup };
});

contract('PostgreSQL, two pools', async () => {
  const pg = await withPgSchema();
  if (!pg) return null;
  const a = await openTestPgStore(pg.url);
  const b = await openTestPgStore(pg.url);
  return {
    a,
    b,
    async close() {
      await a.close();
      await b.close();
      await pg.cleanup();
    },
  };
});
