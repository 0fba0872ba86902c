import { z } from 'zod';
import type { IncidentStatus } from '../../../domain/incident.js';
import { SEVERITIES, type Severity } from '../../../domain/severity.js';
import { BackendError } from '../../../errors.js';
import type {
  BackendCreateInput,
  BackendIncidentRef,
  BackendIncidentSnapshot,
  BackendRef,
  BackendUpdate,
  BackendUser,
  IncidentBackend,
} from '../../../ports/backend.js';
import { createHttpClient, TransportError, type HttpRequest, type HttpResponse } from '../../http/client.js';
import { silentLogger, transportToBackendError, type VendorClientOptions } from '../../http/common.js';
import { createTokenBucketLimiter } from '../../http/token-bucket.js';
import { historyCursor, historyPage, severityFromRank, toHistoryRecord, toStatus } from './history.js';

/**
 * incident.io (v1 catalogue endpoints, v2 incidents) behind the IncidentBackend port.
 * Creates carry `idempotency_key = firebreakId`, so incident.io itself dedupes a retried create:
 * that is why the create, unlike Rootly's, may be repeated after a lost response.
 *
 * Limits: the public API has no endpoint to write a timeline note (incident_updates are read-only),
 * and no workflow runs or alerts; those methods say so below.
 */

export type IncidentIoBackendOptions = VendorClientOptions;

export interface IncidentIoSummary {
  id: string;
  name: string;
  reference: string;
  statusCategory: string;
  permalink: string | null;
}

export interface IncidentIoBackend extends IncidentBackend {
  readonly name: 'incidentio';
  listIncidents(filter?: Record<string, string>): AsyncGenerator<IncidentIoSummary>;
  fetchIncident(backendId: string): Promise<BackendIncidentSnapshot | null>;
}

const BACKEND = 'incidentio';

const severityV1 = z.looseObject({ id: z.string(), name: z.string(), rank: z.number() });
const statusV1 = z.looseObject({ id: z.string(), name: z.string(), rank: z.number(), category: z.string() });
const roleV2 = z.looseObject({ id: z.string(), name: z.string(), shortform: z.string().optional(), role_type: z.string() });
const incidentV2 = z.looseObject({
  id: z.string(),
  name: z.string(),
  reference: z.string(),
  permalink: z.string().optional(),
  incident_status: z.looseObject({ category: z.string() }),
});
const incidentResult = z.looseObject({ incident: incidentV2 });
/** `GET /v2/incidents/{id}` (`IncidentV2`): the fields a snapshot reads. */
const incidentShown = z.looseObject({
  incident: z.looseObject({
    id: z.string(),
    name: z.string(),
    summary: z.string().optional(),
    permalink: z.string().optional(),
    visibility: z.enum(['public', 'private']),
    mode: z.string().optional(),
    incident_status: z.looseObject({ name: z.string(), category: z.string() }),
    severity: z.looseObject({ id: z.string(), rank: z.number() }).optional(),
    updated_at: z.string().optional(),
  }),
});
/** incident.io modes that are not a live incident: recorded after the fact, or a drill. */
const NOT_LIVE: Record<string, 'retrospective' | 'test'> = { retrospective: 'retrospective', test: 'test', tutorial: 'test' };
const errorBody = z.looseObject({
  type: z.string().optional(),
  status: z.number().optional(),
  request_id: z.string().optional(),
  errors: z
    .array(z.looseObject({ code: z.string().optional(), message: z.string(), source: z.looseObject({ field: z.string().optional() }).optional() }))
    .optional(),
  rate_limit: z.looseObject({ retry_after: z.union([z.string(), z.number()]).optional() }).optional(),
});

