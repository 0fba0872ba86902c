import { sql, type Kysely, type RawBuilder, type Selectable } from 'kysely';
import { AppError } from '../../errors.js';
import type { Clock } from '../../ports/clock.js';
import type { FollowThroughStore } from '../../ports/followthrough-store.js';
import { OPEN_STATUSES, type Incident, type IncidentStatus } from '../../domain/incident.js';
import type { Severity } from '../../domain/severity.js';
import type {
  AlertFingerprint,
  Approval,
  ApprovalPatch,
  ApproverSnapshot,
  ApprovalStatus,
  ApprovalVote,
  AuditEntry,
  IncidentFilter,
  IncidentPatch,
  Job,
  JobState,
  NewAlert,
  NewApproval,
  NewAuditEntry,
  NewIncident,
  NewJob,
  NewTimelineEntry,
  ProposerKind,
  Store,
  StoredAlert,
  TimelineEntry,
} from '../../ports/store.js';
import { KyselyInsightsStore } from './insights-store.js';
import type { BackendIncidentRecord, IncidentFacts } from '../../domain/insights.js';
import type { RemediationAnswer } from '../../ports/insights-store.js';
import { runMigrations, type MigrationLogger, type StoreDialect } from './migrations.js';
import { KyselyRunbookStore } from './runbook-store.js';
import { KyselyFollowThroughStore } from './followthrough.js';
import type {
  AlertFingerprintsTable,
  AlertsTable,
  ApprovalsTable,
  Database,
  IncidentsTable,
  JobsTable,
} from './schema.js';

/**
 * The one Store implementation, over Kysely, for both dialects. Every method is a single
 * statement (or an insert-if-absent followed by a read of the winner), so atomicity comes from
 * the database, not from locks in this process: that is what makes it safe for several replicas
 * on one PostgreSQL. The only dialect differences are isolated in `DialectOps` below.
 */
export class KyselyStore implements Store {
  readonly dialect: StoreDialect;
  readonly db: Kysely<Database>;
  private readonly clock: Clock;
  private readonly logger: MigrationLogger | undefined;
  private readonly ops: DialectOps;

  constructor(db: Kysely<Database>, dialect: StoreDialect, opts: { clock: Clock; logger?: MigrationLogger }) {
    this.db = db;
    this.dialect = dialect;
    this.clock = opts.clock;
    this.logger = opts.logger;
    this.ops = DIALECT_OPS[dialect];
    const ft = new KyselyFollowThroughStore(db);
    this.insertPage = ft.insertPage.bind(ft);
    this.getPage = ft.getPage.bind(ft);
    this.listPages = ft.listPages.bind(ft);
    this.patchPage = ft.patchPage.bind(ft);
    this.findPageByExternalId = ft.findPageByExternalId.bind(ft);
    this.ackPage = ft.ackPage.bind(ft);
    this.insertFollowup = ft.insertFollowup.bind(ft);
    this.getFollowup = ft.getFollowup.bind(ft);
    this.listFollowups = ft.listFollowups.bind(ft);
    this.patchFollowup = ft.patchFollowup.bind(ft);
    this.insights = new KyselyInsightsStore(db);
    this.runbooks = new KyselyRunbookStore(db, opts.clock);
  }

  // -- insights (insights-store.ts) ------------------------------------------------------------
  private readonly insights: KyselyInsightsStore;
  upsertBackendIncidents(backend: string, rows: BackendIncidentRecord[], syncedAt: Date): Promise<number> {
    return this.insights.upsertBackendIncidents(backend, rows, syncedAt);
  }
  countBackendIncidents(backend: string): Promise<{ rows: number; distinct: number }> {
    return this.insights.countBackendIncidents(backend);
  }
  listIncidentFacts(range: { from: Date; to: Date }): Promise<IncidentFacts[]> {
    return this.insights.listIncidentFacts(range);
  }
  recordRemediationAnswer(a: RemediationAnswer): Promise<void> {
    return this.insights.recordRemediationAnswer(a);
  }
  listRemediationAnswers(filter: { incidentId: string }): Promise<RemediationAnswer[]> {
    return this.insights.listRemediationAnswers(filter);
  }

  // -- paging and follow-ups: the FollowThroughStore slice (./followthrough.ts) ---------------------
  readonly insertPage: FollowThroughStore['insertPage'];
  readonly getPage: FollowThroughStore['getPage'];
  readonly listPages: FollowThroughStore['listPages'];
  readonly patchPage: FollowThroughStore['patchPage'];
  readonly findPageByExternalId: FollowThroughStore['findPageByExternalId'];
  readonly ackPage: FollowThroughStore['ackPage'];
  readonly insertFollowup: FollowThroughStore['insertFollowup'];
  readonly getFollowup: FollowThroughStore['getFollowup'];
  readonly listFollowups: FollowThroughStore['listFollowups'];
  readonly patchFollowup: FollowThroughStore['patchFollowup'];

