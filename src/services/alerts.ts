import { isOpen, type Incident } from '../domain/incident.js';
import type { AlertFingerprint, NewAlert, StoredAlert } from '../ports/store.js';
import { declareFlowId, declareIncident } from './declare.js';
import type { Deps } from './deps.js';
import { defineJob, PermanentJobError } from './jobs.js';
import { z } from 'zod';
import { changeStatus } from './lifecycle.js';
import { firedAgainNote, incidentThread, postThreadNote, refreshIncidentViews, resolvedAtSourceNote } from './incident-views.js';
import { step } from './steps.js';
import { BackendError } from '../errors.js';
import { episodeIncident, episodeIncidents, isStorm, placeEpisode, scheduleStormList, stormJobs, stormListRow } from './storms.js';

/**
 * What a stored alert does: open an incident, join the open one, or note a resolution.
 *
 * The webhook route only stores the alert and enqueues `alert.process`; everything here runs from
 * the store, so a crash after the 202 loses nothing (the job is re-claimed when its lease expires).
 *
 * De-duplication across concurrent workers and replicas rests on two atomic store operations:
 * - `claimFingerprint` decides which alert starts an *episode* of a fingerprint. The episode id is
 *   the claiming alert's id, so a retried claim by the same alert is still the owner.
 * - the incident of an episode is created with `dedupeKey = alert:<fingerprint>:<episode>`, which
 *   the store makes idempotent: whoever materialises it first (the claimer, or a joiner that got
 *   there before it) creates it; everyone else gets the same row. Exactly one incident per episode.
 */
export const episodeKey = (fingerprint: string, episode: string) => `alert:${fingerprint}:${episode}`;

/**
 * Stored alerts to act on: one job per burst the webhook route stored together (`alertIds`, keyed
 * by the first), or one alert (`alertId`, keyed by the alert: a replay of a delivery whose alert
 * is still pending, and jobs of earlier versions).
 * One job per burst, not per alert: in a storm each job row is written, claimed and completed,
 * which on PostgreSQL was most of the database's work per alert. An id of a burst that names no
 * stored alert was a replay (its delivery was stored before, under another id): skipped.
 */
const ProcessPayload = z.union([z.object({ alertId: z.string().min(1) }), z.object({ alertIds: z.array(z.string().min(1)).min(1) })]);
type ProcessPayload = z.output<typeof ProcessPayload>;
const alertsOf = <J>(p: ProcessPayload, job: J) =>
  'alertId' in p ? [{ alertId: p.alertId, job, optional: false }] : p.alertIds.map((alertId) => ({ alertId, job, optional: true }));

export const alertProcessJob = defineJob({
  kind: 'alert.process',
  payload: ProcessPayload,
  // A burst's job is keyed by its first alert: a replay of that alert finds its job by the key.
  key: (p) => ('alertId' in p ? p.alertId : p.alertIds[0]!),
  // Alone (a retry, a job taken over): a burst goes through the same pass as a batch; what it
  // leaves undone fails the job, whose retry skips what is processed by then.
  run: async (deps, p, job) => {
    if ('alertId' in p) return processAlert(deps, p.alertId);
    const failed = await processAlerts(deps, alertsOf(p, job));
    if (failed.length) throw new Error(`processing failed for part of a burst of ${p.alertIds.length} alerts; retrying`);
  },
  // A storm's repeats are most of its alerts: applied together they cost a few statements per
  // fingerprint per batch instead of about a dozen per alert (see processAlerts). At most 20
  // bursts (each up to the intake's 500 alerts) in one pass.
  batch: {
    max: 20,
    gatherMs: 100,
    run: (deps, items) =>
      processAlerts(
        deps,
        items.flatMap((i) => alertsOf(i.payload, i.job)),
      ),
  },
});