/** incident.io's 429 body `rate_limit.retry_after`: seconds, or an RFC 3339 time (both seen in docs). */
export function waitFromIncidentIoBody(body: unknown, nowMs: number = Date.now()): number | null {
  const p = errorBody.safeParse(body);
  const ra = p.success ? p.data.rate_limit?.retry_after : undefined;
  if (ra === undefined) return null;
  const secs = Number(ra);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(String(ra));
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

/** The title of the document we import; how a retry recognises it. */
const POSTMORTEM_TITLE = 'Post-mortem (Firebreak draft)';

/** Role names we use → incident.io role_type / name fragments. */
const ROLE_MATCH: Record<string, (r: z.infer<typeof roleV2>) => boolean> = {
  commander: (r) => r.role_type === 'lead',
  communications: (r) => /comm/i.test(r.name) || /comm/i.test(r.shortform ?? ''),
  scribe: (r) => /scribe|note/i.test(r.name),
};

export function createIncidentIoBackend(opts: IncidentIoBackendOptions): IncidentIoBackend {
  const log = opts.logger ?? silentLogger;
  const now = opts.now ?? Date.now;
  const limiter =
    opts.limiter === null
      ? undefined
      : (opts.limiter ??
        createTokenBucketLimiter({
          buckets: { all: { perMinute: 1100 } },
          ...(opts.sleep ? { sleep: opts.sleep } : {}),
          now,
        }));
  const http = createHttpClient({
    baseUrl: opts.baseUrl ?? 'https://api.incident.io',
    headers: { authorization: `Bearer ${opts.apiKey}`, 'content-type': 'application/json', accept: 'application/json' },
    ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
    ...(opts.sleep ? { sleep: opts.sleep } : {}),
    now,
    ...(opts.random ? { random: opts.random } : {}),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.retry ? { retry: opts.retry } : {}),
    ...(limiter ? { limiter } : {}),
    waitFromBody: (b) => waitFromIncidentIoBody(b, now()),
    onRetry: (info) => log.debug({ backend: BACKEND, ...info }, 'retrying incident.io call'),
  });

  const urls = new Map<string, string>();
  /** The workspace's severities, worst first (higher rank = worse); read once, again only for one not in it. */
  let severityList: z.infer<typeof severityV1>[] | null = null;
  let statuses: z.infer<typeof statusV1>[] | null = null;
  let roles: z.infer<typeof roleV2>[] | null = null;

  async function call<T extends z.ZodType>(req: HttpRequest, schema: T, what: string): Promise<z.infer<T>> {
    let res: HttpResponse;
    try {
      res = await http.send({ ...req, bucket: 'all' });
    } catch (err) {
      if (err instanceof TransportError) throw transportToBackendError(err, 'incident.io', what);
      throw err;
    }
    if (res.status >= 400) throw toIncidentIoError(res, what, now());
    const parsed = schema.safeParse(res.body);
    if (!parsed.success) {
      throw new BackendError('backend.unavailable', `incident.io answered ${what} with an unexpected body: ${z.prettifyError(parsed.error).slice(0, 300)}`, {
        backend: BACKEND,
        status: res.status,
      });
    }
    return parsed.data;
  }

  async function severities(reload = false): Promise<z.infer<typeof severityV1>[]> {
    if (!severityList || reload) {
      const r = await call({ method: 'GET', path: '/v1/severities' }, z.looseObject({ severities: z.array(severityV1) }), 'the severity list');
      severityList = [...r.severities].sort((a, b) => b.rank - a.rank);
    }
    return severityList;
  }

  /**
   * incident.io's severity for ours: ours in order critical..low take the highest ranks; a workspace
   * with fewer than four severities maps the rest onto its least severe one. `severityFromRank` is
   * the way back.
   */
  async function severityId(sev: Severity): Promise<string> {
    const list = severityList?.length ? severityList : await severities(true);
    const hit = list[Math.min(SEVERITIES.indexOf(sev), list.length - 1)];
    if (!hit) throw new BackendError('backend.validation', 'incident.io has no severities configured', { backend: BACKEND, field: 'severity_id' });
    return hit.id;
  }

  async function statusId(to: IncidentStatus): Promise<string> {
    if (!statuses) {
      const r = await call({ method: 'GET', path: '/v1/incident_statuses' }, z.looseObject({ incident_statuses: z.array(statusV1) }), 'the status list');
      statuses = [...r.incident_statuses].sort((a, b) => a.rank - b.rank);
    }
    const of = (cat: string) => statuses!.filter((s) => s.category === cat);
    const live = of('live');
    let hit: z.infer<typeof statusV1> | undefined;
    switch (to) {
      case 'investigating':
        hit = live.find((s) => /investigat/i.test(s.name)) ?? live[0];
        break;
      case 'mitigated':
        // incident.io has no "mitigated" category: a live status named like it, else the last live one.
        // "Monitoring" (impact stopped, watching) is closer to mitigated than "Fixing", so it wins.
        hit = live.find((s) => /monitor|mitigat/i.test(s.name)) ?? live.find((s) => /fix/i.test(s.name)) ?? live[live.length - 1];
        break;
      case 'resolved':
        // The post-incident flow when the organisation has one; straight to closed otherwise (with a
        // flow configured, closing directly needs a key permission most keys do not have).
        hit = of('learning')[0] ?? of('closed')[0];
        break;
      case 'cancelled':
        // The spec allows no edit from triage/live to declined (or canceled): say so plainly.
        throw new BackendError(
          'backend.validation',
          'incident.io does not let the API decline or cancel an incident; decline it in incident.io (the Firebreak record is cancelled)',
          {
            backend: BACKEND,
            field: 'incident_status_id',
          },
        );
    }
    if (!hit) throw new BackendError('backend.validation', `incident.io has no status for "${to}"`, { backend: BACKEND, field: 'incident_status_id' });
    return hit.id;
  }

  async function roleId(role: string): Promise<string> {
    if (!roles) {
      const r = await call({ method: 'GET', path: '/v2/incident_roles' }, z.looseObject({ incident_roles: z.array(roleV2) }), 'the role list');
      roles = r.incident_roles;
    }
    const match = ROLE_MATCH[role] ?? ((r: z.infer<typeof roleV2>) => r.name.toLowerCase() === role.toLowerCase());
    const hit = roles.find(match);
    if (!hit)
      throw new BackendError('backend.validation', `incident.io has no incident role matching "${role}"`, { backend: BACKEND, field: 'incident_role_id' });
    return hit.id;
  }

  /**
   * Ours for an incident.io severity, by its rank among the workspace's: every one `severityId`
   * sends as it (several in a workspace with fewer severities than ours), else the one
   * `severityFromRank` reads it as; none for a severity not in the list even read again.
   */
  async function severitiesOf(rank: number): Promise<Severity[]> {
    let list = await severities();
    if (!list.some((s) => s.rank === rank)) list = await severities(true); // added since the list was read
    const at = list.findIndex((s) => s.rank === rank);
    if (at < 0) return [];
    const sent = SEVERITIES.filter((_, k) => Math.min(k, list.length - 1) === at);
    const ranks = list.map((s) => s.rank);
    return sent.length ? sent : [severityFromRank(rank, ranks)];
  }

  const assignee = (u: BackendUser) => (u.slackUserId ? { slack_user_id: u.slackUserId } : { email: u.email ?? '' });

  async function edit(ref: BackendRef, incident: Record<string, unknown>, what: string): Promise<void> {
    const res = await call(
      // Edits set fields to values, so repeating one is harmless.
      {
        method: 'POST',
        path: `/v2/incidents/${encodeURIComponent(ref.backendId)}/actions/edit`,
        body: { incident, notify_incident_channel: false },
        idempotent: true,
      },
      incidentResult,
      what,
    );
    if (res.incident.permalink) urls.set(res.incident.id, res.incident.permalink);
  }

  const backend: IncidentIoBackend = {
    name: 'incidentio',

    async verify(): Promise<void> {
      await call({ method: 'GET', path: '/v1/identity' }, z.looseObject({ identity: z.looseObject({ name: z.string() }) }), 'the key check');
      // Warm the lookups the first declare needs, so its create is one round trip. A failure here
      // is not a bad key: the lookups retry when a declare needs them.
      await Promise.all([severityId('critical'), roleId('commander')]).catch((err) =>
        log.warn({ backend: BACKEND, err: (err as Error).message }, 'incident.io lookups could not be warmed'),
      );
    },

    async createIncident(input: BackendCreateInput): Promise<BackendIncidentRef> {
      const body: Record<string, unknown> = {
        idempotency_key: input.firebreakId,
        visibility: input.private ? 'private' : 'public',
        name: input.title,
        summary: input.summary,
        severity_id: await severityId(input.severity),
        mode: 'standard',
      };
      if (input.commander) body.incident_role_assignments = [{ incident_role_id: await roleId('commander'), assignee: assignee(input.commander) }];
      if (input.slackChannel) {
        // One channel per incident. Firebreak made this one: with incident.io's Slack app installed a
        // `standard` incident would get a second channel (and announcement) of incident.io's own, so
        // the record is created in `retrospective` mode attached to our channel, in the first live
        // status. Without a Firebreak channel the incident is `standard` and incident.io owns its channel.
        body.mode = 'retrospective';
        body.retrospective_incident_options = { slack_channel_id: input.slackChannel.id };
        body.incident_status_id = await statusId('investigating');
      }
      const res = await call({ method: 'POST', path: '/v2/incidents', body, idempotent: true }, incidentResult, 'the incident create');
      const url = res.incident.permalink ?? null;
      if (url) urls.set(res.incident.id, url);
      return { backendId: res.incident.id, url };
    },

    async updateIncident(ref: BackendRef, patch: BackendUpdate): Promise<void> {
      const incident: Record<string, unknown> = {};
      if (patch.title !== undefined) incident.name = patch.title;
      if (patch.summary !== undefined) incident.summary = patch.summary;
      if (patch.severity !== undefined) incident.severity_id = await severityId(patch.severity);
      // slackChannel: incident.io owns the incident channel itself; nothing to send.
      if (Object.keys(incident).length === 0) return;
      await edit(ref, incident, 'the incident update');
    },

    async transition(ref: BackendRef, to: IncidentStatus): Promise<void> {
      // The edit payload has no field for a transition message; callers add it as an update elsewhere.
      await edit(ref, { incident_status_id: await statusId(to) }, `the ${to} transition`);
    },

    async assignRole(ref: BackendRef, role: string, user: BackendUser): Promise<void> {
      await edit(ref, { incident_role_assignments: [{ incident_role_id: await roleId(role), assignee: assignee(user) }] }, 'the role assignment');
    },

    async addTimelineEvent(_ref: BackendRef, event: { text: string; at: Date }): Promise<void> {
      // No public endpoint creates a timeline item or an incident update (GET /v2/incident_updates
      // only). Overwriting the summary would lose it, so the event stays in our own timeline only.
      log.debug({ backend: BACKEND, at: event.at.toISOString() }, 'incident.io has no timeline write API; event kept locally');
    },

    async savePostmortem(ref: BackendRef, markdown: string): Promise<'saved' | 'not_ready' | 'unsupported'> {
      // Import makes a new document on every call: look for ours first, so a retried job never makes two.
      let after: string | undefined;
      for (;;) {
        const page = await call(
          { method: 'GET', path: '/v1/postmortem_documents', query: { incident_id: ref.backendId, page_size: 100, after } },
          z.looseObject({
            postmortem_documents: z.array(z.looseObject({ id: z.string(), title: z.string() })),
            pagination_meta: z.looseObject({ after: z.string().optional() }).optional(),
          }),
          'the post-mortem lookup',
        );
        if (page.postmortem_documents.some((d) => d.title === POSTMORTEM_TITLE)) return 'saved';
        const next = page.pagination_meta?.after;
        if (!next || page.postmortem_documents.length === 0 || next === after) break;
        after = next;
      }
      await call(
        {
          method: 'POST',
          path: `/v2/incidents/${encodeURIComponent(ref.backendId)}/actions/import_postmortem_document`,
          body: { title: POSTMORTEM_TITLE, content: markdown },
        },
        z.looseObject({ postmortem_document: z.looseObject({ id: z.string() }) }),
        'the post-mortem import',
      );
      return 'saved';
    },

    async runWorkflow(): Promise<{ runId: string; status: string }> {
      throw new BackendError('backend.unsupported', 'incident.io workflows cannot be run through the public API; use a webhook action instead', {
        backend: BACKEND,
      });
    },

    async recordAlert(): Promise<string | null> {
      // The alert events API needs a per-source HTTP alert source config and token; not wired here.
      return null;
    },

    async resolveAlert(): Promise<void> {},

    incidentUrl(ref: BackendRef): string | null {
      return urls.get(ref.backendId) ?? null;
    },

    async fetchIncident(backendId: string): Promise<BackendIncidentSnapshot | null> {
      let res: z.infer<typeof incidentShown>;
      try {
        res = await call({ method: 'GET', path: `/v2/incidents/${encodeURIComponent(backendId)}` }, incidentShown, 'the incident lookup');
      } catch (err) {
        // Not found, or private and this key may not see private incidents (incident.io does not say which).
        if (err instanceof BackendError && err.code === 'backend.not_found') return null;
        throw err;
      }
      const i = res.incident;
      if (i.permalink) urls.set(i.id, i.permalink);
      const matches = i.severity ? await severitiesOf(i.severity.rank) : [];
      return {
        backendId: i.id,
        title: i.name.trim() || null,
        summary: i.summary?.trim() || null,
        status: toStatus(i.incident_status),
        severity: matches[0] ?? null,
        severityMatches: matches,
        url: i.permalink ?? null,
        private: i.visibility === 'private',
        updatedAt: i.updated_at ?? null,
        ...(i.mode && NOT_LIVE[i.mode] ? { notLive: NOT_LIVE[i.mode] } : {}),
      };
    },

    async listIncidentHistory(req) {
      const parsed = req.cursor ? historyCursor.safeParse(JSON.parse(req.cursor)) : null;
      const cur = parsed?.success ? parsed.data : { since: req.updatedSince.toISOString().slice(0, 10), after: null };
      const ranks = (await severities()).map((s) => s.rank);
      const size = Math.min(250, Math.max(1, req.pageSize));
      const page = await call(
        {
          method: 'GET',
          path: '/v2/incidents',
          query: { page_size: size, sort_by: 'created_at_oldest_first', 'updated_at[gte]': cur.since, ...(cur.after ? { after: cur.after } : {}) },
        },
        historyPage,
        'the incident history',
      );
      const after = page.pagination_meta?.after;
      // Done on a missing cursor, an empty page or a cursor that did not move (defensive: no loops).
      const done = !after || page.incidents.length === 0 || after === cur.after;
      return {
        incidents: page.incidents.map((i) => toHistoryRecord(i, ranks)).filter((r) => r !== null),
        next: done ? null : JSON.stringify({ since: cur.since, after }),
      };
    },

    async *listIncidents(filter: Record<string, string> = {}): AsyncGenerator<IncidentIoSummary> {
      let after: string | undefined;
      for (;;) {
        const page = await call(
          { method: 'GET', path: '/v2/incidents', query: { ...filter, page_size: opts.pageSize ?? 25, after } },
          z.looseObject({ incidents: z.array(incidentV2), pagination_meta: z.looseObject({ after: z.string().optional() }).optional() }),
          'the incident list',
        );
        for (const i of page.incidents) {
          yield { id: i.id, name: i.name, reference: i.reference, statusCategory: i.incident_status.category, permalink: i.permalink ?? null };
        }
        const next = page.pagination_meta?.after;
        // Stop on a missing cursor, an empty page, or a cursor that did not move (defensive: no loops).
        if (!next || page.incidents.length === 0 || next === after) return;
        after = next;
      }
    },
  };
  return backend;
}

