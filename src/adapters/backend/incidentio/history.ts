import { z } from 'zod';
import type { IncidentStatus } from '../../../domain/incident.js';
import type { BackendIncidentRecord, PostmortemState } from '../../../domain/insights.js';
import { SEVERITIES, type Severity } from '../../../domain/severity.js';

/**
 * incident.io's `GET /v2/incidents` read as history for insights (incidentio-openapi.json `IncidentV2`).
 *
 * Paging: the `after` cursor over `sort_by=created_at_oldest_first`, filtered by `updated_at[gte]`
 * (a date: the spec's example is one; a whole day's overlap is harmless, the store upserts). The
 * order is by creation, so an incident updated during the walk does not move and is never skipped.
 * Lifecycle times come from `incident_timestamp_values`, matched by name (workspaces rename them).
 */

const tsValue = z.looseObject({
  incident_timestamp: z.looseObject({ name: z.string() }),
  value: z.looseObject({ value: z.string().optional() }).optional(),
});
export const historyIncident = z.looseObject({
  id: z.string(),
  name: z.string(),
  mode: z.string().optional(),
  permalink: z.string().optional(),
  incident_status: z.looseObject({ name: z.string(), category: z.string() }),
  severity: z.looseObject({ id: z.string(), rank: z.number() }).optional(),
  creator: z.looseObject({ alert: z.looseObject({ id: z.string() }).optional() }).optional(),
  incident_timestamp_values: z.array(tsValue).optional(),
  postmortem_document_ids: z.array(z.string()).optional(),
  postmortem_document_url: z.string().optional(),
  created_at: z.string(),
  updated_at: z.string(),
});
export const historyPage = z.looseObject({
  incidents: z.array(historyIncident),
  pagination_meta: z.looseObject({ after: z.string().optional() }).optional(),
});
export const historyCursor = z.object({ since: z.string(), after: z.string().nullable() });

const SKIPPED_MODES = new Set(['test', 'tutorial']);

export function toStatus(s: { name: string; category: string }): IncidentStatus {
  switch (s.category) {
    case 'learning':
    case 'closed':
      return 'resolved';
    case 'declined':
    case 'merged':
    case 'canceled':
      return 'cancelled';
    default:
      return /monitor|mitigat/i.test(s.name) ? 'mitigated' : 'investigating';
  }
}

const date = (s: string | undefined | null): Date | null => {
  if (!s) return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : new Date(t);
};

/** Our severity from incident.io's rank among the workspace's severities (higher rank = worse). */
export function severityFromRank(rank: number, allRanks: readonly number[]): Severity {
  const desc = [...new Set(allRanks)].sort((a, b) => b - a);
  const i = desc.indexOf(rank);
  return SEVERITIES[Math.min(Math.max(0, i), SEVERITIES.length - 1)]!;
}

export function toHistoryRecord(i: z.infer<typeof historyIncident>, ranks: readonly number[]): BackendIncidentRecord | null {
  if (i.mode && SKIPPED_MODES.has(i.mode)) return null;
  const stamp = (re: RegExp): Date | null => date(i.incident_timestamp_values?.find((t) => re.test(t.incident_timestamp.name))?.value?.value);
  const status = toStatus(i.incident_status);
  const created = date(i.created_at) ?? new Date(0);
  const hasDoc = (i.postmortem_document_ids?.length ?? 0) > 0 || !!i.postmortem_document_url;
  const postmortem: PostmortemState = !hasDoc ? 'none' : i.incident_status.category === 'closed' ? 'completed' : 'draft';
  return {
    backendId: i.id,
    firebreakId: null, // matched to ours through the stored backend id
    title: i.name,
    severity: i.severity ? severityFromRank(i.severity.rank, ranks) : null,
    status,
    services: [],
    origin: i.creator?.alert ? 'alert' : 'backend',
    url: i.permalink ?? null,
    startedAt: stamp(/impact start|reported/i) ?? created,
    acknowledgedAt: stamp(/acknowledg|accepted/i),
    mitigatedAt: stamp(/mitigat|fixed|stabili/i),
    resolvedAt: status === 'resolved' ? (stamp(/resolved|closed/i) ?? date(i.updated_at)) : null,
    postmortem,
    updatedAt: date(i.updated_at) ?? created,
  };
}
