import { z } from 'zod';
import { backendLabel, canTransition, STATUSES, type Incident, type IncidentStatus } from '../domain/incident.js';
import { severityFromPriority } from '../domain/alert.js';
import { parseSeverity, SEVERITIES, type Severity } from '../domain/severity.js';
import type { BackendIncidentSnapshot } from '../ports/backend.js';
import type { IncidentPatch } from '../ports/store.js';
import { declareIncident } from './declare.js';
import type { Deps } from './deps.js';
import { defineJob } from './jobs.js';
import { backendChangeNote, exposedChannel, publicChannelOfPrivateIncidentNote, refreshIncidentViews } from './incident-views.js';
import { postmortemJob } from './summaries.js';
import { observeResolved } from './insights.js';
import { approvalsWithdrawOnCloseJob } from './approvals.js';
import { BackendError } from '../errors.js';

/**
 * Incidents created or changed in the backend's own UI (Rootly, incident.io), told to us by
 * webhook. The route verifies and normalises the event and enqueues `backend.event`; the job
 * announces incidents the bot did not create and mirrors changes into the store and Slack.
 *
 * No echo: a change the bot made itself (in Slack, synced to the backend) comes back as a webhook
 * that finds the store already in that state, so nothing is written or posted. The store is never
 * written through lifecycle.changeStatus here, which would queue a sync back to the backend.
 */

export type BackendSource = 'rootly' | 'incidentio';

export const BackendEventSchema = z.object({
  source: z.enum(['rootly', 'incidentio']),
  eventId: z.string().min(1),
  kind: z.enum(['created', 'updated']),
  type: z.string(),
  /** When the backend says the change happened (ISO); null when the payload does not say. */
  at: z.string().nullable(),
  incident: z.object({
    backendId: z.string().min(1),
    title: z.string().nullable(),
    summary: z.string().nullable(),
    status: z.enum(STATUSES).nullable(),
    severity: z.enum(SEVERITIES).nullable(),
    /** Ours the backend cannot tell from `severity` (`BackendIncidentSnapshot.severityMatches`): an incident at any of them keeps its own. */
    severityMatches: z.array(z.enum(SEVERITIES)).optional(),
    url: z.string().nullable(),
    /** Our incident id, when the backend record carries it (Rootly label `firebreak_id`). */
    firebreakId: z.string().nullable(),
    /** A private incident (announced without its details, no channel of ours). Absent: public. */
    private: z.boolean().optional(),
    /** Not a live incident (a backfilled record, a test or tutorial): never announced. Absent: live. */
    notLive: z.enum(['retrospective', 'test']).optional(),
  }),
  /**
   * Read the incident from the backend (`fetchIncident`) before anything else. `required`: the
   * event names only the incident (incident.io's `private_incident.*`). `preferred`: the event
   * carries it, but the backend adapter reads it the way the bot writes it (incident.io: a status
   * by its name as well as its category, a severity by its rank among the workspace's), so the
   * bot's own changes read back unchanged; the event's fields serve when the bot runs another
   * backend. Absent: the event's fields are used.
   */
  fetch: z.enum(['required', 'preferred']).optional(),
});
export type BackendEvent = z.infer<typeof BackendEventSchema>;

export type ParsedBackendEvent = { ok: true; event: BackendEvent } | { ok: true; ignored: string } | { ok: false; reason: string };

// -- Rootly ------------------------------------------------------------------------------------

const RootlyEnvelope = z.object({
  event: z.object({ id: z.string().min(1), type: z.string().min(1), issued_at: z.string().nullish() }),
  data: z.looseObject({ id: z.union([z.string(), z.number()]).transform(String) }),
});

const RootlySeverityAttrs = z.looseObject({ severity: z.string().nullish(), slug: z.string().nullish(), name: z.string().nullish() });