export function toIncidentIoError(res: HttpResponse, what: string, nowMs: number): BackendError {
  const p = errorBody.safeParse(res.body);
  const errors = p.success ? (p.data.errors ?? []) : [];
  const text =
    errors.map((e) => (e.source?.field ? `${e.source.field}: ${e.message}` : e.message)).join('; ') || res.text.slice(0, 200) || `HTTP ${res.status}`;
  const opts = { backend: BACKEND, status: res.status };
  if (res.status === 401 || res.status === 403) {
    return new BackendError(
      'backend.auth',
      `incident.io refused INCIDENTIO_API_KEY for ${what} (HTTP ${res.status}: ${text}); check the key and that its scope allows this call`,
      opts,
    );
  }
  if (res.status === 404) return new BackendError('backend.not_found', `incident.io has no such record for ${what} (${text})`, opts);
  if (res.status === 429)
    return new BackendError('backend.rate_limited', `incident.io rate limit hit on ${what}`, {
      ...opts,
      retryAfterMs: waitFromIncidentIoBody(res.body, nowMs),
    });
  if (res.status >= 500) return new BackendError('backend.unavailable', `incident.io failed ${what} (HTTP ${res.status})`, opts);
  return new BackendError('backend.validation', `incident.io rejected ${what}: ${text}`, {
    ...opts,
    field: errors.find((e) => e.source?.field)?.source?.field ?? null,
  });
}
