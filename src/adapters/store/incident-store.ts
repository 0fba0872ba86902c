import { sql, type Kysely, type QueryResult, type Selectable } from 'kysely';
import { AppError } from '../../errors.js';
import { OPEN_STATUSES, type Incident, type IncidentStatus } from '../../domain/incident.js';
import type { Severity } from '../../domain/severity.js';
import type { DeclarationRecords, IncidentFilter, IncidentPatch, IncidentStore, NewIncident, RoleStore } from '../../ports/store.js';
import { writeAudit } from './audit-store.js';
import { writeJob } from './job-store.js';
import { writeTimeline } from './timeline-store.js';
import type { DialectOps } from './dialect.js';
import { likeEscape, ms, msOrNull, parseJson, toDate, toDateOrNull } from './mapping.js';
import { prepared } from './prepared.js';
import type { Database, IncidentsTable } from './schema.js';

// The statements every flow and view runs: compiled once (prepared.ts).
const incidentBy = {
  id: prepared<[string], Selectable<IncidentsTable>>((db, v) => db.selectFrom('incidents').selectAll().where('id', '=', v)),
  channel_id: prepared<[string], Selectable<IncidentsTable>>((db, v) => db.selectFrom('incidents').selectAll().where('channel_id', '=', v)),
  dedupe_key: prepared<[string], Selectable<IncidentsTable>>((db, v) => db.selectFrom('incidents').selectAll().where('dedupe_key', '=', v)),
};
const openIncidents = prepared<[], Selectable<IncidentsTable>>((db) =>
  db
    .selectFrom('incidents')
    .selectAll()
    .where('status', 'in', [...OPEN_STATUSES])
    .orderBy('seq', 'asc'),
);
const upsertRole = prepared<[string, string, string], unknown>((db, incidentId, role, userId) =>
  db
    .insertInto('incident_roles')
    .values({ incident_id: incidentId, role, user_id: userId })
    .onConflict((oc) => oc.columns(['incident_id', 'role']).doUpdateSet({ user_id: userId })),
);
const updateByShape = new Map<string, (db: Kysely<Database>, ...args: unknown[]) => Promise<QueryResult<Selectable<IncidentsTable>>>>();
const selectRoles = prepared<[string], { role: string; user_id: string }>((db, incidentId) =>
  db.selectFrom('incident_roles').select(['role', 'user_id']).where('incident_id', '=', incidentId).orderBy('role'),
);