const RootlyIncident = z.looseObject({
  title: z.string().nullish(),
  summary: z.string().nullish(),
  status: z.string().nullish(),
  url: z.string().nullish(),
  updated_at: z.string().nullish(),
  /** Rootly's `private` (irreversible there): announced without details, no channel of ours. Anything but a boolean counts as absent. */
  private: z.boolean().nullish().catch(null),
  // Flat ({id, name, slug, severity}), a name, or as the REST API shows it (`severity_response`: {data:{id, type, attributes}}).
  severity: z
    .union([z.looseObject({ data: z.looseObject({ attributes: RootlySeverityAttrs }) }).transform((v) => v.data.attributes), RootlySeverityAttrs, z.string()])
    .nullish(),
  labels: z.union([z.record(z.string(), z.unknown()), z.array(z.looseObject({ key: z.string(), value: z.unknown() }))]).nullish(),
  kind: z.string().nullish(),
});

/**
 * Rootly's incident `kind`s that are not a live incident: test and example incidents (and their
 * sub-incidents) and backfilled ones (recorded after the fact). `normal`, `normal_sub` and unknown
 * kinds are live; `scheduled` (maintenance) comes as `incident.scheduled.*`, not handled.
 */
const ROOTLY_NOT_LIVE: Record<string, 'retrospective' | 'test'> = {
  test: 'test',
  test_sub: 'test',
  example: 'test',
  example_sub: 'test',
  backfilled: 'retrospective',
};

const ROOTLY_EVENTS: Record<string, { kind: 'created' | 'updated'; status?: IncidentStatus }> = {
  'incident.created': { kind: 'created' },
  'incident.updated': { kind: 'updated' },
  'incident.mitigated': { kind: 'updated', status: 'mitigated' },
  'incident.resolved': { kind: 'updated', status: 'resolved' },
  'incident.cancelled': { kind: 'updated', status: 'cancelled' },
};

/** Rootly statuses → ours. Maintenance/scheduled states have no equivalent and leave ours alone. */
const ROOTLY_STATUS: Record<string, IncidentStatus> = {
  in_triage: 'investigating',
  triage: 'investigating',
  started: 'investigating',
  detected: 'investigating',
  acknowledged: 'investigating',
  mitigated: 'mitigated',
  resolved: 'resolved',
  closed: 'resolved',
  cancelled: 'cancelled',
  canceled: 'cancelled',
};

export function parseRootlyEvent(body: unknown): ParsedBackendEvent {
  const env = RootlyEnvelope.safeParse(body);
  if (!env.success) return { ok: false, reason: `not a Rootly webhook: ${issues(env.error)}` };
  const spec = ROOTLY_EVENTS[env.data.event.type];
  // Rootly retries non-2xx: event types we do not act on are acknowledged, not refused.
  if (!spec) return { ok: true, ignored: `event type ${env.data.event.type} is not handled` };
  const inc = RootlyIncident.safeParse(env.data.data);
  if (!inc.success) return { ok: false, reason: `Rootly incident data: ${issues(inc.error)}` };
  const d = inc.data;
  const notLive = d.kind ? ROOTLY_NOT_LIVE[d.kind] : undefined;
  if (notLive && spec.kind === 'created') return { ok: true, ignored: `a ${d.kind} incident is not a live incident; not announced` };
  return {
    ok: true,
    event: {
      source: 'rootly',
      eventId: env.data.event.id,
      kind: spec.kind,
      type: env.data.event.type,
      at: env.data.event.issued_at ?? d.updated_at ?? null,
      incident: {
        backendId: env.data.data.id,
        title: d.title?.trim() || null,
        summary: d.summary?.trim() || null,
        status: spec.status ?? (d.status ? (ROOTLY_STATUS[d.status] ?? null) : null),
        severity: rootlySeverity(d.severity),
        url: d.url ?? null,
        firebreakId: rootlyLabel(d.labels, 'firebreak_id'),
        // Only a `true` counts: an event without the field (or `false`) never makes a private one public.
        ...(d.private === true ? { private: true } : {}),
        ...(notLive ? { notLive } : {}),
      },
    },
  };
}

function rootlySeverity(s: z.infer<typeof RootlyIncident>['severity']): Severity | null {
  if (!s) return null;
  if (typeof s === 'string') return severityFromName(s);
  const direct = (SEVERITIES as readonly string[]).includes(s.severity ?? '') ? (s.severity as Severity) : null;
  return direct ?? severityFromName(s.slug ?? s.name ?? '');
}

function rootlyLabel(labels: z.infer<typeof RootlyIncident>['labels'], key: string): string | null {
  if (!labels) return null;
  const v = Array.isArray(labels) ? labels.find((l) => l.key === key)?.value : labels[key];
  return typeof v === 'string' && v ? v : null;
}

