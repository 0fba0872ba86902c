import { isOpen, type Incident } from '../domain/incident.js';
import { atLeast } from '../domain/severity.js';
import { AppError } from '../errors.js';
import type { StoredAlert } from '../ports/store.js';
import { declareForEpisode, episodeKey, noteTarget } from './alerts.js';
import { declareIncident } from './declare.js';
import type { Deps } from './deps.js';
import { defineJob, PermanentJobError } from './jobs.js';
import { z } from 'zod';
import { refreshJob, showStormList, splitOutNote, type StormMember } from './incident-views.js';
import { namedIn, requireIncident } from './lifecycle.js';
import { step } from './steps.js';

/**
 * Alert storms: more alerts than Slack (or anyone) can turn into channels.
 *
 * Slack's `conversations.create` allows about 20 calls a minute, and nobody works in 500 channels.
 * So alerts may open at most `alerts.storm.max_new_incidents` incidents per `window_minutes`
 * (sliding). Above that, a new alert joins a *storm* incident (one per service, or one overall)
 * whose channel carries a list of its alerts, edited in place, with a **Split out** button on each.
 *
 * Every decision is durable and shared by all replicas:
 * - admission: `max_new_incidents` slot rows in the fingerprint table (`storm-slot:<i>`), each
 *   held by the episode that last used it; a slot is free when absent or older than the window.
 *   The claim is the store's atomic fingerprint claim, so two replicas never take one slot.
 * - where an episode went: a flow step (`placement`), first writer wins; an episode that got no
 *   slot names its storm incident there.
 * - which storm is current: the fingerprint row `storm:<group>` (claimed like any fingerprint), and
 *   the storm incident's dedupe key `storm:<group>:<episode>`; a closed storm starts a new one.
 * - split out: a job keyed by the episode; its incident is the episode's own dedupe key, so the
 *   fingerprint's next firings join it, and a second click finds it.
 */
const SLOT = (i: number) => `storm-slot:${i}`;
const stormFingerprint = (group: string) => `storm:${group}`;
const stormKey = (group: string, episode: string) => `storm:${group}:${episode}`;
const placementFlow = (fingerprint: string, episode: string) => `alert-placement:${fingerprint}:${episode}`;
const stormFlow = (stormId: string) => `storm:${stormId}`;

interface Placement {
  /** Null: the episode has an incident of its own. */
  storm: string | null;
}

/** Bring a storm's alert list up to date (one job per storm per update interval). */
export const stormListJob = defineJob({
  kind: 'alert.storm_list',
  payload: z.object({ incidentId: z.string().min(1) }),
  run: (deps, p) => updateStormList(deps, p.incidentId),
});

const SplitPayload = z.object({ alertId: z.string().min(1), stormId: z.string().min(1), episode: z.string().min(1), actor: z.string().min(1) });
type SplitPayload = z.output<typeof SplitPayload>;
/** Split one alert out of a storm into its own incident; keyed by the episode, so once however often clicked. */
export const stormSplitJob = defineJob({
  kind: 'alert.storm_split',
  payload: SplitPayload,
  run: (deps, p) => runSplitOut(deps, p),
});

export const stormJobs = [stormListJob, stormSplitJob];

/** The incident an episode's alerts go to: its own, or the storm it was placed in. Null while undecided. */
export async function episodeIncident(deps: Deps, fingerprint: string, episode: string): Promise<Incident | null> {
  const own = await deps.store.findIncidentByDedupeKey(episodeKey(fingerprint, episode));
  if (own) return own;
  const placed = await deps.store.getStep<Placement>(placementFlow(fingerprint, episode), 'placement');
  return placed?.storm ? deps.store.getIncident(placed.storm) : null;
}

/**
 * `episodeIncident` and `isStorm` for many episodes at once (a batch of alerts): a few reads in all
 * instead of three per fingerprint. By fingerprint; an episode still undecided maps to null.
 */
