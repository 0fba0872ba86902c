import type { Kysely, Selectable } from 'kysely';
import type { Clock } from '../../ports/clock.js';
import type { Approval, ApprovalPatch, ApprovalStatus, ApprovalStore, ApprovalVote, ApproverSnapshot, NewApproval, ProposerKind } from '../../ports/store.js';
import { ms, msOrNull, parseJson, toDate, toDateOrNull, toJson } from './mapping.js';
import type { ApprovalsTable, Database } from './schema.js';

/** The approval gate's records and votes (tables approvals, approval_votes). */
export class KyselyApprovalStore implements ApprovalStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  async createApproval(input: NewApproval): Promise<Approval> {
    const row = await this.db
      .insertInto('approvals')
      .values({
        id: input.id,
        incident_id: input.incidentId,
        action_id: input.actionId,
        params: JSON.stringify(input.params),
        reason: input.reason,
        proposed_by: input.proposedBy,
        proposer_kind: input.proposerKind,
        policy: toJson(input.policy),
        approvers: input.approvers === null ? null : toJson(input.approvers),
        requires_approval: input.requiresApproval ? 1 : 0,
        created_at: ms(input.createdAt),
        expires_at: ms(input.expiresAt),
        channel_id: input.channelId,
        status: 'pending',
        message_ts: null,
        decided_by: null,
        decided_at: null,
        deny_reason: null,
        result: null,
        error: null,
        updated_at: ms(input.createdAt),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toApproval(row);
  }

  async getApproval(id: string): Promise<Approval | null> {
    const row = await this.db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toApproval(row) : null;
  }

  async listApprovals(filter: { incidentId?: string; status?: ApprovalStatus[] }): Promise<Approval[]> {
    if (filter.status && filter.status.length === 0) return [];
    const rows = await this.db
      .selectFrom('approvals')
      .selectAll()
      .$if(filter.incidentId !== undefined, (qb) => qb.where('incident_id', '=', filter.incidentId!))
      .$if(filter.status !== undefined, (qb) => qb.where('status', 'in', filter.status!))
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
      .execute();
    return rows.map(toApproval);
  }

  async transitionApproval(id: string, from: ApprovalStatus[], to: ApprovalStatus, patch: ApprovalPatch = {}): Promise<Approval | null> {
    if (from.length === 0) return null;
    // One statement: the WHERE on status is the compare, the SET the swap. Under concurrency the
    // database serialises the row update; every caller after the first sees the new status and
    // matches nothing.
    const row = await this.db
      .updateTable('approvals')
      .set({ ...approvalPatchColumns(patch), status: to, updated_at: this.clock.now().getTime() })
      .where('id', '=', id)
      .where('status', 'in', from)
      .returningAll()
      .executeTakeFirst();
    return row ? toApproval(row) : null;
  }

  async patchApproval(id: string, patch: ApprovalPatch): Promise<Approval | null> {
    const row = await this.db
      .updateTable('approvals')
      .set({ ...approvalPatchColumns(patch), updated_at: this.clock.now().getTime() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row ? toApproval(row) : null;
  }

  async addVote(vote: ApprovalVote): Promise<boolean> {
    const row = await this.db
      .insertInto('approval_votes')
      .values({ approval_id: vote.approvalId, user_id: vote.userId, at: ms(vote.at) })
      .onConflict((oc) => oc.doNothing())
      .returning('user_id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async listVotes(approvalId: string): Promise<ApprovalVote[]> {
    const rows = await this.db
      .selectFrom('approval_votes')
      .selectAll()
      .where('approval_id', '=', approvalId)
      .orderBy('at', 'asc')
      .orderBy('user_id', 'asc')
      .execute();
    return rows.map((r) => ({ approvalId: r.approval_id, userId: r.user_id, at: toDate(r.at) }));
  }
}

function approvalPatchColumns(p: ApprovalPatch): Partial<Selectable<ApprovalsTable>> {
  return {
    message_ts: p.messageTs,
    channel_id: p.channelId,
    decided_by: p.decidedBy,
    decided_at: p.decidedAt === undefined ? undefined : msOrNull(p.decidedAt),
    deny_reason: p.denyReason,
    result: p.result === undefined ? undefined : toJson(p.result),
    error: p.error,
  };
}

function toApproval(r: Selectable<ApprovalsTable>): Approval {
  return {
    id: r.id,
    incidentId: r.incident_id,
    actionId: r.action_id,
    params: parseJson(r.params) as Record<string, unknown>,
    reason: r.reason,
    proposedBy: r.proposed_by,
    proposerKind: r.proposer_kind as ProposerKind,
    policy: parseJson(r.policy),
    approvers: r.approvers === null || r.approvers === undefined ? null : (parseJson(r.approvers) as ApproverSnapshot),
    requiresApproval: Number(r.requires_approval) === 1,
    createdAt: toDate(r.created_at),
    expiresAt: toDate(r.expires_at),
    channelId: r.channel_id,
    status: r.status as ApprovalStatus,
    messageTs: r.message_ts,
    decidedBy: r.decided_by,
    decidedAt: toDateOrNull(r.decided_at),
    denyReason: r.deny_reason,
    result: r.result === null ? null : parseJson(r.result),
    error: r.error,
    updatedAt: toDate(r.updated_at),
  };
}
