import { z } from 'zod';
import type { IncidentStatus } from '../../../domain/incident.js';
import type { Severity } from '../../../domain/severity.js';
import { BackendError } from '../../../errors.js';
import type { BackendAlert, BackendCreateInput, BackendIncidentRef, BackendRef, BackendUpdate, BackendUser, IncidentBackend } from '../../../ports/backend.js';
import { createHttpClient, TransportError, type HttpRequest, type HttpResponse } from '../../http/client.js';
import { silentLogger, transportToBackendError, type VendorClientOptions, type CreateGuard } from '../../http/common.js';
import { createTokenBucketLimiter } from '../../http/token-bucket.js';
import {
  ALERT_SOURCES,
  errorsList,
  incidentResource,
  incidentResponse,
  incidentRoleResource,
  listOf,
  postMortemAttributes,
  severityResource,
  userResource,
  workflowRunResponse,
} from './schemas.js';
import { historyCursor, historyPage, nextHistoryCursor, toHistoryRecord } from './history.js';

/**
 * Rootly (JSON:API) behind the IncidentBackend port. Every body follows rootly-openapi.json
 * (`{data:{type,attributes}}`, `application/vnd.api+json`); every response is parsed with zod.
 */

export interface RootlyBackendOptions extends VendorClientOptions {
  /** Durable create marks (the store's flow steps); see CreateGuard. */
  createGuard?: CreateGuard;
}

export interface RootlyIncidentSummary {
  id: string;
  title: string | null;
  status: string | null;
  url: string | null;
  labels: Record<string, unknown>;
}

export interface RootlyBackend extends IncidentBackend {
  readonly name: 'rootly';
  /** All incidents matching `filter` (JSON:API `filter[...]` params), following `links.next`. */
  listIncidents(filter?: Record<string, string>): AsyncGenerator<RootlyIncidentSummary>;
}

const BACKEND = 'rootly';
/** The create guard's marks (built once: a zod schema compiles its parser on first use). */
const attemptMark = z.object({ at: z.string() });
const doneMark = z.object({ backendId: z.string(), url: z.string().nullable() });
/** An answer read for its resource id only. */
const idResponse = z.looseObject({ data: z.looseObject({ id: z.string() }) });
/** The created_at lookup: incidents created from LOOKUP_WINDOW_MS before our first attempt, at most this many pages. */
const LOOKUP_WINDOW_MS = 15 * 60_000;
const LOOKUP_PAGES = 5;
const LOOKUP_PAGE_SIZE = 50;
/** The first line of the timeline event that carries our post-mortem draft. */
const POSTMORTEM_EVENT = 'Post-mortem draft (Firebreak)';
const JSONAPI = 'application/vnd.api+json';

/** Our role names → Rootly role slugs / normalised names that mean the same thing. */
const ROLE_ALIASES: Record<string, string[]> = {
  commander: ['commander', 'incident-commander', 'ic'],
  communications: ['communications', 'communications-lead', 'comms', 'comms-lead', 'communication-lead'],
  scribe: ['scribe', 'note-taker'],
};

/** Our alert sources → the spec's `source` enum. Anything unknown is reported as `api`. */
const ALERT_SOURCE_MAP: Record<string, string> = {
  pagerduty: 'pagerduty',
  datadog: 'datadog',
  alertmanager: 'alertmanager',
  generic: 'generic_webhook',
};