/** The incidents and their roles (tables incidents, incident_roles). */
export class KyselyIncidentStore implements IncidentStore, RoleStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly ops: Pick<DialectOps, 'nextSeq'>,
  ) {}

  /** The insert of `createIncident`, compiled once (prepared.ts); its seq comes from the dialect. */
  private readonly insertIncident = prepared<
    [
      string,
      string,
      string,
      string,
      string,
      string,
      number,
      string,
      string | null,
      string | null,
      string | null,
      string,
      string | null,
      string | null,
      number,
      string | null,
    ],
    Selectable<IncidentsTable>
  >((db, id, title, description, severity, status, services, priv, origin, source, declaredBy, commanderId, backend, backendId, backendUrl, at, dedupeKey) =>
    db
      .insertInto('incidents')
      .values({
        id,
        seq: this.ops.nextSeq(),
        title,
        description,
        severity,
        status,
        services,
        private: priv,
        origin,
        source,
        declared_by: declaredBy,
        commander_id: commanderId,
        backend,
        backend_id: backendId,
        backend_url: backendUrl,
        channel_id: null,
        channel_name: null,
        card_ts: null,
        announce_ts: null,
        alert_count: 0,
        created_at: at,
        updated_at: at,
        resolved_at: null,
        version: 1,
        dedupe_key: dedupeKey,
      })
      // ON CONFLICT DO NOTHING (no target) absorbs a duplicate id or dedupe_key; of N concurrent
      // creators exactly one gets a row back. The losers then read the winner's row.
      .onConflict((oc) => oc.doNothing())
      .returningAll(),
  );

  async createIncident(input: NewIncident, records?: DeclarationRecords): Promise<{ incident: Incident; created: boolean }> {
    // With records, one transaction: the incident and all of them, or (a failure, a crash) none.
    const row = records
      ? await this.db.transaction().execute(async (trx) => {
          const created = await this.insertRow(trx, input);
          if (created) await writeRecords(trx, created.id, records, ms(input.createdAt));
          return created;
        })
      : await this.insertRow(this.db, input);
    if (row) return { incident: toIncident(row), created: true };

    const existing = (input.dedupeKey ? await this.findIncidentByDedupeKey(input.dedupeKey) : null) ?? (await this.getIncident(input.id));
    if (!existing) {
      // Only reachable if the conflicting row vanished between the two statements (we never delete).
      throw new Error(`createIncident: conflict on ${input.id} but no existing row found`);
    }
    return { incident: existing, created: false };
  }

  private async insertRow(db: Kysely<Database>, input: NewIncident): Promise<Selectable<IncidentsTable> | undefined> {
    const at = ms(input.createdAt);
    const { rows } = await this.insertIncident(
      db,
      input.id,
      input.title,
      input.description,
      input.severity,
      input.status ?? 'investigating',
      JSON.stringify(input.services),
      input.private ? 1 : 0,
      input.origin,
      input.source ?? null,
      input.declaredBy,
      input.commanderId,
      input.backend,
      input.backendId ?? null,
      input.backendUrl ?? null,
      at,
      input.dedupeKey ?? null,
    );
    return rows[0];
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

  async findIncidentsByDedupeKeys(keys: string[]): Promise<Map<string, Incident>> {
    if (keys.length === 0) return new Map();
    const rows = await this.db.selectFrom('incidents').selectAll().where('dedupe_key', 'in', keys).execute();
    return new Map(rows.map((r) => [r.dedupe_key!, toIncident(r)]));
  }

  async listOpenIncidents(): Promise<Incident[]> {
    return (await openIncidents(this.db)).rows.map(toIncident);
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

  async updateIncident(id: string, patch: IncidentPatch, guard?: { expectedVersion?: number; expectedStatus?: IncidentStatus }): Promise<Incident | null> {
    // Only the keys present in the patch are written; each shape of patch (which columns, which
    // guards) is its own statement, compiled once (prepared.ts): the declare flow writes the same
    // few shapes (channel, card, announcement, backend record) for every incident.
    const set: Record<string, unknown> = {
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
      private: patch.private === undefined ? undefined : patch.private ? 1 : 0,
      updated_at: ms(patch.updatedAt),
    };
    const columns = Object.keys(set).filter((c) => set[c] !== undefined) as Array<keyof IncidentsTable>;
    const byVersion = guard?.expectedVersion !== undefined;
    const byStatus = guard?.expectedStatus !== undefined;
    const shape = `${columns.join(',')}|${byVersion}|${byStatus}`;
    let update = updateByShape.get(shape);
    if (!update) {
      update = prepared<unknown[], Selectable<IncidentsTable>>((db, ...p) =>
        db
          .updateTable('incidents')
          .set((eb) => ({ ...Object.fromEntries(columns.map((c, i) => [c, p[i]])), version: eb('version', '+', 1) }))
          .where('id', '=', p[columns.length]!)
          .$if(byVersion, (qb) => qb.where('version', '=', p[columns.length + 1]!))
          .$if(byStatus, (qb) => qb.where('status', '=', p[columns.length + (byVersion ? 2 : 1)]!))
          .returningAll(),
      );
      updateByShape.set(shape, update);
    }
    const args = [...columns.map((c) => set[c]), id, ...(byVersion ? [guard!.expectedVersion] : []), ...(byStatus ? [guard!.expectedStatus] : [])];
    const [row] = (await update(this.db, ...args)).rows;
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
    const [row] = (await incidentBy[col](this.db, value)).rows;
    return row ? toIncident(row) : null;
  }

  // -- roles ----------------------------------------------------------------------------------

  async setRole(incidentId: string, role: string, userId: string): Promise<void> {
    await upsertRole(this.db, incidentId, role, userId);
  }

  async getRoles(incidentId: string): Promise<Record<string, string>> {
    const { rows } = await selectRoles(this.db, incidentId);
    return Object.fromEntries(rows.map((r) => [r.role, r.user_id]));
  }
}

/** A declaration's records with its incident (`DeclarationRecords`), on the transaction. */
async function writeRecords(db: Kysely<Database>, incidentId: string, records: DeclarationRecords, now: number): Promise<void> {
  for (const [role, userId] of Object.entries(records.roles ?? {})) await upsertRole(db, incidentId, role, userId);
  if (records.audit) await writeAudit(db, records.audit);
  if (records.timeline) await writeTimeline(db, records.timeline);
  if (records.job) await writeJob(db, records.job.job, records.job.claim, now);
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
