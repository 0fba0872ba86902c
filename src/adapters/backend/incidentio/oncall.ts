import { z } from 'zod';
import { followupMarker, withFollowupMarker } from '../../../domain/followup.js';
import { BackendError } from '../../../errors.js';
import type { BackendUser } from '../../../ports/backend.js';
import type { OnCall } from '../../../ports/oncall.js';
import { createHttpClient, TransportError, type HttpRequest } from '../../http/client.js';
import { silentLogger, transportToBackendError, type VendorClientOptions } from '../../http/common.js';
import { toIncidentIoError, waitFromIncidentIoBody } from './backend.js';

const userV2 = z.looseObject({ id: z.string(), email: z.string().nullish(), name: z.string().nullish(), slack_user_id: z.string().nullish() });
const entry = z.looseObject({ end_at: z.string(), user: userV2.nullish() });

/**
 * incident.io On-call behind the OnCall port: `POST /v2/escalations` (an escalation path or users,
 * with `idempotency_key`, so a retry returns the same escalation), `GET /v2/schedule_entries`
 * (the `final` layer: overrides applied), and `POST /v2/follow_ups`. People are matched by their
 * Slack id (`GET /v2/users?slack_user_id=`).
 */
export function createIncidentIoOnCall(opts: VendorClientOptions): OnCall {
  const log = opts.logger ?? silentLogger;
  const now = opts.now ?? Date.now;
  const http = createHttpClient({
    baseUrl: opts.baseUrl ?? 'https://api.incident.io',
    headers: { authorization: `Bearer ${opts.apiKey}`, 'content-type': 'application/json', accept: 'application/json' },
    ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
    ...(opts.sleep ? { sleep: opts.sleep } : {}),
    now,
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.retry ? { retry: opts.retry } : {}),
    waitFromBody: (b) => waitFromIncidentIoBody(b, now()),
    onRetry: (info) => log.debug({ backend: 'incidentio', ...info }, 'retrying incident.io call'),
  });

  async function call<T extends z.ZodType>(req: HttpRequest, schema: T, what: string): Promise<z.infer<T>> {
    let res: Awaited<ReturnType<typeof http.send>>;
    try {
      res = await http.send(req);
    } catch (err) {
      if (err instanceof TransportError) throw transportToBackendError(err, 'incident.io', what);
      throw err;
    }
    if (res.status >= 400) throw toIncidentIoError(res, what, now());
    const parsed = schema.safeParse(res.body);
    if (!parsed.success)
      throw new BackendError('backend.unavailable', `incident.io answered ${what} with an unexpected body`, { backend: 'incidentio', status: res.status });
    return parsed.data;
  }

  async function userId(user: BackendUser): Promise<string> {
    const res = await call(
      { method: 'GET', path: '/v2/users', query: { slack_user_id: user.slackUserId } },
      z.looseObject({ users: z.array(userV2) }),
      'the user lookup',
    );
    const hit = res.users[0];
    if (!hit) throw new BackendError('backend.validation', `<@${user.slackUserId}> is not an incident.io user`, { backend: 'incidentio', field: 'user_ids' });
    return hit.id;
  }

  return {
    name: 'incidentio',
    async page(req) {
      let target: { escalation_path_id: string } | { user_ids: string[] };
      if (req.target.kind === 'slack_user') {
        if (!req.user) throw new BackendError('backend.validation', `cannot page ${req.target.name}`, { backend: 'incidentio', field: 'user_ids' });
        target = { user_ids: [await userId(req.user)] };
      } else {
        const t = req.target.target;
        if (!t.id || (t.kind !== 'escalation_path' && t.kind !== 'user'))
          throw new BackendError('backend.validation', `paging target ${t.name} needs an incident.io id and a type of escalation_path or user`, {
            backend: 'incidentio',
            field: 'escalation_path_id',
          });
        target = t.kind === 'user' ? { user_ids: [t.id] } : { escalation_path_id: t.id };
      }
      const res = await call(
        {
          method: 'POST',
          path: '/v2/escalations',
          // idempotency_key: incident.io returns the existing escalation for a repeated key.
          idempotent: true,
          body: {
            idempotency_key: req.idempotencyKey,
            title: req.incident.title.slice(0, 200),
            ...(req.message ? { description: req.message } : {}),
            incident_id: req.incident.backendId,
            ...target,
          },
        },
        z.looseObject({ escalation: z.looseObject({ id: z.string(), status: z.string().optional() }) }),
        'the escalation',
      );
      return { externalId: res.escalation.id, status: res.escalation.status ?? 'triggered' };
    },
    async pageStatus(escalationId) {
      const res = await call(
        { method: 'GET', path: `/v2/escalations/${encodeURIComponent(escalationId)}` },
        z.looseObject({
          escalation: z.looseObject({
            status: z.string(),
            updated_at: z.string().optional(),
            events: z.array(z.looseObject({ event: z.string(), occurred_at: z.string().optional(), users: z.array(userV2).nullish() })).optional(),
          }),
        }),
        'the page status',
      );
      const e = res.escalation;
      // The `acked` event names who acknowledged and when (an escalation acked, then resolved, keeps it).
      const acked = (e.events ?? []).find((x) => x.event === 'acked');
      if (acked) {
        const u = acked.users?.[0];
        return {
          state: 'acknowledged',
          ack: {
            at: new Date(acked.occurred_at ?? e.updated_at ?? Date.now()),
            by: u ? { slackUserId: u.slack_user_id ?? null, email: u.email ?? null, name: u.name ?? null } : null,
          },
        };
      }
      if (e.status === 'acked') return { state: 'acknowledged', ack: { at: new Date(e.updated_at ?? Date.now()), by: null } };
      return ['resolved', 'expired', 'cancelled'].includes(e.status) ? { state: 'closed', ack: null } : { state: 'open', ack: null };
    },
    async onCallNow(scheduleId, at) {
      const end = new Date(at.getTime() + 60_000);
      const res = await call(
        {
          method: 'GET',
          path: '/v2/schedule_entries',
          query: { schedule_id: scheduleId, entry_window_start: at.toISOString(), entry_window_end: end.toISOString() },
        },
        z.looseObject({ schedule_entries: z.looseObject({ final: z.array(entry).optional() }) }),
        'the schedule entries',
      );
      return (res.schedule_entries.final ?? []).map((e) => ({
        scheduleId,
        slackUserId: e.user?.slack_user_id ?? null,
        email: e.user?.email ?? null,
        name: e.user?.name ?? null,
        until: new Date(e.end_at),
      }));
    },
    async createFollowup(ref, f) {
      const assignee = f.owner ? await userId(f.owner).catch(() => null) : null;
      const res = await call(
        {
          method: 'POST',
          path: '/v2/follow_ups',
          body: {
            incident_id: ref.backendId,
            title: f.title.slice(0, 255),
            description: withFollowupMarker(f.due ? `${f.description}\n\nDue: ${f.due}` : f.description, f.idempotencyKey),
            ...(assignee ? { assignee_id: assignee } : {}),
          },
        },
        z.looseObject({ follow_up: z.looseObject({ id: z.string() }) }),
        'the follow-up',
      );
      return { backendId: res.follow_up.id, url: null };
    },
    async findFollowup(ref, key) {
      const marker = followupMarker(key);
      const res = await call(
        { method: 'GET', path: '/v2/follow_ups', query: { incident_id: ref.backendId } },
        z.looseObject({ follow_ups: z.array(z.looseObject({ id: z.string(), description: z.string().nullish() })) }),
        'the follow-up lookup',
      );
      const hit = res.follow_ups.find((f) => f.description?.includes(marker));
      return hit ? { backendId: hit.id, url: null } : null;
    },
  };
}
