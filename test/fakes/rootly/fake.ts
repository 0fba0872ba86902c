import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { loadSpecValidator } from '../shared/openapi.js';
import { startFakeServer, type FakeServer, type Reply, type RequestContext, type RouteDef } from '../shared/server.js';
import * as S from './schemas.js';

/**
 * A fake Rootly REST API on loopback: same paths, JSON:API bodies, error shapes and status codes as
 * the real service (as far as rootly-openapi.json and vendor-apis.md tell). Request bodies are checked
 * with our zod schemas and, when the spec is present, with ajv against the OpenAPI requestBody.
 *
 * Limits: one API key. `filter[labels]` is documented by name only, so by default the fake IGNORES it
 * (returns every incident, as a filter Rootly does not understand would): a client must check the
 * label on each result. `labelFilter: 'exact'` makes it filter `key:value`. `filter[created_at][gte]`
 * and `sort=-created_at` work. `Idempotency-Key` is not documented and is ignored. A retrospective
 * (post-mortem) exists only when `retrospectives: 'on_resolve'` (Rootly creates one from a
 * retrospective process, or never); `PUT /v1/post_mortems/{id}` takes no content and has no
 * state precondition.
 */

export interface FakeRootlyIncident {
  id: string;
  sequential_id: number;
  title: string | null;
  summary: string | null;
  status: string;
  severity_id: string | null;
  private: boolean;
  labels: Record<string, unknown>;
  slack_channel_id: string | null;
  slack_channel_name: string | null;
  slack_channel_url: string | null;
  url: string;
  mitigation_message: string | null;
  resolution_message: string | null;
  cancellation_message: string | null;
  roles: { incident_role_id: string; user_id: string }[];
  events: { id: string; event: string; visibility: string }[];
  post_mortem: { id: string; title: string; status: 'draft' | 'published'; show_timeline: boolean } | null;
  /** normal unless seeded otherwise (test, example, scheduled incidents exist on Rootly too). */
  kind: string;
  source: string | null;
  services: string[];
  /** ISO times; `updated_at` moves on every change, like Rootly's. */
  created_at: string;
  updated_at: string;
  started_at: string | null;
  acknowledged_at: string | null;
  mitigated_at: string | null;
  resolved_at: string | null;
}

/** An alert as the fake keeps it, with its event history (`GET /v1/alerts/{id}/events`). */
export interface FakeRootlyAlert {
  id: string;
  attributes: Record<string, unknown>;
  status: string;
  events: { id: string; kind: string; action: string; user_id: number | null; created_at: string }[];
  updated_at: string;
}

export interface FakeRootlyOptions {
  apiKey?: string;
  latencyMs?: number;
  /** Requests per window, reads and writes each (default 3000 / 60 s, as published); `setLimit` changes it later. */
  limit?: number;
  /** Alert creations (`POST /v1/alerts`) per window (default 50). */
  alertLimit?: number;
  windowMs?: number;
  now?: () => number;
  /** Users besides the API key's own; default alice@example.com, bob@example.com. */
  users?: { email: string; name?: string }[];
  /** Check bodies against ../shared/specs/rootly-openapi.json when present. Default true. */
  specValidation?: boolean;
  /** How `filter[labels]` behaves: 'ignored' (default, the worst case) or 'exact' (`key:value`). */
  labelFilter?: 'ignored' | 'exact';
  /** Whether resolving opens a retrospective (post-mortem): default 'on_resolve'; 'never' models an org without one. */
  retrospectives?: 'on_resolve' | 'never';
  /**
   * Rootly On-Call: notification targets an alert may page (by type and id), and schedules whose
   * shifts name a user (by email). An alert naming an unknown target is refused with 422.
   */
  onCall?: {
    targets?: { type: 'User' | 'Group' | 'EscalationPolicy' | 'Service'; id: string }[];
    schedules?: { id: string; shifts: { email: string; startsAt: string; endsAt: string }[] }[];
  };
}