const NotePayload = z.object({ incidentId: z.string().min(1), windowStart: z.number() });
/** The "fired again" note for one batch window of an incident. */
export const alertNoteJob = defineJob({
  kind: 'alert.note',
  payload: NotePayload,
  key: (p) => `${p.incidentId}:${p.windowStart}`,
  run: (deps, p) => postFiredAgainNote(deps, p),
});

const RecordPayload = z.object({
  alertId: z.string().min(1),
  incidentId: z.string().min(1),
  /** The episode (its first alert's id); older jobs may lack it. */
  episode: z.string().optional(),
});
/** One backend alert per episode, firing and resolved (see processFiring, processResolved). */
export const alertRecordJob = defineJob({
  kind: 'alert.record',
  payload: RecordPayload,
  run: (deps, p) => recordOnBackend(deps, p),
});

export const alertJobs = [alertProcessJob, alertNoteJob, alertRecordJob, ...stormJobs];

/**
 * The webhook side of alerts: store each delivery's alerts with their `alert.process` jobs, and
 * answer only once that is committed. Deliveries that arrive together (50 senders in flight, an
 * alert storm) share one transaction: one commit for the burst instead of two per alert, which on
 * SQLite and PostgreSQL alike is most of what accepting an alert costs (on PostgreSQL the burst is
 * one statement, one round trip: see the store). One transaction runs at a time; whatever arrives
 * meanwhile is the next batch, so bursts grow with the load (group commit) while a lone alert is
 * stored at once. Measured: two or three transactions in flight on PostgreSQL did not ingest
 * faster than one (same CPU per alert, smaller bursts), so one it is. A batch that fails is retried delivery by
 * delivery, so one bad delivery fails alone. Dedupe is the store's: (source, delivery id) once.
 */
export interface AlertIntake {
  accept(alerts: NewAlert[]): Promise<Array<{ alert: StoredAlert; inserted: boolean }>>;
}

export function createAlertIntake(deps: Deps, opts: { maxBatch?: number } = {}): AlertIntake {
  const maxBatch = opts.maxBatch ?? 500;
  type Pending = { alerts: NewAlert[]; resolve: (r: Array<{ alert: StoredAlert; inserted: boolean }>) => void; reject: (e: unknown) => void };
  const queue: Pending[] = [];
  let running = false;
  const jobs = {
    burst: (alerts: StoredAlert[]) => deps.jobs.row(alertProcessJob, { alertIds: alerts.map((a) => a.id) }),
    replay: (a: StoredAlert) => deps.jobs.row(alertProcessJob, { alertId: a.id }),
  };
  const commit = async (batch: Pending[]): Promise<void> => {
    try {
      const all = await deps.store.insertAlertsWithJobs(
        batch.flatMap((p) => p.alerts),
        jobs,
      );
      let i = 0;
      for (const p of batch) {
        p.resolve(all.slice(i, i + p.alerts.length));
        i += p.alerts.length;
      }
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
      for (const p of batch) await commit([p]);
    }
  };
  const drain = async (): Promise<void> => {
    running = true;
    try {
      while (queue.length) {
        const batch: Pending[] = [];
        let n = 0;
        while (queue.length && (n === 0 || n + queue[0]!.alerts.length <= maxBatch)) {
          const p = queue.shift()!;
          n += p.alerts.length;
          batch.push(p);
        }
        await commit(batch);
        deps.jobs.kick(alertProcessJob.kind);
      }
    } finally {
      running = false;
    }
  };
  return {
    accept(alerts) {
      return new Promise((resolve, reject) => {
        queue.push({ alerts, resolve, reject });
        // Gather what arrives in this turn of the event loop (or while a commit runs) into one batch.
        if (!running) {
          running = true;
          setImmediate(() => void drain());
        }
      });
    },
  };
}