export async function episodeIncidents(
  deps: Deps,
  episodes: Array<{ fingerprint: string; episode: string }>,
): Promise<Map<string, { incident: Incident; storm: boolean } | null>> {
  const own = await deps.store.findIncidentsByDedupeKeys(episodes.map((e) => episodeKey(e.fingerprint, e.episode)));
  const rest = episodes.filter((e) => !own.has(episodeKey(e.fingerprint, e.episode)));
  const placed = await deps.store.getStepOfFlows<Placement>(
    rest.map((e) => placementFlow(e.fingerprint, e.episode)),
    'placement',
  );
  const storms = new Map<string, Incident | null>();
  for (const p of placed.values()) if (p.storm && !storms.has(p.storm)) storms.set(p.storm, await deps.store.getIncident(p.storm));
  const incidents = new Map<string, Incident | null>();
  for (const e of episodes) {
    const storm = placed.get(placementFlow(e.fingerprint, e.episode))?.storm;
    incidents.set(e.fingerprint, own.get(episodeKey(e.fingerprint, e.episode)) ?? (storm ? (storms.get(storm) ?? null) : null));
  }
  const ids = [...new Set([...incidents.values()].flatMap((i) => (i ? [i.id] : [])))];
  const metas = await deps.store.getStepOfFlows(ids.map(stormFlow), 'meta');
  return new Map([...incidents].map(([fp, i]) => [fp, i ? { incident: i, storm: metas.has(stormFlow(i.id)) } : null]));
}

/**
 * Decide once where a new episode goes and materialise that incident. Safe to run concurrently
 * (the claimer and an early joiner) and after a crash: both get the same answer.
 */
export async function placeEpisode(deps: Deps, alert: StoredAlert, episode: string): Promise<{ incident: Incident; storm: boolean }> {
  const placement = await step<Placement>(deps, placementFlow(alert.fingerprint, episode), 'placement', async () => {
    if (await admitNewIncident(deps, episode)) return { storm: null };
    return { storm: (await currentStorm(deps, alert)).id };
  });
  if (!placement.storm) return { incident: await declareForEpisode(deps, alert, episode), storm: false };
  const storm = await deps.store.getIncident(placement.storm);
  if (!storm) throw new Error(`storm incident ${placement.storm} not found`);
  return { incident: storm, storm: true };
}

/**
 * Which slot this process's next placement tries first: each placement starts one further, so
 * episodes placed together (a storm's first batch opens dozens at once) try different slots instead
 * of all racing for slot 0, then slot 1, and so on (each lost race is a claim statement and a read).
 */
let firstSlot = 0;

/** Take one of the window's slots for `holder` (an episode); false when all are in use. */
async function admitNewIncident(deps: Deps, holder: string): Promise<boolean> {
  const { max_new_incidents: max, window_minutes } = deps.config.file.alerts.storm;
  if (max <= 0) return true;
  const now = deps.clock.now();
  const windowMs = window_minutes * 60_000;
  const slots = Array.from({ length: max }, (_, i) => SLOT(i));
  const start = firstSlot++ % max;
  firstSlot %= max;
  const tried = new Set<number>();
  // Every slot read in one statement, not one per slot (ten reads per episode placed in a storm);
  // taking one is still the atomic claim, which fails if another episode took it since this read.
  for (;;) {
    const rows = new Map((await deps.store.getFingerprints(slots)).map((r) => [r.fingerprint, r]));
    if ([...rows.values()].some((r) => r.incidentId === holder)) return true; // a resumed or concurrent placement of the same episode
    let free: number | null = null;
    for (let k = 0; k < max && free === null; k++) {
      const i = (start + k) % max;
      const row = rows.get(SLOT(i));
      if (!tried.has(i) && !(row && now.getTime() - row.firstSeen.getTime() < windowMs)) free = i;
    }
    if (free === null) return false;
    tried.add(free);
    const row = rows.get(SLOT(free));
    if (await deps.store.claimFingerprint(SLOT(free), holder, now, { incidentIdIn: row ? [row.incidentId] : null })) return true;
    // Taken since the read: episodes placed together may have taken others too, so the slots are
    // read again (one statement) rather than each claimed in turn (two each).
  }
}

