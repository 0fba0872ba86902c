import { hash } from 'node:crypto';
import { z } from 'zod';
import { parseSeverity, type Severity } from './severity.js';

/**
 * Alerts from monitoring tools, normalised to one shape. Pure: no I/O, no clock. The routes in
 * src/webhooks verify and parse; src/services/alerts.ts decides what an alert does.
 * The per-source mappings below are documented for users in docs/alerts.md: keep both in step.
 */
export const ALERT_SOURCES = ['pagerduty', 'datadog', 'alertmanager', 'generic'] as const;
export type AlertSource = (typeof ALERT_SOURCES)[number];

export interface NormalisedAlert {
  source: AlertSource;
  title: string;
  service: string | null;
  severity: Severity;
  status: 'firing' | 'resolved';
  /** The source's id for the thing that fired (PagerDuty incident id, Datadog alert id, ...). */
  externalId: string | null;
  /** The source's own notion of "the same alert again", when it has one. */
  dedupKey: string | null;
  url: string | null;
  raw: unknown;
}

/** What one webhook delivery carries: zero or more alerts, and the delivery's id for replay protection. */
export type ParsedDelivery = { ok: true; deliveryId: string | null; alerts: NormalisedAlert[]; ignored?: string } | { ok: false; reason: string };

// -- severity from priorities ----------------------------------------------------------------

/** P1→critical, P2→high, P3→medium, P4/P5→low (PagerDuty priorities, Datadog $ALERT_PRIORITY). */
export function severityFromPriority(p: string | null | undefined): Severity | null {
  const m = /^p([1-5])$/i.exec((p ?? '').trim());
  if (!m) return null;
  return (['critical', 'high', 'medium', 'low', 'low'] as const)[Number(m[1]) - 1]!;
}

// -- PagerDuty V3 ------------------------------------------------------------------------------

const PagerDutySchema = z.object({
  event: z.object({
    id: z.string().min(1),
    event_type: z.string().min(1),
    resource_type: z.string().optional(),
    data: z.looseObject({
      id: z.string().min(1),
      title: z.string().optional(),
      summary: z.string().optional(),
      html_url: z.string().nullish(),
      status: z.string().optional(),
      urgency: z.enum(['high', 'low']).nullish(),
      priority: z.object({ summary: z.string().nullish() }).loose().nullish(),
      service: z.object({ id: z.string().optional(), summary: z.string().nullish() }).loose().nullish(),
      incident_key: z.string().nullish(),
    }),
  }),
});

/** Event types that say something fires; resolved says it stopped. Others (acknowledged, annotated...) carry no alert. */
const PD_FIRING = new Set(['incident.triggered', 'incident.reopened']);
const PD_RESOLVED = new Set(['incident.resolved']);

export function parsePagerDuty(body: unknown): ParsedDelivery {
  const p = PagerDutySchema.safeParse(body);
  if (!p.success) return { ok: false, reason: `not a PagerDuty V3 incident webhook: ${issues(p.error)}` };
  const { event } = p.data;
  const d = event.data;
  const status = PD_FIRING.has(event.event_type) ? 'firing' : PD_RESOLVED.has(event.event_type) ? 'resolved' : null;
  // PagerDuty retries any non-2xx: an event type we do not act on is acknowledged, not refused.
  if (!status || (event.resource_type && event.resource_type !== 'incident'))
    return { ok: true, deliveryId: event.id, alerts: [], ignored: `event type ${event.event_type} carries no alert` };
  const severity = severityFromPriority(d.priority?.summary) ?? (d.urgency === 'low' ? 'low' : 'high');
  const title = (d.title ?? d.summary ?? '').trim();
  if (!title) return { ok: false, reason: 'PagerDuty incident has no title' };
  return {
    ok: true,
    deliveryId: event.id,
    alerts: [
      {
        source: 'pagerduty',
        title,
        service: d.service?.summary?.trim() || null,
        severity,
        status,
        externalId: d.id,
        dedupKey: d.incident_key?.trim() || d.id,
        url: d.html_url ?? null,
        raw: body,
      },
    ],
  };
}

/** What a PagerDuty `incident.acknowledged` webhook says: which incident (its key), who, when. */
export interface PagerDutyAck {
  deliveryId: string;
  /** The incident's `incident_key`: the `dedup_key` the page was sent with. */
  incidentKey: string;
  /** The PagerDuty service's name (the paged target, when several share the key). */
  service: string | null;
  /** The acknowledging person's name (`agent.summary`). */
  agent: string | null;
  /** When it was acknowledged (`occurred_at`); null when absent. */
  at: string | null;
}

const PagerDutyAckSchema = z.object({
  event: z.object({
    id: z.string().min(1),
    event_type: z.literal('incident.acknowledged'),
    occurred_at: z.string().optional(),
    agent: z.looseObject({ summary: z.string().nullish(), type: z.string().optional() }).nullish(),
    data: z.looseObject({ incident_key: z.string().min(1), service: z.object({ summary: z.string().nullish() }).loose().nullish() }),
  }),
});

