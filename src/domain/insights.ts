import type { IncidentStatus } from './incident.js';
import { SEVERITIES, type Severity } from './severity.js';

/**
 * The four figures a team reviews weekly, defined once over plain records (docs/insights.md is the
 * prose version of this file). Pure: no I/O, no clock; every caller passes the period.
 *
 * - MTTA: start → first acknowledgement (the backend's `acknowledged_at`, else the earlier of the
 *   first commander assignment and the first human entry in the incident's timeline).
 * - MTTR: start → resolved (the final resolution: a reopened incident counts once, to its last
 *   resolve; one reopened and still open is not resolved). MTTM: start → first mitigation.
 * - False-positive remediation rate: executed remediations answered "not needed" ÷ executed remediations.
 * - Post-mortem completion: resolved incidents whose post-mortem is published/completed ÷ resolved
 *   incidents whose backend tracks post-mortem state.
 * Each duration is reported as mean, median and p90 (linear interpolation between closest ranks).
 */

export type InsightOrigin = 'slack' | 'alert' | 'backend' | 'agent';
export const ORIGINS: readonly InsightOrigin[] = ['slack', 'alert', 'backend', 'agent'];

/** null = the backend keeps no post-mortem state (the local backend): excluded from the rate. */
export type PostmortemState = 'none' | 'draft' | 'completed';

/** One incident as the figures see it, whatever its source (the store, Rootly, incident.io). */
export interface IncidentFacts {
  key: string;
  title: string;
  severity: Severity;
  services: string[];
  origin: InsightOrigin;
  status: IncidentStatus;
  startedAt: Date;
  acknowledgedAt: Date | null;
  mitigatedAt: Date | null;
  resolvedAt: Date | null;
  /** How many times it was reopened after a resolve. */
  reopened: number;
  postmortem: PostmortemState | null;
  /** Executed remediations (approved or automatic actions that ran) and those answered "not needed". */
  remediations: { executed: number; notNeeded: number };
  /** A runbook ran for it, or an automated or approved remediation did (vs handled by hand). */
  runbook: boolean;
}

/** Acknowledgement as defined above; never before the start (clock skew between systems). */
export function acknowledgement(input: {
  startedAt: Date;
  backendAcknowledgedAt: Date | null;
  firstCommanderAt: Date | null;
  firstHumanEntryAt: Date | null;
}): Date | null {
  const pick = input.backendAcknowledgedAt ?? minDate(input.firstCommanderAt, input.firstHumanEntryAt);
  if (!pick) return null;
  return pick.getTime() < input.startedAt.getTime() ? input.startedAt : pick;
}

function minDate(a: Date | null, b: Date | null): Date | null {
  if (!a) return b;
  if (!b) return a;
  return a.getTime() <= b.getTime() ? a : b;
}

export interface Summary {
  n: number;
  meanMs: number;
  medianMs: number;
  p90Ms: number;
}

/** Percentile by linear interpolation between closest ranks (numpy's default). `sorted` ascending. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of nothing');
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

export function summarize(values: readonly number[]): Summary | null {
  if (values.length === 0) return null;
  // A typed array sorts numerically without a comparator call per comparison: the figures over
  // 10,000 incidents sort a dozen lists of up to 10,000 durations each.
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return { n: sorted.length, meanMs: sum / sorted.length, medianMs: percentile(sorted, 50), p90Ms: percentile(sorted, 90) };
}

const span = (from: Date, to: Date | null): number | null => (to ? Math.max(0, to.getTime() - from.getTime()) : null);

export const ttaMs = (f: IncidentFacts): number | null => span(f.startedAt, f.acknowledgedAt);
/** Only incidents that are resolved now: a reopened, open incident has no resolution time. */
export const ttrMs = (f: IncidentFacts): number | null => (f.status === 'resolved' ? span(f.startedAt, f.resolvedAt) : null);
export const ttmMs = (f: IncidentFacts): number | null => span(f.startedAt, f.mitigatedAt ?? (f.status === 'resolved' ? f.resolvedAt : null));

export interface Ratio {
  numerator: number;
  denominator: number;
  rate: number;
}

export interface Figures {
  incidents: number;
  mtta: Summary | null;
  mttr: Summary | null;
  mttm: Summary | null;
  /** null when nothing was executed. */
  falsePositive: Ratio | null;
  /** null when no resolved incident has a known post-mortem state. */
  postmortem: Ratio | null;
}

const ratio = (numerator: number, denominator: number): Ratio | null => (denominator > 0 ? { numerator, denominator, rate: numerator / denominator } : null);
const defined = (xs: (number | null)[]): number[] => xs.filter((x): x is number => x !== null);

export function computeFigures(incidents: readonly IncidentFacts[]): Figures {
  // One pass over the incidents (cancelled ones are not incidents to count).
  let real = 0;
  let executed = 0;
  let notNeeded = 0;
  let resolvedKnown = 0;
  let completed = 0;
  const tta: number[] = [];
  const ttr: number[] = [];
  const ttm: number[] = [];
  for (const f of incidents) {
    if (f.status === 'cancelled') continue;
    real++;
    executed += f.remediations.executed;
    notNeeded += f.remediations.notNeeded;
    if (f.status === 'resolved' && f.postmortem !== null) {
      resolvedKnown++;
      if (f.postmortem === 'completed') completed++;
    }
    const a = ttaMs(f);
    if (a !== null) tta.push(a);
    const r = ttrMs(f);
    if (r !== null) ttr.push(r);
    const m = ttmMs(f);
    if (m !== null) ttm.push(m);
  }
  return {
    incidents: real,
    mtta: summarize(tta),
    mttr: summarize(ttr),
    mttm: summarize(ttm),
    falsePositive: ratio(notNeeded, executed),
    postmortem: ratio(completed, resolvedKnown),
  };
}