export async function processAlert(deps: Deps, alertId: string): Promise<void> {
  const alert = await deps.store.getAlert(alertId);
  if (!alert) throw new PermanentJobError(`alert ${alertId} not found`);
  if (alert.state === 'processed') return;
  const incident = alert.status === 'firing' ? await processFiring(deps, alert) : await processResolved(deps, alert);
  await deps.store.markAlert(alert.id, { state: 'processed', incidentId: incident?.id ?? null, error: null });
}

/**
 * Many `alert.process` jobs at once (first attempts only: see JobDefinition.batch). Per
 * fingerprint, in arrival order: a run of firing repeats of an open episode is applied together
 * (`joinAlerts`: marked processed, counted once each, the fingerprint touched) with one note or
 * storm-list update scheduled for all of them; anything else (the alert that opens an episode, a
 * resolution, an episode that expired or closed) goes through `processAlert` as alone.
 * Fingerprints proceed concurrently, like jobs, and their final runs of repeats share one
 * transaction (one commit per batch). Returns the jobs that failed, to be retried one by one.
 * A crash mid-batch loses nothing and doubles nothing: each transaction is all or nothing and
 * skips alerts already processed, and a re-claimed job runs alone.
 */
export async function processAlerts<J extends { id: string }>(deps: Deps, items: Array<{ alertId: string; job: J; optional?: boolean }>): Promise<J[]> {
  const alerts = new Map((await deps.store.getAlerts(items.map((i) => i.alertId))).map((a) => [a.id, a]));
  const failed = new Set<J>();
  const groups = new Map<string, Array<{ alert: StoredAlert; job: J }>>();
  for (const { alertId, job, optional } of items) {
    const alert = alerts.get(alertId);
    // Missing: a burst's replay was never stored under this id (skipped); a job of one alert is
    // left to processAlert, which fails it for good with the reason.
    if (!alert) {
      if (!optional) failed.add(job);
    } else if (alert.state !== 'processed') {
      const group = groups.get(alert.fingerprint);
      if (group) group.push({ alert, job });
      else groups.set(alert.fingerprint, [{ alert, job }]);
    }
  }
  // What each group's first run is judged on, read for all groups at once (a few statements per
  // batch instead of three per fingerprint); later runs of a group, after an alert processed alone
  // changed things, read afresh.
  const known = await knownEpisodes(deps, [...groups.keys()]);
  /** Joins that end their group: applied together once every group is through. */
  const last: Array<Join<J>> = [];
  await Promise.all(
    [...groups.values()].map(async (group) => {
      group.sort((a, b) => a.alert.receivedAt.getTime() - b.alert.receivedAt.getTime() || (a.alert.id < b.alert.id ? -1 : 1));
      for (let i = 0; i < group.length; ) {
        let end = i;
        while (end < group.length && group[end]!.alert.status === 'firing') end++;
        const run = group.slice(i, end);
        try {
          // Only the group's first turn may use what was read up front.
          const first = known.get(group[0]!.alert.fingerprint);
          known.delete(group[0]!.alert.fingerprint);
          const join = run.length ? await joinable(deps, run, first) : null;
          if (join && end === group.length) last.push(join);
          else if (join) await applyJoins(deps, [join]);
          if (join) {
            i = end;
            continue;
          }
        } catch (err) {
          deps.logger.warn({ err, fingerprint: run[0]!.alert.fingerprint, alerts: run.length }, 'joining alert repeats failed; retrying them one by one');
          for (const g of run) failed.add(g.job);
          i = end;
          continue;
        }
        try {
          await processAlert(deps, group[i]!.alert.id);
        } catch (err) {
          deps.logger.warn({ err, alertId: group[i]!.alert.id }, 'alert processing failed in a batch; retrying it alone');
          failed.add(group[i]!.job);
        }
        i++;
      }
    }),
  );
  try {
    await applyJoins(deps, last);
  } catch (err) {
    deps.logger.warn({ err, joins: last.length }, 'joining alert repeats failed; retrying them one by one');
    for (const j of last) for (const g of j.run) failed.add(g.job);
  }
  return [...failed];
}