/** An `incident.acknowledged` delivery with an incident key, or null for anything else. */
export function parsePagerDutyAck(body: unknown): PagerDutyAck | null {
  const p = PagerDutyAckSchema.safeParse(body);
  if (!p.success) return null;
  const e = p.data.event;
  const at = e.occurred_at && !Number.isNaN(Date.parse(e.occurred_at)) ? new Date(e.occurred_at).toISOString() : null;
  return { deliveryId: e.id, incidentKey: e.data.incident_key, service: e.data.service?.summary ?? null, agent: e.agent?.summary ?? null, at };
}

// -- Datadog -----------------------------------------------------------------------------------

/** An unsubstituted `$VARIABLE` (a template field Datadog had no value for) counts as absent. */
const ddString = z
  .union([z.string(), z.number()])
  .nullish()
  .transform((v) => {
    const s = v === null || v === undefined ? '' : String(v).trim();
    return s === '' || /^\$[A-Z_]+$/.test(s) ? null : s;
  });

const DatadogSchema = z.looseObject({
  id: ddString,
  title: ddString,
  body: ddString,
  transition: ddString,
  priority: ddString,
  alert_id: ddString,
  alert_cycle_key: ddString,
  aggregation_key: ddString,
  tags: z.union([z.string(), z.array(z.string())]).nullish(),
  link: ddString,
});

const DD_TRANSITIONS: Record<string, 'firing' | 'resolved'> = {
  triggered: 'firing',
  're-triggered': 'firing',
  warn: 'firing',
  'no data': 'firing',
  recovered: 'resolved',
};

export function parseDatadog(body: unknown): ParsedDelivery {
  const p = DatadogSchema.safeParse(body);
  if (!p.success) return { ok: false, reason: `not a Datadog webhook (see docs/alerts.md for the template): ${issues(p.error)}` };
  const d = p.data;
  if (!d.title) return { ok: false, reason: 'Datadog payload has no "title" ($EVENT_TITLE)' };
  if (!d.transition) return { ok: false, reason: 'Datadog payload has no "transition" ($ALERT_TRANSITION)' };
  const status = DD_TRANSITIONS[d.transition.toLowerCase()];
  if (!status) return { ok: false, reason: `unknown Datadog transition "${d.transition}" (expected Triggered, Re-Triggered, Warn, No Data or Recovered)` };
  const tags = parseTags(d.tags);
  const transition = d.transition.toLowerCase();
  // Without $ALERT_PRIORITY: a warning or a data gap is medium, a real trigger is high.
  const severity = severityFromPriority(d.priority) ?? (transition === 'warn' || transition === 'no data' ? 'medium' : 'high');
  return {
    ok: true,
    deliveryId: d.id,
    alerts: [
      {
        source: 'datadog',
        // Datadog prefixes titles with the transition ("[Triggered] ...", "[P1] [Recovered on {host:a}] ..."):
        // strip it, or the resolved alert would not match the firing one.
        title: d.title.replace(/^(\s*\[[^\]]*\]\s*)+/, '').trim() || d.title,
        service: tags.service ?? null,
        severity,
        status,
        externalId: d.alert_id,
        dedupKey: d.alert_cycle_key,
        url: d.link,
        raw: body,
      },
    ],
  };
}

function parseTags(tags: string | string[] | null | undefined): Record<string, string> {
  const list = Array.isArray(tags) ? tags : (tags ?? '').split(',');
  const out: Record<string, string> = {};
  for (const t of list) {
    const i = t.indexOf(':');
    if (i <= 0) continue;
    const k = t.slice(0, i).trim();
    if (!(k in out)) out[k] = t.slice(i + 1).trim();
  }
  return out;
}

// -- Alertmanager v4 --------------------------------------------------------------------------

const AlertmanagerSchema = z.looseObject({
  version: z.literal('4', { message: 'expected Alertmanager webhook version "4"' }),
  status: z.enum(['firing', 'resolved']).optional(),
  externalURL: z.string().optional(),
  commonLabels: z.record(z.string(), z.string()).optional(),
  commonAnnotations: z.record(z.string(), z.string()).optional(),
  alerts: z
    .array(
      z.looseObject({
        status: z.enum(['firing', 'resolved']),
        labels: z.record(z.string(), z.string()),
        annotations: z.record(z.string(), z.string()).default({}),
        generatorURL: z.string().optional(),
        fingerprint: z.string().optional(),
      }),
    )
    .min(1, 'alerts[] is empty'),
});

/** labels.severity → ours. Anything else (or none) is medium: a page with no label is not ignored. */
const AM_SEVERITY: Record<string, Severity> = {
  critical: 'critical',
  page: 'critical',
  high: 'high',
  error: 'high',
  warning: 'medium',
  warn: 'medium',
  medium: 'medium',
  info: 'low',
  low: 'low',
  none: 'low',
};