  // -- runbooks (src/adapters/store/runbook-store.ts) ------------------------------------------
  private readonly runbooks: KyselyRunbookStore;
  createRunbookRun: Store['createRunbookRun'] = (run) => this.runbooks.createRunbookRun(run);
  getRunbookRun: Store['getRunbookRun'] = (id) => this.runbooks.getRunbookRun(id);
  listRunbookRuns: Store['listRunbookRuns'] = (f) => this.runbooks.listRunbookRuns(f);
  transitionRunbookRun: Store['transitionRunbookRun'] = (id, from, to, patch) => this.runbooks.transitionRunbookRun(id, from, to, patch);
  patchRunbookRun: Store['patchRunbookRun'] = (id, patch) => this.runbooks.patchRunbookRun(id, patch);
  listRunbookSteps: Store['listRunbookSteps'] = (runId) => this.runbooks.listRunbookSteps(runId);
  getRunbookStep: Store['getRunbookStep'] = (runId, index) => this.runbooks.getRunbookStep(runId, index);
  transitionRunbookStep: Store['transitionRunbookStep'] = (runId, index, from, to, patch, guard) => this.runbooks.transitionRunbookStep(runId, index, from, to, patch, guard);
  findRunbookStepByApproval: Store['findRunbookStepByApproval'] = (approvalId) => this.runbooks.findRunbookStepByApproval(approvalId);