interface Join<J> {
  run: Array<{ alert: StoredAlert; job: J }>;
  incident: Incident;
  storm: boolean;
}

/**
 * Whether firing alerts of one fingerprint (oldest first) all are repeats of its open episode;
 * null when the episode is new, resumed, expired or closed, which `processFiring` decides alert by
 * alert. Every alert is within the window when the newest is, since last seen only moves forward.
 */
async function joinable<J>(deps: Deps, run: Array<{ alert: StoredAlert; job: J }>, known?: KnownEpisode): Promise<Join<J> | null> {
  const fingerprint = run[0]!.alert.fingerprint;
  const fp = known ? known.fp : await deps.store.getFingerprint(fingerprint);
  if (!fp || run.some((g) => g.alert.id === fp.incidentId)) return null;
  const newest = run[run.length - 1]!.alert.receivedAt;
  if (newest.getTime() - fp.lastSeen.getTime() > deps.config.file.alerts.dedupe_window_minutes * 60_000) return null;
  if (known) return known.episode && isOpen(known.episode.incident.status) ? { run, ...known.episode } : null;
  const incident = await episodeIncident(deps, fingerprint, fp.incidentId);
  if (!incident || !isOpen(incident.status)) return null;
  return { run, incident, storm: await isStorm(deps, incident) };
}

/** A fingerprint's row and its current episode's incident (null: undecided), as `joinable` reads them. */
interface KnownEpisode {
  fp: AlertFingerprint | null;
  episode: { incident: Incident; storm: boolean } | null;
}

async function knownEpisodes(deps: Deps, fingerprints: string[]): Promise<Map<string, KnownEpisode>> {
  const fps = await deps.store.getFingerprints(fingerprints);
  const episodes = await episodeIncidents(
    deps,
    fps.map((f) => ({ fingerprint: f.fingerprint, episode: f.incidentId })),
  );
  const byFp = new Map(fps.map((f) => [f.fingerprint, f]));
  return new Map(fingerprints.map((f) => [f, { fp: byFp.get(f) ?? null, episode: episodes.get(f) ?? null }]));
}

/**
 * Apply joins in one transaction, each with its incident's note (or storm list) job: written with
 * the count it reports, so a crash right after the commit cannot leave a count nobody is told of.
 */
async function applyJoins<J>(deps: Deps, joins: Array<Join<J>>): Promise<void> {
  if (joins.length === 0) return;
  await deps.store.joinAlerts(
    joins.map((j) => {
      const first = j.run[0]!.alert;
      const { payload, opts } = noteTiming(deps, j.incident, first);
      return {
        incidentId: j.incident.id,
        fingerprint: first.fingerprint,
        alertIds: j.run.map((g) => g.alert.id),
        lastSeen: j.run[j.run.length - 1]!.alert.receivedAt,
        job: j.storm ? stormListRow(deps, j.incident.id) : deps.jobs.row(alertNoteJob, payload, opts),
      };
    }),
  );
  // A note due now (batch_seconds 0) starts at once, as `enqueue` would have.
  deps.jobs.kick();
}

// -- firing ----------------------------------------------------------------------------------