export function parseAlertmanager(body: unknown): ParsedDelivery {
  const p = AlertmanagerSchema.safeParse(body);
  if (!p.success) return { ok: false, reason: `not an Alertmanager v4 webhook: ${issues(p.error)}` };
  const alerts: NormalisedAlert[] = [];
  for (const [i, a] of p.data.alerts.entries()) {
    const title = (a.annotations.summary ?? a.labels.alertname ?? '').trim();
    if (!title) return { ok: false, reason: `alerts[${i}] has neither annotations.summary nor labels.alertname` };
    alerts.push({
      source: 'alertmanager',
      title,
      service: a.labels.service?.trim() || a.labels.job?.trim() || null,
      severity: AM_SEVERITY[(a.labels.severity ?? '').toLowerCase()] ?? 'medium',
      status: a.status,
      externalId: a.fingerprint ?? null,
      dedupKey: a.fingerprint?.trim() || null,
      url: a.generatorURL || p.data.externalURL || null,
      raw: a,
    });
  }
  // Alertmanager has no delivery id: the same group is legitimately re-sent every repeat_interval.
  return { ok: true, deliveryId: null, alerts };
}

// -- generic -----------------------------------------------------------------------------------

/** Severity words accepted on the generic endpoint: ours, sev1..sev4, P1..P5. */
const GenericSeverity = z.string().transform((s, ctx) => {
  const sev = parseSeverity(s) ?? severityFromPriority(s);
  if (!sev) {
    ctx.addIssue({ code: 'custom', message: `unknown severity "${s}" (critical, high, medium, low, sev1..sev4 or P1..P5)` });
    return z.NEVER;
  }
  return sev;
});

export const GenericAlertSchema = z
  .object({
    title: z.string().trim().min(1).max(500),
    service: z.string().trim().min(1).max(200).nullish(),
    severity: GenericSeverity,
    status: z.enum(['firing', 'resolved']).default('firing'),
    external_id: z.string().trim().min(1).max(500).nullish(),
    url: z.url().nullish(),
    dedup_key: z.string().trim().min(1).max(500).nullish(),
    details: z.record(z.string(), z.unknown()).nullish(),
  })
  .strict();

export function parseGeneric(body: unknown): ParsedDelivery {
  const p = GenericAlertSchema.safeParse(body);
  if (!p.success) return { ok: false, reason: `not a Firebreak generic alert (see docs/alerts.md): ${issues(p.error)}` };
  const g = p.data;
  return {
    ok: true,
    deliveryId: null, // the route uses the request signature: a byte-identical replay reuses it
    alerts: [
      {
        source: 'generic',
        title: g.title,
        service: g.service ?? null,
        severity: g.severity,
        status: g.status,
        externalId: g.external_id ?? null,
        dedupKey: g.dedup_key ?? null,
        url: g.url ?? null,
        raw: body,
      },
    ],
  };
}

export function parseAlertPayload(source: AlertSource, body: unknown): ParsedDelivery {
  switch (source) {
    case 'pagerduty':
      return parsePagerDuty(body);
    case 'datadog':
      return parseDatadog(body);
    case 'alertmanager':
      return parseAlertmanager(body);
    case 'generic':
      return parseGeneric(body);
  }
}

// -- fingerprint -------------------------------------------------------------------------------

/**
 * Title normalised for de-duplication: lowercase; UUIDs, long hex ids, IP addresses and numbers
 * replaced by `#` (so "5xx rate 5.3% on pod-7f9c2" and "5xx rate 6.1% on pod-a81e0" stay one
 * alert), punctuation collapsed to single spaces.
 */
export function normaliseAlertTitle(title: string): string {
  return title
    .toLowerCase()
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '#')
    .replace(/\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b/g, '#')
    .replace(/\b(?=[0-9a-f]*\d)[0-9a-f]{5,}\b/g, '#') // hex ids; the digit lookahead spares words like "facade"
    .replace(/\d+([.,]\d+)*/g, '#')
    .replace(/[^a-z#]+/g, ' ')
    .replace(/(# ?)+/g, '# ')
    .trim();
}

/**
 * The alert's identity for de-duplication: sha256 of the source's own dedup key when it has one
 * (namespaced by source: two tools' keys never collide), else of the normalised title and
 * service. The title+service form is deliberately source-independent, so the same symptom from
 * the generic hook and Alertmanager lands in one incident.
 */
export function fingerprint(alert: Pick<NormalisedAlert, 'source' | 'title' | 'service' | 'dedupKey'>): string {
  const basis = alert.dedupKey
    ? `key\u0000${alert.source}\u0000${alert.dedupKey}`
    : `title\u0000${normaliseAlertTitle(alert.title)}\u0000${(alert.service ?? '').trim().toLowerCase()}`;
  return hash('sha256', basis, 'hex');
}

function issues(err: z.ZodError): string {
  return err.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}
