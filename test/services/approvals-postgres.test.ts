import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KyselyStore } from '../../src/adapters/store/kysely-store.js';
import { approve, proposeAction } from '../../src/services/approvals.js';
import { openTestPgStore, pgUnreachableReason, withPgSchema, type PgSchema } from '../store/pg-helper.js';
import { COMMANDER, LEADS, type RecordingChat, SECRET_ENV, TestClock, defineAction, makeGate, startReceiver, waitFor, type Gate } from './approvals-fixture.js';

/**
 * Two "replicas": two Store instances (two pools) and two JobRunners on one PostgreSQL schema,
 * 100 clicks arriving at each. Skipped, visibly, without PostgreSQL; a failure when CI is set.
 */
const skip = process.env.CI ? false : ((await pgUnreachableReason()) ?? false);

describe('approval race across two app instances on PostgreSQL', { skip }, () => {
  let pg: PgSchema;
  let stores: KyselyStore[] = [];
  let gates: Gate[] = [];
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  before(async () => {
    pg = (await withPgSchema())!;
    stores = [await openTestPgStore(pg.url), await openTestPgStore(pg.url)];
    receiver = await startReceiver(() => 200);
    const action = defineAction({
      id: 'rollback_deployment',
      title: 'Roll back a deployment',
      params: { service: { type: 'string', required: true }, version: { type: 'string', required: true } },
      requires_approval: true,
      policy: { roles: ['commander'], usergroups: [LEADS] },
      executor: { type: 'webhook', url: receiver.url, secret_env: SECRET_ENV, retries: 0 },
    });
    const clock = new TestClock();
    const first = await makeGate(stores[0]!, { actions: [action], clock });
    const second = await makeGate(stores[1]!, { actions: [action], clock, incidentId: first.incidentId, chat: first.chat });
    gates = [first, second];
  });
  after(async () => {
    for (const g of gates) await g.stop();
    for (const s of stores) await s.close();
    await receiver?.close();
    await pg?.cleanup();
  });

  it('200 concurrent approvals split over two replicas: exactly one execution', async () => {
    const [g1, g2] = gates as [Gate, Gate];
    const users = Array.from({ length: 200 }, (_, i) => `UPG${String(i).padStart(3, '0')}`);
    (g1.chat as RecordingChat).groups.set(LEADS, users);
    const a = await proposeAction(g1.deps, {
      incidentId: g1.incidentId,
      actionId: 'rollback_deployment',
      rawParams: { service: 'api', version: 'v41' },
      reason: 'bad deploy',
      proposedBy: COMMANDER,
      proposerKind: 'user',
    });
    const t0 = performance.now();
    const results = await Promise.all(users.map((userId, i) => approve((i % 2 ? g2 : g1).deps, { approvalId: a.id, userId })));
    const wall = performance.now() - t0;
    assert.equal(results.filter((r) => r.outcome === 'approved').length, 1);
    assert.equal(results.filter((r) => /already approved by <@UPG\d{3}>/.test(r.text)).length, 199);
    const done = await waitFor(async () => {
      const x = await g1.deps.store.getApproval(a.id);
      return x?.status === 'succeeded' ? x : null;
    }, 'execution');
    assert.equal(done.status, 'succeeded');
    await Promise.all(gates.map((g) => g.jobs.idle()));
    assert.equal(receiver.received.length, 1);
    assert.equal(receiver.received[0]!.signatureOk, true);
    console.log(`# postgres x2: 200 concurrent approves in ${wall.toFixed(0)} ms; executions ${receiver.received.length}`);
  });
});
