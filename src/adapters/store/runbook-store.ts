import type { Kysely, Selectable } from 'kysely';
import type { Clock } from '../../ports/clock.js';
import type { RunStatus, StepStatus } from '../../domain/runbook-run.js';
import type { Runbook } from '../../domain/runbook.js';
import type { NewRunbookRun, RunbookRun, RunbookRunPatch, RunbookStepPatch, RunbookStepRecord, RunbookStore } from '../../ports/runbook-store.js';
import type { Database, RunbookRunsTable, RunbookStepsTable } from './schema.js';

/**
 * The runbook area of the store over Kysely (both dialects). Every state change is one UPDATE
 * guarded by the expected status, so of concurrent writers across replicas exactly one wins.
 */
export class KyselyRunbookStore implements RunbookStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  async createRunbookRun(run: NewRunbookRun): Promise<{ run: RunbookRun; created: boolean }> {
    const at = run.createdAt.getTime();
    const created = await this.db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('runbook_runs')
        .values({
          id: run.id,
          incident_id: run.incidentId,
          runbook_id: run.runbookId,
          runbook: JSON.stringify(run.runbook),
          started_by: run.startedBy,
          channel_id: run.channelId,
          dedupe_key: run.dedupeKey,
          status: 'running',
          message_ts: null,
          created_at: at,
          finished_at: null,
          cancelled_by: null,
          feedback_asked_at: null,
          updated_at: at,
        })
        .onConflict((oc) => oc.doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!row) return false;
      await trx
        .insertInto('runbook_steps')
        .values(
          run.runbook.steps.map((s, idx) => ({
            run_id: run.id,
            idx,
            step_id: s.id,
            status: 'pending',
            attempt: 0,
            started_at: null,
            finished_at: null,
            output: null,
            detail: '{}',
            error: null,
            approval_id: null,
            actor: null,
            acted_at: null,
            updated_at: at,
          })),
        )
        .execute();
      return true;
    });
    const existing = created ? await this.getRunbookRun(run.id) : run.dedupeKey ? await this.byDedupeKey(run.dedupeKey) : await this.getRunbookRun(run.id);
    if (!existing) throw new Error(`createRunbookRun: conflict on ${run.id} but no existing row found`);
    return { run: existing, created };
  }

  private async byDedupeKey(key: string): Promise<RunbookRun | null> {
    const r = await this.db.selectFrom('runbook_runs').selectAll().where('dedupe_key', '=', key).executeTakeFirst();
    return r ? toRun(r) : null;
  }

  async getRunbookRun(id: string): Promise<RunbookRun | null> {
    const r = await this.db.selectFrom('runbook_runs').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toRun(r) : null;
  }

  async listRunbookRuns(filter: { incidentId: string }): Promise<RunbookRun[]> {
    const rows = await this.db
      .selectFrom('runbook_runs')
      .selectAll()
      .where('incident_id', '=', filter.incidentId)
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
      .execute();
    return rows.map(toRun);
  }

  async transitionRunbookRun(id: string, from: RunStatus[], to: RunStatus, patch: RunbookRunPatch = {}): Promise<RunbookRun | null> {
    if (!from.length) return null;
    const r = await this.db
      .updateTable('runbook_runs')
      .set({ ...runPatch(patch), status: to, updated_at: this.clock.now().getTime() })
      .where('id', '=', id)
      .where('status', 'in', from)
      .returningAll()
      .executeTakeFirst();
    return r ? toRun(r) : null;
  }

  async patchRunbookRun(id: string, patch: RunbookRunPatch): Promise<RunbookRun | null> {
    const r = await this.db
      .updateTable('runbook_runs')
      .set({ ...runPatch(patch), updated_at: this.clock.now().getTime() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return r ? toRun(r) : null;
  }

  async listRunbookSteps(runId: string): Promise<RunbookStepRecord[]> {
    const rows = await this.db.selectFrom('runbook_steps').selectAll().where('run_id', '=', runId).orderBy('idx', 'asc').execute();
    return rows.map(toStep);
  }

  async getRunbookStep(runId: string, index: number): Promise<RunbookStepRecord | null> {
    const r = await this.db.selectFrom('runbook_steps').selectAll().where('run_id', '=', runId).where('idx', '=', index).executeTakeFirst();
    return r ? toStep(r) : null;
  }

  async transitionRunbookStep(
    runId: string,
    index: number,
    from: StepStatus[],
    to: StepStatus,
    patch: RunbookStepPatch = {},
    guard: { attempt?: number } = {},
  ): Promise<RunbookStepRecord | null> {
    if (!from.length) return null;
    const r = await this.db
      .updateTable('runbook_steps')
      .set({ ...stepPatch(patch), status: to, updated_at: this.clock.now().getTime() })
      .where('run_id', '=', runId)
      .where('idx', '=', index)
      .where('status', 'in', from)
      .$if(guard.attempt !== undefined, (qb) => qb.where('attempt', '=', guard.attempt!))
      .returningAll()
      .executeTakeFirst();
    return r ? toStep(r) : null;
  }

  async findRunbookStepByApproval(approvalId: string): Promise<RunbookStepRecord | null> {
    const r = await this.db.selectFrom('runbook_steps').selectAll().where('approval_id', '=', approvalId).executeTakeFirst();
    return r ? toStep(r) : null;
  }
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));
const date = (v: number | string | null): Date | null => (v === null ? null : new Date(Number(v)));