  async migrate(): Promise<void> {
    await runMigrations(this.db, this.dialect, () => this.clock.now(), this.logger);
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  private closed = false;
  /** Idempotent: a second close (e.g. a test's cleanup after a graceful shutdown) is a no-op. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.destroy();
  }

  // -- incidents ------------------------------------------------------------------------------

  async createIncident(input: NewIncident): Promise<{ incident: Incident; created: boolean }> {
    const at = ms(input.createdAt);
    // ON CONFLICT DO NOTHING (no target) absorbs a duplicate id or dedupe_key; of N concurrent
    // creators exactly one gets a row back. The losers then read the winner's row.
    const row = await this.db
      .insertInto('incidents')
      .values({
        id: input.id,
        seq: this.ops.nextSeq(),
        title: input.title,
        description: input.description,
        severity: input.severity,
        status: input.status ?? 'investigating',
        services: JSON.stringify(input.services),
        private: input.private ? 1 : 0,
        origin: input.origin,
        source: input.source ?? null,
        declared_by: input.declaredBy,
        commander_id: input.commanderId,
        backend: input.backend,
        backend_id: input.backendId ?? null,
        backend_url: input.backendUrl ?? null,
        channel_id: null,
        channel_name: null,
        card_ts: null,
        announce_ts: null,
        alert_count: 0,
        created_at: at,
        updated_at: at,
        resolved_at: null,
        version: 1,
        dedupe_key: input.dedupeKey ?? null,
      })
      .onConflict((oc) => oc.doNothing())
      .returningAll()
      .executeTakeFirst();
    if (row) return { incident: toIncident(row), created: true };

    const existing =
      (input.dedupeKey ? await this.findIncidentByDedupeKey(input.dedupeKey) : null) ??
      (await this.getIncident(input.id));
    if (!existing) {
      // Only reachable if the conflicting row vanished between the two statements (we never delete).
      throw new Error(`createIncident: conflict on ${input.id} but no existing row found`);
    }
    return { incident: existing, created: false };
  }

  async getIncident(id: string): Promise<Incident | null> {
    return this.incidentWhere('id', id);
  }

  async findIncidentByChannel(channelId: string): Promise<Incident | null> {
    return this.incidentWhere('channel_id', channelId);
  }

  async findIncidentByBackendId(backend: string, backendId: string): Promise<Incident | null> {
    const row = await this.db
      .selectFrom('incidents')
      .selectAll()
      .where('backend', '=', backend)
      .where('backend_id', '=', backendId)
      .orderBy('seq', 'desc')
      .executeTakeFirst();
    return row ? toIncident(row) : null;
  }

  async findIncidentByDedupeKey(key: string): Promise<Incident | null> {
    return this.incidentWhere('dedupe_key', key);
  }

  async listOpenIncidents(): Promise<Incident[]> {
    const rows = await this.db
      .selectFrom('incidents')
      .selectAll()
      .where('status', 'in', [...OPEN_STATUSES])
      .orderBy('seq', 'asc')
      .execute();
    return rows.map(toIncident);
  }

  async listIncidents(f: IncidentFilter): Promise<Incident[]> {
    let q = this.db.selectFrom('incidents').selectAll();
    if (f.statuses?.length) q = q.where('status', 'in', f.statuses);
    if (f.severities?.length) q = q.where('severity', 'in', f.severities);
    if (f.since) q = q.where('created_at', '>=', f.since.getTime());
    if (f.beforeSeq !== undefined) q = q.where('seq', '<', f.beforeSeq);
    // Services are a JSON array of strings: match the quoted element, so "api" does not match "api-gw".
    if (f.services?.length) q = q.where((eb) => eb.or(f.services!.map((s) => sql<boolean>`services like ${`%${likeEscape(JSON.stringify(s))}%`} escape '\\'`)));
    if (f.text) {
      const pattern = `%${likeEscape(f.text.toLowerCase())}%`;
      q = q.where((eb) => eb.or([sql<boolean>`lower(title) like ${pattern} escape '\\'`, sql<boolean>`lower(description) like ${pattern} escape '\\'`]));
    }
    const rows = await q.orderBy('seq', 'desc').limit(f.limit).execute();
    return rows.map(toIncident);
  }

  async updateIncident(
    id: string,
    patch: IncidentPatch,
    guard?: { expectedVersion?: number; expectedStatus?: IncidentStatus },
  ): Promise<Incident | null> {
    const row = await this.db
      .updateTable('incidents')
      .set((eb) => ({
        // Kysely drops `undefined` values: only the keys present in the patch are written.
        title: patch.title,
        description: patch.description,
        severity: patch.severity,
        status: patch.status,
        services: patch.services === undefined ? undefined : JSON.stringify(patch.services),
        commander_id: patch.commanderId,
        backend_id: patch.backendId,
        backend_url: patch.backendUrl,
        channel_id: patch.channelId,
        channel_name: patch.channelName,
        card_ts: patch.cardTs,
        announce_ts: patch.announceTs,
        resolved_at: patch.resolvedAt === undefined ? undefined : msOrNull(patch.resolvedAt),
        updated_at: ms(patch.updatedAt),
        version: eb('version', '+', 1),
      }))
      .where('id', '=', id)
      .$if(guard?.expectedVersion !== undefined, (qb) => qb.where('version', '=', guard!.expectedVersion!))
      .$if(guard?.expectedStatus !== undefined, (qb) => qb.where('status', '=', guard!.expectedStatus!))
      .returningAll()
      .executeTakeFirst();
    return row ? toIncident(row) : null;
  }

  async bumpAlertCount(id: string, n: number): Promise<number> {
    const row = await this.db
      .updateTable('incidents')
      .set((eb) => ({ alert_count: eb('alert_count', '+', n) }))
      .where('id', '=', id)
      .returning('alert_count')
      .executeTakeFirst();
    if (!row) throw new AppError('incident.not_found', `Incident ${id} not found`, { incidentId: id });
    return Number(row.alert_count);
  }

  private async incidentWhere(col: 'id' | 'channel_id' | 'dedupe_key', value: string): Promise<Incident | null> {
    const row = await this.db.selectFrom('incidents').selectAll().where(col, '=', value).executeTakeFirst();
    return row ? toIncident(row) : null;
  }

  // -- roles ----------------------------------------------------------------------------------

  async setRole(incidentId: string, role: string, userId: string): Promise<void> {
    await this.db
      .insertInto('incident_roles')
      .values({ incident_id: incidentId, role, user_id: userId })
      .onConflict((oc) => oc.columns(['incident_id', 'role']).doUpdateSet({ user_id: userId }))
      .execute();
  }

  async getRoles(incidentId: string): Promise<Record<string, string>> {
    const rows = await this.db
      .selectFrom('incident_roles')
      .select(['role', 'user_id'])
      .where('incident_id', '=', incidentId)
      .orderBy('role')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.role, r.user_id]));
  }

  // -- timeline -------------------------------------------------------------------------------

  async addTimeline(entry: NewTimelineEntry): Promise<boolean> {
    const row = await this.db
      .insertInto('timeline')
      .values({
        incident_id: entry.incidentId,
        at: ms(entry.at),
        kind: entry.kind,
        text: entry.text,
        author: entry.author,
        source_ref: entry.sourceRef ?? null,
      })
      .onConflict((oc) => oc.doNothing())
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async listTimeline(incidentId: string): Promise<TimelineEntry[]> {
    const rows = await this.db
      .selectFrom('timeline')
      .selectAll()
      .where('incident_id', '=', incidentId)
      .orderBy('at', 'asc')
      .orderBy('id', 'asc')
      .execute();
    return rows.map((r) => ({
      id: Number(r.id),
      incidentId: r.incident_id,
      at: toDate(r.at),
      kind: r.kind,
      text: r.text,
      author: r.author,
      sourceRef: r.source_ref,
    }));
  }

  // -- flows ----------------------------------------------------------------------------------

  async getStep<T = unknown>(flowId: string, step: string): Promise<T | undefined> {
    const row = await this.db
      .selectFrom('flow_steps')
      .select('result')
      .where('flow_id', '=', flowId)
      .where('step', '=', step)
      .executeTakeFirst();
    return row ? (parseJson(row.result) as T) : undefined;
  }

  async putStep<T>(flowId: string, step: string, result: T): Promise<T> {
    const inserted = await this.db
      .insertInto('flow_steps')
      .values({ flow_id: flowId, step, result: toJson(result), at: this.nowMs() })
      .onConflict((oc) => oc.doNothing())
      .returning('result')
      .executeTakeFirst();
    if (inserted) return parseJson(inserted.result) as T;
    const winner = await this.getStep<T>(flowId, step);
    return winner as T;
  }

  async listSteps(flowId: string): Promise<Record<string, unknown>> {
    const rows = await this.db
      .selectFrom('flow_steps')
      .select(['step', 'result'])
      .where('flow_id', '=', flowId)
      .orderBy('at')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.step, parseJson(r.result)]));
  }

  // -- approvals ------------------------------------------------------------------------------

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

  async transitionApproval(
    id: string,
    from: ApprovalStatus[],
    to: ApprovalStatus,
    patch: ApprovalPatch = {},
  ): Promise<Approval | null> {
    if (from.length === 0) return null;
    // One statement: the WHERE on status is the compare, the SET the swap. Under concurrency the
    // database serialises the row update; every caller after the first sees the new status and
    // matches nothing.
    const row = await this.db
      .updateTable('approvals')
      .set({ ...approvalPatchColumns(patch), status: to, updated_at: this.nowMs() })
      .where('id', '=', id)
      .where('status', 'in', from)
      .returningAll()
      .executeTakeFirst();
    return row ? toApproval(row) : null;
  }

  async patchApproval(id: string, patch: ApprovalPatch): Promise<Approval | null> {
    const row = await this.db
      .updateTable('approvals')
      .set({ ...approvalPatchColumns(patch), updated_at: this.nowMs() })
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

  // -- audit ----------------------------------------------------------------------------------

  async audit(entry: NewAuditEntry): Promise<void> {
    await this.db
      .insertInto('audit_log')
      .values({
        at: ms(entry.at),
        incident_id: entry.incidentId,
        approval_id: entry.approvalId ?? null,
        actor: entry.actor,
        action: entry.action,
        detail: JSON.stringify(entry.detail ?? {}),
      })
      .execute();
  }

  async listAudit(filter: { incidentId?: string; approvalId?: string; limit?: number }): Promise<AuditEntry[]> {
    // Newest `limit` entries, returned oldest first (append order).
    const rows = await this.db
      .selectFrom('audit_log')
      .selectAll()
      .$if(filter.incidentId !== undefined, (qb) => qb.where('incident_id', '=', filter.incidentId!))
      .$if(filter.approvalId !== undefined, (qb) => qb.where('approval_id', '=', filter.approvalId!))
      .orderBy('id', 'desc')
      .$if(filter.limit !== undefined, (qb) => qb.limit(filter.limit!))
      .execute();
    return rows.reverse().map((r) => ({
      id: Number(r.id),
      at: toDate(r.at),
      incidentId: r.incident_id,
      approvalId: r.approval_id,
      actor: r.actor,
      action: r.action,
      detail: parseJson(r.detail) as Record<string, unknown>,
    }));
  }

  // -- idempotency ----------------------------------------------------------------------------

  async markProcessed(key: string, at: Date): Promise<boolean> {
    const row = await this.db
      .insertInto('processed_keys')
      .values({ key, at: ms(at) })
      .onConflict((oc) => oc.doNothing())
      .returning('key')
      .executeTakeFirst();
    return row !== undefined;
  }

  async pruneProcessed(before: Date): Promise<number> {
    const res = await this.db.deleteFrom('processed_keys').where('at', '<', ms(before)).executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  async pruneJobs(before: Date): Promise<number> {
    const res = await this.db.deleteFrom('jobs').where('state', '=', 'done').where('updated_at', '<', ms(before)).executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  // -- alerts ---------------------------------------------------------------------------------

  async insertAlert(alert: NewAlert): Promise<{ alert: StoredAlert; inserted: boolean }> {
    const row = await this.db.insertInto('alerts').values(alertRow(alert)).onConflict((oc) => oc.doNothing()).returningAll().executeTakeFirst();
    if (row) return { alert: toAlert(row), inserted: true };
    return { alert: await this.existingAlert(alert), inserted: false };
  }

  async insertAlertsWithJobs(alerts: NewAlert[], jobFor: (alert: StoredAlert) => NewJob): Promise<Array<{ alert: StoredAlert; inserted: boolean }>> {
    if (alerts.length === 0) return [];
    // Multi-row statements: a burst costs the same few round trips (PostgreSQL) and one commit
    // however many alerts it carries. Conflicts (replays) are looked up one by one: they are rare.
    return this.db.transaction().execute(async (trx) => {
      const rows = await trx.insertInto('alerts').values(alerts.map(alertRow)).onConflict((oc) => oc.doNothing()).returningAll().execute();
      const fresh = new Map(rows.map((r) => [r.id, r]));
      const tx = new KyselyStore(trx, this.dialect, { clock: this.clock, ...(this.logger ? { logger: this.logger } : {}) });
      const out: Array<{ alert: StoredAlert; inserted: boolean }> = [];
      for (const a of alerts) {
        const row = fresh.get(a.id);
        out.push(row ? { alert: toAlert(row), inserted: true } : { alert: await tx.existingAlert(a), inserted: false });
      }
      const now = this.nowMs();
      await trx
        .insertInto('jobs')
        .values(out.map((o) => jobRow(jobFor(o.alert), now)))
        .onConflict((oc) => oc.doNothing())
        .execute();
      return out;
    });
  }

  private async existingAlert(alert: NewAlert): Promise<StoredAlert> {
    const existing =
      (alert.deliveryId !== null
        ? await this.db
            .selectFrom('alerts')
            .selectAll()
            .where('source', '=', alert.source)
            .where('delivery_id', '=', alert.deliveryId)
            .executeTakeFirst()
        : undefined) ?? (await this.db.selectFrom('alerts').selectAll().where('id', '=', alert.id).executeTakeFirst());
    if (!existing) throw new Error(`insertAlert: conflict on ${alert.id} but no existing row found`);
    return toAlert(existing);
  }

  async getAlert(id: string): Promise<StoredAlert | null> {
    const row = await this.db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toAlert(row) : null;
  }

  async listAlerts(filter: { fingerprint?: string; incidentId?: string; limit?: number }): Promise<StoredAlert[]> {
    // Newest `limit` alerts, returned oldest first.
    const rows = await this.db
      .selectFrom('alerts')
      .selectAll()
      .$if(filter.fingerprint !== undefined, (qb) => qb.where('fingerprint', '=', filter.fingerprint!))
      .$if(filter.incidentId !== undefined, (qb) => qb.where('incident_id', '=', filter.incidentId!))
      .orderBy('received_at', 'desc')
      .orderBy('id', 'desc')
      .$if(filter.limit !== undefined, (qb) => qb.limit(filter.limit!))
      .execute();
    return rows.reverse().map(toAlert);
  }

  async markAlert(
    id: string,
    patch: { incidentId?: string | null; state: 'processed' | 'failed'; error?: string | null },
  ): Promise<void> {
    await this.db
      .updateTable('alerts')
      .set({ state: patch.state, incident_id: patch.incidentId, error: patch.error })
      .where('id', '=', id)
      .execute();
  }

  async getFingerprint(fingerprint: string): Promise<AlertFingerprint | null> {
    const row = await this.db
      .selectFrom('alert_fingerprints')
      .selectAll()
      .where('fingerprint', '=', fingerprint)
      .executeTakeFirst();
    return row ? toFingerprint(row) : null;
  }

  async claimFingerprint(
    fingerprint: string,
    incidentId: string,
    at: Date,
    replaceIf: { incidentIdIn: string[] | null },
  ): Promise<boolean> {
    const replaceable = replaceIf.incidentIdIn ?? [];
    // One upsert: insert when absent; when present, take the row over only if it still points at
    // one of the replaceable (closed) incidents. The row lock taken by ON CONFLICT makes the check
    // and the swap atomic, so exactly one concurrent claimer gets a row back.
    const row = await this.db
      .insertInto('alert_fingerprints')
      .values({ fingerprint, incident_id: incidentId, first_seen: ms(at), last_seen: ms(at), count: 1 })
      .onConflict((oc) =>
        replaceable.length === 0
          ? oc.column('fingerprint').doNothing()
          : oc
              .column('fingerprint')
              .doUpdateSet((eb) => ({
                incident_id: eb.ref('excluded.incident_id'),
                first_seen: eb.ref('excluded.first_seen'),
                last_seen: eb.ref('excluded.last_seen'),
                count: 1,
              }))
              .where('alert_fingerprints.incident_id', 'in', replaceable),
      )
      .returning('incident_id')
      .executeTakeFirst();
    if (row) return true;
    // A retry of the same claim (same pre-generated incident id) is still the owner.
    const current = await this.getFingerprint(fingerprint);
    return current?.incidentId === incidentId;
  }

  async touchFingerprint(fingerprint: string, at: Date): Promise<AlertFingerprint | null> {
    const atMs = ms(at);
    const row = await this.db
      .updateTable('alert_fingerprints')
      .set((eb) => ({
        count: eb('count', '+', 1),
        // Out-of-order deliveries must not move last_seen backwards.
        last_seen: eb.case().when('last_seen', '<', atMs).then(eb.val(atMs)).else(eb.ref('last_seen')).end(),
      }))
      .where('fingerprint', '=', fingerprint)
      .returningAll()
      .executeTakeFirst();
    return row ? toFingerprint(row) : null;
  }

  // -- jobs -----------------------------------------------------------------------------------

  async enqueueJob(job: NewJob): Promise<boolean> {
    const row = await this.db.insertInto('jobs').values(jobRow(job, this.nowMs())).onConflict((oc) => oc.doNothing()).returning('id').executeTakeFirst();
    return row !== undefined;
  }

  async claimJobs(kinds: string[], worker: string, limit: number, now: Date, leaseMs: number): Promise<Job[]> {
    if (kinds.length === 0 || limit <= 0) return [];
    const nowMs = ms(now);
    // Due = queued and runnable, or running with an expired lease (its worker died: resume it).
    // On PostgreSQL the inner SELECT locks the chosen rows and skips rows another replica is
    // claiming right now, so concurrent claimers get disjoint sets. SQLite serialises writers,
    // so the same single UPDATE is already exclusive there.
    // SQLite: one index-ordered range per branch (jobs_claim_idx: state, run_after, id), each
    // stopping after `limit` rows. The single OR query below made SQLite collect every due job
    // and sort them for each claim: with thousands queued (an alert storm) that was most of the
    // database's time. PostgreSQL keeps the OR form: FOR UPDATE SKIP LOCKED cannot apply to a union.
    const candidates = this.ops.skipLocked
      ? null
      : this.db
          .selectFrom(
            this.db
              .selectFrom((eb) =>
                eb
                  .selectFrom('jobs')
                  .select(['id', 'run_after'])
                  .where('state', '=', 'queued')
                  .where('run_after', '<=', nowMs)
                  .where('kind', 'in', kinds)
                  .orderBy('run_after', 'asc')
                  .orderBy('id', 'asc')
                  .limit(limit)
                  .as('queued'),
              )
              .select(['id', 'run_after'])
              .unionAll((eb) =>
                eb
                  .selectFrom((e) =>
                    e
                      .selectFrom('jobs')
                      .select(['id', 'run_after'])
                      .where('state', '=', 'running')
                      .where('claimed_until', '<', nowMs)
                      .where('kind', 'in', kinds)
                      .orderBy('run_after', 'asc')
                      .orderBy('id', 'asc')
                      .limit(limit)
                      .as('expired'),
                  )
                  .select(['id', 'run_after']),
              )
              .as('due'),
          )
          .select('id')
          .orderBy('run_after', 'asc')
          .orderBy('id', 'asc')
          .limit(limit);
    // SQLite: read first (a read is a tenth of a write transaction, and most claims, after a job
    // finishes or on the idle poll, find nothing), then take exactly those rows that are still due.
    const dueIds = candidates ? (await candidates.execute()).map((r) => r.id) : null;
    if (dueIds?.length === 0) return [];
    const rows = await this.db
      .updateTable('jobs')
      .set((eb) => ({
        state: 'running',
        claimed_by: worker,
        claimed_until: nowMs + leaseMs,
        attempts: eb('attempts', '+', 1),
        updated_at: nowMs,
      }))
      .$if(dueIds !== null, (qb) =>
        qb
          .where('id', 'in', dueIds!)
          .where('kind', 'in', kinds)
          .where((w) =>
            w.or([
              w.and([w('state', '=', 'queued'), w('run_after', '<=', nowMs)]),
              w.and([w('state', '=', 'running'), w('claimed_until', '<', nowMs)]),
            ]),
          ),
      )
      .$if(dueIds === null, (qb) =>
        qb.where('id', 'in', (eb) =>
        eb
          .selectFrom('jobs')
          .select('id')
          .where('kind', 'in', kinds)
          .where((w) =>
            w.or([
              w.and([w('state', '=', 'queued'), w('run_after', '<=', nowMs)]),
              w.and([w('state', '=', 'running'), w('claimed_until', '<', nowMs)]),
            ]),
          )
          .orderBy('run_after', 'asc')
          .orderBy('id', 'asc')
          .limit(limit)
          .forUpdate()
          .skipLocked(),
        ),
      )
      .returningAll()
      .execute();
    return rows.map(toJob).sort((a, b) => a.runAfter.getTime() - b.runAfter.getTime() || (a.id < b.id ? -1 : 1));
  }

  async extendJobLeases(ids: string[], worker: string, until: Date): Promise<number> {
    if (ids.length === 0) return 0;
    const res = await this.db
      .updateTable('jobs')
      .set({ claimed_until: ms(until) })
      .where('id', 'in', ids)
      .where('claimed_by', '=', worker)
      .where('state', '=', 'running')
      .executeTakeFirst();
    return Number(res.numUpdatedRows);
  }

  async completeJob(id: string, worker: string): Promise<void> {
    // Guarded by the claim: a worker whose lease was taken over cannot complete someone else's run.
    await this.db
      .updateTable('jobs')
      .set({ state: 'done', claimed_by: null, claimed_until: null, updated_at: this.nowMs() })
      .where('id', '=', id)
      .where('claimed_by', '=', worker)
      .where('state', '=', 'running')
      .execute();
  }

  async failJob(id: string, worker: string, error: string, retryAt: Date | null): Promise<void> {
    await this.db
      .updateTable('jobs')
      .set({
        state: retryAt === null ? 'dead' : 'queued',
        run_after: retryAt === null ? undefined : ms(retryAt),
        last_error: error,
        claimed_by: null,
        claimed_until: null,
        updated_at: this.nowMs(),
      })
      .where('id', '=', id)
      .where('claimed_by', '=', worker)
      .where('state', '=', 'running')
      .execute();
  }

  async expireLeases(workerPrefix: string, keep: string, now: Date): Promise<number> {
    const res = await this.db
      .updateTable('jobs')
      .set({ claimed_until: ms(now) - 1 })
      .where('state', '=', 'running')
      .where(sql<boolean>`substr(claimed_by, 1, ${workerPrefix.length}) = ${workerPrefix}`)
      .where('claimed_by', '!=', keep)
      .executeTakeFirst();
    return Number(res.numUpdatedRows);
  }

  async releaseJobs(worker: string): Promise<number> {
    // A released job did not fail: give back the attempt its claim counted.
    const res = await this.db
      .updateTable('jobs')
      .set((eb) => ({
        state: 'queued',
        claimed_by: null,
        claimed_until: null,
        attempts: eb.case().when('attempts', '>', 0).then(eb('attempts', '-', 1)).else(0).end(),
        updated_at: this.nowMs(),
      }))
      .where('claimed_by', '=', worker)
      .where('state', '=', 'running')
      .executeTakeFirst();
    return Number(res.numUpdatedRows);
  }

  async countJobs(filter: { kind?: string; state?: JobState }): Promise<number> {
    const row = await this.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll().as('n'))
      .$if(filter.kind !== undefined, (qb) => qb.where('kind', '=', filter.kind!))
      .$if(filter.state !== undefined, (qb) => qb.where('state', '=', filter.state!))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  // -- kv -------------------------------------------------------------------------------------

  async getKv<T = unknown>(key: string): Promise<T | undefined> {
    const row = await this.db.selectFrom('kv').select('value').where('key', '=', key).executeTakeFirst();
    return row ? (parseJson(row.value) as T) : undefined;
  }

  async setKv<T>(key: string, value: T): Promise<void> {
    const json = toJson(value);
    const now = this.nowMs();
    await this.db
      .insertInto('kv')
      .values({ key, value: json, updated_at: now })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: json, updated_at: now }))
      .execute();
  }

  private nowMs(): number {
    return this.clock.now().getTime();
  }
}

// -- dialect differences ------------------------------------------------------------------------

interface DialectOps {
  /** The expression that allocates the next incident seq inside the INSERT. */
  nextSeq(): RawBuilder<number>;
  /** Whether the claim subquery can use FOR UPDATE SKIP LOCKED. */
  skipLocked: boolean;
}

const DIALECT_OPS: Record<StoreDialect, DialectOps> = {
  // SQLite: one writer at a time (even across processes, the write lock covers the statement),
  // so max+1 evaluated inside the INSERT cannot collide.
  sqlite: { nextSeq: () => sql<number>`(select coalesce(max(seq), 0) + 1 from incidents)`, skipLocked: false },
  // PostgreSQL: concurrent INSERTs would all read the same max; a sequence cannot.
  postgres: { nextSeq: () => sql<number>`nextval('incident_seq')`, skipLocked: true },
};

// -- mapping ------------------------------------------------------------------------------------

function ms(d: Date): number {
  const t = d.getTime();
  if (Number.isNaN(t)) throw new TypeError('Store: invalid Date');
  return t;
}

function msOrNull(d: Date | null): number | null {
  return d === null ? null : ms(d);
}

/** int8 may arrive as a string if a caller built the pool without our type parser. */
function toDate(v: number | string): Date {
  return new Date(Number(v));
}

function toDateOrNull(v: number | string | null): Date | null {
  return v === null ? null : toDate(v);
}

/** `undefined` is not JSON; it is stored (and read back) as null. */
function toJson(v: unknown): string {
  return JSON.stringify(v) ?? 'null';
}

function parseJson(s: string): unknown {
  return JSON.parse(s) as unknown;
}

function toIncident(r: Selectable<IncidentsTable>): Incident {
  return {
    id: r.id,
    seq: Number(r.seq),
    title: r.title,
    description: r.description,
    severity: r.severity as Severity,
    status: r.status as IncidentStatus,
    services: parseJson(r.services) as string[],
    private: Number(r.private) === 1,
    origin: r.origin as Incident['origin'],
    source: r.source,
    declaredBy: r.declared_by,
    commanderId: r.commander_id,
    backend: r.backend,
    backendId: r.backend_id,
    backendUrl: r.backend_url,
    channelId: r.channel_id,
    channelName: r.channel_name,
    cardTs: r.card_ts,
    announceTs: r.announce_ts,
    alertCount: Number(r.alert_count),
    createdAt: toDate(r.created_at),
    updatedAt: toDate(r.updated_at),
    resolvedAt: toDateOrNull(r.resolved_at),
    version: Number(r.version),
  };
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

function toAlert(r: Selectable<AlertsTable>): StoredAlert {
  return {
    id: r.id,
    source: r.source,
    deliveryId: r.delivery_id,
    fingerprint: r.fingerprint,
    externalId: r.external_id,
    title: r.title,
    service: r.service,
    severity: r.severity as Severity,
    status: r.status as StoredAlert['status'],
    url: r.url,
    raw: parseJson(r.raw),
    receivedAt: toDate(r.received_at),
    state: r.state as StoredAlert['state'],
    incidentId: r.incident_id,
    error: r.error,
  };
}

function toFingerprint(r: Selectable<AlertFingerprintsTable>): AlertFingerprint {
  return {
    fingerprint: r.fingerprint,
    incidentId: r.incident_id,
    firstSeen: toDate(r.first_seen),
    lastSeen: toDate(r.last_seen),
    count: Number(r.count),
  };
}

function toJob(r: Selectable<JobsTable>): Job {
  return {
    id: r.id,
    kind: r.kind,
    key: r.key,
    payload: parseJson(r.payload),
    state: r.state as JobState,
    attempts: Number(r.attempts),
    runAfter: toDate(r.run_after),
    lastError: r.last_error,
  };
}

/** A LIKE pattern literal: `%`, `_` and the escape character itself match only themselves. */
function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function alertRow(alert: NewAlert) {
  return {
    id: alert.id,
    source: alert.source,
    delivery_id: alert.deliveryId,
    fingerprint: alert.fingerprint,
    external_id: alert.externalId,
    title: alert.title,
    service: alert.service,
    severity: alert.severity,
    status: alert.status,
    url: alert.url,
    raw: toJson(alert.raw),
    received_at: ms(alert.receivedAt),
    state: 'pending' as const,
    incident_id: null,
    error: null,
  };
}

function jobRow(job: NewJob, now: number) {
  return {
    id: job.id,
    kind: job.kind,
    key: job.key ?? null,
    payload: toJson(job.payload),
    state: 'queued' as const,
    attempts: 0,
    run_after: ms(job.runAfter),
    claimed_by: null,
    claimed_until: null,
    last_error: null,
    created_at: now,
    updated_at: now,
  };
}