async function processFiring(deps: Deps, alert: StoredAlert): Promise<Incident> {
  const windowMs = deps.config.file.alerts.dedupe_window_minutes * 60_000;
  // A lost claim race re-reads the row and decides again; a handful of rounds always settles it.
  for (let round = 0; round < 8; round++) {
    const fp = await deps.store.getFingerprint(alert.fingerprint);
    if (!fp) {
      if (await deps.store.claimFingerprint(alert.fingerprint, alert.id, alert.receivedAt, { incidentIdIn: null })) return openEpisode(deps, alert);
      continue;
    }
    if (fp.incidentId === alert.id) return openEpisode(deps, alert); // this alert's own claim, resumed after a crash
    const existing = await episodeIncident(deps, alert.fingerprint, fp.incidentId);
    // The window slides: it counts from the last time this fingerprint fired, so a storm that keeps
    // firing stays one incident. Out-of-order deliveries (older than lastSeen) never expire it.
    const expired = alert.receivedAt.getTime() - fp.lastSeen.getTime() > windowMs;
    const closed = existing !== null && !isOpen(existing.status);
    if (expired || closed) {
      if (await deps.store.claimFingerprint(alert.fingerprint, alert.id, alert.receivedAt, { incidentIdIn: [fp.incidentId] })) return openEpisode(deps, alert);
      continue; // another worker started the next episode first: join that one
    }
    // The claimer may not have placed the episode yet; placing it here is safe (same decision, same dedupe key).
    const { incident, storm } = existing ? { incident: existing, storm: await isStorm(deps, existing) } : await placeEpisode(deps, alert, fp.incidentId);
    // A repeat joins through the batch path's own transaction (counted, marked processed, the
    // fingerprint touched, the note or storm list scheduled), which takes the alert only while it
    // is pending. A worker that stalled past its lease and commits the same alert in a batch
    // therefore cannot count it a second time, whichever of the two commits first.
    await applyJoins(deps, [{ run: [{ alert, job: null }], incident, storm }]);
    return incident;
  }
  throw new Error(`fingerprint ${alert.fingerprint} kept changing hands; retrying`);
}

async function openEpisode(deps: Deps, alert: StoredAlert): Promise<Incident> {
  // Above the storm threshold the episode joins a storm incident instead of opening its own.
  const { incident, storm } = await placeEpisode(deps, alert, alert.id);
  if (storm) await scheduleStormList(deps, incident.id);
  if (deps.backend.name !== 'local') {
    // One backend alert per episode (not per firing): Rootly accepts ~50 alerts/min, a storm would
    // exhaust that budget for nothing. The resolution is recorded too (see processResolved).
    await deps.jobs.enqueue(
      alertRecordJob,
      { alertId: alert.id, incidentId: incident.id, episode: alert.id },
      { key: `${alert.fingerprint}:${alert.id}:firing` },
    );
  }
  // Last: counting marks the alert processed, and a retry of a processed alert does nothing more.
  await countOnce(deps, alert, incident);
  return incident;
}

export async function declareForEpisode(deps: Deps, alert: StoredAlert, episode: string): Promise<Incident> {
  const { incident } = await declareIncident(deps, {
    title: `[${alert.source.toUpperCase()}] ${alert.title}`,
    severity: alert.severity,
    description: describeAlert(alert),
    services: alert.service ? [alert.service] : [],
    private: false,
    commanderId: null,
    declaredBy: null,
    origin: 'alert',
    source: alert.source,
    dedupeKey: episodeKey(alert.fingerprint, episode),
    channel: 'auto',
  });
  return incident;
}

function describeAlert(alert: StoredAlert): string {
  const lines = [`Opened automatically by a ${alert.source} alert${alert.service ? ` on ${alert.service}` : ''}.`];
  if (alert.url) lines.push(`Source: ${alert.url}`);
  if (alert.externalId) lines.push(`External id: ${alert.externalId}`);
  return lines.join('\n');
}

/**
 * Add the alert that opened an episode to its incident's count exactly once: counted as it leaves
 * `pending`, in one transaction, so a job retried after the count, or two workers on it at once (one
 * stalled past its lease while the incident closed, and the retry that took its job over), count
 * it once. An alert counted by an earlier version (its step mark written, the job cut short before
 * the alert was marked) is only marked.
 */
async function countOnce(deps: Deps, alert: StoredAlert, incident: Incident): Promise<void> {
  if ((await deps.store.getStep(`alert:${alert.id}`, 'counted')) !== undefined) {
    await deps.store.markAlert(alert.id, { state: 'processed', incidentId: incident.id, error: null });
    return;
  }
  await deps.store.countOpeningAlert(alert.id, incident.id);
}