export interface FakeRootly extends Omit<FakeServer, 'setLimit'> {
  setLimit(limit: number, windowMs?: number): void;
  incidents(): FakeRootlyIncident[];
  severities(): { id: string; slug: string; severity: string; name: string }[];
  roles(): { id: string; slug: string; name: string }[];
  users(): { id: string; email: string; name: string }[];
  workflowRuns(): { id: string; workflow_id: string; incident_id: string | null; context: unknown; status: string }[];
  alerts(): FakeRootlyAlert[];
  /** A paged person acknowledges the alert in Rootly (the app, a phone call): status and an `acknowledged` event by them. */
  acknowledgeAlert(id: string, email: string): void;
  actionItems(): { id: string; incident_id: string; attributes: Record<string, unknown> }[];
  /** Seed incidents directly (for pagination tests); `labels` for all of them (default none). */
  seedIncidents(n: number, labels?: Record<string, unknown>): void;
  /** Open a retrospective for an incident now (what a Rootly retrospective process does). */
  openRetrospective(incidentId: string): void;
  /** Seed incidents with their own history (insights sync tests and the benchmark). */
  seedHistory(rows: Partial<FakeRootlyIncident>[]): FakeRootlyIncident[];
  /** Change an incident as Rootly's UI would (bumps updated_at). */
  touch(id: string, patch: Partial<FakeRootlyIncident>): void;
  /** Whether spec validation with ajv is active (the spec file was found). */
  specValidationActive: boolean;
}

const err = (status: number, title: string, extra: { detail?: string; pointer?: string } = {}): Reply => ({
  status,
  headers: { 'content-type': 'application/vnd.api+json' },
  body: {
    errors: [
      { title, status: String(status), ...(extra.detail ? { detail: extra.detail } : {}), ...(extra.pointer ? { source: { pointer: extra.pointer } } : {}) },
    ],
  },
});

const ok = (status: number, body: unknown): Reply => ({ status, body, headers: { 'content-type': 'application/vnd.api+json' } });

