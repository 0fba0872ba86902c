import { randomUUID } from 'node:crypto';
import type { Store } from '../../src/ports/store.js';
import { SEVERITIES } from '../../src/domain/severity.js';

/**
 * A store full of history for the insights tests and the benchmark: `n` incidents over the last
 * `days`, through the store's own methods, each with a timeline (declared, a human acknowledgement
 * or none, mitigated, resolved, some reopened), some executed remediations with answers, and alerts.
 */
export async function seedHistory(store: Store, opts: { n: number; days: number; now: Date; concurrency?: number }): Promise<void> {
  const { n, days, now } = opts;
  const span = days * 86_400_000;
  const min = 60_000;
  const one = async (k: number) => {
    const start = new Date(now.getTime() - span + Math.floor((k * span) / n));
    const at = (m: number) => new Date(start.getTime() + m * min);
    const id = randomUUID();
    const severity = SEVERITIES[k % 4]!;
    const origin = k % 3 === 0 ? 'alert' : 'slack';
    await store.createIncident({
      id,
      title: `Seeded incident ${k}`,
      description: '',
      severity,
      services: [k % 2 ? 'api' : 'checkout'],
      private: false,
      origin,
      declaredBy: origin === 'slack' ? 'U0ALICE01' : null,
      commanderId: origin === 'slack' ? 'U0ALICE01' : null,
      backend: 'local',
      backendId: id,
      createdAt: start,
    });
    await store.addTimeline({ incidentId: id, at: start, kind: 'declared', text: 'Declared', author: origin === 'slack' ? 'U0ALICE01' : null });
    if (origin === 'alert' && k % 5 !== 0)
      await store.addTimeline({ incidentId: id, at: at(3 + (k % 11)), kind: 'role_assigned', text: 'commander', author: 'U0BOB0001' });
    // Every fifth alert incident is never acknowledged: the alert resolved it without anyone (no human author).
    const responder = origin === 'alert' && k % 5 === 0 ? null : 'U0BOB0001';
    await store.addTimeline({ incidentId: id, at: at(20 + (k % 17)), kind: 'mitigated', text: 'Mitigated', author: responder });
    const resolvedAt = at(60 + (k % 240));
    if (k % 10 !== 9) {
      await store.addTimeline({ incidentId: id, at: resolvedAt, kind: 'resolved', text: 'Resolved', author: responder });
      if (k % 20 === 4) await store.addTimeline({ incidentId: id, at: at(400), kind: 'reopened', text: 'Reopened', author: 'U0BOB0001' });
      await store.updateIncident(id, { status: 'resolved', resolvedAt, updatedAt: resolvedAt });
    }
    if (k % 4 === 1) {
      const approvalId = randomUUID();
      await succeededApproval(store, {
        id: approvalId,
        incidentId: id,
        actionId: 'rollback_deployment',
        params: { service: 'api', version: 'v41' },
        reason: 'seed',
        createdAt: at(10),
        expiresAt: at(25),
        decision: { decidedBy: 'U0ALICE01', decidedAt: at(12) },
      });
      await store.recordRemediationAnswer({
        approvalId,
        incidentId: id,
        actionId: 'rollback_deployment',
        runId: null,
        stepIndex: null,
        answer: k % 8 === 1 ? 'no' : 'yes',
        answeredBy: 'U0ALICE01',
        answeredAt: resolvedAt,
      });
    }
    if (origin === 'alert') {
      await store.insertAlert({
        id: randomUUID(),
        source: 'generic',
        deliveryId: `seed-${id}`,
        fingerprint: `fp-${k}`,
        externalId: null,
        title: `Alert ${k}`,
        service: 'api',
        severity,
        status: 'firing',
        url: null,
        raw: {},
        receivedAt: start,
      });
    }
  };
  const width = opts.concurrency ?? 8;
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await one(next++);
    }),
  );
}

/**
 * An action Bob proposed that then ran (the approval is `succeeded`): what a remediation answer is
 * about. `requiresApproval: false` is a read-only action, which the false-positive figure leaves out.
 * Returns the approval's id.
 */
export async function succeededApproval(
  store: Store,
  a: {
    id?: string;
    incidentId: string;
    actionId: string;
    createdAt: Date;
    expiresAt: Date;
    requiresApproval?: boolean;
    params?: Record<string, unknown>;
    reason?: string;
    decision?: { decidedBy: string; decidedAt: Date };
  },
): Promise<string> {
  const id = a.id ?? randomUUID();
  await store.createApproval({
    id,
    incidentId: a.incidentId,
    actionId: a.actionId,
    params: a.params ?? {},
    reason: a.reason ?? '',
    proposedBy: 'U0BOB0001',
    proposerKind: 'user',
    policy: {},
    approvers: null,
    requiresApproval: a.requiresApproval ?? true,
    createdAt: a.createdAt,
    expiresAt: a.expiresAt,
    channelId: null,
  });
  await store.transitionApproval(id, ['pending'], 'succeeded', a.decision ?? {});
  return id;
}