function stormGroup(deps: Deps, alert: StoredAlert): string {
  return deps.config.file.alerts.storm.group_by === 'service' && alert.service ? `service:${alert.service.trim().toLowerCase()}` : 'all';
}

/** The open storm incident of this alert's group, created when there is none. */
async function currentStorm(deps: Deps, alert: StoredAlert): Promise<Incident> {
  const group = stormGroup(deps, alert);
  const fp = stormFingerprint(group);
  for (let round = 0; round < 8; round++) {
    const row = await deps.store.getFingerprint(fp);
    if (!row) {
      if (await deps.store.claimFingerprint(fp, alert.id, alert.receivedAt, { incidentIdIn: null })) return declareStorm(deps, alert, group, alert.id);
      continue;
    }
    const existing = await deps.store.findIncidentByDedupeKey(stormKey(group, row.incidentId));
    if (existing && !isOpen(existing.status)) {
      if (await deps.store.claimFingerprint(fp, alert.id, alert.receivedAt, { incidentIdIn: [row.incidentId] }))
        return declareStorm(deps, alert, group, alert.id);
      continue;
    }
    // The claimer may not have created it yet: materialising it here is safe (same dedupe key).
    return existing ?? declareStorm(deps, alert, group, row.incidentId);
  }
  throw new Error(`storm ${group} kept changing hands; retrying`);
}

async function declareStorm(deps: Deps, alert: StoredAlert, group: string, episode: string): Promise<Incident> {
  const { max_new_incidents: max, window_minutes: minutes } = deps.config.file.alerts.storm;
  const service = group === 'all' ? null : alert.service;
  const { incident, created } = await declareIncident(deps, {
    title: service ? `[STORM] Alerts on ${service}` : '[STORM] Alert storm',
    severity: alert.severity,
    description:
      `Alerts opened ${max} incident${max === 1 ? '' : 's'} within ${minutes} minute${minutes === 1 ? '' : 's'}, so new alerts${service ? ` on ${service}` : ''} are collected here ` +
      'instead of each opening an incident and a channel of its own. The list below grows as they arrive; *Split out* gives one its own incident.',
    services: service ? [service] : [],
    private: false,
    commanderId: null,
    declaredBy: null,
    origin: 'alert',
    source: alert.source,
    dedupeKey: stormKey(group, episode),
    channel: 'auto',
  });
  if (created) {
    await deps.store.putStep(stormFlow(incident.id), 'meta', { group });
    deps.logger.warn({ incidentId: incident.id, group }, `alert storm: more than ${max} incidents from alerts in ${minutes} min; grouping new alerts`);
  }
  return incident;
}

/** Bring the storm's list up to date once the current update interval ends (one job per interval). */
export async function scheduleStormList(deps: Deps, stormId: string): Promise<void> {
  const { payload, opts } = stormListTiming(deps, stormId);
  await deps.jobs.enqueue(stormListJob, payload, opts);
}

/** The storm list's update job as a row, for a caller that writes it in its own transaction. */
export const stormListRow = (deps: Deps, stormId: string) => {
  const { payload, opts } = stormListTiming(deps, stormId);
  return deps.jobs.row(stormListJob, payload, opts);
};

function stormListTiming(deps: Deps, stormId: string) {
  const everyMs = deps.config.file.alerts.storm.list_update_seconds * 1000;
  const now = deps.clock.now().getTime();
  const windowStart = Math.floor(now / everyMs) * everyMs;
  return { payload: { incidentId: stormId }, opts: { key: `${stormId}:${windowStart}`, delayMs: windowStart + everyMs - now } };
}

interface SplitRecord {
  incidentId: string;
  title: string;
  service: string | null;
  source: string;
  firstSeen: string;
  by: string;
}