// -- incident.io -------------------------------------------------------------------------------

const IncidentioIncident = z.looseObject({
  id: z.string().min(1),
  name: z.string().nullish(),
  summary: z.string().nullish(),
  permalink: z.string().nullish(),
  updated_at: z.string().nullish(),
  severity: z.looseObject({ name: z.string(), rank: z.number().nullish() }).nullish(),
  incident_status: z.looseObject({ category: z.string(), name: z.string().nullish() }).nullish(),
  mode: z.string().nullish(),
});

/**
 * incident.io's incident `mode`s that are not a live incident: a retrospective one is recorded after
 * the fact (incident.io itself does not announce it in Slack), a test or tutorial one is a drill.
 */
const INCIDENTIO_NOT_LIVE: Record<string, 'retrospective' | 'test'> = { retrospective: 'retrospective', test: 'test', tutorial: 'test' };

const INCIDENTIO_EVENTS: Record<string, 'created' | 'updated'> = {
  'public_incident.incident_created_v2': 'created',
  'public_incident.incident_updated_v2': 'updated',
  'public_incident.incident_status_updated_v2': 'updated',
};

/**
 * incident.io's events about private incidents carry only the id (`WebhookPrivateResourceV2`), so
 * nothing private travels through the webhook; the job fetches the incident (`GET /v2/incidents/{id}`,
 * which needs a key allowed to view private incidents).
 */
const INCIDENTIO_PRIVATE_EVENTS: Record<string, 'created' | 'updated'> = {
  'private_incident.incident_created_v2': 'created',
  'private_incident.incident_updated_v2': 'updated',
};

/** Status category → ours: live work is investigating, finished work resolved, refused work cancelled. */
const INCIDENTIO_CATEGORY: Record<string, IncidentStatus> = {
  triage: 'investigating',
  live: 'investigating',
  learning: 'resolved',
  closed: 'resolved',
  declined: 'cancelled',
  canceled: 'cancelled',
  merged: 'cancelled',
};

export function parseIncidentioEvent(body: unknown, webhookId: string): ParsedBackendEvent {
  const env = z.looseObject({ event_type: z.string().min(1) }).safeParse(body);
  if (!env.success) return { ok: false, reason: `not an incident.io webhook: ${issues(env.error)}` };
  const type = env.data.event_type;
  const privateKind = INCIDENTIO_PRIVATE_EVENTS[type];
  if (privateKind) {
    const ref = z.looseObject({ id: z.string().min(1) }).safeParse((body as Record<string, unknown>)[type]);
    if (!ref.success) return { ok: false, reason: `incident.io ${type}: ${issues(ref.error)}` };
    return {
      ok: true,
      event: {
        source: 'incidentio',
        eventId: webhookId,
        kind: privateKind,
        type,
        at: null,
        incident: { backendId: ref.data.id, title: null, summary: null, status: null, severity: null, url: null, firebreakId: null, private: true },
        fetch: 'required',
      },
    };
  }
  const kind = INCIDENTIO_EVENTS[type];
  if (!kind) return { ok: true, ignored: `event type ${type} is not handled` };
  const payload = (body as Record<string, unknown>)[type];
  let raw: unknown = payload;
  let newCategory: string | null = null;
  if (type === 'public_incident.incident_status_updated_v2') {
    const s = z.looseObject({ incident: z.unknown(), new_status: z.looseObject({ category: z.string() }).nullish() }).safeParse(payload);
    if (!s.success) return { ok: false, reason: `incident.io ${type}: ${issues(s.error)}` };
    raw = s.data.incident;
    newCategory = s.data.new_status?.category ?? null;
  }
  const inc = IncidentioIncident.safeParse(raw);
  if (!inc.success) return { ok: false, reason: `incident.io ${type} incident: ${issues(inc.error)}` };
  const d = inc.data;
  const notLive = d.mode ? INCIDENTIO_NOT_LIVE[d.mode] : undefined;
  if (notLive && kind === 'created') return { ok: true, ignored: `a ${d.mode} incident is not a live incident; not announced` };
  const category = newCategory ?? d.incident_status?.category ?? null;
  return {
    ok: true,
    event: {
      source: 'incidentio',
      eventId: webhookId,
      kind,
      type,
      at: d.updated_at ?? null,
      incident: {
        backendId: d.id,
        title: d.name?.trim() || null,
        summary: d.summary?.trim() || null,
        status: category ? (INCIDENTIO_CATEGORY[category] ?? null) : null,
        severity: d.severity ? severityFromName(d.severity.name) : null,
        url: d.permalink ?? null,
        firebreakId: null, // incident.io echoes no idempotency key; recognised by backend id instead
        ...(notLive ? { notLive } : {}),
      },
      // Read again through the adapter: a category alone cannot tell "Monitoring" (our mitigated)
      // from "Investigating", nor a severity's name which of ours it stands for ("Critical" is our
      // high in a workspace with a worse one). Read from the payload, our own mitigate or severity
      // would come back changed.
      fetch: 'preferred',
    },
  };
}

