import { sql, type Kysely, type Selectable } from 'kysely';
import type { IncidentStatus } from '../../domain/incident.js';
import { acknowledgement, type BackendIncidentRecord, type IncidentFacts, type InsightOrigin, type PostmortemState } from '../../domain/insights.js';
import type { Severity } from '../../domain/severity.js';
import type { InsightsStore, RemediationAnswer, RemediationVerdict } from '../../ports/insights-store.js';
import type { DialectOps } from './dialect.js';
import type { Database } from './schema.js';

/**
 * Approval states in which the remediation ran (or may have: `unknown` died mid-execution). A
 * remediation is an action that needed approval: a read-only action (logs, metrics) is not one,
 * and is never asked about (the same rule as the runbooks' post-resolve question).
 */
const EXECUTED = ['succeeded', 'failed', 'unknown'];
/** The remediations of an incident none ran for, shared by those facts (nothing writes to them). */
const NO_REMEDIATIONS: IncidentFacts['remediations'] = Object.freeze({ executed: 0, notNeeded: 0 });
/** Upserts go in chunks well under SQLite's and PostgreSQL's bound-parameter limits. */
const CHUNK = 200;

/** The columns of an incident the facts are built from. */
interface IncidentRow {
  id: string;
  title: string;
  severity: string;
  status: string;
  services: string;
  origin: string;
  backend_key: string | null;
  created_at: number | string;
  resolved_at: number | string | null;
}
/** An incident's timeline, as the facts need it (nulls: no entry, when joined in SQL). */
interface TimelineAggregate {
  first_human: number | string | null;
  first_mitigated: number | string | null;
  reopened: number | string | null;
}
/** An incident's executed remediations (nulls: none, when joined in SQL). */
interface ApprovalAggregate {
  executed: number | string | null;
  not_needed: number | string | null;
}