/** The storm's members in arrival order (one per fingerprint), split-out ones included. */
async function stormMembers(deps: Deps, storm: Incident): Promise<{ members: StormMember[]; alerts: number; splitOut: number; channelPending: boolean }> {
  const alerts = (await deps.store.listAlerts({ incidentId: storm.id })).filter((a) => a.status === 'firing');
  const byFingerprint = new Map<string, StormMember>();
  for (const a of alerts) {
    if (!byFingerprint.has(a.fingerprint))
      byFingerprint.set(a.fingerprint, { alertId: a.id, title: a.title, service: a.service, source: a.source, firstSeen: a.receivedAt, splitOut: null });
  }
  const splits = (await deps.store.listSteps(stormFlow(storm.id))) as Record<string, unknown>;
  let splitOut = 0;
  let channelPending = false;
  for (const [name, value] of Object.entries(splits)) {
    if (!name.startsWith('split:')) continue;
    const r = value as SplitRecord & { alertId: string };
    const moved = await deps.store.getIncident(r.incidentId);
    splitOut++;
    // Its channel is on the way: list it once more when it exists, so the line links to it.
    if (moved && !moved.channelId && isOpen(moved.status) && atLeast(moved.severity, deps.config.file.announce.auto_channel_min_severity))
      channelPending = true;
    byFingerprint.set(name.slice('split:'.length), {
      alertId: r.alertId,
      title: r.title,
      service: r.service,
      source: r.source,
      firstSeen: new Date(r.firstSeen),
      splitOut: { channelId: moved?.channelId ?? null, label: moved ? `incident ${moved.seq}` : 'its own incident', by: r.by },
    });
  }
  const members = [...byFingerprint.values()].sort((a, b) => a.firstSeen.getTime() - b.firstSeen.getTime() || a.alertId.localeCompare(b.alertId));
  return { members, alerts: alerts.length, splitOut, channelPending };
}

/**
 * Collect the storm's members (one per fingerprint, split-out ones included) and show them as its
 * alert list (`showStormList` in incident-views: one edit per interval for the last page).
 */
export async function updateStormList(deps: Deps, stormId: string): Promise<void> {
  const storm = await deps.store.getIncident(stormId);
  if (!storm) return;
  const target = await listTarget(deps, storm);
  const { members, alerts, splitOut, channelPending } = await stormMembers(deps, storm);
  if (target) await showStormList(deps, storm.id, stormFlow(storm.id), target, { members, alerts, splitOut });
  // Alerts counted but not yet listed (still being processed): list them in the next interval.
  const current = await deps.store.getIncident(storm.id);
  if ((current && current.alertCount > alerts) || channelPending) await scheduleStormList(deps, storm.id);
  // The card and the announcement show the running count: refreshed at most once a minute.
  const now = deps.clock.now().getTime();
  const minute = Math.floor(now / 60_000) * 60_000;
  await deps.jobs.enqueue(refreshJob, { incidentId: storm.id }, { key: `storm:${storm.id}:${minute}`, delayMs: Math.min(minute + 60_000 - now, 5_000) });
}

/** The storm channel itself (top level), or the thread under the announcement when it has no channel. */
async function listTarget(deps: Deps, storm: Incident): Promise<{ channel: string; threadTs?: string } | null> {
  const t = await noteTarget(deps, storm);
  if (!t) return null;
  return t.channel === storm.channelId ? { channel: t.channel } : { channel: t.channel, threadTs: t.ts };
}

// -- split out ------------------------------------------------------------------------------------

/**
 * The Split out button: check who clicked, then hand the work to a job keyed by the episode, so
 * double clicks, several people and several replicas split an alert out once.
 */
export async function requestSplitOut(deps: Deps, alertId: string, actor: string): Promise<{ already: Incident | null }> {
  const alert = await deps.store.getAlert(alertId);
  if (!alert) throw new AppError('input.invalid', 'That alert is no longer on record.');
  const fp = await deps.store.getFingerprint(alert.fingerprint);
  if (!fp) throw new AppError('input.invalid', 'That alert is no longer on record.');
  const episode = fp.incidentId;
  const own = await deps.store.findIncidentByDedupeKey(episodeKey(alert.fingerprint, episode));
  if (own) return { already: own };
  const placed = await deps.store.getStep<Placement>(placementFlow(alert.fingerprint, episode), 'placement');
  if (!placed?.storm) throw new AppError('input.invalid', 'That alert is not part of a storm any more.');
  const storm = await requireIncident(deps, placed.storm);
  if (!isOpen(storm.status)) throw new AppError('incident.bad_transition', 'That storm is over; new firings of the alert will open an incident of their own.');
  if (!(await maySplitOut(deps, storm, actor))) {
    await deps.store.audit({ at: deps.clock.now(), incidentId: storm.id, actor, action: 'alert.split_refused', detail: { alertId } });
    throw new AppError(
      'role.not_allowed',
      'You may not split alerts out of this storm: only its commander, the people who may take command of alert incidents (`approvals.eligible_commanders`, else `responders`) and action approvers may. Nothing changed.',
    );
  }
  await deps.jobs.enqueue(stormSplitJob, { alertId, stormId: storm.id, episode, actor }, { key: `${alert.fingerprint}:${episode}` });
  return { already: null };
}