/**
 * Best-effort severity from a backend's severity name: ours by name (critical, high, ...), then
 * common vocabularies: SEV0/SEV1 → critical, SEV2 → high, SEV3 → medium, SEV4+ → low; P1..P5;
 * incident.io's defaults Critical / Major / Minor. Null when the name says nothing we know.
 */
export function severityFromName(name: string): Severity | null {
  const n = name.trim().toLowerCase();
  const sev = /^sev[\s-]?(\d)$/.exec(n);
  if (sev) return (['critical', 'critical', 'high', 'medium'] as const)[Number(sev[1])] ?? 'low';
  const direct = parseSeverity(n) ?? severityFromPriority(n);
  if (direct) return direct;
  if (/critical|emergency|urgent/.test(n)) return 'critical';
  if (/major|high|severe/.test(n)) return 'high';
  if (/medium|moderate/.test(n)) return 'medium';
  if (/minor|low|info/.test(n)) return 'low';
  return null;
}

// -- handling ----------------------------------------------------------------------------------

/**
 * A verified, normalised backend webhook event; enqueued by the webhook route, keyed by
 * `<source>:<event id>` so a redelivery is not handled twice.
 */
export const backendEventJob = defineJob({
  kind: 'backend.event',
  payload: BackendEventSchema,
  run: (deps, ev) => handleBackendEvent(deps, ev),
});

export const backendEventJobs = [backendEventJob];

/** How long an incident of ours may wait for its backend id before a backend "created" stops waiting for it. */
const OWN_CREATE_GRACE_MS = 10 * 60_000;

export async function handleBackendEvent(deps: Deps, given: BackendEvent): Promise<void> {
  // Matched by the backend id before anything is read from the backend: the echo of every incident
  // the bot declares, and updates to incidents it never knew, cost no lookup.
  const ours = await findIncident(deps, given);
  if (given.kind === 'created' && ours) return; // the bot created it (or already adopted it): its announcement exists
  // An update for an incident we never knew (created before the bot was installed): nothing to mirror.
  if (given.kind === 'updated' && !ours) return;
  const ev = given.fetch ? await fetchedEvent(deps, given) : given;
  if (!ev) return;
  if (ev.kind === 'created' && ev.incident.notLive) {
    // Read from the backend (a private incident's event names only its id): a backfilled record or a drill.
    deps.logger.info(
      { source: ev.source, backendId: ev.incident.backendId, notLive: ev.incident.notLive },
      'backend incident is not a live incident; not announced',
    );
    return;
  }
  if (ev.kind === 'created') {
    if (await ownCreatePending(deps, ev)) {
      // Our declare flow created a backend record whose id is not in the store yet (the webhook
      // outran the flow). Retry later, when the id is recorded and the match is certain.
      throw new Error(`${ev.source} incident ${ev.incident.backendId} may be ours (declare flow still running); retrying`);
    }
    await declareIncident(deps, {
      title: ev.incident.title ?? `${SOURCE_NAME[ev.source]} incident ${ev.incident.backendId}`,
      severity: ev.incident.severity ?? 'medium',
      description: ev.incident.summary ?? '',
      services: [],
      // Private: announced without title, description or channel, and no channel of ours (wantsChannel).
      private: ev.incident.private ?? false,
      commanderId: null,
      declaredBy: null,
      origin: ev.source,
      source: ev.source,
      dedupeKey: `${ev.source}:${ev.incident.backendId}`,
      existingBackend: { backendId: ev.incident.backendId, url: ev.incident.url },
      channel: 'auto',
    });
    return;
  }
  if (ours) await applyUpdate(deps, ours.id, ev);
}

