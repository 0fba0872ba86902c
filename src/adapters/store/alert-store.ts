import { sql, type Kysely, type Selectable } from 'kysely';
import type { Severity } from '../../domain/severity.js';
import { AppError } from '../../errors.js';
import type { Clock } from '../../ports/clock.js';
import type { AlertFingerprint, AlertJoin, AlertStore, NewAlert, NewJob, StoredAlert } from '../../ports/store.js';
import { jobRow } from './job-store.js';
import { ms, parseJson, toDate, toJson } from './mapping.js';
import type { StoreDialect } from './migrations.js';
import type { AlertFingerprintsTable, AlertsTable, Database } from './schema.js';

/** Stored alerts and the fingerprint rows that route them to incidents (tables alerts, alert_fingerprints). */
export class KyselyAlertStore implements AlertStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly dialect: StoreDialect = 'sqlite',
  ) {}

  async insertAlert(alert: NewAlert): Promise<{ alert: StoredAlert; inserted: boolean }> {
    const row = await this.db
      .insertInto('alerts')
      .values(alertRow(alert))
      .onConflict((oc) => oc.doNothing())
      .returningAll()
      .executeTakeFirst();
    if (row) return { alert: toAlert(row), inserted: true };
    return { alert: await existingAlert(this.db, alert), inserted: false };
  }

  async insertAlertsWithJobs(alerts: NewAlert[], jobs: BurstJobs): Promise<Array<{ alert: StoredAlert; inserted: boolean }>> {
    if (alerts.length === 0) return [];
    if (this.dialect === 'postgres') return this.insertAlertsWithJobsPg(alerts, jobs);
    // Multi-row statements: a burst costs the same few statements and one commit however many
    // alerts it carries. Conflicts (replays) are looked up one by one: they are rare.
    return this.db.transaction().execute(async (trx) => {
      // Only the ids come back: an inserted row is exactly what was given (reading every column
      // back and parsing its JSON was a fifth of the statement's cost).
      const rows = await trx
        .insertInto('alerts')
        .values(alerts.map(alertRow))
        .onConflict((oc) => oc.doNothing())
        .returning('id')
        .execute();
      const inserted = new Set(rows.map((r) => r.id));
      const out: Array<{ alert: StoredAlert; inserted: boolean }> = [];
      const replays: StoredAlert[] = [];
      for (const a of alerts) {
        if (inserted.has(a.id)) out.push({ alert: fresh(a), inserted: true });
        else {
          const existing = await existingAlert(trx, a);
          if (existing.state === 'pending' && !inserted.has(existing.id)) replays.push(existing); // not this burst's own
          out.push({ alert: existing, inserted: false });
        }
      }
      const now = this.clock.now().getTime();
      const rowsOfJobs = [...(inserted.size ? [jobs.burst(alerts.map(fresh))] : []), ...replays.map(jobs.replay)];
      if (rowsOfJobs.length)
        await trx
          .insertInto('jobs')
          .values(rowsOfJobs.map((j) => jobRow(j, now)))
          .onConflict((oc) => oc.doNothing())
          .execute();
      return out;
    });
  }

  /**
   * PostgreSQL: the alerts and the burst's job in ONE statement (two data-modifying CTEs, the job
   * written only when at least one alert was), so a burst costs one round trip and one commit
   * instead of four round trips (begin, two inserts, commit); a statement outside a transaction
   * block commits before its answer arrives, so "returned" still means "durable". The alert rows
   * go as one JSON parameter (json_to_recordset), so the statement's text and parameter count do
   * not grow with the burst; JSON, not one array parameter per column: node-postgres serialises
   * arrays element by element in JavaScript (a regex escape per value), where JSON.stringify is
   * one native call. Replays (conflicts) are rare and handled after, as the multi-statement path
   * does: a replay's stored alert already has its job from its own burst.
   */
  private async insertAlertsWithJobsPg(alerts: NewAlert[], jobs: BurstJobs): Promise<Array<{ alert: StoredAlert; inserted: boolean }>> {
    const now = this.clock.now().getTime();
    const all = alerts.map(fresh);
    const alertRows = alerts.map((a) => ({
      id: a.id,
      source: a.source,
      delivery_id: a.deliveryId,
      fingerprint: a.fingerprint,
      external_id: a.externalId,
      title: a.title,
      service: a.service,
      severity: a.severity,
      status: a.status,
      url: a.url,
      raw: toJson(a.raw),
      received_at: ms(a.receivedAt),
    }));
    const job = jobRow(jobs.burst(all), now);
    const { rows } = await sql<{ id: string }>`/* statement: alerts.insert_burst */
      with a as (
        insert into alerts (id, source, delivery_id, fingerprint, external_id, title, service, severity, status, url, raw, received_at, state)
        select id, source, delivery_id, fingerprint, external_id, title, service, severity, status, url, raw, received_at, 'pending'
        from json_to_recordset(${jsonParam(alertRows)}::json) as t(
          id text, source text, delivery_id text, fingerprint text, external_id text, title text,
          service text, severity text, status text, url text, raw text, received_at bigint)
        on conflict do nothing
        returning id
      ), j as (
        insert into jobs (id, kind, key, payload, state, attempts, run_after, created_at, updated_at)
        select ${job.id}, ${job.kind}, ${job.key}, ${job.payload}, 'queued', 0, ${job.run_after}::bigint, ${now}::bigint, ${now}::bigint
        where exists (select 1 from a)
        on conflict do nothing
      )
      select id from a`.execute(this.db);
    const inserted = new Set(rows.map((r) => r.id));
    const out: Array<{ alert: StoredAlert; inserted: boolean }> = [];
    const replays: StoredAlert[] = [];
    for (const [i, a] of alerts.entries()) {
      if (inserted.has(a.id)) out.push({ alert: all[i]!, inserted: true });
      else {
        const existing = await existingAlert(this.db, a);
        if (existing.state === 'pending' && !inserted.has(existing.id)) replays.push(existing); // not this burst's own
        out.push({ alert: existing, inserted: false });
      }
    }
    if (replays.length)
      await this.db
        .insertInto('jobs')
        .values(replays.map((a) => jobRow(jobs.replay(a), now)))
        .onConflict((oc) => oc.doNothing())
        .execute();
    return out;
  }

  async getAlert(id: string): Promise<StoredAlert | null> {
    const row = await this.db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toAlert(row) : null;
  }

  async getAlerts(ids: string[]): Promise<StoredAlert[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.selectFrom('alerts').selectAll().where('id', 'in', ids).execute();
    return rows.map(toAlert);
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

  async markAlert(id: string, patch: { incidentId?: string | null; state: 'processed' | 'failed'; error?: string | null }): Promise<void> {
    await this.db.updateTable('alerts').set({ state: patch.state, incident_id: patch.incidentId, error: patch.error }).where('id', '=', id).execute();
  }

  async getFingerprint(fingerprint: string): Promise<AlertFingerprint | null> {
    const row = await this.db.selectFrom('alert_fingerprints').selectAll().where('fingerprint', '=', fingerprint).executeTakeFirst();
    return row ? toFingerprint(row) : null;
  }

  async getFingerprints(fingerprints: string[]): Promise<AlertFingerprint[]> {
    if (fingerprints.length === 0) return [];
    const rows = await this.db.selectFrom('alert_fingerprints').selectAll().where('fingerprint', 'in', fingerprints).execute();
    return rows.map(toFingerprint);
  }

  async claimFingerprint(fingerprint: string, incidentId: string, at: Date, replaceIf: { incidentIdIn: string[] | null }): Promise<boolean> {
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

  async joinAlerts(joins: AlertJoin[]): Promise<string[][]> {
    if (joins.every((j) => j.alertIds.length === 0)) return joins.map(() => []);
    if (this.dialect === 'postgres') return this.joinAlertsPg(joins);
    return this.db.transaction().execute(async (trx) => {
      const out: string[][] = [];
      const now = this.clock.now().getTime();
      for (const { incidentId, fingerprint, alertIds, lastSeen, job } of joins) {
        // Only pending alerts are taken (on PostgreSQL the row lock makes a concurrent taker wait,
        // then skip them): whatever was applied before, in a batch or alone, is not counted again.
        const taken = alertIds.length
          ? await trx
              .updateTable('alerts')
              .set({ state: 'processed', incident_id: incidentId, error: null })
              .where('id', 'in', alertIds)
              .where('state', '=', 'pending')
              .returning('id')
              .execute()
          : [];
        out.push(taken.map((r) => r.id));
        if (taken.length === 0) continue;
        const bumped = await trx
          .updateTable('incidents')
          .set((eb) => ({ alert_count: eb('alert_count', '+', taken.length) }))
          .where('id', '=', incidentId)
          .executeTakeFirst();
        if (Number(bumped.numUpdatedRows) === 0) throw new AppError('incident.not_found', `Incident ${incidentId} not found`, { incidentId });
        const atMs = ms(lastSeen);
        await trx
          .updateTable('alert_fingerprints')
          .set((eb) => ({
            count: eb('count', '+', taken.length),
            last_seen: eb.case().when('last_seen', '<', atMs).then(eb.val(atMs)).else(eb.ref('last_seen')).end(),
          }))
          .where('fingerprint', '=', fingerprint)
          .execute();
        await trx
          .insertInto('jobs')
          .values(jobRow(job, now))
          .onConflict((oc) => oc.doNothing())
          .execute();
      }
      return out;
    });
  }

  /**
   * PostgreSQL: every join of the batch in ONE statement (data-modifying CTEs over unnest arrays)
   * instead of four per join, inside a transaction so that a missing incident still undoes all of
   * it. A storm's batch joins a few dozen fingerprints: this is ~3 round trips instead of ~100.
   * Same rules as the statement-per-join path: only pending alerts are taken (the row lock makes a
   * concurrent taker wait, then re-check and skip them), counts grow by what was taken (summed per
   * incident: several fingerprints may feed one storm incident), last seen never moves back, and a
   * join's job is enqueued only when it took at least one alert.
   */
  private async joinAlertsPg(joins: AlertJoin[]): Promise<string[][]> {
    const now = this.clock.now().getTime();
    const pairs = joins.flatMap((j, k) => j.alertIds.map((id) => [k, id] as const));
    const jobs = joins.map((j) => jobRow(j.job, now));
    return this.db.transaction().execute(async (trx) => {
      const { rows } = await sql<{ k: number | null; id: string | null; missing: string | null }>`/* statement: alerts.join_batch */
        with joins as (
          select * from unnest(
            ${joins.map((_, k) => k)}::int[], ${joins.map((j) => j.incidentId)}::text[], ${joins.map((j) => j.fingerprint)}::text[],
            ${joins.map((j) => ms(j.lastSeen))}::bigint[]
          ) as t(k, incident_id, fingerprint, last_seen)
        ), wanted as (
          select * from unnest(${pairs.map((p) => p[0])}::int[], ${pairs.map((p) => p[1])}::text[]) as t(k, alert_id)
        ), taken as (
          update alerts a set state = 'processed', incident_id = j.incident_id, error = null
          from wanted w join joins j on j.k = w.k
          where a.id = w.alert_id and a.state = 'pending'
          returning w.k, a.id
        ), per_join as (
          select j.k, j.incident_id, j.fingerprint, j.last_seen, count(*)::bigint as n from taken t join joins j on j.k = t.k group by j.k, j.incident_id, j.fingerprint, j.last_seen
        ), per_incident as (
          select incident_id, sum(n)::bigint as n from per_join group by incident_id
        ), bumped as (
          update incidents i set alert_count = i.alert_count + p.n from per_incident p where i.id = p.incident_id returning i.id
        ), touched as (
          -- Not read below: a data-modifying CTE runs to completion whether or not it is read.
          update alert_fingerprints f set count = f.count + p.n, last_seen = greatest(f.last_seen, p.last_seen)
          from per_join p where f.fingerprint = p.fingerprint
          returning f.fingerprint
        ), queued as (
          insert into jobs (id, kind, key, payload, state, attempts, run_after, created_at, updated_at)
          select j.id, j.kind, j.key, j.payload, 'queued', 0, j.run_after, ${now}::bigint, ${now}::bigint
          from unnest(
            ${jobs.map((r) => r.id)}::text[], ${jobs.map((r) => r.kind)}::text[], ${jobs.map((r) => r.key)}::text[],
            ${jobs.map((r) => r.payload)}::text[], ${jobs.map((r) => r.run_after)}::bigint[], ${joins.map((_, k) => k)}::int[]
          ) as j(id, kind, key, payload, run_after, k)
          where j.k in (select k from per_join)
          on conflict do nothing
        )
        select k, id, null as missing from taken
        union all
        select null, null, p.incident_id from per_incident p where p.incident_id not in (select id from bumped)`.execute(trx);
      const missing = rows.find((r) => r.missing !== null)?.missing;
      if (missing) throw new AppError('incident.not_found', `Incident ${missing} not found`, { incidentId: missing });
      const out: string[][] = joins.map(() => []);
      for (const r of rows) if (r.k !== null && r.id !== null) out[r.k]!.push(r.id);
      return out;
    });
  }

  async countOpeningAlert(alertId: string, incidentId: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      // As in joinAlerts: only a pending alert is taken (PostgreSQL's row lock makes a concurrent
      // taker wait, then find it processed), so two workers on one alert count it once.
      const taken = await trx
        .updateTable('alerts')
        .set({ state: 'processed', incident_id: incidentId, error: null })
        .where('id', '=', alertId)
        .where('state', '=', 'pending')
        .returning('id')
        .execute();
      if (taken.length === 0) return false;
      const bumped = await trx
        .updateTable('incidents')
        .set((eb) => ({ alert_count: eb('alert_count', '+', 1) }))
        .where('id', '=', incidentId)
        .executeTakeFirst();
      if (Number(bumped.numUpdatedRows) === 0) throw new AppError('incident.not_found', `Incident ${incidentId} not found`, { incidentId });
      return true;
    });
  }
}