export interface FactsFilter {
  from: Date;
  to: Date;
  severity?: Severity | null;
  /** Case-insensitive service name. */
  service?: string | null;
  origin?: InsightOrigin | null;
  runbook?: boolean | null;
}

/** Incidents started in [from, to) matching every given filter. */
export function filterFacts(incidents: readonly IncidentFacts[], f: FactsFilter): IncidentFacts[] {
  const service = f.service?.toLowerCase() ?? null;
  return incidents.filter(
    (i) =>
      i.startedAt.getTime() >= f.from.getTime() &&
      i.startedAt.getTime() < f.to.getTime() &&
      (!f.severity || i.severity === f.severity) &&
      (!service || i.services.some((s) => s.toLowerCase() === service)) &&
      (!f.origin || i.origin === f.origin) &&
      (f.runbook === undefined || f.runbook === null || i.runbook === f.runbook),
  );
}

export type SliceBy = 'severity' | 'service' | 'origin' | 'runbook';

/** Figures per value of one dimension; an incident with several services counts under each. */
export function sliceFigures(incidents: readonly IncidentFacts[], by: SliceBy): Map<string, Figures> {
  const groups = new Map<string, IncidentFacts[]>();
  const add = (k: string, f: IncidentFacts) => (groups.get(k) ?? groups.set(k, []).get(k)!).push(f);
  for (const f of incidents) {
    if (by === 'severity') add(f.severity, f);
    else if (by === 'origin') add(f.origin, f);
    else if (by === 'runbook') add(f.runbook ? 'runbook' : 'none', f);
    else for (const s of f.services.length ? f.services : ['(none)']) add(s, f);
  }
  return new Map([...groups].map(([k, v]) => [k, computeFigures(v)]));
}

/** A period such as `7d`, `30d`, `90d` in days; null for anything else. */
export function parsePeriodDays(input: string): number | null {
  const m = /^(\d{1,3})d$/i.exec(input.trim());
  if (!m) return null;
  const days = Number(m[1]);
  return days >= 1 && days <= 365 ? days : null;
}

const DAY = 86_400_000;
const WEEK = 7 * DAY;

/** Monday 00:00 UTC of the ISO week holding `d`. */
export function weekStart(d: Date): Date {
  const day = Math.floor(d.getTime() / DAY);
  // 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays.
  return new Date((day - ((day + 3) % 7)) * DAY);
}

/** ISO 8601 week label, e.g. `2026-W49` (the weekly digest's job key). */
export function isoWeek(d: Date): string {
  const monday = weekStart(d);
  const thursday = new Date(monday.getTime() + 3 * DAY);
  const year = thursday.getUTCFullYear();
  const jan4 = Date.UTC(year, 0, 4);
  const firstMonday = weekStart(new Date(jan4));
  const week = Math.round((monday.getTime() - firstMonday.getTime()) / WEEK) + 1;
  return `${year}-W${String(week).padStart(2, '0')}`;
}

export interface WeekPoint {
  weekStart: Date;
  bySeverity: Record<Severity, number>;
  mtta: Summary | null;
  mttr: Summary | null;
}

/** One point per ISO week overlapping [from, to), oldest first, for the trend chart. */
export function weeklyTrend(incidents: readonly IncidentFacts[], from: Date, to: Date): WeekPoint[] {
  const points: WeekPoint[] = [];
  for (let w = weekStart(from).getTime(); w < to.getTime(); w += WEEK) {
    const inWeek = incidents.filter(
      (f) => f.startedAt.getTime() >= Math.max(w, from.getTime()) && f.startedAt.getTime() < Math.min(w + WEEK, to.getTime()) && f.status !== 'cancelled',
    );
    const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, inWeek.filter((f) => f.severity === s).length])) as Record<Severity, number>;
    points.push({ weekStart: new Date(w), bySeverity, mtta: summarize(defined(inWeek.map(ttaMs))), mttr: summarize(defined(inWeek.map(ttrMs))) });
  }
  return points;
}

/** Human duration: `42s`, `12m`, `3h 05m`, `2d 4h`. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** Relative change from `before` to `now` (e.g. -0.25 = 25% lower); null when there is no base. */
export function change(now: number | null | undefined, before: number | null | undefined): number | null {
  if (now === null || now === undefined || before === null || before === undefined || before === 0) return null;
  return (now - before) / before;
}

/** An incident as the backend's history reports it (Rootly, incident.io), for the sync. */
export interface BackendIncidentRecord {
  backendId: string;
  /** Our incident id when Firebreak declared it (Rootly label / incident.io reference); else null. */
  firebreakId: string | null;
  title: string;
  severity: Severity | null;
  status: IncidentStatus;
  services: string[];
  /** `slack` when Firebreak declared it, `alert` when an alert created it, else `backend` (its UI). */
  origin: InsightOrigin;
  url: string | null;
  startedAt: Date;
  acknowledgedAt: Date | null;
  mitigatedAt: Date | null;
  resolvedAt: Date | null;
  postmortem: PostmortemState;
  updatedAt: Date;
}