/**
 * The event with the incident as the backend has it now (see `fetch`). An event that names only
 * the incident is dropped (null, logged, not retried) when it cannot be read: the bot runs another
 * backend, or the backend does not show it to this key (incident.io: a key without "View all
 * incident data, including private incidents" is told "not found"), or refuses the key; an event
 * that carries the incident falls back to its own fields then. Other failures throw, and the job
 * retries.
 */
async function fetchedEvent(deps: Deps, ev: BackendEvent): Promise<BackendEvent | null> {
  const id = ev.incident.backendId;
  const own = ev.fetch === 'preferred' ? { ...ev, fetch: undefined } : null;
  const fetchIncident = deps.backend.name === ev.source ? deps.backend.fetchIncident?.bind(deps.backend) : undefined;
  if (!fetchIncident) {
    if (own) return own;
    deps.logger.warn(
      { source: ev.source, type: ev.type, backendId: id },
      `a ${SOURCE_NAME[ev.source]} event names only the incident, and the bot runs another backend: ignored`,
    );
    return null;
  }
  let snap: BackendIncidentSnapshot | null;
  try {
    snap = await fetchIncident(id);
  } catch (err) {
    if (err instanceof BackendError && err.code === 'backend.auth') snap = null;
    else throw err;
  }
  if (!snap) {
    if (own) return own;
    deps.logger.warn(
      { source: ev.source, type: ev.type, backendId: id },
      `${SOURCE_NAME[ev.source]} did not show incident ${id} to Firebreak's key, so the change is not mirrored; for private incidents the key needs "View all incident data, including private incidents"`,
    );
    return null;
  }
  return {
    ...ev,
    fetch: undefined,
    at: snap.updatedAt,
    incident: {
      backendId: snap.backendId,
      title: snap.title,
      summary: snap.summary,
      status: snap.status,
      severity: snap.severity,
      severityMatches: snap.severityMatches,
      url: snap.url,
      firebreakId: null,
      private: snap.private,
      ...(snap.notLive ? { notLive: snap.notLive } : {}),
    },
  };
}

async function findIncident(deps: Deps, ev: BackendEvent): Promise<Incident | null> {
  if (ev.incident.firebreakId) {
    // The label is only a hint: anyone in Rootly can put it on any incident. It identifies ours
    // only while ours has no backend id yet (the create's answer not recorded), and then only from
    // the backend it was declared in; otherwise the backend id decides.
    const byLabel = await deps.store.getIncident(ev.incident.firebreakId);
    if (byLabel?.backendId === ev.incident.backendId || (byLabel && byLabel.backendId === null && byLabel.backend === ev.source)) return byLabel;
  }
  return (
    (await deps.store.findIncidentByBackendId(ev.source, ev.incident.backendId)) ??
    // Adopted while the bot ran another backend (the record names that backend): the dedupe key still finds it.
    (await deps.store.findIncidentByDedupeKey(`${ev.source}:${ev.incident.backendId}`))
  );
}

async function ownCreatePending(deps: Deps, ev: BackendEvent): Promise<boolean> {
  if (deps.backend.name !== ev.source || !ev.incident.title) return false;
  const now = deps.clock.now().getTime();
  const open = await deps.store.listOpenIncidents();
  return open.some((i) => i.backendId === null && i.title === ev.incident.title!.slice(0, 200) && now - i.createdAt.getTime() < OWN_CREATE_GRACE_MS);
}

const SOURCE_NAME: Record<BackendSource, string> = { rootly: backendLabel('rootly'), incidentio: backendLabel('incidentio') };