type BurstJobs = { burst: (alerts: StoredAlert[]) => NewJob; replay: (alert: StoredAlert) => NewJob };

/** A new alert as it is once stored: what was given, pending. */
const fresh = (a: NewAlert): StoredAlert => ({ ...a, state: 'pending', incidentId: null, error: null });

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

/**
 * JSON text for a json parameter that PostgreSQL turns into text columns. Two escapes
 * JSON.stringify writes would fail the whole burst there: a lone UTF-16 surrogate (a webhook body
 * may carry one as a `\ud800` escape), which becomes U+FFFD as it does in a text parameter (sent
 * as UTF-8), and `\u0000` (NUL, refused in text), which becomes U+FFFD as every other value's NUL
 * does at the driver (mapping.ts `storableParameters`). Only those escapes are rewritten (pairs
 * of surrogates are written as they are), and an escaped backslash before `u` is left alone.
 */
function jsonParam(v: unknown): string {
  const text = JSON.stringify(v);
  // Most bursts have no `\u` escape at all: the scan is skipped, and the text is not copied.
  if (!text.includes('\\u')) return text;
  return text.replace(/(?<!\\)((?:\\\\)*)\\(?:ud[89a-f][0-9a-f]{2}|u0000)/g, '$1\\ufffd');
}

/** The stored alert a conflicting insert ran into: the same (source, delivery id), else the same id. */
async function existingAlert(db: Kysely<Database>, alert: NewAlert): Promise<StoredAlert> {
  const existing =
    (alert.deliveryId !== null
      ? await db.selectFrom('alerts').selectAll().where('source', '=', alert.source).where('delivery_id', '=', alert.deliveryId).executeTakeFirst()
      : undefined) ?? (await db.selectFrom('alerts').selectAll().where('id', '=', alert.id).executeTakeFirst());
  if (!existing) throw new Error(`insertAlert: conflict on ${alert.id} but no existing row found`);
  return toAlert(existing);
}
