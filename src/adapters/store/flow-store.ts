import type { Kysely } from 'kysely';
import type { Clock } from '../../ports/clock.js';
import type { FlowStore } from '../../ports/store.js';
import { parseJson, toJson } from './mapping.js';
import { prepared } from './prepared.js';
import type { Database } from './schema.js';

// The flows' hottest statements (every step reads and records one): compiled once (prepared.ts).
const selectStep = prepared<[string, string], { result: string }>((db, flowId, step) =>
  db.selectFrom('flow_steps').select('result').where('flow_id', '=', flowId).where('step', '=', step),
);
const insertStep = prepared<[string, string, string, number], { result: string }>((db, flowId, step, result, at) =>
  db
    .insertInto('flow_steps')
    .values({ flow_id: flowId, step, result, at })
    .onConflict((oc) => oc.doNothing())
    .returning('result'),
);

/** The recorded results of resumable flows' steps (table flow_steps). */
export class KyselyFlowStore implements FlowStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  async getStep<T = unknown>(flowId: string, step: string): Promise<T | undefined> {
    const [row] = (await selectStep(this.db, flowId, step)).rows;
    return row ? (parseJson(row.result) as T) : undefined;
  }

  async getStepOfFlows<T = unknown>(flowIds: string[], step: string): Promise<Map<string, T>> {
    if (flowIds.length === 0) return new Map();
    const rows = await this.db.selectFrom('flow_steps').select(['flow_id', 'result']).where('flow_id', 'in', flowIds).where('step', '=', step).execute();
    return new Map(rows.map((r) => [r.flow_id, parseJson(r.result) as T]));
  }

  async putStep<T>(flowId: string, step: string, result: T): Promise<T> {
    const [inserted] = (await insertStep(this.db, flowId, step, toJson(result), this.clock.now().getTime())).rows;
    if (inserted) return parseJson(inserted.result) as T;
    const winner = await this.getStep<T>(flowId, step);
    return winner as T;
  }

  async listSteps(flowId: string): Promise<Record<string, unknown>> {
    const rows = await this.db.selectFrom('flow_steps').select(['step', 'result']).where('flow_id', '=', flowId).orderBy('at').execute();
    return Object.fromEntries(rows.map((r) => [r.step, parseJson(r.result)]));
  }
}