async function applyUpdate(deps: Deps, incidentId: string, ev: BackendEvent): Promise<void> {
  let before: Incident | null = null;
  let after: Incident | null = null;
  for (let attempt = 0; attempt < 5 && !after; attempt++) {
    before = await deps.store.getIncident(incidentId);
    if (!before) return;
    const patch = diff(before, ev, deps.clock.now());
    if (!patch) return; // already in that state: our own change coming back, or a no-op edit
    after = await deps.store.updateIncident(incidentId, { ...patch, updatedAt: deps.clock.now() }, { expectedVersion: before.version });
  }
  if (!before || !after) throw new Error(`incident ${incidentId} changed concurrently; retrying`);
  const text = backendChangeNote(SOURCE_NAME[ev.source], before, after);
  const at = deps.clock.now();
  await deps.store.audit({
    at,
    incidentId,
    actor: ev.source,
    action: 'incident.backend_updated',
    detail: {
      eventId: ev.eventId,
      type: ev.type,
      from: { status: before.status, severity: before.severity, title: before.title, private: before.private },
      to: { status: after.status, severity: after.severity, title: after.title, private: after.private },
    },
  });
  await deps.store.addTimeline({ incidentId, at, kind: 'status', text, author: null, sourceRef: `${ev.source}:${ev.eventId}` });
  if (after.channelId) {
    const channelText = await channelNote(deps, ev, before, after, after.channelId, text);
    await deps.chat.post(after.channelId, channelText).catch((err) => deps.logger.warn({ err }, 'posting backend update failed'));
  }
  if ((after.status === 'resolved' || after.status === 'cancelled') && before.status !== after.status)
    await deps.jobs.enqueue(
      approvalsWithdrawOnCloseJob,
      { incidentId, status: after.status, by: SOURCE_NAME[ev.source], at: at.toISOString() },
      { key: `${incidentId}:${after.version}` },
    );
  if (after.status === 'resolved' && before.status !== 'resolved') {
    observeResolved(deps, after);
    await deps.jobs.enqueue(postmortemJob, { incidentId }, { key: incidentId });
  }
  await refreshIncidentViews(deps, incidentId);
}

/**
 * The note for the incident's channel. A private incident's channel that is public (or may be:
 * Slack did not say) gets the note without the new title, and, when the incident has just turned
 * private, a warning to the commander: the bot cannot make a public channel private, a person must.
 * The timeline entry and the audit keep the whole note: they are not posted in the channel.
 */
async function channelNote(deps: Deps, ev: BackendEvent, before: Incident, after: Incident, channelId: string, text: string): Promise<string> {
  const full = `:arrows_counterclockwise: ${text}`;
  // Not asked again on a retry (the store is already written): a failure to ask counts as public.
  if (!(await exposedChannel(deps, { ...after, channelId }))) return full;
  const note = `:arrows_counterclockwise: ${backendChangeNote(SOURCE_NAME[ev.source], before, after, { withholdDetails: true })}`;
  if (before.private) return note;
  const commander = (await deps.store.getRoles(after.id)).commander ?? after.commanderId;
  return `${note}\n${publicChannelOfPrivateIncidentNote(SOURCE_NAME[ev.source], commander)}`;
}

/** The fields this event changes, or null when the store already agrees. */
function diff(cur: Incident, ev: BackendEvent, now: Date): Omit<IncidentPatch, 'updatedAt'> | null {
  const patch: Omit<IncidentPatch, 'updatedAt'> = {};
  // An event issued before our own last write describes an older state (say the channel-link
  // update the declare flow made, delivered after someone mitigated in Slack): it must not undo it.
  const stale = ev.at !== null && !Number.isNaN(Date.parse(ev.at)) && Date.parse(ev.at) < cur.updatedAt.getTime();
  if (stale) return null;
  const s = ev.incident.status;
  if (s && s !== cur.status && canTransition(cur.status, s)) {
    patch.status = s;
    patch.resolvedAt = s === 'resolved' || s === 'cancelled' ? now : null;
  }
  const sev = ev.incident.severity;
  if (sev && sev !== cur.severity && !ev.incident.severityMatches?.includes(cur.severity)) patch.severity = sev;
  const title = ev.incident.title?.slice(0, 200);
  if (title && title !== cur.title) patch.title = title;
  // Made private in the backend (incident.io lets a public incident turn private, never back): the
  // announcement and agents stop showing its details from now on.
  if (ev.incident.private === true && !cur.private) patch.private = true;
  return Object.keys(patch).length ? patch : null;
}

function issues(err: z.ZodError): string {
  return err.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}