export function createRootlyBackend(opts: RootlyBackendOptions): RootlyBackend {
  const log = opts.logger ?? silentLogger;
  const limiter =
    opts.limiter === null
      ? undefined
      : (opts.limiter ??
        createTokenBucketLimiter({
          // Published: ~3000 reads and ~3000 writes per 60 s sliding window, alerts ~50/min. Keep a margin.
          buckets: { read: { perMinute: 2700 }, write: { perMinute: 2700 }, alerts: { perMinute: 45 } },
          ...(opts.sleep ? { sleep: opts.sleep } : {}),
          ...(opts.now ? { now: opts.now } : {}),
        }));
  const http = createHttpClient({
    baseUrl: opts.baseUrl ?? 'https://api.rootly.com',
    headers: { authorization: `Bearer ${opts.apiKey}`, 'content-type': JSONAPI, accept: JSONAPI },
    ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
    ...(opts.sleep ? { sleep: opts.sleep } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.random ? { random: opts.random } : {}),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.retry ? { retry: opts.retry } : {}),
    ...(limiter ? { limiter } : {}),
    onRetry: (info) => log.debug({ backend: BACKEND, ...info }, 'retrying Rootly call'),
  });

  const urls = new Map<string, string>();
  let severities: Map<Severity, string> | null = null;
  let roles: { id: string; slug: string; name: string }[] | null = null;
  const usersByEmail = new Map<string, string>();

  /** One call: transport failures and error statuses become BackendErrors; 2xx bodies parsed by `schema`. */
  async function call<T extends z.ZodType>(req: HttpRequest, schema: T, what: string): Promise<z.infer<T>> {
    const res = await raw(req, what);
    if (res.status >= 400) throw toBackendError(res, what);
    const parsed = schema.safeParse(res.body);
    if (!parsed.success) {
      throw new BackendError('backend.unavailable', `Rootly answered ${what} with an unexpected body: ${z.prettifyError(parsed.error).slice(0, 300)}`, {
        backend: BACKEND,
        status: res.status,
      });
    }
    return parsed.data;
  }

  async function raw(req: HttpRequest, what: string): Promise<HttpResponse> {
    const bucket = req.bucket ?? (req.method === 'GET' ? 'read' : 'write');
    try {
      return await http.send({ ...req, bucket });
    } catch (err) {
      if (err instanceof TransportError) throw transportToBackendError(err, 'Rootly', what);
      throw err;
    }
  }

  async function* paginate<T extends z.ZodType>(
    path: string,
    query: Record<string, string>,
    item: T,
    what: string,
    maxPages = Infinity,
  ): AsyncGenerator<z.infer<T>> {
    let next: string | null = path;
    let pages = 0;
    let q: Record<string, string> | undefined = { ...query, ...(opts.pageSize ? { 'page[size]': String(opts.pageSize) } : {}), 'page[number]': '1' };
    while (next) {
      const page: { data: z.infer<T>[]; links?: { next?: string | null | undefined } | undefined } = await call(
        { method: 'GET', path: next, ...(q ? { query: q } : {}) },
        listOf(item),
        what,
      );
      for (const d of page.data) yield d;
      // `links.next` is an absolute URL on Rootly: keep only path and query so the base URL (and a
      // test fake) stays ours. A page without data ends the walk even if `next` is set, to avoid loops.
      const n = page.links?.next ?? null;
      if (!n || page.data.length === 0 || ++pages >= maxPages) break;
      const u = new URL(n, 'http://placeholder');
      next = u.pathname + u.search;
      q = undefined;
    }
  }

  async function loadSeverities(): Promise<Map<Severity, string>> {
    const m = new Map<Severity, string>();
    const all: z.infer<typeof severityResource>[] = [];
    for await (const s of paginate('/v1/severities', {}, severityResource, 'the severity list')) all.push(s);
    // Several Rootly severities may share a level: the one with the lowest position wins.
    all.sort((a, b) => (a.attributes.position ?? 1e9) - (b.attributes.position ?? 1e9));
    for (const s of all) {
      const level = s.attributes.severity;
      if (level && !m.has(level)) m.set(level, s.id);
    }
    return m;
  }

  async function severityId(sev: Severity): Promise<string> {
    if (severities?.has(sev)) return severities.get(sev)!;
    // Cached; refreshed once on a miss (someone may have added the severity since).
    severities = await loadSeverities();
    const id = severities.get(sev);
    if (!id) {
      throw new BackendError('backend.validation', `Rootly has no severity whose level is "${sev}"; add one under Configuration → Severities`, {
        backend: BACKEND,
        field: 'severity_id',
      });
    }
    return id;
  }

  async function roleId(role: string): Promise<string> {
    const find = (): string | undefined => {
      const wanted = ROLE_ALIASES[role] ?? [norm(role)];
      const hit =
        roles!.find((r) => wanted.includes(r.slug) || wanted.includes(norm(r.name))) ??
        // "Incident Commander", "Communications Lead" and the like.
        roles!.find((r) => norm(r.name).split('-').includes(norm(role)));
      return hit?.id;
    };
    if (roles) {
      const id = find();
      if (id) return id;
    }
    roles = [];
    for await (const r of paginate('/v1/incident_roles', {}, incidentRoleResource, 'the incident role list')) {
      if (r.attributes.enabled === false) continue;
      roles.push({ id: r.id, slug: r.attributes.slug ?? norm(r.attributes.name), name: r.attributes.name });
    }
    const id = find();
    if (!id) throw new BackendError('backend.validation', `Rootly has no incident role matching "${role}"`, { backend: BACKEND, field: 'incident_role_id' });
    return id;
  }

  async function userId(user: BackendUser): Promise<string> {
    // Rootly users carry no Slack id in the API, so the email is the only key we can match on.
    if (!user.email) {
      throw new BackendError('backend.validation', `cannot find <@${user.slackUserId}> in Rootly without their email`, { backend: BACKEND, field: 'user_id' });
    }
    const email = user.email.toLowerCase();
    const cached = usersByEmail.get(email);
    if (cached) return cached;
    const list = await call({ method: 'GET', path: '/v1/users', query: { 'filter[email]': email, 'page[size]': 1 } }, listOf(userResource), 'the user lookup');
    const hit = list.data.find((u) => u.attributes.email.toLowerCase() === email);
    if (!hit) throw new BackendError('backend.validation', `no Rootly user has the email ${email}`, { backend: BACKEND, field: 'user_id' });
    usersByEmail.set(email, hit.id);
    return hit.id;
  }

  const clock = opts.now ?? Date.now;

  /**
   * The incident carrying our `firebreak_id` label, if any: only an exact match on the label counts.
   * `filter[labels]` (format `key:value`) is not documented beyond its name, so it is a first try
   * only; when it yields no exact match we page the incidents created since `since` (newest first,
   * at most LOOKUP_PAGES pages) and check the label on each.
   */
  async function findByFirebreakId(firebreakId: string, since: Date): Promise<BackendIncidentRef | null> {
    const mine = (i: z.infer<typeof incidentResource>): boolean => i.attributes.labels?.firebreak_id === firebreakId;
    const found = (hit: z.infer<typeof incidentResource>): BackendIncidentRef => {
      const url = hit.attributes.url ?? null;
      if (url) urls.set(hit.id, url);
      return { backendId: hit.id, url };
    };
    const list = await call(
      { method: 'GET', path: '/v1/incidents', query: { 'filter[labels]': `firebreak_id:${firebreakId}`, 'page[size]': 5 } },
      listOf(incidentResource),
      'the incident lookup',
    );
    const hit = list.data.find(mine);
    if (hit) return found(hit);
    let seen = 0;
    const window = { 'filter[created_at][gte]': since.toISOString(), sort: '-created_at', 'page[size]': String(LOOKUP_PAGE_SIZE) };
    for await (const i of paginate('/v1/incidents', window, incidentResource, 'the incident lookup', LOOKUP_PAGES)) {
      seen++;
      if (mine(i)) return found(i);
    }
    if (seen >= LOOKUP_PAGES * LOOKUP_PAGE_SIZE) log.warn({ backend: BACKEND, firebreakId }, 'Rootly lookup window exhausted without a match');
    return null;
  }

  /** When the first create attempt for `firebreakId` may have started (the guard's mark), else a window back from now. */
  async function attemptStart(firebreakId: string): Promise<Date> {
    return windowFrom(opts.createGuard ? await opts.createGuard.get(guardAttempted(firebreakId)) : null);
  }
  /** The lookup window's start from an attempt mark (as the guard holds it), else from now. */
  function windowFrom(mark: unknown): Date {
    const parsed = attemptMark.safeParse(mark);
    const at = parsed.success ? Date.parse(parsed.data.at) : NaN;
    // Clocks differ between us and Rootly: start the window a margin earlier.
    return new Date((Number.isFinite(at) ? at : clock()) - LOOKUP_WINDOW_MS);
  }

  const guardDone = (id: string): string => `rootly.create.done:${id}`;
  const guardAttempted = (id: string): string => `rootly.create.attempted:${id}`;

  const backend: RootlyBackend = {
    name: 'rootly',

    async verify(): Promise<void> {
      // The key check also warms the severity cache, so the first declare's create is one round trip.
      // allSettled: both calls finish before we answer, so none is left in flight after a refusal.
      const [me, loaded] = await Promise.allSettled([call({ method: 'GET', path: '/v1/users/me' }, idResponse, 'the key check'), loadSeverities()]);
      if (me.status === 'rejected') throw me.reason;
      if (loaded.status === 'rejected') throw loaded.reason;
      severities = loaded.value;
    },

    async createIncident(input: BackendCreateInput): Promise<BackendIncidentRef> {
      const guard = opts.createGuard;
      if (guard) {
        const done = doneMark.safeParse(await guard.get(guardDone(input.firebreakId)));
        if (done.success) return done.data;
      }
      const record = async (ref: BackendIncidentRef): Promise<BackendIncidentRef> => {
        if (ref.url) urls.set(ref.backendId, ref.url);
        if (guard) await guard.put(guardDone(input.firebreakId), ref);
        return ref;
      };
      // Look before creating when an earlier attempt may have succeeded unseen (a crash or a lost
      // response). With a guard that has no attempt on record, there was none: skip the lookup,
      // which keeps the create to one round trip on the declare critical path.
      const attempted = guard ? (await guard.get(guardAttempted(input.firebreakId))) != null : true;
      if (attempted) {
        const existing = await findByFirebreakId(input.firebreakId, await attemptStart(input.firebreakId));
        if (existing) return record(existing);
      }
      // The guard keeps the first mark written (an earlier attempt's, if one raced this one): the window starts from it.
      const since = windowFrom(guard ? await guard.put(guardAttempted(input.firebreakId), { at: new Date(clock()).toISOString() }) : null);

      const attributes: Record<string, unknown> = {
        title: input.title,
        summary: input.summary,
        severity_id: await severityId(input.severity),
        private: input.private,
        labels: { firebreak_id: input.firebreakId },
      };
      if (input.slackChannel) {
        attributes.slack_channel_id = input.slackChannel.id;
        attributes.slack_channel_name = input.slackChannel.name;
        attributes.slack_channel_url = input.slackChannel.url;
      }
      const body = { data: { type: 'incidents', attributes } };
      // The create is not idempotent on Rootly's side, so the HTTP client never repeats it after an
      // unknown outcome. We do, once, and only after the lookup shows the first attempt left nothing.
      for (let round = 1; ; round++) {
        let res: HttpResponse | null = null;
        let lost: BackendError | null = null;
        try {
          // Idempotency-Key: harmless where Rootly ignores it, a second guard where it honours it. We
          // still never rely on it: the label lookup below is what finds a lost create.
          res = await raw(
            { method: 'POST', path: '/v1/incidents', body, idempotent: false, headers: { 'idempotency-key': input.firebreakId } },
            'the incident create',
          );
        } catch (err) {
          if (!(err instanceof BackendError)) throw err;
          lost = err;
        }
        if (res && res.status < 500) {
          if (res.status >= 400) throw toBackendError(res, 'the incident create');
          const parsed = incidentResponse.safeParse(res.body);
          if (!parsed.success)
            throw new BackendError('backend.unavailable', 'Rootly answered the incident create with an unexpected body', {
              backend: BACKEND,
              status: res.status,
            });
          return record({ backendId: parsed.data.data.id, url: parsed.data.data.attributes.url ?? null });
        }
        // A 5xx or a lost response: the incident may exist. Look for it before anything else.
        log.warn({ backend: BACKEND, firebreakId: input.firebreakId, round, status: res?.status }, 'Rootly create outcome unknown; looking it up');
        const found = await findByFirebreakId(input.firebreakId, since);
        if (found) return record(found);
        if (round >= 2) throw lost ?? toBackendError(res!, 'the incident create');
      }
    },

    async updateIncident(ref: BackendRef, patch: BackendUpdate): Promise<void> {
      const attributes: Record<string, unknown> = {};
      if (patch.title !== undefined) attributes.title = patch.title;
      if (patch.summary !== undefined) attributes.summary = patch.summary;
      if (patch.severity !== undefined) attributes.severity_id = await severityId(patch.severity);
      if (patch.slackChannel) {
        attributes.slack_channel_id = patch.slackChannel.id;
        attributes.slack_channel_name = patch.slackChannel.name;
        attributes.slack_channel_url = patch.slackChannel.url;
      }
      if (Object.keys(attributes).length === 0) return;
      await call(
        { method: 'PUT', path: `/v1/incidents/${enc(ref.backendId)}`, body: { data: { type: 'incidents', attributes } } },
        incidentResponse,
        'the incident update',
      );
    },

    async transition(ref: BackendRef, to: IncidentStatus, message?: string): Promise<void> {
      const path = `/v1/incidents/${enc(ref.backendId)}`;
      const put = (suffix: string, attributes: Record<string, unknown>) =>
        call({ method: 'PUT', path: path + suffix, body: { data: { type: 'incidents', attributes } } }, incidentResponse, `the ${to} transition`);
      const msg = (key: string): Record<string, unknown> => (message ? { [key]: message } : {});
      switch (to) {
        case 'mitigated':
          await put('/mitigate', msg('mitigation_message'));
          return;
        case 'resolved':
          await put('/resolve', msg('resolution_message'));
          return;
        case 'cancelled':
          await put('/cancel', msg('cancellation_message'));
          return;
        case 'investigating':
          // `/restart` takes no attributes and puts the incident back to `started`.
          await put('/restart', {});
          return;
      }
    },

    async assignRole(ref: BackendRef, role: string, user: BackendUser): Promise<void> {
      const [uid, rid] = [await userId(user), await roleId(role)];
      await call(
        {
          method: 'POST',
          path: `/v1/incidents/${enc(ref.backendId)}/assign_role_to_user`,
          body: { data: { type: 'incidents', attributes: { user_id: uid, incident_role_id: rid } } },
          // Assigning the same user to the same role twice leaves the same state: safe to repeat.
          idempotent: true,
        },
        incidentResponse,
        'the role assignment',
      );
    },

    async addTimelineEvent(ref: BackendRef, event: { text: string; at: Date }): Promise<void> {
      // The spec's new_incident_event has no timestamp field: Rootly stamps the event on receipt, so
      // `at` cannot be carried. Not idempotent: a lost response is not repeated (no duplicate notes).
      await call(
        {
          method: 'POST',
          path: `/v1/incidents/${enc(ref.backendId)}/events`,
          body: { data: { type: 'incident_events', attributes: { event: event.text, visibility: 'internal' } } },
        },
        idResponse,
        'the timeline event',
      );
    },

    async savePostmortem(ref: BackendRef, markdown: string): Promise<'saved' | 'not_ready' | 'unsupported'> {
      // The spec's update_incident_post_mortem has no content field, so the draft goes on the incident
      // timeline (once: a retried job finds it there), and the retrospective, when Rootly has made one
      // (a retrospective process does, or nothing does), is set to show that timeline. No retrospective
      // yet = not_ready: the caller waits a bounded time, then gives up on it.
      const inc = await call(
        { method: 'GET', path: `/v1/incidents/${enc(ref.backendId)}`, query: { include: 'incident_post_mortem,events' } },
        incidentResponse,
        'the post-mortem lookup',
      );
      const included = inc.included ?? [];
      const onTimeline = included.some(
        (r) => r.type === 'incident_events' && typeof r.attributes?.event === 'string' && r.attributes.event.startsWith(POSTMORTEM_EVENT),
      );
      if (!onTimeline) await backend.addTimelineEvent(ref, { text: `${POSTMORTEM_EVENT}\n\n${markdown}`, at: new Date(clock()) });
      const pm = included.find((r) => r.type === 'incident_post_mortems');
      if (!pm) return 'not_ready';
      const attrs = postMortemAttributes.safeParse(pm.attributes ?? {});
      const title = attrs.success ? attrs.data.title : `Post-mortem: ${inc.data.attributes.title ?? ref.firebreakId}`;
      await call(
        {
          method: 'PUT',
          path: `/v1/post_mortems/${enc(pm.id)}`,
          body: { data: { type: 'incident_post_mortems', attributes: { title, show_timeline: true } } },
        },
        idResponse,
        'the post-mortem update',
      );
      return 'saved';
    },

    async runWorkflow(ref: BackendRef, workflowId: string, context: Record<string, unknown>): Promise<{ runId: string; status: string }> {
      // Never repeated after an unknown outcome (idempotent: false): a remediation must not run twice.
      const res = await call(
        {
          method: 'POST',
          path: `/v1/workflows/${enc(workflowId)}/workflow_runs`,
          body: { data: { type: 'workflow_runs', attributes: { incident_id: ref.backendId, context, immediate: true } } },
          idempotent: false,
        },
        workflowRunResponse,
        'the workflow run',
      );
      return { runId: res.data.id, status: res.data.attributes.status };
    },

    async recordAlert(alert: BackendAlert): Promise<string | null> {
      const source = ALERT_SOURCE_MAP[alert.source] ?? (ALERT_SOURCES.has(alert.source) ? alert.source : 'api');
      const data = alert.data !== null && typeof alert.data === 'object' && !Array.isArray(alert.data) ? alert.data : { payload: alert.data ?? null };
      const res = await call(
        {
          method: 'POST',
          path: '/v1/alerts',
          bucket: 'alerts',
          body: {
            data: {
              type: 'alerts',
              attributes: {
                source,
                summary: alert.summary,
                external_id: alert.externalId,
                external_url: alert.externalUrl,
                labels: Object.entries(alert.labels).map(([key, value]) => ({ key, value })),
                data,
              },
            },
          },
        },
        idResponse,
        'the alert',
      );
      return res.data.id;
    },

    async resolveAlert(backendAlertId: string): Promise<void> {
      // Resolving a resolved alert leaves it resolved: safe to repeat after an unknown outcome.
      await call(
        {
          method: 'POST',
          path: `/v1/alerts/${enc(backendAlertId)}/resolve`,
          bucket: 'alerts',
          body: { data: { type: 'alerts', attributes: { resolution_message: 'Resolved at the source' } } },
          idempotent: true,
        },
        idResponse,
        'the alert resolve',
      );
    },

    incidentUrl(ref: BackendRef): string | null {
      return urls.get(ref.backendId) ?? null;
    },

    async listIncidentHistory(req) {
      const parsed = req.cursor ? historyCursor.safeParse(JSON.parse(req.cursor)) : null;
      const cur = parsed?.success ? parsed.data : { since: req.updatedSince.toISOString(), page: 1 };
      const size = Math.min(100, Math.max(1, req.pageSize));
      const page = await call(
        {
          method: 'GET',
          path: '/v1/incidents',
          query: { 'filter[updated_at][gte]': cur.since, sort: 'updated_at', 'page[size]': size, 'page[number]': cur.page },
        },
        historyPage,
        'the incident history',
      );
      const next = nextHistoryCursor(cur, page.data, size);
      return {
        incidents: page.data.map(toHistoryRecord).filter((r) => r !== null),
        next: next ? JSON.stringify(next) : null,
      };
    },

    async *listIncidents(filter: Record<string, string> = {}): AsyncGenerator<RootlyIncidentSummary> {
      const query: Record<string, string> = {};
      for (const [k, v] of Object.entries(filter)) query[`filter[${k}]`] = v;
      for await (const i of paginate('/v1/incidents', query, incidentResource, 'the incident list')) {
        yield {
          id: i.id,
          title: i.attributes.title ?? null,
          status: i.attributes.status ?? null,
          url: i.attributes.url ?? null,
          labels: i.attributes.labels ?? {},
        };
      }
    },
  };
  return backend;
}