/** The insights area of the store, over Kysely for both dialects (see ports/insights-store.ts). */
export class KyselyInsightsStore implements InsightsStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly ops: Pick<DialectOps, 'factsInOneStatement'>,
  ) {}

  async upsertBackendIncidents(backend: string, rows: BackendIncidentRecord[], syncedAt: Date): Promise<number> {
    // The last write for one id wins inside a page too (a page may repeat an id across the keyset seam).
    const unique = [...new Map(rows.map((r) => [r.backendId, r])).values()];
    for (let i = 0; i < unique.length; i += CHUNK) {
      const values = unique.slice(i, i + CHUNK).map((r) => ({
        backend,
        backend_id: r.backendId,
        firebreak_id: r.firebreakId,
        title: r.title,
        severity: r.severity,
        status: r.status,
        services: JSON.stringify(r.services),
        origin: r.origin,
        url: r.url,
        started_at: r.startedAt.getTime(),
        acknowledged_at: r.acknowledgedAt?.getTime() ?? null,
        mitigated_at: r.mitigatedAt?.getTime() ?? null,
        resolved_at: r.resolvedAt?.getTime() ?? null,
        postmortem: r.postmortem,
        updated_at: r.updatedAt.getTime(),
        synced_at: syncedAt.getTime(),
      }));
      await this.db
        .insertInto('backend_incidents')
        .values(values)
        .onConflict((oc) =>
          oc.columns(['backend', 'backend_id']).doUpdateSet((eb) => ({
            firebreak_id: eb.ref('excluded.firebreak_id'),
            title: eb.ref('excluded.title'),
            severity: eb.ref('excluded.severity'),
            status: eb.ref('excluded.status'),
            services: eb.ref('excluded.services'),
            origin: eb.ref('excluded.origin'),
            url: eb.ref('excluded.url'),
            started_at: eb.ref('excluded.started_at'),
            acknowledged_at: eb.ref('excluded.acknowledged_at'),
            mitigated_at: eb.ref('excluded.mitigated_at'),
            resolved_at: eb.ref('excluded.resolved_at'),
            postmortem: eb.ref('excluded.postmortem'),
            updated_at: eb.ref('excluded.updated_at'),
            synced_at: eb.ref('excluded.synced_at'),
          })),
        )
        .execute();
    }
    return unique.length;
  }

  async countBackendIncidents(backend: string): Promise<{ rows: number; distinct: number }> {
    const r = await this.db
      .selectFrom('backend_incidents')
      .select([sql<number>`count(*)`.as('rows'), sql<number>`count(distinct backend_id)`.as('distinct')])
      .where('backend', '=', backend)
      .executeTakeFirstOrThrow();
    return { rows: Number(r.rows), distinct: Number(r.distinct) };
  }

  async recordRemediationAnswer(a: RemediationAnswer): Promise<void> {
    const row = {
      approval_id: a.approvalId,
      incident_id: a.incidentId,
      action_id: a.actionId,
      run_id: a.runId,
      step_index: a.stepIndex,
      answer: a.answer,
      answered_by: a.answeredBy,
      answered_at: a.answeredAt.getTime(),
    };
    await this.db
      .insertInto('remediation_answers')
      .values(row)
      .onConflict((oc) => oc.column('approval_id').doUpdateSet({ answer: row.answer, answered_by: row.answered_by, answered_at: row.answered_at }))
      .execute();
  }

  async listRemediationAnswers(filter: { incidentId: string }): Promise<RemediationAnswer[]> {
    const rows = await this.db
      .selectFrom('remediation_answers')
      .selectAll()
      .where('incident_id', '=', filter.incidentId)
      .orderBy('answered_at', 'asc')
      .orderBy('approval_id', 'asc')
      .execute();
    return rows.map((r) => ({
      approvalId: r.approval_id,
      incidentId: filter.incidentId,
      actionId: r.action_id ?? '',
      runId: r.run_id,
      stepIndex: r.step_index === null ? null : Number(r.step_index),
      answer: r.answer as RemediationVerdict,
      answeredBy: r.answered_by,
      answeredAt: new Date(Number(r.answered_at)),
    }));
  }

  async listIncidentFacts(range: { from: Date; to: Date }): Promise<IncidentFacts[]> {
    const from = range.from.getTime();
    const to = range.to.getTime();
    // The incidents in the window, joined by each per-incident aggregate below. The aggregates are
    // grouped by the incident's integer `seq`, not its text id: PostgreSQL sorts text under the
    // database's collation (strcoll for any libc locale but C, C.UTF-8 included), and where it
    // groups by sorting (no statistics yet on freshly filled tables, as in the bench) sorting some
    // 30,000 timeline rows by a UUID cost more than the whole rest of the read (about 80 ms of
    // server CPU over 10,000 incidents, 40 ms by `seq`; with statistics it hashes either way).
    // Each aggregate starts from the window on both dialects, so a table of other incidents' rows
    // (runbook runs, approvals) is looked up, not scanned.
    const inWindow = () => this.db.selectFrom('incidents as x').where('x.created_at', '>=', from).where('x.created_at', '<', to);
    const timeline = inWindow()
      .innerJoin('timeline as t', 't.incident_id', 'x.id')
      .select([
        'x.seq',
        // A human-authored entry: the declaration by a person, a role taken, an update, a pin, a status change.
        sql<number | null>`min(case when t.author is not null then t.at end)`.as('first_human'),
        sql<number | null>`min(case when t.kind = 'mitigated' then t.at end)`.as('first_mitigated'),
        sql<number>`sum(case when t.kind = 'reopened' then 1 else 0 end)`.as('reopened'),
      ])
      .groupBy('x.seq');
    const approvals = inWindow()
      .innerJoin('approvals as a', 'a.incident_id', 'x.id')
      .leftJoin('remediation_answers as r', 'r.approval_id', 'a.id')
      .select(['x.seq', sql<number>`count(*)`.as('executed'), sql<number>`sum(case when r.answer = 'no' then 1 else 0 end)`.as('not_needed')])
      .where('a.status', 'in', EXECUTED)
      .where('a.requires_approval', '=', 1)
      .groupBy('x.seq');
    // Incidents a runbook ran for (by hand, automatically or by an agent), whatever its steps did.
    const runs = inWindow().innerJoin('runbook_runs as r', 'r.incident_id', 'x.id').select('x.seq').distinct();
    const incidents = this.db
      .selectFrom('incidents as i')
      .select([
        'i.seq',
        'i.id',
        'i.title',
        'i.severity',
        'i.status',
        'i.services',
        'i.origin',
        // Only an incident declared in a vendor's backend is matched with that backend's history:
        // the key is built here, so the local incidents (most of them) bring no backend columns.
        sql<string | null>`case when i.backend <> 'local' and i.backend_id <> '' then i.backend || ':' || i.backend_id end`.as('backend_key'),
        'i.created_at',
        'i.resolved_at',
      ])
      .where('i.created_at', '>=', from)
      .where('i.created_at', '<', to);
    const historyRead = this.db.selectFrom('backend_incidents').selectAll().where('started_at', '>=', from).where('started_at', '<', to).execute();

    // Most incidents name one of a few services: each distinct list is parsed once. The facts
    // sharing a list share one frozen array (nothing writes to a fact's services).
    const servicesOf = new Map<string, string[]>();
    const parseServices = (json: string): string[] => {
      let list = servicesOf.get(json);
      if (!list) {
        list = Object.freeze(JSON.parse(json) as string[]) as string[];
        servicesOf.set(json, list);
      }
      return list;
    };
    const facts: IncidentFacts[] = [];
    const backendKeys: (string | null)[] = [];
    const add = (i: IncidentRow, t: TimelineAggregate | undefined, a: ApprovalAggregate | undefined, ran: boolean) => {
      const startedAt = new Date(Number(i.created_at));
      const executed = Number(a?.executed ?? 0);
      facts.push({
        key: i.id,
        title: i.title,
        severity: i.severity as Severity,
        services: parseServices(i.services),
        origin: localOrigin(i.origin),
        status: i.status as IncidentStatus,
        startedAt,
        acknowledgedAt: acknowledgement({ startedAt, backendAcknowledgedAt: null, firstCommanderAt: null, firstHumanEntryAt: date(t?.first_human) }),
        mitigatedAt: date(t?.first_mitigated),
        resolvedAt: i.status === 'resolved' ? date(i.resolved_at) : null,
        reopened: Number(t?.reopened ?? 0),
        // The local backend keeps no publish state; a vendor's state arrives with the sync.
        postmortem: null,
        remediations: executed > 0 ? { executed, notNeeded: Number(a?.not_needed ?? 0) } : NO_REMEDIATIONS,
        runbook: executed > 0 || ran,
      });
      backendKeys.push(i.backend_key);
    };

    let history: Selectable<Database['backend_incidents']>[];
    if (this.ops.factsInOneStatement) {
      // One statement, one row per incident: the aggregates are joined by `seq` in SQL.
      const [rows, h] = await Promise.all([
        incidents
          .leftJoin(timeline.as('t'), 't.seq', 'i.seq')
          .leftJoin(approvals.as('a'), 'a.seq', 'i.seq')
          .leftJoin(runs.as('r'), 'r.seq', 'i.seq')
          .select(['t.first_human', 't.first_mitigated', 't.reopened', 'a.executed', 'a.not_needed', 'r.seq as ran'])
          .execute(),
        historyRead,
      ]);
      for (const row of rows) add(row, row, row, row.ran !== null);
      history = h;
    } else {
      // One statement per aggregate (set-based, whatever the number of incidents), joined here by `seq`.
      const [rows, tRows, aRows, rRows, h] = await Promise.all([incidents.execute(), timeline.execute(), approvals.execute(), runs.execute(), historyRead]);
      const tl = new Map<number, TimelineAggregate>();
      for (const t of tRows) tl.set(Number(t.seq), t);
      const ap = new Map<number, ApprovalAggregate>();
      for (const a of aRows) ap.set(Number(a.seq), a);
      const withRun = new Set(rRows.map((r) => Number(r.seq)));
      for (const row of rows) {
        const seq = Number(row.seq);
        add(row, tl.get(seq), ap.get(seq), withRun.has(seq));
      }
      history = h;
    }
    if (!history.length) return facts;

    const out = new Map<string, IncidentFacts>();
    const byBackendKey = new Map<string, string>();
    facts.forEach((f, k) => {
      out.set(f.key, f);
      const backendKey = backendKeys[k];
      if (backendKey) byBackendKey.set(backendKey, f.key);
    });
    for (const h of history) {
      const localId = (h.firebreak_id && out.has(h.firebreak_id) ? h.firebreak_id : null) ?? byBackendKey.get(`${h.backend}:${h.backend_id}`) ?? null;
      const local = localId ? out.get(localId)! : null;
      const startedAt = new Date(Number(h.started_at));
      const services = JSON.parse(h.services) as string[];
      const merged: IncidentFacts = {
        key: local?.key ?? `${h.backend}:${h.backend_id}`,
        title: h.title,
        severity: (h.severity as Severity | null) ?? local?.severity ?? 'medium',
        services: services.length ? services : (local?.services ?? []),
        origin: local?.origin ?? (h.origin as InsightOrigin),
        status: h.status as IncidentStatus,
        startedAt,
        acknowledgedAt: acknowledgement({
          startedAt,
          backendAcknowledgedAt: date(h.acknowledged_at),
          firstCommanderAt: null,
          firstHumanEntryAt: local?.acknowledgedAt ?? null,
        }),
        mitigatedAt: date(h.mitigated_at) ?? local?.mitigatedAt ?? null,
        resolvedAt: h.status === 'resolved' ? date(h.resolved_at) : null,
        reopened: local?.reopened ?? 0,
        postmortem: h.postmortem as PostmortemState,
        remediations: local?.remediations ?? { executed: 0, notNeeded: 0 },
        runbook: local?.runbook ?? false,
      };
      out.set(merged.key, merged);
    }
    return [...out.values()];
  }
}

function date(v: number | string | null | undefined): Date | null {
  return v === null || v === undefined ? null : new Date(Number(v));
}

function localOrigin(origin: string): InsightOrigin {
  if (origin === 'slack' || origin === 'alert' || origin === 'agent') return origin;
  return 'backend'; // declared in Rootly's or incident.io's UI, announced by their webhook
}