// -- batched "fired again" notes ---------------------------------------------------------------

type NotePayload = z.output<typeof NotePayload>;

/**
 * At most one note per incident per `batch_seconds`: the first join in a window enqueues a job
 * keyed by (incident, window start) that runs when the window closes; later joins in the same
 * window find the key taken. The note reports the count since the previous note, so nothing is
 * lost between windows.
 */
function noteTiming(deps: Deps, incident: Incident, alert: StoredAlert): { payload: NotePayload; opts: { key?: string; delayMs?: number } } {
  const batchMs = deps.config.file.alerts.batch_seconds * 1000;
  const now = deps.clock.now().getTime();
  if (batchMs <= 0) return { payload: { incidentId: incident.id, windowStart: now }, opts: { key: `${incident.id}:${alert.id}` } };
  const windowStart = Math.floor(now / batchMs) * batchMs;
  return { payload: { incidentId: incident.id, windowStart }, opts: { delayMs: windowStart + batchMs - now } };
}

async function postFiredAgainNote(deps: Deps, payload: NotePayload): Promise<void> {
  const incident = await deps.store.getIncident(payload.incidentId);
  if (!incident) return;
  const target = await noteTarget(deps, incident);
  const flow = `alert-note:${incident.id}`;
  // The total a note shows is fixed by its first attempt (first writer wins), so a retry that
  // adopts a note whose answer was lost records the number that note really shows.
  const noted = (await deps.store.getKv<number>(`alert-noted:${incident.id}`)) ?? 1;
  const shown = await step(
    deps,
    flow,
    `total:${payload.windowStart}`,
    async () => (await deps.store.getIncident(incident.id))?.alertCount ?? incident.alertCount,
  );
  if (shown > noted) {
    if (target) {
      // The note states the running total, not a delta: two notes racing (a retried window and the
      // next one) then repeat a fact instead of adding up to a wrong count.
      const marker = `alert-note:${incident.id}:${payload.windowStart}`;
      // Posted once: a lost answer from Slack must not turn into a second note on the retry.
      await postThreadNote(deps, { flowId: flow, step: `post:${payload.windowStart}`, marker }, target, firedAgainNote(shown));
    }
    if (shown > ((await deps.store.getKv<number>(`alert-noted:${incident.id}`)) ?? 1)) await deps.store.setKv(`alert-noted:${incident.id}`, shown);
  }
  // Firings counted after this note's total was fixed get a note of their own in the next window.
  const now = (await deps.store.getIncident(incident.id))?.alertCount ?? shown;
  if (now > shown) {
    const batchMs = Math.max(1000, deps.config.file.alerts.batch_seconds * 1000);
    const nextWindow = Math.max(payload.windowStart + batchMs, Math.floor(deps.clock.now().getTime() / batchMs) * batchMs);
    await deps.jobs.enqueue(
      alertNoteJob,
      { incidentId: incident.id, windowStart: nextWindow },
      { delayMs: Math.max(0, nextWindow + batchMs - deps.clock.now().getTime()) },
    );
  }
  // The card and announcement show the count: refreshed once per batch, not once per alert.
  await refreshIncidentViews(deps, incident.id);
}

/** Where alert notes go: the incident's thread (see incident-views), once the declare flow posted it. */
export const noteTarget = (deps: Deps, incident: Incident) => incidentThread(deps, incident, declareFlowId(incident.id));

// -- resolved ----------------------------------------------------------------------------------