/** A Rootly error response as the port's BackendError. */
export function toBackendError(res: HttpResponse, what: string): BackendError {
  const parsed = errorsList.safeParse(res.body);
  const errors = parsed.success ? parsed.data.errors : [];
  const text = errors.map((e) => (e.detail ? `${e.title}: ${e.detail}` : e.title)).join('; ') || res.text.slice(0, 200) || `HTTP ${res.status}`;
  const opts = { backend: BACKEND, status: res.status };
  if (res.status === 401 || res.status === 403) {
    return new BackendError(
      'backend.auth',
      `Rootly refused ROOTLY_API_KEY for ${what} (HTTP ${res.status}: ${text}); check the key is valid and its scope allows this call`,
      opts,
    );
  }
  if (res.status === 404) return new BackendError('backend.not_found', `Rootly has no such record for ${what} (${text})`, opts);
  if (res.status === 429) {
    const reset = Number(res.headers['retry-after'] ?? NaN);
    return new BackendError('backend.rate_limited', `Rootly rate limit hit on ${what}`, {
      ...opts,
      retryAfterMs: Number.isFinite(reset) ? reset * 1000 : null,
    });
  }
  if (res.status >= 500) return new BackendError('backend.unavailable', `Rootly failed ${what} (HTTP ${res.status})`, opts);
  const first = errors[0];
  const field = first?.source?.pointer?.split('/').filter(Boolean).pop() ?? fieldFromTitle(first?.title);
  return new BackendError('backend.validation', `Rootly rejected ${what}: ${text}`, { ...opts, field: field ?? null });
}

/** Rails-style titles start with the attribute: "Severity must exist" → severity. */
function fieldFromTitle(title: string | undefined): string | null {
  const m = title?.match(/^([A-Za-z_]+(?: [a-z_]+)?) (?:must|can't|can not|cannot|is|has|should|are)\b/);
  return m?.[1] ? m[1].toLowerCase().replace(/ /g, '_') : null;
}

function norm(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

function enc(s: string): string {
  return encodeURIComponent(s);
}