function runPatch(p: RunbookRunPatch): Partial<Selectable<RunbookRunsTable>> {
  return {
    message_ts: p.messageTs,
    finished_at: p.finishedAt === undefined ? undefined : p.finishedAt === null ? null : p.finishedAt.getTime(),
    cancelled_by: p.cancelledBy,
    feedback_asked_at: p.feedbackAskedAt === undefined ? undefined : p.feedbackAskedAt === null ? null : p.feedbackAskedAt.getTime(),
  };
}

function stepPatch(p: RunbookStepPatch): Partial<Selectable<RunbookStepsTable>> {
  const d = (v: Date | null | undefined) => (v === undefined ? undefined : v === null ? null : v.getTime());
  return {
    attempt: p.attempt,
    started_at: d(p.startedAt),
    finished_at: d(p.finishedAt),
    output: p.output,
    detail: p.detail === undefined ? undefined : JSON.stringify(p.detail),
    error: p.error,
    approval_id: p.approvalId,
    actor: p.actor,
    acted_at: d(p.actedAt),
  };
}

function toRun(r: Selectable<RunbookRunsTable>): RunbookRun {
  return {
    id: r.id,
    incidentId: r.incident_id,
    runbookId: r.runbook_id,
    runbook: JSON.parse(r.runbook) as Runbook,
    startedBy: r.started_by,
    channelId: r.channel_id,
    dedupeKey: r.dedupe_key,
    status: r.status as RunStatus,
    messageTs: r.message_ts,
    createdAt: new Date(Number(r.created_at)),
    finishedAt: date(r.finished_at),
    cancelledBy: r.cancelled_by,
    feedbackAskedAt: date(r.feedback_asked_at),
    updatedAt: new Date(Number(r.updated_at)),
  };
}

function toStep(r: Selectable<RunbookStepsTable>): RunbookStepRecord {
  return {
    runId: r.run_id,
    index: Number(r.idx),
    stepId: r.step_id,
    status: r.status as StepStatus,
    attempt: num(r.attempt) ?? 0,
    startedAt: date(r.started_at),
    finishedAt: date(r.finished_at),
    output: r.output,
    detail: JSON.parse(r.detail) as Record<string, unknown>,
    error: r.error,
    approvalId: r.approval_id,
    actor: r.actor,
    actedAt: date(r.acted_at),
    updatedAt: new Date(Number(r.updated_at)),
  };
}