async function processResolved(deps: Deps, alert: StoredAlert): Promise<Incident | null> {
  const fp = await deps.store.getFingerprint(alert.fingerprint);
  if (!fp) return null; // resolved before we ever saw it fire: nothing to tell anyone
  const incident = await episodeIncident(deps, alert.fingerprint, fp.incidentId);
  if (!incident || !isOpen(incident.status)) return incident;
  if (deps.backend.name !== 'local')
    await deps.jobs.enqueue(
      alertRecordJob,
      { alertId: alert.id, incidentId: incident.id, episode: fp.incidentId },
      { key: `${alert.fingerprint}:${fp.incidentId}:resolved` },
    );
  // One alert's recovery never resolves a storm: the storm holds many other alerts.
  const resolve = deps.config.file.alerts.resolve_incident_on_resolved_alert && !(await isStorm(deps, incident));
  const target = await noteTarget(deps, incident).catch(() => null);
  if (target) {
    const at = { flowId: `alert:${alert.id}`, step: 'resolved-note', marker: `alert-resolved:${alert.id}` };
    await postThreadNote(deps, at, target, resolvedAtSourceNote(alert, resolve));
  }
  if (resolve) {
    const actor = deps.chat.botUserId() ?? 'firebreak';
    return changeStatus(deps, incident.id, 'resolved', actor, `all clear from ${alert.source}`);
  }
  return incident;
}

// -- backend record ----------------------------------------------------------------------------

type RecordPayload = z.output<typeof RecordPayload>;

/** Where the backend's alert id for an episode is kept (a durable flow step in the store). */
const episodeRecord = (fingerprint: string, episode: string) => `alert-episode:${fingerprint}:${episode}`;

async function recordOnBackend(deps: Deps, payload: RecordPayload): Promise<void> {
  const alert = await deps.store.getAlert(payload.alertId);
  if (!alert) return;
  const incident = await deps.store.getIncident(payload.incidentId);
  const labels: Record<string, string> = { severity: alert.severity, status: alert.status, fingerprint: alert.fingerprint };
  if (alert.service) labels.service = alert.service;
  if (incident) labels.firebreak_id = incident.id;
  // Rootly has no idempotency for alerts and no lookup by external_id. After a try whose outcome we
  // did not see (a timeout, a dropped answer, a 5xx), repeating could record the alert twice, so
  // the record is at most once: the unknown outcome is noted and logged, and the job ends.
  const flow = `alert-record:${payload.alertId}:${alert.status}`;
  if (await deps.store.getStep(flow, 'outcome-unknown')) return;
  const episode = payload.episode ?? (alert.status === 'firing' ? alert.id : null);
  if (alert.status === 'resolved') {
    // A recovery resolves the episode's backend alert; it is never recorded as a new alert.
    const kept = episode ? await deps.store.getStep<{ id: string }>(episodeRecord(alert.fingerprint, episode), 'backend-alert') : null;
    if (!kept?.id) {
      deps.logger.info({ alertId: alert.id, fingerprint: alert.fingerprint }, `no ${deps.backend.name} alert on record for this episode; nothing to resolve`);
      return;
    }
    await deps.backend.resolveAlert(kept.id);
    return;
  }
  try {
    const backendAlertId = await deps.backend.recordAlert({
      source: alert.source,
      summary: alert.title,
      externalId: alert.fingerprint,
      externalUrl: alert.url,
      labels,
      data: alert.raw,
    });
    if (backendAlertId && episode) await deps.store.putStep(episodeRecord(alert.fingerprint, episode), 'backend-alert', { id: backendAlertId });
  } catch (err) {
    if (!outcomeUnknown(err)) throw err;
    await deps.store.putStep(flow, 'outcome-unknown', { at: deps.clock.now().toISOString() });
    deps.logger.warn(
      { alertId: alert.id, fingerprint: alert.fingerprint, err: (err as Error).message },
      `the ${deps.backend.name} alert record may or may not exist; not sent again to avoid a duplicate`,
    );
  }
}

/** The request may have reached the backend: a 5xx, a timeout, or a connection lost after sending. */
function outcomeUnknown(err: unknown): boolean {
  return err instanceof BackendError && err.outcomeUnknown;
}
