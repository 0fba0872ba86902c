import type { Kysely } from 'kysely';
import type { IncidentFacts } from '../../domain/insights.js';
import type { Cell, ExportTable } from '../export/duckdb.js';
import type { Database } from './schema.js';

/**
 * The store's history as export tables (see docs/insights.md for the columns): incidents, their
 * timeline events, approvals (with the "was it needed?" answer), alerts, the backend's synced
 * history, and `incident_facts` (one row per incident as the figures see it). Times become
 * TIMESTAMPTZ, JSON lists become lists. Rows are read in pages, oldest first.
 */

const PAGE = 5000;
const ts = (v: number | string | null): Date | null => (v === null ? null : new Date(Number(v)));
const list = (json: string): string[] => {
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? v.map(String) : [];
  } catch {
    return [];
  }
};

async function* paged<R>(read: (offset: number, limit: number) => Promise<R[]>, map: (r: R) => Cell[]): AsyncIterable<Cell[]> {
  for (let offset = 0; ; offset += PAGE) {
    const rows = await read(offset, PAGE);
    for (const r of rows) yield map(r);
    if (rows.length < PAGE) return;
  }
}

export function exportTables(db: Kysely<Database>, facts: () => Promise<IncidentFacts[]>): ExportTable[] {
  return [
    {
      name: 'incidents',
      columns: [
        { name: 'id', type: 'VARCHAR' },
        { name: 'number', type: 'INTEGER' },
        { name: 'title', type: 'VARCHAR' },
        { name: 'severity', type: 'VARCHAR' },
        { name: 'status', type: 'VARCHAR' },
        { name: 'services', type: 'VARCHAR[]' },
        { name: 'private', type: 'BOOLEAN' },
        { name: 'origin', type: 'VARCHAR' },
        { name: 'source', type: 'VARCHAR' },
        { name: 'declared_by', type: 'VARCHAR' },
        { name: 'commander_id', type: 'VARCHAR' },
        { name: 'backend', type: 'VARCHAR' },
        { name: 'backend_id', type: 'VARCHAR' },
        { name: 'channel_id', type: 'VARCHAR' },
        { name: 'alert_count', type: 'INTEGER' },
        { name: 'created_at', type: 'TIMESTAMPTZ' },
        { name: 'updated_at', type: 'TIMESTAMPTZ' },
        { name: 'resolved_at', type: 'TIMESTAMPTZ' },
      ],
      rows: () =>
        paged(
          (o, l) => db.selectFrom('incidents').selectAll().orderBy('seq').offset(o).limit(l).execute(),
          (r) => [
            r.id,
            r.seq,
            r.title,
            r.severity,
            r.status,
            list(r.services),
            r.private === 1,
            r.origin,
            r.source,
            r.declared_by,
            r.commander_id,
            r.backend,
            r.backend_id,
            r.channel_id,
            r.alert_count,
            ts(r.created_at),
            ts(r.updated_at),
            ts(r.resolved_at),
          ],
        ),
    },
    {
      name: 'timeline_events',
      columns: [
        { name: 'id', type: 'BIGINT' },
        { name: 'incident_id', type: 'VARCHAR' },
        { name: 'at', type: 'TIMESTAMPTZ' },
        { name: 'kind', type: 'VARCHAR' },
        { name: 'text', type: 'VARCHAR' },
        { name: 'author', type: 'VARCHAR' },
      ],
      rows: () =>
        paged(
          (o, l) => db.selectFrom('timeline').selectAll().orderBy('id').offset(o).limit(l).execute(),
          (r) => [Number(r.id), r.incident_id, ts(r.at), r.kind, r.text, r.author],
        ),
    },
    {
      name: 'approvals',
      columns: [
        { name: 'id', type: 'VARCHAR' },
        { name: 'incident_id', type: 'VARCHAR' },
        { name: 'action_id', type: 'VARCHAR' },
        { name: 'params', type: 'VARCHAR' },
        { name: 'reason', type: 'VARCHAR' },
        { name: 'proposed_by', type: 'VARCHAR' },
        { name: 'proposer_kind', type: 'VARCHAR' },
        { name: 'requires_approval', type: 'BOOLEAN' },
        { name: 'status', type: 'VARCHAR' },
        { name: 'decided_by', type: 'VARCHAR' },
        { name: 'created_at', type: 'TIMESTAMPTZ' },
        { name: 'decided_at', type: 'TIMESTAMPTZ' },
        { name: 'updated_at', type: 'TIMESTAMPTZ' },
        { name: 'error', type: 'VARCHAR' },
        { name: 'needed', type: 'VARCHAR' },
      ],
      rows: () =>
        paged(
          (o, l) =>
            db
              .selectFrom('approvals')
              .leftJoin('remediation_answers', 'remediation_answers.approval_id', 'approvals.id')
              .selectAll('approvals')
              .select('remediation_answers.answer')
              .orderBy('approvals.created_at')
              .orderBy('approvals.id')
              .offset(o)
              .limit(l)
              .execute(),
          (r) => [
            r.id,
            r.incident_id,
            r.action_id,
            r.params,
            r.reason,
            r.proposed_by,
            r.proposer_kind,
            r.requires_approval === 1,
            r.status,
            r.decided_by,
            ts(r.created_at),
            ts(r.decided_at),
            ts(r.updated_at),
            r.error,
            r.answer ?? null,
          ],
        ),
    },
    {
      name: 'alerts',
      columns: [
        { name: 'id', type: 'VARCHAR' },
        { name: 'source', type: 'VARCHAR' },
        { name: 'fingerprint', type: 'VARCHAR' },
        { name: 'external_id', type: 'VARCHAR' },
        { name: 'title', type: 'VARCHAR' },
        { name: 'service', type: 'VARCHAR' },
        { name: 'severity', type: 'VARCHAR' },
        { name: 'status', type: 'VARCHAR' },
        { name: 'url', type: 'VARCHAR' },
        { name: 'received_at', type: 'TIMESTAMPTZ' },
        { name: 'state', type: 'VARCHAR' },
        { name: 'incident_id', type: 'VARCHAR' },
      ],
      rows: () =>
        paged(
          (o, l) => db.selectFrom('alerts').selectAll().orderBy('received_at').orderBy('id').offset(o).limit(l).execute(),
          (r) => [r.id, r.source, r.fingerprint, r.external_id, r.title, r.service, r.severity, r.status, r.url, ts(r.received_at), r.state, r.incident_id],
        ),
    },
    {
      name: 'backend_incidents',
      columns: [
        { name: 'backend', type: 'VARCHAR' },
        { name: 'backend_id', type: 'VARCHAR' },
        { name: 'firebreak_id', type: 'VARCHAR' },
        { name: 'title', type: 'VARCHAR' },
        { name: 'severity', type: 'VARCHAR' },
        { name: 'status', type: 'VARCHAR' },
        { name: 'services', type: 'VARCHAR[]' },
        { name: 'origin', type: 'VARCHAR' },
        { name: 'started_at', type: 'TIMESTAMPTZ' },
        { name: 'acknowledged_at', type: 'TIMESTAMPTZ' },
        { name: 'mitigated_at', type: 'TIMESTAMPTZ' },
        { name: 'resolved_at', type: 'TIMESTAMPTZ' },
        { name: 'postmortem', type: 'VARCHAR' },
        { name: 'updated_at', type: 'TIMESTAMPTZ' },
      ],
      rows: () =>
        paged(
          (o, l) => db.selectFrom('backend_incidents').selectAll().orderBy('backend').orderBy('backend_id').offset(o).limit(l).execute(),
          (r) => [
            r.backend,
            r.backend_id,
            r.firebreak_id,
            r.title,
            r.severity,
            r.status,
            list(r.services),
            r.origin,
            ts(r.started_at),
            ts(r.acknowledged_at),
            ts(r.mitigated_at),
            ts(r.resolved_at),
            r.postmortem,
            ts(r.updated_at),
          ],
        ),
    },
    {
      name: 'incident_facts',
      columns: [
        { name: 'key', type: 'VARCHAR' },
        { name: 'title', type: 'VARCHAR' },
        { name: 'severity', type: 'VARCHAR' },
        { name: 'services', type: 'VARCHAR[]' },
        { name: 'origin', type: 'VARCHAR' },
        { name: 'status', type: 'VARCHAR' },
        { name: 'started_at', type: 'TIMESTAMPTZ' },
        { name: 'acknowledged_at', type: 'TIMESTAMPTZ' },
        { name: 'mitigated_at', type: 'TIMESTAMPTZ' },
        { name: 'resolved_at', type: 'TIMESTAMPTZ' },
        { name: 'reopened', type: 'INTEGER' },
        { name: 'postmortem', type: 'VARCHAR' },
        { name: 'remediations_executed', type: 'INTEGER' },
        { name: 'remediations_not_needed', type: 'INTEGER' },
        { name: 'runbook', type: 'BOOLEAN' },
      ],
      async *rows() {
        for (const f of await facts()) {
          yield [
            f.key,
            f.title,
            f.severity,
            f.services,
            f.origin,
            f.status,
            f.startedAt,
            f.acknowledgedAt,
            f.mitigatedAt,
            f.resolvedAt,
            f.reopened,
            f.postmortem,
            f.remediations.executed,
            f.remediations.notNeeded,
            f.runbook,
          ];
        }
      },
    },
  ];
}