async function maySplitOut(deps: Deps, storm: Incident, actor: string): Promise<boolean> {
  const roles = await deps.store.getRoles(storm.id);
  if (roles.commander === actor) return true;
  const policies = deps.config.actions.filter((a) => a.requires_approval).map((a) => a.policy);
  if (
    await namedIn(
      deps,
      actor,
      policies.flatMap((p) => p.users),
      [...new Set(policies.flatMap((p) => p.usergroups))],
    )
  )
    return true;
  const eligible = deps.config.file.approvals.eligible_commanders ?? { users: deps.config.file.responders, usergroups: [] };
  return namedIn(deps, actor, eligible.users, eligible.usergroups);
}

async function runSplitOut(deps: Deps, p: SplitPayload): Promise<void> {
  const alert = await deps.store.getAlert(p.alertId);
  if (!alert) throw new PermanentJobError(`alert ${p.alertId} not found`);
  const storm = await deps.store.getIncident(p.stormId);
  if (!storm) throw new PermanentJobError(`storm ${p.stormId} not found`);
  const flow = stormFlow(storm.id);
  const incident = await declareForEpisode(deps, alert, p.episode);
  // Move this fingerprint's alerts (and their count) from the storm to the new incident.
  const moved = (await deps.store.listAlerts({ fingerprint: alert.fingerprint })).filter((a) => a.incidentId === storm.id && a.status === 'firing');
  const n = await step(deps, flow, `moved:${alert.fingerprint}`, async () => {
    for (const a of moved) await deps.store.markAlert(a.id, { state: 'processed', incidentId: incident.id, error: null });
    return moved.length;
  });
  await step(deps, flow, `count-new:${alert.fingerprint}`, async () => deps.store.bumpAlertCount(incident.id, n));
  await step(deps, flow, `count-storm:${alert.fingerprint}`, async () => deps.store.bumpAlertCount(storm.id, -n));
  const first = moved[0] ?? alert;
  const recorded = await deps.store.putStep<SplitRecord & { alertId: string }>(flow, `split:${alert.fingerprint}`, {
    alertId: first.id,
    incidentId: incident.id,
    title: first.title,
    service: first.service,
    source: first.source,
    firstSeen: first.receivedAt.toISOString(),
    by: p.actor,
  });
  await step(deps, flow, `audited:${alert.fingerprint}`, async () => {
    const at = deps.clock.now();
    await deps.store.audit({
      at,
      incidentId: storm.id,
      actor: recorded.by,
      action: 'alert.split_out',
      detail: { alertId: recorded.alertId, fingerprint: alert.fingerprint, to: incident.id, alerts: n },
    });
    await deps.store.addTimeline({
      incidentId: storm.id,
      at,
      kind: 'alert',
      text: splitOutNote(recorded.title, incident.seq),
      author: recorded.by,
      sourceRef: `split:${alert.fingerprint}`,
    });
    return true;
  });
  await deps.jobs.enqueue(stormListJob, { incidentId: storm.id }, { key: `${storm.id}:split:${alert.fingerprint}` });
}

/** Whether an incident is a storm (it collects alerts in a list rather than in "fired again" notes). */
export async function isStorm(deps: Deps, incident: Incident): Promise<boolean> {
  return (await deps.store.getStep(stormFlow(incident.id), 'meta')) !== undefined;
}
