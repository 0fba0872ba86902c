import { z } from 'zod';
import type { IncidentStatus } from '../../../domain/incident.js';
import type { BackendIncidentRecord, InsightOrigin, PostmortemState } from '../../../domain/insights.js';

/**
 * Rootly's incident list read as history for insights (rootly-openapi.json `incident`).
 *
 * Paging: keyset on `updated_at`. Each page asks `filter[updated_at][gte]=<cursor time>&sort=updated_at`
 * from `page[number]=1`; the next cursor is the newest `updated_at` of the page. An incident updated
 * while the sync runs moves to the end of the order and is read again later, never skipped (a plain
 * page-number walk would skip one incident each time an earlier one moved). Incidents sharing the
 * cursor time are read again (the store's upsert makes that harmless); a page whose incidents all
 * share one time advances `page[number]` instead, so the walk always moves.
 */

const ts = z.string().nullish();
export const historyIncident = z.looseObject({
  id: z.string(),
  type: z.literal('incidents'),
  attributes: z.looseObject({
    title: z.string().nullish(),
    kind: z.string().nullish(),
    status: z.string().nullish(),
    source: z.string().nullish(),
    url: z.string().nullish(),
    labels: z.record(z.string(), z.unknown()).nullish(),
    severity: z
      .looseObject({ data: z.looseObject({ attributes: z.looseObject({ severity: z.enum(['critical', 'high', 'medium', 'low']).nullish() }) }).nullish() })
      .nullish(),
    services: z.array(z.looseObject({ data: z.looseObject({ attributes: z.looseObject({ name: z.string() }) }) })).nullish(),
    retrospective_progress_status: z.string().nullish(),
    created_at: z.string(),
    updated_at: z.string(),
    started_at: ts,
    acknowledged_at: ts,
    mitigated_at: ts,
    resolved_at: ts,
    closed_at: ts,
  }),
});
export const historyPage = z.looseObject({ data: z.array(historyIncident), links: z.looseObject({ next: z.string().nullish() }).optional() });

export const historyCursor = z.object({ since: z.string(), page: z.number().int().min(1) });
export type HistoryCursor = z.infer<typeof historyCursor>;

/** Kinds that are not real incidents (drills, examples, maintenance windows) are left out. */
const SKIPPED_KINDS = new Set(['test', 'test_sub', 'example', 'example_sub', 'scheduled', 'scheduled_sub']);
const ALERT_SOURCES = /alert|pagerduty|opsgenie|datadog|grafana|victorops|webhook/i;

export function toStatus(status: string | null | undefined): IncidentStatus {
  switch (status) {
    case 'mitigated':
      return 'mitigated';
    case 'resolved':
    case 'closed':
      return 'resolved';
    case 'cancelled':
      return 'cancelled';
    default:
      return 'investigating'; // in_triage, started, detected, acknowledged
  }
}

function postmortem(progress: string | null | undefined): PostmortemState {
  if (progress === 'completed') return 'completed';
  if (progress === 'active') return 'draft';
  return 'none'; // not_started, skipped, none
}

const date = (s: string | null | undefined): Date | null => {
  if (!s) return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : new Date(t);
};

/** One incident as a history record; null for kinds that are not incidents. */
export function toHistoryRecord(i: z.infer<typeof historyIncident>): BackendIncidentRecord | null {
  const a = i.attributes;
  if (a.kind && SKIPPED_KINDS.has(a.kind)) return null;
  const firebreakId = typeof a.labels?.firebreak_id === 'string' ? a.labels.firebreak_id : null;
  const origin: InsightOrigin = firebreakId ? 'slack' : a.source && ALERT_SOURCES.test(a.source) ? 'alert' : 'backend';
  const created = date(a.created_at) ?? new Date(0);
  return {
    backendId: i.id,
    firebreakId,
    title: a.title ?? `Rootly incident ${i.id}`,
    severity: a.severity?.data?.attributes.severity ?? null,
    status: toStatus(a.status),
    services: (a.services ?? []).map((s) => s.data.attributes.name),
    origin,
    url: a.url ?? null,
    startedAt: date(a.started_at) ?? created,
    acknowledgedAt: date(a.acknowledged_at),
    mitigatedAt: date(a.mitigated_at),
    resolvedAt: date(a.resolved_at) ?? date(a.closed_at),
    postmortem: postmortem(a.retrospective_progress_status),
    updatedAt: date(a.updated_at) ?? created,
  };
}

/** The cursor after a page: null when the page was the last one. */
export function nextHistoryCursor(cur: HistoryCursor, page: z.infer<typeof historyIncident>[], pageSize: number): HistoryCursor | null {
  if (page.length < pageSize) return null;
  const newest = page[page.length - 1]!.attributes.updated_at;
  if (Date.parse(newest) > Date.parse(cur.since)) return { since: newest, page: 1 };
  return { since: cur.since, page: cur.page + 1 };
}