export async function startFakeRootly(opts: FakeRootlyOptions = {}): Promise<FakeRootly> {
  const apiKey = opts.apiKey ?? 'rootly-test-key';
  const spec = opts.specValidation === false ? null : loadSpecValidator('rootly-openapi.json');
  const ts = new Date('2026-01-01T00:00:00Z').toISOString();
  const clock = opts.now ?? Date.now;
  /** Strictly increasing, like database timestamps with microseconds: two changes never share one. */
  let lastStamp = 0;
  const stamp = (): string => {
    lastStamp = Math.max(clock(), lastStamp + 1);
    return new Date(lastStamp).toISOString();
  };
  const openRetrospective = (inc: FakeRootlyIncident) => {
    inc.post_mortem ??= { id: randomUUID(), title: `${inc.title ?? 'Incident'} retrospective`, status: 'draft', show_timeline: false };
  };

  const severities = (['critical', 'high', 'medium', 'low'] as const).map((severity, i) => ({
    id: randomUUID(),
    slug: `sev${i}`,
    name: `SEV${i}`,
    severity,
    position: i,
  }));
  const roles = [
    { id: randomUUID(), slug: 'commander', name: 'Commander' },
    { id: randomUUID(), slug: 'communications-lead', name: 'Communications Lead' },
    { id: randomUUID(), slug: 'scribe', name: 'Scribe' },
  ];
  // Rootly user ids are integers (sent as strings in JSON:API; alert events name them as integers).
  const me = { id: '100', email: 'firebreak-bot@example.com', name: 'Firebreak' };
  const users = [
    me,
    ...(opts.users ?? [{ email: 'alice@example.com' }, { email: 'bob@example.com' }]).map((u, n) => ({
      id: String(101 + n),
      email: u.email,
      name: u.name ?? u.email.split('@')[0]!,
    })),
  ];
  const incidents: FakeRootlyIncident[] = [];
  const workflowRuns: { id: string; workflow_id: string; incident_id: string | null; context: unknown; status: string }[] = [];
  const alerts: FakeRootlyAlert[] = [];
  const actionItems: { id: string; incident_id: string; attributes: Record<string, unknown> }[] = [];
  let seq = 0;
  let server: FakeServer;

  const alertJson = (a: FakeRootlyAlert) => ({
    id: a.id,
    type: 'alerts',
    attributes: { ...a.attributes, status: a.status, created_at: a.events[0]?.created_at ?? ts, updated_at: a.updated_at },
  });
  const acknowledge = (a: FakeRootlyAlert, userId: string) => {
    a.status = 'acknowledged';
    a.updated_at = stamp();
    a.events.push({ id: randomUUID(), kind: 'status_update', action: 'acknowledged', user_id: Number(userId), created_at: a.updated_at });
  };

  const incidentJson = (i: FakeRootlyIncident) => ({
    id: i.id,
    type: 'incidents',
    attributes: {
      sequential_id: i.sequential_id,
      title: i.title,
      summary: i.summary,
      status: i.status,
      private: i.private,
      labels: i.labels,
      severity: i.severity_id ? { data: sevJson(severities.find((s) => s.id === i.severity_id)!) } : null,
      slack_channel_id: i.slack_channel_id,
      slack_channel_name: i.slack_channel_name,
      slack_channel_url: i.slack_channel_url,
      mitigation_message: i.mitigation_message,
      resolution_message: i.resolution_message,
      cancellation_message: i.cancellation_message,
      url: i.url,
      slug: `${i.sequential_id}-incident`,
      kind: i.kind,
      source: i.source,
      services: i.services.map((name) => ({ data: { id: `svc-${name}`, type: 'services', attributes: { name, slug: name, created_at: ts, updated_at: ts } } })),
      retrospective_progress_status: i.post_mortem
        ? i.post_mortem.status === 'published'
          ? 'completed'
          : 'active'
        : i.status === 'resolved'
          ? 'not_started'
          : null,
      started_at: i.started_at,
      acknowledged_at: i.acknowledged_at,
      mitigated_at: i.mitigated_at,
      resolved_at: i.resolved_at,
      created_at: i.created_at,
      updated_at: i.updated_at,
    },
  });
  const sevJson = (s: (typeof severities)[number]) => ({
    id: s.id,
    type: 'severities',
    attributes: { name: s.name, slug: s.slug, severity: s.severity, position: s.position, created_at: ts, updated_at: ts },
  });

  /** JSON:API page of `items` with links/meta as Rootly returns them. */
  const page = <T>(ctx: RequestContext, items: T[], map: (t: T) => unknown): Reply => {
    const size = Math.min(100, Math.max(1, Number(ctx.query['page[size]'] ?? 20) || 20));
    const number = Math.max(1, Number(ctx.query['page[number]'] ?? 1) || 1);
    const total = Math.max(1, Math.ceil(items.length / size));
    const link = (n: number) => {
      const q = new URLSearchParams({ ...ctx.query, 'page[number]': String(n), 'page[size]': String(size) });
      return `${server.url}${ctx.path}?${q.toString()}`;
    };
    return ok(200, {
      data: items.slice((number - 1) * size, number * size).map(map),
      links: {
        self: link(number),
        first: link(1),
        prev: number > 1 ? link(number - 1) : null,
        next: number < total ? link(number + 1) : null,
        last: link(total),
      },
      meta: {
        current_page: number,
        next_page: number < total ? number + 1 : null,
        prev_page: number > 1 ? number - 1 : null,
        total_count: items.length,
        total_pages: total,
      },
    });
  };

  /** zod then (when available) the OpenAPI schema; one errors[] entry per problem. */
  const validate = <T extends z.ZodType>(ctx: RequestContext, template: string, schema: T): { ok: true; data: z.infer<T> } | { ok: false; reply: Reply } => {
    const errors: { title: string; status: string; detail?: string; source?: { pointer: string } }[] = [];
    const r = schema.safeParse(ctx.body);
    if (!r.success) {
      for (const issue of r.error.issues) {
        const pointer = `/${issue.path.map(String).join('/')}`;
        const keys = 'keys' in issue && Array.isArray(issue.keys) ? issue.keys.join(', ') : '';
        const field = keys || String(issue.path[issue.path.length - 1] ?? 'data');
        errors.push({
          title: `${field} ${issue.code === 'unrecognized_keys' ? 'is not a permitted attribute' : issue.message}`,
          status: '422',
          source: { pointer: keys ? `${pointer}/${keys}` : pointer },
        });
      }
    }
    const specErrors = spec?.validateRequest(ctx.method, template, ctx.body) ?? [];
    for (const e of specErrors) errors.push({ title: `Request does not match the OpenAPI schema: ${e}`, status: '422' });
    if (errors.length > 0) return { ok: false, reply: ok(422, { errors }) };
    return { ok: true, data: r.data as z.infer<T> };
  };

  /** What a seeded incident (made in Rootly's UI, not by us) has in common: the caller adds status, severity, labels and times. */
  const seeded = (n: number) => ({
    id: randomUUID(),
    sequential_id: n,
    title: `Seeded ${n}`,
    summary: null,
    private: false,
    slack_channel_id: null,
    slack_channel_name: null,
    slack_channel_url: null,
    url: `https://rootly.com/account/incidents/${n}-seeded`,
    mitigation_message: null,
    resolution_message: null,
    cancellation_message: null,
    roles: [],
    events: [],
    post_mortem: null,
    kind: 'normal',
    source: 'web',
    services: [],
  });
  const times = () => {
    const at = stamp();
    return { created_at: at, updated_at: at, started_at: at, acknowledged_at: null, mitigated_at: null, resolved_at: null };
  };
  const findIncident = (id: string | undefined) => incidents.find((i) => i.id === id || String(i.sequential_id) === id);
  const notFound = (): Reply => err(404, 'Not found or unauthorized');

  const routes: RouteDef[] = [];
  const route = (method: string, template: string, handler: RouteDef['handler']) => routes.push({ method, template, handler });

  route('GET', '/v1/users/me', () => ok(200, { data: { id: me.id, type: 'users', attributes: { email: me.email, created_at: ts, updated_at: ts } } }));
  route('GET', '/v1/users', (ctx) => {
    const email = ctx.query['filter[email]']?.toLowerCase();
    return page(
      ctx,
      users.filter((u) => !email || u.email === email),
      (u) => ({ id: u.id, type: 'users', attributes: { email: u.email, created_at: ts, updated_at: ts } }),
    );
  });
  route('GET', '/v1/severities', (ctx) => {
    const slug = ctx.query['filter[slug]'];
    const level = ctx.query['filter[severity]'];
    return page(
      ctx,
      severities.filter((s) => (!slug || s.slug === slug) && (!level || s.severity === level)),
      sevJson,
    );
  });
  route('GET', '/v1/incident_roles', (ctx) =>
    page(ctx, roles, (r) => ({
      id: r.id,
      type: 'incident_roles',
      attributes: { name: r.name, slug: r.slug, enabled: true, optional: false, created_at: ts, updated_at: ts },
    })),
  );

  route('GET', '/v1/incidents', (ctx) => {
    // Newest first unless asked otherwise (Rootly's default order is not documented either).
    let list = [...incidents].reverse();
    if (ctx.query.sort === 'created_at') list.reverse();
    const gte = ctx.query['filter[created_at][gte]'];
    if (gte) list = list.filter((i) => Date.parse(i.created_at) >= Date.parse(gte));
    const labels = ctx.query['filter[labels]'];
    if (labels && opts.labelFilter === 'exact') {
      const pairs = labels.split(',').map((p) => p.split(':'));
      list = list.filter((i) => pairs.every(([k, v]) => k !== undefined && String(i.labels[k] ?? '') === v));
    }
    const status = ctx.query['filter[status]'];
    if (status) list = list.filter((i) => status.split(',').includes(i.status));
    for (const field of ['updated_at', 'created_at'] as const) {
      const gte = ctx.query[`filter[${field}][gte]`];
      if (gte !== undefined) {
        const t = Date.parse(gte);
        if (Number.isNaN(t)) return err(400, 'Invalid filter', { detail: `filter[${field}][gte] is not a date` });
        list = list.filter((i) => Date.parse(i[field]) >= t);
      }
    }
    const sort = ctx.query.sort;
    if (sort) {
      const m = /^(-?)(created_at|updated_at)$/.exec(sort);
      if (!m) return err(400, 'Invalid sort', { detail: `sort must be one of created_at, -created_at, updated_at, -updated_at` });
      const key = m[2] as 'created_at' | 'updated_at';
      const dir = m[1] ? -1 : 1;
      list = [...list].sort((a, b) => dir * (Date.parse(a[key]) - Date.parse(b[key])) || a.sequential_id - b.sequential_id);
    }
    return page(ctx, list, incidentJson);
  });
  route('POST', '/v1/incidents', (ctx) => {
    const v = validate(ctx, '/v1/incidents', S.newIncident);
    if (!v.ok) return v.reply;
    const a = v.data.data.attributes;
    if (a.severity_id && !severities.some((s) => s.id === a.severity_id))
      return err(422, 'Severity must exist', { detail: `severity_id ${a.severity_id} is unknown`, pointer: '/data/attributes/severity_id' });
    const id = randomUUID();
    seq += 1;
    const inc: FakeRootlyIncident = {
      id,
      sequential_id: seq,
      title: a.title ?? `Incident ${seq}`,
      summary: a.summary ?? null,
      status: a.status ?? 'started',
      severity_id: a.severity_id ?? null,
      private: a.private ?? false,
      labels: a.labels ?? {},
      slack_channel_id: a.slack_channel_id ?? null,
      slack_channel_name: a.slack_channel_name ?? null,
      slack_channel_url: a.slack_channel_url ?? null,
      url: `https://rootly.com/account/incidents/${seq}-incident`,
      mitigation_message: null,
      resolution_message: null,
      cancellation_message: null,
      roles: [],
      events: [],
      post_mortem: null,
      kind: 'normal',
      source: 'api',
      services: [],
      ...times(),
    };
    incidents.push(inc);
    return ok(201, { data: incidentJson(inc) });
  });
  route('GET', '/v1/incidents/{id}', (ctx) => {
    const inc = findIncident(ctx.params.id);
    if (!inc) return notFound();
    const include = (ctx.query.include ?? '').split(',');
    const included: unknown[] = [
      ...(include.includes('incident_post_mortem') && inc.post_mortem
        ? [
            {
              id: inc.post_mortem.id,
              type: 'incident_post_mortems',
              attributes: {
                title: inc.post_mortem.title,
                status: inc.post_mortem.status,
                show_timeline: inc.post_mortem.show_timeline,
                created_at: ts,
                updated_at: ts,
              },
            },
          ]
        : []),
      ...(include.includes('events')
        ? inc.events.map((e) => ({
            id: e.id,
            type: 'incident_events',
            attributes: { event: e.event, visibility: e.visibility, created_at: ts, updated_at: ts },
          }))
        : []),
    ];
    return ok(200, { data: incidentJson(inc), ...(include.length > 0 && include[0] !== '' ? { included } : {}) });
  });
  route('PUT', '/v1/incidents/{id}', (ctx) => {
    const v = validate(ctx, '/v1/incidents/{id}', S.updateIncident);
    if (!v.ok) return v.reply;
    const inc = findIncident(ctx.params.id);
    if (!inc) return notFound();
    const a = v.data.data.attributes;
    if (a.severity_id && !severities.some((s) => s.id === a.severity_id)) return err(422, 'Severity must exist', { pointer: '/data/attributes/severity_id' });
    if (a.title != null) inc.title = a.title;
    if (a.summary !== undefined) inc.summary = a.summary ?? null;
    if (a.severity_id != null) inc.severity_id = a.severity_id;
    if (a.slack_channel_id != null) inc.slack_channel_id = a.slack_channel_id;
    if (a.slack_channel_name != null) inc.slack_channel_name = a.slack_channel_name;
    if (a.slack_channel_url != null) inc.slack_channel_url = a.slack_channel_url;
    if (a.labels != null) inc.labels = a.labels;
    if (a.status != null) inc.status = a.status;
    inc.updated_at = stamp();
    return ok(200, { data: incidentJson(inc) });
  });

  const OPEN = ['in_triage', 'started', 'detected', 'acknowledged', 'mitigated'];
  const transition = (template: string, schema: z.ZodType, from: string[], apply: (inc: FakeRootlyIncident, attrs: Record<string, unknown>) => void) =>
    route('PUT', template, (ctx) => {
      const v = validate(ctx, template, schema);
      if (!v.ok) return v.reply;
      const inc = findIncident(ctx.params.id);
      if (!inc) return notFound();
      if (!from.includes(inc.status)) return err(422, `Status cannot transition from ${inc.status}`, { pointer: '/data/attributes/status' });
      const body = v.data as { data: { attributes?: Record<string, unknown> } };
      apply(inc, body.data.attributes ?? {});
      inc.updated_at = stamp();
      return ok(200, { data: incidentJson(inc) });
    });
  transition('/v1/incidents/{id}/mitigate', S.mitigateIncident, ['in_triage', 'started', 'detected', 'acknowledged'], (inc, a) => {
    inc.status = 'mitigated';
    inc.mitigation_message = (a.mitigation_message as string | undefined) ?? null;
    inc.mitigated_at ??= stamp();
  });
  transition('/v1/incidents/{id}/resolve', S.resolveIncident, OPEN, (inc, a) => {
    inc.status = 'resolved';
    inc.resolution_message = (a.resolution_message as string | undefined) ?? null;
    inc.resolved_at = stamp();
    // Rootly opens a retrospective when a retrospective process applies, or never.
    if (opts.retrospectives !== 'never') openRetrospective(inc);
  });
  transition('/v1/incidents/{id}/cancel', S.cancelIncident, OPEN, (inc, a) => {
    inc.status = 'cancelled';
    inc.cancellation_message = (a.cancellation_message as string | undefined) ?? null;
  });
  transition('/v1/incidents/{id}/restart', S.restartIncident, ['mitigated', 'resolved', 'cancelled', 'closed'], (inc) => {
    inc.status = 'started';
  });
  transition('/v1/incidents/{id}/in_triage', S.restartIncident, ['started', 'detected', 'acknowledged'], (inc) => {
    inc.status = 'in_triage';
  });

  route('POST', '/v1/incidents/{id}/assign_role_to_user', (ctx) => {
    const v = validate(ctx, '/v1/incidents/{id}/assign_role_to_user', S.assignRole);
    if (!v.ok) return v.reply;
    const inc = findIncident(ctx.params.id);
    if (!inc) return notFound();
    const a = v.data.data.attributes;
    if (!users.some((u) => u.id === a.user_id)) return err(422, 'User must exist', { pointer: '/data/attributes/user_id' });
    if (!roles.some((r) => r.id === a.incident_role_id)) return err(422, 'Incident role must exist', { pointer: '/data/attributes/incident_role_id' });
    inc.roles = inc.roles.filter((r) => r.incident_role_id !== a.incident_role_id);
    inc.roles.push({ incident_role_id: a.incident_role_id, user_id: a.user_id });
    inc.acknowledged_at ??= stamp();
    inc.updated_at = stamp();
    return ok(200, { data: incidentJson(inc) });
  });
  route('POST', '/v1/incidents/{incident_id}/events', (ctx) => {
    const v = validate(ctx, '/v1/incidents/{incident_id}/events', S.newEvent);
    if (!v.ok) return v.reply;
    const inc = findIncident(ctx.params.incident_id);
    if (!inc) return notFound();
    const a = v.data.data.attributes;
    const ev = { id: randomUUID(), event: a.event, visibility: a.visibility ?? 'internal' };
    inc.events.push(ev);
    return ok(201, {
      data: { id: ev.id, type: 'incident_events', attributes: { event: ev.event, visibility: ev.visibility, occurred_at: ts, created_at: ts, updated_at: ts } },
    });
  });
  route('GET', '/v1/post_mortems/{id}', (ctx) => {
    const inc = incidents.find((i) => i.post_mortem?.id === ctx.params.id);
    if (!inc?.post_mortem) return notFound();
    return ok(200, {
      data: {
        id: inc.post_mortem.id,
        type: 'incident_post_mortems',
        attributes: { title: inc.post_mortem.title, status: inc.post_mortem.status, created_at: ts, updated_at: ts },
      },
    });
  });
  route('PUT', '/v1/post_mortems/{id}', (ctx) => {
    const v = validate(ctx, '/v1/post_mortems/{id}', S.updatePostMortem);
    if (!v.ok) return v.reply;
    const inc = incidents.find((i) => i.post_mortem?.id === ctx.params.id);
    if (!inc?.post_mortem) return notFound();
    const a = v.data.data.attributes;
    if (a.title) inc.post_mortem.title = a.title;
    if (a.status) inc.post_mortem.status = a.status;
    inc.updated_at = stamp();
    if (a.show_timeline !== undefined) inc.post_mortem.show_timeline = a.show_timeline;
    return ok(200, {
      data: {
        id: inc.post_mortem.id,
        type: 'incident_post_mortems',
        attributes: { title: inc.post_mortem.title, status: inc.post_mortem.status, created_at: ts, updated_at: ts },
      },
    });
  });
  route('POST', '/v1/workflows/{workflow_id}/workflow_runs', (ctx) => {
    const v = validate(ctx, '/v1/workflows/{workflow_id}/workflow_runs', S.newWorkflowRun);
    if (!v.ok) return v.reply;
    const a = v.data.data.attributes;
    if (a.incident_id && !findIncident(a.incident_id)) return err(422, 'Incident must exist', { pointer: '/data/attributes/incident_id' });
    const run = { id: randomUUID(), workflow_id: ctx.params.workflow_id ?? '', incident_id: a.incident_id ?? null, context: a.context ?? {}, status: 'queued' };
    workflowRuns.push(run);
    return ok(201, {
      data: {
        id: run.id,
        type: 'workflow_runs',
        attributes: { workflow_id: run.workflow_id, status: run.status, triggered_by: 'user', incident_id: run.incident_id, context: run.context },
      },
    });
  });
  route('POST', '/v1/alerts', (ctx) => {
    const v = validate(ctx, '/v1/alerts', S.newAlert);
    if (!v.ok) return v.reply;
    const na = v.data.data.attributes;
    if ((na.notification_target_type ?? null) !== null || (na.notification_target_id ?? null) !== null) {
      if (!na.notification_target_type || !na.notification_target_id)
        return err(422, 'Notification target type and notification target id must both be given', { pointer: '/data/attributes/notification_target_id' });
      const known =
        na.notification_target_type === 'User'
          ? users.some((u) => u.id === na.notification_target_id)
          : (opts.onCall?.targets ?? []).some((t) => t.type === na.notification_target_type && t.id === na.notification_target_id);
      if (!known) return err(422, 'Notification target must exist', { pointer: '/data/attributes/notification_target_id' });
    }
    const at = stamp();
    const alert: FakeRootlyAlert = {
      id: randomUUID(),
      attributes: v.data.data.attributes as Record<string, unknown>,
      status: 'triggered',
      events: [{ id: randomUUID(), kind: 'action', action: 'created', user_id: null, created_at: at }],
      updated_at: at,
    };
    alerts.push(alert);
    return ok(201, { data: alertJson(alert) });
  });
  route('GET', '/v1/alerts/{id}', (ctx) => {
    const alert = alerts.find((a) => a.id === ctx.params.id);
    return alert ? ok(200, { data: alertJson(alert) }) : notFound();
  });
  route('GET', '/v1/alerts/{alert_id}/events', (ctx) => {
    const alert = alerts.find((a) => a.id === ctx.params.alert_id);
    if (!alert) return notFound();
    const action = ctx.query['filter[action]'];
    const kind = ctx.query['filter[kind]'];
    return page(
      ctx,
      alert.events.filter((e) => (!action || e.action === action) && (!kind || e.kind === kind)),
      (e) => ({
        id: e.id,
        type: 'alert_events',
        attributes: { kind: e.kind, action: e.action, source: 'web', user_id: e.user_id, details: null, created_at: e.created_at, updated_at: e.created_at },
      }),
    );
  });
  route('POST', '/v1/alerts/{id}/acknowledge', (ctx) => {
    const alert = alerts.find((a) => a.id === ctx.params.id);
    if (!alert) return notFound();
    acknowledge(alert, me.id);
    return ok(200, { data: alertJson(alert) });
  });
  route('GET', '/v1/users/{id}', (ctx) => {
    const u = users.find((x) => x.id === ctx.params.id);
    if (!u) return notFound();
    const [first, ...rest] = u.name.split(' ');
    return ok(200, {
      data: {
        id: u.id,
        type: 'users',
        attributes: {
          name: u.name,
          email: u.email,
          first_name: first,
          last_name: rest.join(' '),
          full_name: u.name,
          slack_id: null,
          time_zone: 'UTC',
          created_at: ts,
          updated_at: ts,
        },
      },
    });
  });
  route('POST', '/v1/alerts/{id}/resolve', (ctx) => {
    const v = validate(ctx, '/v1/alerts/{id}/resolve', S.resolveAlert);
    if (!v.ok) return v.reply;
    const alert = alerts.find((a) => a.id === ctx.params.id);
    if (!alert) return notFound();
    alert.status = 'resolved';
    alert.updated_at = stamp();
    alert.events.push({ id: randomUUID(), kind: 'status_update', action: 'resolved', user_id: Number(me.id), created_at: alert.updated_at });
    return ok(200, { data: alertJson(alert) });
  });

  route('GET', '/v1/schedules/{id}/shifts', (ctx) => {
    const sched = (opts.onCall?.schedules ?? []).find((x) => x.id === ctx.params.id);
    if (!sched) return notFound();
    const from = Date.parse(ctx.query.from ?? '');
    const to = Date.parse(ctx.query.to ?? '');
    const shifts = sched.shifts.filter((sh) => (Number.isNaN(to) || Date.parse(sh.startsAt) < to) && (Number.isNaN(from) || Date.parse(sh.endsAt) > from));
    return ok(200, {
      data: shifts.map((sh, n) => {
        const u = users.find((x) => x.email === sh.email);
        return {
          id: `${sched.id}-shift-${n}`,
          type: 'shifts',
          attributes: {
            schedule_id: sched.id,
            rotation_id: null,
            starts_at: sh.startsAt,
            ends_at: sh.endsAt,
            is_override: false,
            shift_override: null,
            user: {
              data: {
                id: u?.id ?? randomUUID(),
                type: 'users',
                attributes: { email: sh.email, full_name: sh.email.split('@')[0], created_at: ts, updated_at: ts },
              },
            },
          },
        };
      }),
    });
  });
  const actionItemJson = (item: (typeof actionItems)[number]) => {
    const inc = findIncident(item.incident_id);
    return {
      id: item.id,
      type: 'incident_action_items',
      attributes: { ...item.attributes, incident_id: item.incident_id, incident_title: inc?.title ?? null, created_at: ts, updated_at: ts },
    };
  };
  route('GET', '/v1/incidents/{incident_id}/action_items', (ctx) => {
    const inc = findIncident(ctx.params.incident_id);
    if (!inc) return notFound();
    return page(
      ctx,
      actionItems.filter((a) => a.incident_id === inc.id),
      actionItemJson,
    );
  });
  route('POST', '/v1/incidents/{incident_id}/action_items', (ctx) => {
    const v = validate(ctx, '/v1/incidents/{incident_id}/action_items', S.newActionItem);
    if (!v.ok) return v.reply;
    const inc = findIncident(ctx.params.incident_id);
    if (!inc) return notFound();
    const item = {
      id: randomUUID(),
      incident_id: inc.id,
      attributes: { kind: 'task', priority: 'medium', status: 'open', ...v.data.data.attributes } as Record<string, unknown>,
    };
    actionItems.push(item);
    return ok(201, { data: actionItemJson(item) });
  });

  server = await startFakeServer({
    routes,
    ...(opts.latencyMs !== undefined ? { latencyMs: opts.latencyMs } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    // Published: ~3000 GETs and ~3000 writes per key per 60 s sliding window, each counted apart;
    // alert creation about 50 a minute on top.
    limit: opts.limit ?? 3000,
    windowMs: opts.windowMs ?? 60_000,
    windows: (method, route) => (method === 'GET' ? ['read'] : route === 'POST /v1/alerts' ? ['write', 'alerts'] : ['write']),
    windowLimits: { alerts: opts.alertLimit ?? 50 },
    rateLimitHeaders: true,
    authenticate: (ctx) =>
      ctx.headers.authorization === `Bearer ${apiKey}` ? null : { status: 401, body: { errors: [{ title: 'Invalid token', status: '401' }] } },
    precheck: (ctx) => {
      // Rootly speaks JSON:API only: a body in another media type is refused.
      if ((ctx.method === 'POST' || ctx.method === 'PUT') && !(ctx.headers['content-type'] ?? '').startsWith('application/vnd.api+json')) {
        return err(415, 'Unsupported media type', { detail: 'Content-Type must be application/vnd.api+json' });
      }
      return null;
    },
    notFound: () => notFound(),
    rateLimited: () => err(429, 'Rate limit exceeded'),
  });

  return {
    ...server,
    specValidationActive: spec !== null,
    incidents: () => incidents,
    severities: () => severities,
    roles: () => roles,
    users: () => users,
    workflowRuns: () => workflowRuns,
    alerts: () => alerts,
    acknowledgeAlert(id, email) {
      const alert = alerts.find((a) => a.id === id);
      const u = users.find((x) => x.email === email);
      if (!alert || !u) throw new Error(`no fake Rootly alert ${id} or user ${email}`);
      acknowledge(alert, u.id);
    },
    actionItems: () => actionItems,
    openRetrospective(id) {
      const inc = findIncident(id);
      if (inc) openRetrospective(inc);
    },
    seedIncidents(n, labels = {}) {
      for (let k = 0; k < n; k++) {
        seq += 1;
        incidents.push({ ...seeded(seq), status: 'started', severity_id: severities[2]!.id, labels: { ...labels }, ...times() });
      }
    },
    seedHistory(rows) {
      return rows.map((r) => {
        seq += 1;
        const created = r.created_at ?? stamp();
        const inc: FakeRootlyIncident = {
          ...seeded(seq),
          status: 'resolved',
          severity_id: severities[1]!.id,
          labels: {},
          created_at: created,
          updated_at: r.updated_at ?? created,
          started_at: created,
          acknowledged_at: null,
          mitigated_at: null,
          resolved_at: null,
          ...r,
        };
        incidents.push(inc);
        return inc;
      });
    },
    touch(id, patch) {
      const inc = findIncident(id);
      if (!inc) throw new Error(`no fake Rootly incident ${id}`);
      Object.assign(inc, patch);
      inc.updated_at = stamp();
    },
  };
}
