import { createHmac, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { loadSpecValidator } from '../shared/openapi.js';
import { startFakeServer, type FakeServer, type Reply, type RequestContext, type RouteDef } from '../shared/server.js';

/**
 * A fake incident.io API on loopback (v1 catalogue, v2 incidents) with its error shape
 * `{type,status,request_id,errors:[{code,message,source:{field}}]}` and its 429 body
 * `rate_limit{name,limit,remaining,retry_after}`. Bodies are checked with the zod schemas below
 * (written from incidentio-openapi.json) and, when present, with ajv against the spec.
 *
 * Status edits follow the spec's rules for `incident_status_id`: within one category; from
 * triage/live to learning (post-incident) or closed; from learning to closed. Anything else (live →
 * declined, closed → live, ...) is a 422. Resolving straight to closed while the organisation has a
 * post-incident flow needs the key's "close by opting out of post-incident flow" permission
 * (`closeWithoutPostIncident`, default false). import_postmortem_document makes a new document on
 * every call (as the spec says), in any status; GET /v1/postmortem_documents lists them.
 *
 * Private incidents: a key without "View all incident data, including private incidents"
 * (`viewPrivate: false`) is answered 404 for them and does not see them in lists (UNCONFIRMED whether
 * the real API says 404 or 403 there; the bot treats both as "cannot see it"). `GET /v2/incidents/{id}`
 * also takes the numeric part of the reference (INC-123 → 123), as the spec says. Changes made "in
 * incident.io's UI" (`createInUi`, `changeInUi`), and those made through the API (creates,
 * edits), are sent to a subscribed endpoint as the real webhooks are: `public_incident.*` with the
 * incident, `private_incident.*` with only its id.
 *
 * Channels: with incident.io's Slack app installed (`slackApp`, default true) a `standard` incident
 * gets its own channel (`slack_channel_id` in the response); a `retrospective` one gets none unless
 * `retrospective_incident_options.slack_channel_id` attaches it to an existing channel.
 */

const assigneeSchema = z.strictObject({ id: z.string().optional(), email: z.string().optional(), slack_user_id: z.string().optional() });
const roleAssignment = z.strictObject({ incident_role_id: z.string(), assignee: assigneeSchema.optional() });
const customFieldEntry = z.strictObject({ custom_field_id: z.string(), values: z.array(z.record(z.string(), z.unknown())) });

export const createPayload = z.strictObject({
  idempotency_key: z.string(),
  visibility: z.enum(['public', 'private']),
  name: z.string().optional(),
  summary: z.string().optional(),
  severity_id: z.string().optional(),
  incident_status_id: z.string().optional(),
  incident_type_id: z.string().optional(),
  mode: z.enum(['standard', 'retrospective', 'test', 'tutorial']).optional(),
  incident_role_assignments: z.array(roleAssignment).optional(),
  custom_field_entries: z.array(customFieldEntry).optional(),
  slack_channel_name_override: z.string().optional(),
  slack_team_id: z.string().optional(),
  retrospective_incident_options: z
    .strictObject({ external_id: z.number().int().optional(), postmortem_document_url: z.string().optional(), slack_channel_id: z.string().optional() })
    .optional(),
});
export const editPayload = z.strictObject({
  incident: z.strictObject({
    name: z.string().optional(),
    summary: z.string().optional(),
    severity_id: z.string().optional(),
    incident_status_id: z.string().optional(),
    call_url: z.string().optional(),
    incident_role_assignments: z.array(roleAssignment).optional(),
    custom_field_entries: z.array(customFieldEntry).optional(),
    slack_channel_name_override: z.string().optional(),
  }),
  notify_incident_channel: z.boolean(),
});
export const importPostmortemPayload = z.strictObject({ title: z.string(), content: z.string() });
/** An escalation as the fake keeps it: what was posted, its status and its event history. */
export interface FakeEscalation {
  id: string;
  idempotency_key: string;
  body: z.infer<typeof escalationPayload>;
  status: 'triggered' | 'acked' | 'resolved';
  events: { id: string; event: 'triggered' | 'acked' | 'resolved'; occurred_at: string; userIds: string[] }[];
  created_at: string;
  updated_at: string;
}

export const escalationPayload = z.strictObject({
  idempotency_key: z.string(),
  title: z.string(),
  description: z.string().optional(),
  escalation_path_id: z.string().optional(),
  incident_id: z.string().optional(),
  user_ids: z.array(z.string()).optional(),
});
export const followUpPayload = z.strictObject({
  incident_id: z.string(),
  title: z.string(),
  description: z.string().optional(),
  assignee_id: z.string().optional(),
  assignee_team_id: z.string().optional(),
  external_issue_reference_id: z.string().optional(),
  follow_up_category_id: z.string().optional(),
  follow_up_priority_option_id: z.string().optional(),
  labels: z.array(z.string()).optional(),
});

export interface FakeIncidentIoUser {
  id: string;
  email: string;
  name: string;
  slack_user_id: string | null;
}

export interface FakeIncidentIoIncident {
  id: string;
  reference: string;
  idempotency_key: string;
  name: string;
  summary: string;
  visibility: 'public' | 'private';
  mode: string;
  severity_id: string | null;
  incident_status_id: string;
  roles: { incident_role_id: string; assignee: Record<string, string> }[];
  postmortems: { id: string; title: string; content: string }[];
  permalink: string;
  /** ISO times; `updated_at` moves on every change. Lifecycle times by their (workspace) name. */
  created_at: string;
  updated_at: string;
  timestamps: Record<string, string>;
  created_by_alert: boolean;
  /** The Slack channel the incident lives in: made by incident.io's app, attached, or none. */
  slack_channel_id: string | null;
  /** Whether incident.io's own Slack app made (and announced) that channel. */
  channel_made_by_incidentio: boolean;
}

export interface FakeIncidentIoOptions {
  apiKey?: string;
  latencyMs?: number;
  limit?: number;
  windowMs?: number;
  now?: () => number;
  specValidation?: boolean;
  /** The organisation has a post-incident (learning) status; default true. */
  postIncidentFlow?: boolean;
  /** The key may resolve straight to closed, skipping the post-incident flow; default false. */
  closeWithoutPostIncident?: boolean;
  /** The key may view private incidents; default true. */
  viewPrivate?: boolean;
  /** The workspace's severities, least severe first (rank 1, 2, ...); default Minor, Major, Critical, Catastrophic. */
  severities?: string[];
  /** incident.io's own Slack app is installed (it makes a channel for each standard incident); default true. */
  slackApp?: boolean;
  /** Users (matched by Slack id), escalation paths, and schedules whose entries name users by id. */
  onCall?: {
    users?: FakeIncidentIoUser[];
    escalationPaths?: string[];
    schedules?: { id: string; entries: { userId: string; startAt: string; endAt: string }[] }[];
  };
}

export interface FakeIncidentIo extends FakeServer {
  incidents(): FakeIncidentIoIncident[];
  severities(): { id: string; name: string; rank: number }[];
  statuses(): { id: string; name: string; rank: number; category: string }[];
  roles(): { id: string; name: string; role_type: string; shortform: string }[];
  seedIncidents(n: number): void;
  /** Seed incidents with their own history (insights sync tests). */
  seedHistory(rows: Partial<FakeIncidentIoIncident>[]): FakeIncidentIoIncident[];
  specValidationActive: boolean;
  escalations(): FakeEscalation[];
  /** A webhook endpoint (Svix): incident.io POSTs escalation events there, signed with the `whsec_` secret. */
  subscribe(url: string, secret: string): void;
  /**
   * A paged person acknowledges in incident.io (the app or a phone): status `acked`, an `acked`
   * event naming them, and, with a subscription, `public_escalation.escalation_status_updated_v1`
   * sent. Resolves to the webhook's HTTP status (null without a subscription).
   */
  acknowledgeEscalation(id: string, userId: string): Promise<number | null>;
  followUps(): { id: string; body: z.infer<typeof followUpPayload> }[];
  /**
   * Someone declares an incident in incident.io's UI; with a subscription, `*_incident.incident_created_v2`
   * is sent (private: only the id). Resolves to the incident and the webhook's HTTP status (null without a subscription).
   */
  createInUi(a: {
    name: string;
    visibility: 'public' | 'private';
    severity?: string;
    summary?: string;
    /** standard (default), or retrospective / test / tutorial. */
    mode?: 'standard' | 'retrospective' | 'test' | 'tutorial';
  }): Promise<{ incident: FakeIncidentIoIncident; status: number | null }>;
  /** Webhooks sent to the subscription, with the HTTP status each got and the payload sent. */
  webhookDeliveries(): { type: string; status: number; body: unknown }[];
  /** Resolves once every webhook the fake has started sending (for API changes) is answered. */
  webhooksSent(): Promise<void>;
  /**
   * Someone changes an incident in incident.io's UI (status by name, severity by name, or makes it
   * private: incident.io converts a public incident to private, never back); `*_incident.incident_updated_v2`
   * is sent (`private_incident.*`, naming only the id, once it is private).
   */
  changeInUi(id: string, change: { status?: string; severity?: string; name?: string; visibility?: 'private' }): Promise<number | null>;
}

export async function startFakeIncidentIo(opts: FakeIncidentIoOptions = {}): Promise<FakeIncidentIo> {
  const apiKey = opts.apiKey ?? 'incidentio-test-key';
  const now = opts.now ?? Date.now;
  const spec = opts.specValidation === false ? null : loadSpecValidator('incidentio-openapi.json');
  const ts = '2026-01-01T00:00:00Z';
  const severities = (opts.severities ?? ['Minor', 'Major', 'Critical', 'Catastrophic']).map((name, k) => ({ id: randomUUID(), name, rank: k + 1 }));
  const statuses = [
    { id: randomUUID(), name: 'Triage', rank: 0, category: 'triage' },
    { id: randomUUID(), name: 'Investigating', rank: 1, category: 'live' },
    { id: randomUUID(), name: 'Fixing', rank: 2, category: 'live' },
    { id: randomUUID(), name: 'Monitoring', rank: 3, category: 'live' },
    ...(opts.postIncidentFlow === false ? [] : [{ id: randomUUID(), name: 'Documenting', rank: 4, category: 'learning' }]),
    { id: randomUUID(), name: 'Closed', rank: 5, category: 'closed' },
    { id: randomUUID(), name: 'Declined', rank: 6, category: 'declined' },
  ];
  const category = (id: string) => statuses.find((s) => s.id === id)?.category ?? '';
  /** A status category as IncidentSlimV2 names it. */
  const SLIM_CATEGORY: Record<string, string> = {
    triage: 'triage',
    live: 'active',
    learning: 'post-incident',
    closed: 'closed',
    declined: 'declined',
    merged: 'merged',
    canceled: 'canceled',
    paused: 'paused',
  };
  /** The spec's allowed `incident_status_id` edits; a reason when refused. */
  const statusEditRefusal = (from: string, to: string): string | null => {
    const a = category(from);
    const b = category(to);
    if (a === b) return null;
    if ((a === 'triage' || a === 'live') && b === 'learning') return null;
    if ((a === 'triage' || a === 'live') && b === 'closed') {
      if (statuses.some((s) => s.category === 'learning') && !opts.closeWithoutPostIncident)
        return "Closing an incident without its post-incident flow requires the 'Close incidents by opting out of post-incident flow' permission on the API key";
      return null;
    }
    if (a === 'learning' && b === 'closed') return null;
    return `Cannot move an incident from a ${a} status to a ${b} status`;
  };
  const roles = [
    { id: randomUUID(), name: 'Incident Lead', role_type: 'lead', shortform: 'lead' },
    { id: randomUUID(), name: 'Reporter', role_type: 'reporter', shortform: 'reporter' },
    { id: randomUUID(), name: 'Communications', role_type: 'custom', shortform: 'comms' },
    { id: randomUUID(), name: 'Scribe', role_type: 'custom', shortform: 'scribe' },
  ];
  const incidents: FakeIncidentIoIncident[] = [];
  let seq = 0;
  let lastStamp = 0;
  const stamp = (): string => {
    lastStamp = Math.max(now(), lastStamp + 1);
    return new Date(lastStamp).toISOString();
  };

  const fail = (status: number, type: string, errors: { code: string; message: string; field?: string }[]): Reply => ({
    status,
    body: {
      type,
      status,
      request_id: randomUUID(),
      errors: errors.map((e) => ({ code: e.code, message: e.message, ...(e.field ? { source: { field: e.field } } : {}) })),
    },
  });
  const notFound = () => fail(404, 'not_found', [{ code: 'not_found', message: 'Not found' }]);
  /** A private incident is invisible to a key without the permission to view private incidents. */
  const visible = (i: FakeIncidentIoIncident) => i.visibility === 'public' || opts.viewPrivate !== false;
  /** By id, or by the numeric part of the reference (INC-123 → "123"); only incidents the key may see. */
  const byIdOrRef = (id: string) => incidents.find((i) => (i.id === id || i.reference === `INC-${id}`) && visible(i));

  const validate = <T extends z.ZodType>(ctx: RequestContext, template: string, schema: T): { ok: true; data: z.infer<T> } | { ok: false; reply: Reply } => {
    const errors: { code: string; message: string; field?: string }[] = [];
    const r = schema.safeParse(ctx.body);
    if (!r.success) {
      for (const issue of r.error.issues) {
        const keys = 'keys' in issue && Array.isArray(issue.keys) ? (issue.keys as string[]) : [];
        if (keys.length > 0)
          for (const k of keys) errors.push({ code: 'unknown_field', message: `${k} is not a known field`, field: [...issue.path.map(String), k].join('.') });
        else
          errors.push({
            code: issue.code === 'invalid_type' && issue.message.includes('undefined') ? 'missing_field' : 'invalid_value',
            message: issue.message,
            field: issue.path.map(String).join('.'),
          });
      }
    }
    for (const e of spec?.validateRequest(ctx.method, template, ctx.body) ?? [])
      errors.push({ code: 'invalid_value', message: `does not match the OpenAPI schema: ${e}` });
    if (errors.length > 0) return { ok: false, reply: fail(422, 'validation_error', errors) };
    return { ok: true, data: r.data as z.infer<T> };
  };

  /** A role as incident.io shows it: `description` and `instructions` are never empty (minLength 1). */
  const roleJson = (r: (typeof roles)[number]) => ({
    ...r,
    description: `The ${r.name} of the incident`,
    instructions: `Act as the ${r.name}`,
    required: r.role_type === 'lead',
    created_at: ts,
    updated_at: ts,
  });
  /** The assignee as given (`id`, `email` or `slack_user_id`), shown as the user it names. */
  const assigneeJson = (a: Record<string, string>) => {
    const u = (opts.onCall?.users ?? []).find(
      (x) => (a.id && x.id === a.id) || (a.email && x.email === a.email) || (a.slack_user_id && x.slack_user_id === a.slack_user_id),
    );
    if (u) return { id: u.id, name: u.name, email: u.email, role: 'responder', ...(u.slack_user_id ? { slack_user_id: u.slack_user_id } : {}) };
    const key = a.id ?? a.email ?? a.slack_user_id ?? 'unknown';
    return { id: a.id ?? `user-${key}`, name: a.email?.split('@')[0] ?? key, role: 'responder', ...a };
  };
  const incidentJson = (i: FakeIncidentIoIncident) => {
    const st = statuses.find((s) => s.id === i.incident_status_id)!;
    const sev = severities.find((s) => s.id === i.severity_id);
    return {
      id: i.id,
      reference: i.reference,
      name: i.name,
      summary: i.summary,
      visibility: i.visibility,
      mode: i.mode,
      permalink: i.permalink,
      incident_status: { ...st, description: '', created_at: ts, updated_at: ts },
      ...(sev ? { severity: { ...sev, description: '', created_at: ts, updated_at: ts } } : {}),
      // As incident.io shows them: the whole role (EmbeddedIncidentRoleV2) and the assignee as a user (UserV2).
      incident_role_assignments: i.roles.map((r) => ({
        role: roleJson(roles.find((x) => x.id === r.incident_role_id)!),
        assignee: assigneeJson(r.assignee),
      })),
      custom_field_entries: [],
      creator: { api_key: { id: 'k', name: 'firebreak' } },
      slack_team_id: 'T1',
      ...(i.slack_channel_id ? { slack_channel_id: i.slack_channel_id } : {}),
      postmortem_document_ids: i.postmortems.map((p) => p.id),
      incident_timestamp_values: Object.entries(i.timestamps).map(([name, value], rank) => ({
        incident_timestamp: { id: `ts-${rank}`, name, rank },
        value: { value },
      })),
      ...(i.created_by_alert ? { creator: { alert: { id: `alert-${i.id}`, title: i.name } } } : {}),
      created_at: i.created_at,
      updated_at: i.updated_at,
    };
  };

  const checkRefs = (a: {
    severity_id?: string | undefined;
    incident_status_id?: string | undefined;
    incident_role_assignments?: { incident_role_id: string }[] | undefined;
  }) => {
    const errs: { code: string; message: string; field: string }[] = [];
    if (a.severity_id !== undefined && !severities.some((s) => s.id === a.severity_id))
      errs.push({ code: 'invalid_value', message: 'Severity not found', field: 'severity_id' });
    if (a.incident_status_id !== undefined && !statuses.some((s) => s.id === a.incident_status_id))
      errs.push({ code: 'invalid_value', message: 'Incident status not found', field: 'incident_status_id' });
    for (const r of a.incident_role_assignments ?? [])
      if (!roles.some((x) => x.id === r.incident_role_id))
        errs.push({ code: 'invalid_value', message: 'Incident role not found', field: 'incident_role_assignments' });
    return errs.length ? fail(422, 'validation_error', errs) : null;
  };

  const newIncident = (a: z.infer<typeof createPayload>): FakeIncidentIoIncident => {
    seq += 1;
    return {
      id: randomUUID(),
      reference: `INC-${seq}`,
      idempotency_key: a.idempotency_key,
      name: a.name ?? `Incident ${seq}`,
      summary: a.summary ?? '',
      visibility: a.visibility,
      mode: a.mode ?? 'standard',
      severity_id: a.severity_id ?? null,
      incident_status_id: a.incident_status_id ?? statuses[1]!.id,
      roles: (a.incident_role_assignments ?? []).map((r) => ({
        incident_role_id: r.incident_role_id,
        assignee: { ...(r.assignee ?? {}) } as Record<string, string>,
      })),
      postmortems: [],
      permalink: `https://app.incident.io/acme/incidents/${seq}`,
      ...(() => {
        const at = stamp();
        return { created_at: at, updated_at: at, timestamps: { 'Reported at': at }, created_by_alert: false };
      })(),
      ...channelFor(a, seq),
    };
  };
  const channelFor = (a: z.infer<typeof createPayload>, n: number): { slack_channel_id: string | null; channel_made_by_incidentio: boolean } => {
    const mode = a.mode ?? 'standard';
    if (mode === 'retrospective') return { slack_channel_id: a.retrospective_incident_options?.slack_channel_id ?? null, channel_made_by_incidentio: false };
    if (opts.slackApp === false) return { slack_channel_id: null, channel_made_by_incidentio: false };
    return { slack_channel_id: `CINC${n}`, channel_made_by_incidentio: true };
  };

  const routes: RouteDef[] = [];
  const route = (method: string, template: string, handler: RouteDef['handler']) => routes.push({ method, template, handler });
  route('GET', '/v1/identity', () => ({
    status: 200,
    body: {
      identity: { name: 'firebreak', roles: ['incident_creator', 'incident_editor'], dashboard_url: 'https://app.incident.io/acme', team_roles: [], teams: [] },
    },
  }));
  route('GET', '/v1/severities', () => ({
    status: 200,
    body: { severities: severities.map((s) => ({ ...s, description: '', created_at: ts, updated_at: ts })) },
  }));
  route('GET', '/v1/incident_statuses', () => ({
    status: 200,
    body: { incident_statuses: statuses.map((s) => ({ ...s, description: '', created_at: ts, updated_at: ts })) },
  }));
  route('GET', '/v1/incident_types', () => ({
    status: 200,
    body: {
      incident_types: [
        {
          id: 'type-default',
          name: 'Default',
          is_default: true,
          description: '',
          private_incidents_only: false,
          create_in_triage: 'optional',
          created_at: ts,
          updated_at: ts,
        },
      ],
    },
  }));
  route('GET', '/v2/incident_roles', () => ({ status: 200, body: { incident_roles: roles.map(roleJson) } }));
  route('POST', '/v2/incidents', (ctx) => {
    const v = validate(ctx, '/v2/incidents', createPayload);
    if (!v.ok) return v.reply;
    const bad = checkRefs(v.data);
    if (bad) return bad;
    // Same idempotency key → the incident made by the first request, not a second one.
    const existing = incidents.find((i) => i.idempotency_key === v.data.idempotency_key);
    if (existing) return { status: 200, body: { incident: incidentJson(existing) } };
    const inc = newIncident(v.data);
    incidents.push(inc);
    tell(inc, 'incident_created_v2');
    return { status: 200, body: { incident: incidentJson(inc) } };
  });
  route('GET', '/v2/incidents', (ctx) => {
    const size = Math.min(250, Math.max(1, Number(ctx.query.page_size ?? 25) || 25));
    const sortBy = ctx.query.sort_by ?? 'created_at_newest_first';
    if (sortBy !== 'created_at_newest_first' && sortBy !== 'created_at_oldest_first')
      return fail(422, 'validation_error', [
        { code: 'invalid_value', message: 'sort_by must be one of created_at_newest_first, created_at_oldest_first', field: 'sort_by' },
      ]);
    let list = (sortBy === 'created_at_oldest_first' ? [...incidents] : [...incidents].reverse()).filter(visible);
    for (const field of ['updated_at', 'created_at'] as const) {
      const gte = ctx.query[`${field}[gte]`];
      if (gte === undefined) continue;
      const t = Date.parse(gte);
      if (Number.isNaN(t)) return fail(422, 'validation_error', [{ code: 'invalid_value', message: `${field}[gte] must be a date`, field }]);
      list = list.filter((i) => Date.parse(i[field]) >= t);
    }
    const start = ctx.query.after ? list.findIndex((i) => i.id === ctx.query.after) + 1 : 0;
    const slice = list.slice(start, start + size);
    const more = start + size < list.length;
    return {
      status: 200,
      body: {
        incidents: slice.map(incidentJson),
        pagination_meta: { page_size: size, total_record_count: list.length, ...(more && slice.length ? { after: slice[slice.length - 1]!.id } : {}) },
      },
    };
  });
  route('GET', '/v2/incidents/{id}', (ctx) => {
    const inc = byIdOrRef(ctx.params.id!);
    return inc ? { status: 200, body: { incident: incidentJson(inc) } } : notFound();
  });
  route('POST', '/v2/incidents/{id}/actions/edit', (ctx) => {
    const v = validate(ctx, '/v2/incidents/{id}/actions/edit', editPayload);
    if (!v.ok) return v.reply;
    const inc = incidents.find((i) => i.id === ctx.params.id && visible(i));
    if (!inc) return notFound();
    const a = v.data.incident;
    const bad = checkRefs(a);
    if (bad) return bad;
    if (a.name !== undefined) inc.name = a.name;
    if (a.summary !== undefined) inc.summary = a.summary;
    if (a.severity_id !== undefined) inc.severity_id = a.severity_id;
    if (a.incident_status_id !== undefined) {
      const refused = statusEditRefusal(inc.incident_status_id, a.incident_status_id);
      if (refused) return fail(422, 'validation_error', [{ code: 'invalid_value', message: refused, field: 'incident.incident_status_id' }]);
    }
    if (a.incident_status_id !== undefined) inc.incident_status_id = a.incident_status_id;
    for (const r of a.incident_role_assignments ?? []) {
      inc.roles = inc.roles.filter((x) => x.incident_role_id !== r.incident_role_id);
      inc.roles.push({ incident_role_id: r.incident_role_id, assignee: { ...(r.assignee ?? {}) } as Record<string, string> });
    }
    // The default lifecycle timestamps move with the status, as incident.io's do.
    const at = stamp();
    const st = statuses.find((x) => x.id === inc.incident_status_id)!;
    if ((a.incident_role_assignments?.length ?? 0) > 0) inc.timestamps['Accepted at'] ??= at;
    if (/monitor/i.test(st.name)) inc.timestamps['Mitigated at'] ??= at;
    if (st.category === 'closed' || st.category === 'learning') inc.timestamps['Resolved at'] ??= at;
    inc.updated_at = at;
    tell(inc, 'incident_updated_v2');
    return { status: 200, body: { incident: incidentJson(inc) } };
  });
  route('POST', '/v2/incidents/{id}/actions/import_postmortem_document', (ctx) => {
    const v = validate(ctx, '/v2/incidents/{id}/actions/import_postmortem_document', importPostmortemPayload);
    if (!v.ok) return v.reply;
    const inc = incidents.find((i) => i.id === ctx.params.id);
    if (!inc) return notFound();
    const doc = { id: randomUUID(), title: v.data.title, content: v.data.content };
    inc.postmortems.push(doc);
    inc.updated_at = stamp();
    return {
      status: 201,
      body: {
        postmortem_document: {
          id: doc.id,
          incident_id: inc.id,
          title: doc.title,
          status: 'in_progress',
          type: 'in_app',
          document_url: '',
          exported_urls: [],
          editors: [],
          created_at: ts,
          updated_at: ts,
        },
      },
    };
  });

  route('GET', '/v1/postmortem_documents', (ctx) => {
    const all = incidents.flatMap((i) => i.postmortems.map((p) => ({ ...p, incident_id: i.id })));
    const list = ctx.query.incident_id ? all.filter((d) => d.incident_id === ctx.query.incident_id) : all;
    const size = Math.min(250, Math.max(1, Number(ctx.query.page_size ?? 25) || 25));
    const start = ctx.query.after ? list.findIndex((d) => d.id === ctx.query.after) + 1 : 0;
    const slice = list.slice(start, start + size);
    const more = start + size < list.length;
    return {
      status: 200,
      body: {
        postmortem_documents: slice.map((d) => ({
          id: d.id,
          incident_id: d.incident_id,
          title: d.title,
          status: 'in_progress',
          type: 'in_app',
          document_url: '',
          exported_urls: [],
          editors: [],
          created_at: ts,
          updated_at: ts,
        })),
        pagination_meta: { page_size: size, ...(more && slice.length ? { after: slice[slice.length - 1]!.id } : {}) },
      },
    };
  });

  // On-call: escalations are deduplicated by idempotency_key (the spec: "the existing escalation will be returned").
  const users = opts.onCall?.users ?? [];
  const escalations: FakeEscalation[] = [];
  let subscription: { url: string; secret: string } | null = null;
  const followUps: { id: string; body: z.infer<typeof followUpPayload> }[] = [];
  const userJson = (u: FakeIncidentIoUser) => ({
    id: u.id,
    email: u.email,
    name: u.name,
    role: 'responder',
    ...(u.slack_user_id ? { slack_user_id: u.slack_user_id } : {}),
  });
  const escalationJson = (e: FakeEscalation) => ({
    id: e.id,
    title: e.body.title,
    status: e.status,
    ...(e.body.escalation_path_id ? { escalation_path_id: e.body.escalation_path_id } : {}),
    priority: { name: 'P1' },
    creator: { api_key: { id: 'key-firebreak', name: 'firebreak' } },
    events: e.events.map((ev) => ({
      id: ev.id,
      event: ev.event,
      occurred_at: ev.occurred_at,
      urgency: 'high',
      users: ev.userIds.flatMap((id) => users.filter((u) => u.id === id).map(userJson)),
      channels: [],
    })),
    related_alerts: [],
    // IncidentSlimV2, as the spec shows related incidents (its own status categories: active, post-incident, ...).
    related_incidents: incidents
      .filter((i) => i.id === e.body.incident_id)
      .map((i) => ({
        id: i.id,
        external_id: Number(i.reference.replace(/^INC-/, '')),
        name: i.name,
        reference: i.reference,
        summary: i.summary,
        visibility: i.visibility,
        status_category: SLIM_CATEGORY[category(i.incident_status_id)] ?? 'active',
      })),
    created_at: e.created_at,
    updated_at: e.updated_at,
  });
  route('GET', '/v2/escalations/{id}', (ctx) => {
    const e = escalations.find((x) => x.id === ctx.params.id);
    return e ? { status: 200, body: { escalation: escalationJson(e) } } : notFound();
  });
  route('GET', '/v2/users', (ctx) => {
    const list = users.filter(
      (u) => (!ctx.query.slack_user_id || u.slack_user_id === ctx.query.slack_user_id) && (!ctx.query.email || u.email === ctx.query.email),
    );
    // UserWithRolesV2: the user with its base role, custom roles, seats and whether it is active.
    const withRoles = (u: FakeIncidentIoUser) => ({
      ...userJson(u),
      base_role: { id: 'role-responder', name: 'Responder', slug: 'responder' },
      custom_roles: [],
      seats: { on_call: 'full_access', response: 'full_access' },
      is_active: true,
    });
    return { status: 200, body: { users: list.map(withRoles), pagination_meta: { page_size: 25 } } };
  });
  route('POST', '/v2/escalations', (ctx) => {
    const v = validate(ctx, '/v2/escalations', escalationPayload);
    if (!v.ok) return v.reply;
    const b = v.data;
    const again = escalations.find((e) => e.idempotency_key === b.idempotency_key);
    if (again) return { status: 201, body: { escalation: escalationJson(again) } };
    // incident.io's reference: "You must provide either an escalation_path_id OR user_ids, but not both."
    if (b.escalation_path_id && b.user_ids?.length)
      return fail(422, 'validation_error', [
        { code: 'invalid_value', message: 'Provide either an escalation path or users, not both', field: 'escalation_path_id' },
      ]);
    if (!b.escalation_path_id && !b.user_ids?.length)
      return fail(422, 'validation_error', [
        { code: 'invalid_value', message: 'Either an escalation path or at least one user must be given', field: 'escalation_path_id' },
      ]);
    if (b.escalation_path_id && !(opts.onCall?.escalationPaths ?? []).includes(b.escalation_path_id))
      return fail(422, 'validation_error', [{ code: 'not_found', message: 'Escalation path not found', field: 'escalation_path_id' }]);
    for (const id of b.user_ids ?? [])
      if (!users.some((u) => u.id === id)) return fail(422, 'validation_error', [{ code: 'not_found', message: `User ${id} not found`, field: 'user_ids' }]);
    if (b.incident_id && !incidents.some((i) => i.id === b.incident_id))
      return fail(422, 'validation_error', [{ code: 'not_found', message: 'Incident not found', field: 'incident_id' }]);
    const at = new Date(now()).toISOString();
    const e: FakeEscalation = {
      id: randomUUID(),
      idempotency_key: b.idempotency_key,
      body: b,
      status: 'triggered',
      events: [{ id: randomUUID(), event: 'triggered', occurred_at: at, userIds: [] }],
      created_at: at,
      updated_at: at,
    };
    escalations.push(e);
    return { status: 201, body: { escalation: escalationJson(e) } };
  });
  route('GET', '/v2/schedule_entries', (ctx) => {
    if (!ctx.query.schedule_id) return fail(422, 'validation_error', [{ code: 'missing_field', message: 'schedule_id is required', field: 'schedule_id' }]);
    const sched = (opts.onCall?.schedules ?? []).find((x) => x.id === ctx.query.schedule_id);
    if (!sched) return notFound();
    const from = Date.parse(ctx.query.entry_window_start ?? '');
    const to = Date.parse(ctx.query.entry_window_end ?? '');
    const entries = sched.entries
      .filter((e) => (Number.isNaN(to) || Date.parse(e.startAt) < to) && (Number.isNaN(from) || Date.parse(e.endAt) > from))
      .map((e, n) => {
        const u = users.find((x) => x.id === e.userId);
        return {
          entry_id: `${sched.id}-${n}`,
          fingerprint: `${sched.id}-${n}`,
          layer_id: 'layer-1',
          rotation_id: 'rotation-1',
          start_at: e.startAt,
          end_at: e.endAt,
          ...(u ? { user: userJson(u) } : {}),
        };
      });
    // One page: `pagination_meta` (whose `after` and `after_url` are required) is left out, as there is no next page.
    return { status: 200, body: { schedule_entries: { final: entries, scheduled: entries, overrides: [] } } };
  });
  const followUpJson = (f: (typeof followUps)[number]) => {
    const assignee = f.body.assignee_id ? users.find((u) => u.id === f.body.assignee_id) : undefined;
    return {
      id: f.id,
      incident_id: f.body.incident_id,
      title: f.body.title,
      description: f.body.description ?? '',
      status: 'outstanding',
      creator: { api_key: { id: 'key-firebreak', name: 'firebreak' } },
      labels: f.body.labels ?? [],
      ...(assignee ? { assignee: userJson(assignee) } : {}),
      created_at: ts,
      updated_at: ts,
    };
  };
  // The spec's list has no pagination: every follow-up of the incident (or of all incidents).
  route('GET', '/v2/follow_ups', (ctx) => {
    const id = ctx.query.incident_id;
    return { status: 200, body: { follow_ups: followUps.filter((f) => !id || f.body.incident_id === id).map(followUpJson) } };
  });
  route('POST', '/v2/follow_ups', (ctx) => {
    const v = validate(ctx, '/v2/follow_ups', followUpPayload);
    if (!v.ok) return v.reply;
    const inc = incidents.find((i) => i.id === v.data.incident_id);
    if (!inc) return fail(422, 'validation_error', [{ code: 'not_found', message: 'Incident not found', field: 'incident_id' }]);
    const assignee = v.data.assignee_id ? users.find((u) => u.id === v.data.assignee_id) : undefined;
    if (v.data.assignee_id && !assignee) return fail(422, 'validation_error', [{ code: 'not_found', message: 'Assignee not found', field: 'assignee_id' }]);
    const f = { id: randomUUID(), body: v.data };
    followUps.push(f);
    return { status: 201, body: { follow_up: followUpJson(f) } };
  });

  const server = await startFakeServer({
    routes,
    ...(opts.latencyMs !== undefined ? { latencyMs: opts.latencyMs } : {}),
    now,
    limit: opts.limit ?? 1200,
    windowMs: opts.windowMs ?? 60_000,
    authenticate: (ctx) =>
      ctx.headers.authorization === `Bearer ${apiKey}` ? null : fail(401, 'authentication_error', [{ code: 'unauthorized', message: 'Invalid token' }]),
    notFound: () => notFound(),
    malformed: () => fail(400, 'bad_request', [{ code: 'bad_request', message: 'Request body is not valid JSON' }]),
    rateLimited: (retryAfter, limit) => ({
      status: 429,
      body: {
        type: 'too_many_requests',
        status: 429,
        request_id: randomUUID(),
        // As the API reference shows it: an HTTP-date to the second ("Thu, 17 Apr 2025 11:17:18 UTC"),
        // not an ISO time, and an `errors` entry like every other error body.
        rate_limit: { name: 'api_key', limit, remaining: 0, retry_after: new Date(now() + retryAfter * 1000).toUTCString().replace(/GMT$/, 'UTC') },
        errors: [{ code: 'too_many_requests', message: 'Too many requests. We recommend exponential backoff.' }],
      },
    }),
  });

  const deliveries: { type: string; status: number; body: unknown }[] = [];
  const inFlight = new Set<Promise<unknown>>();
  /** A Svix-signed webhook to the subscribed endpoint: its HTTP status, null without a subscription. */
  const send = async (type: string, payload: unknown): Promise<number | null> => {
    if (!subscription) return null;
    const body = JSON.stringify({ event_type: type, [type]: payload });
    // Svix: HMAC-SHA256 over `${id}.${timestamp}.${body}`, keyed by the base64 after `whsec_`.
    const msgId = `msg_${randomUUID().replace(/-/g, '')}`;
    const stampSecs = String(Math.floor(now() / 1000));
    const sig = createHmac('sha256', Buffer.from(subscription.secret.replace(/^whsec_/, ''), 'base64'))
      .update(`${msgId}.${stampSecs}.${body}`)
      .digest('base64');
    const res = await fetch(subscription.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'webhook-id': msgId, 'webhook-timestamp': stampSecs, 'webhook-signature': `v1,${sig}` },
      body,
    });
    await res.text();
    deliveries.push({ type, status: res.status, body: JSON.parse(body) as unknown });
    return res.status;
  };
  /**
   * incident.io tells its subscribers of every change, those made through the API included (our
   * own edits come back as webhooks): sent after the answer, as the real service does.
   */
  const tell = (inc: FakeIncidentIoIncident, event: 'incident_created_v2' | 'incident_updated_v2') => {
    if (!subscription) return;
    const snapshot = structuredClone(inc);
    const p: Promise<unknown> = new Promise((r) => setImmediate(r))
      .then(() => sendIncident(snapshot, event))
      .catch(() => null)
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  /** incident.io's incident events: the whole incident when public, only its id when private (`WebhookPrivateResourceV2`). */
  const sendIncident = (inc: FakeIncidentIoIncident, event: 'incident_created_v2' | 'incident_updated_v2') =>
    inc.visibility === 'private' ? send(`private_incident.${event}`, { id: inc.id }) : send(`public_incident.${event}`, incidentJson(inc));

  return {
    ...server,
    specValidationActive: spec !== null,
    incidents: () => incidents,
    severities: () => severities,
    statuses: () => statuses,
    roles: () => roles,
    escalations: () => escalations,
    subscribe(url, secret) {
      subscription = { url, secret };
    },
    async acknowledgeEscalation(id, userId) {
      const e = escalations.find((x) => x.id === id);
      if (!e) throw new Error(`no fake escalation ${id}`);
      const at = new Date(now()).toISOString();
      e.status = 'acked';
      e.events.push({ id: randomUUID(), event: 'acked', occurred_at: at, userIds: [userId] });
      e.updated_at = at;
      const type = 'public_escalation.escalation_status_updated_v1';
      const u = users.find((x) => x.id === userId);
      return send(type, { actor: u ? { user: userJson(u) } : {}, escalation: escalationJson(e) });
    },
    async createInUi(a) {
      const sev = a.severity ? severities.find((x) => x.name === a.severity) : undefined;
      if (a.severity && !sev) throw new Error(`no fake severity ${a.severity}`);
      const inc = newIncident({
        idempotency_key: `ui-${randomUUID()}`,
        visibility: a.visibility,
        name: a.name,
        ...(a.summary ? { summary: a.summary } : {}),
        ...(sev ? { severity_id: sev.id } : {}),
        ...(a.mode ? { mode: a.mode } : {}),
      });
      incidents.push(inc);
      return { incident: inc, status: await sendIncident(inc, 'incident_created_v2') };
    },
    async changeInUi(id, change) {
      const inc = incidents.find((i) => i.id === id);
      if (!inc) throw new Error(`no fake incident ${id}`);
      if (change.status) {
        const st = statuses.find((x) => x.name === change.status);
        if (!st) throw new Error(`no fake status ${change.status}`);
        inc.incident_status_id = st.id;
        const at = stamp();
        if (st.category === 'closed' || st.category === 'learning') inc.timestamps['Resolved at'] ??= at;
      }
      if (change.severity) inc.severity_id = severities.find((x) => x.name === change.severity)?.id ?? inc.severity_id;
      if (change.name) inc.name = change.name;
      if (change.visibility) inc.visibility = change.visibility;
      inc.updated_at = stamp();
      return sendIncident(inc, 'incident_updated_v2');
    },
    followUps: () => followUps,
    webhookDeliveries: () => deliveries,
    async webhooksSent() {
      while (inFlight.size) await Promise.all([...inFlight]);
    },
    seedIncidents(n) {
      for (let k = 0; k < n; k++) incidents.push(newIncident({ idempotency_key: `seed-${randomUUID()}`, visibility: 'public', name: 'Seeded' }));
    },
    seedHistory(rows) {
      return rows.map((r) => {
        const inc = { ...newIncident({ idempotency_key: `seed-${randomUUID()}`, visibility: 'public', name: 'Seeded' }), ...r };
        incidents.push(inc);
        return inc;
      });
    },
  };
}
