import { z } from 'zod';
import { followupMarker, withFollowupMarker } from '../../../domain/followup.js';
import { BackendError } from '../../../errors.js';
import type { OnCall } from '../../../ports/oncall.js';
import type { BackendUser } from '../../../ports/backend.js';
import { createHttpClient, TransportError, type HttpRequest } from '../../http/client.js';
import { silentLogger, transportToBackendError, type VendorClientOptions } from '../../http/common.js';
import { toBackendError } from './backend.js';
import { listOf, userResource } from './schemas.js';

const JSONAPI = 'application/vnd.api+json';

/** Our target kinds → Rootly's `notification_target_type`. */
const TARGET_TYPE = { escalation_policy: 'EscalationPolicy', group: 'Group', service: 'Service', user: 'User' } as const;

const created = z.looseObject({ data: z.looseObject({ id: z.string(), attributes: z.looseObject({ status: z.string().optional() }).optional() }) });
const actionItems = listOf(z.looseObject({ id: z.string(), attributes: z.looseObject({ description: z.string().nullish() }) }));
/** Action items looked through for a lost create: an incident rarely has more. */
const ACTION_ITEM_PAGES = 5;
const shiftList = listOf(
  z.looseObject({
    id: z.string(),
    attributes: z.looseObject({
      ends_at: z.string(),
      user: z
        .looseObject({
          data: z.looseObject({
            id: z.string(),
            attributes: z.looseObject({ email: z.string().optional(), name: z.string().nullish(), full_name: z.string().nullish() }),
          }),
        })
        .nullish(),
    }),
  }),
);

/**
 * Rootly On-Call behind the OnCall port: a page is an alert (`POST /v1/alerts`) with a
 * `notification_target_type`/`notification_target_id`; who is on call comes from
 * `GET /v1/schedules/{id}/shifts`; follow-ups are action items (`POST /v1/incidents/{id}/action_items`,
 * kind `follow_up`). Rootly users carry no Slack id in the API: people are matched by email.
 */
export function createRootlyOnCall(opts: VendorClientOptions): OnCall {
  const log = opts.logger ?? silentLogger;
  const http = createHttpClient({
    baseUrl: opts.baseUrl ?? 'https://api.rootly.com',
    headers: { authorization: `Bearer ${opts.apiKey}`, 'content-type': JSONAPI, accept: JSONAPI },
    ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
    ...(opts.sleep ? { sleep: opts.sleep } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.retry ? { retry: opts.retry } : {}),
    onRetry: (info) => log.debug({ backend: 'rootly', ...info }, 'retrying Rootly call'),
  });

  async function call<T extends z.ZodType>(req: HttpRequest, schema: T, what: string): Promise<z.infer<T>> {
    let res: Awaited<ReturnType<typeof http.send>>;
    try {
      res = await http.send(req);
    } catch (err) {
      if (err instanceof TransportError) throw transportToBackendError(err, 'Rootly', what);
      throw err;
    }
    if (res.status >= 400) throw toBackendError(res, what);
    const parsed = schema.safeParse(res.body);
    if (!parsed.success)
      throw new BackendError('backend.unavailable', `Rootly answered ${what} with an unexpected body`, { backend: 'rootly', status: res.status });
    return parsed.data;
  }

  async function rootlyUser(user: BackendUser): Promise<{ id: string; email: string }> {
    if (!user.email)
      throw new BackendError('backend.validation', `cannot find <@${user.slackUserId}> in Rootly without their email`, { backend: 'rootly', field: 'user_id' });
    const email = user.email.toLowerCase();
    const list = await call({ method: 'GET', path: '/v1/users', query: { 'filter[email]': email, 'page[size]': 1 } }, listOf(userResource), 'the user lookup');
    const hit = list.data.find((u) => u.attributes.email.toLowerCase() === email);
    if (!hit) throw new BackendError('backend.validation', `no Rootly user has the email ${email}`, { backend: 'rootly', field: 'user_id' });
    return { id: hit.id, email };
  }

  return {
    name: 'rootly',
    async page(req) {
      let type: string;
      let id: string;
      if (req.target.kind === 'slack_user') {
        if (!req.user) throw new BackendError('backend.validation', `cannot page ${req.target.name}: no profile`, { backend: 'rootly', field: 'user' });
        type = 'User';
        id = (await rootlyUser(req.user)).id;
      } else {
        const t = req.target.target;
        if (t.kind === 'escalation_path' || !t.id)
          throw new BackendError('backend.validation', `paging target ${t.name} needs a Rootly id and a type of escalation_policy, group, service or user`, {
            backend: 'rootly',
            field: 'notification_target_type',
          });
        type = TARGET_TYPE[t.kind];
        id = t.id;
      }
      const res = await call(
        {
          method: 'POST',
          path: '/v1/alerts',
          body: {
            data: {
              type: 'alerts',
              attributes: {
                source: 'api',
                summary: `${req.incident.title}${req.message ? ` — ${req.message}` : ''}`,
                notification_target_type: type,
                notification_target_id: id,
                external_id: req.idempotencyKey,
                ...(req.incident.url ? { external_url: req.incident.url } : {}),
                labels: [{ key: 'firebreak_id', value: req.incident.firebreakId }],
              },
            },
          },
        },
        created,
        'the page',
      );
      return { externalId: res.data.id, status: res.data.attributes?.status ?? 'triggered' };
    },
    async pageStatus(alertId) {
      const path = `/v1/alerts/${encodeURIComponent(alertId)}`;
      const alert = await call(
        { method: 'GET', path },
        z.looseObject({ data: z.looseObject({ id: z.string(), attributes: z.looseObject({ status: z.string(), updated_at: z.string().optional() }) }) }),
        'the page status',
      );
      const status = alert.data.attributes.status;
      if (status !== 'acknowledged' && status !== 'resolved') return { state: 'open', ack: null };
      // Who and when: the alert's `acknowledged` event (its author is a Rootly user id).
      const events = await call(
        { method: 'GET', path: `${path}/events`, query: { 'filter[action]': 'acknowledged', 'page[size]': 20 } },
        listOf(
          z.looseObject({
            id: z.string(),
            attributes: z.looseObject({ action: z.string().optional(), user_id: z.number().int().nullish(), created_at: z.string().optional() }),
          }),
        ),
        'the page acknowledgement',
      );
      const acked = events.data.find((e) => (e.attributes.action ?? 'acknowledged') === 'acknowledged');
      if (!acked)
        return status === 'resolved'
          ? { state: 'closed', ack: null }
          : { state: 'acknowledged', ack: { at: new Date(alert.data.attributes.updated_at ?? Date.now()), by: null } };
      let by: { slackUserId: string | null; email: string | null; name: string | null } | null = null;
      if (acked.attributes.user_id !== null && acked.attributes.user_id !== undefined) {
        const u = await call(
          { method: 'GET', path: `/v1/users/${acked.attributes.user_id}` },
          z.looseObject({
            data: z.looseObject({
              attributes: z.looseObject({
                email: z.string().optional(),
                full_name: z.string().nullish(),
                name: z.string().nullish(),
                slack_id: z.string().nullish(),
              }),
            }),
          }),
          'the acknowledging user',
        ).catch(() => null);
        const a = u?.data.attributes;
        if (a) by = { slackUserId: a.slack_id ?? null, email: a.email ?? null, name: a.full_name ?? a.name ?? null };
      }
      return { state: 'acknowledged', ack: { at: new Date(acked.attributes.created_at ?? alert.data.attributes.updated_at ?? Date.now()), by } };
    },
    async onCallNow(scheduleId, at) {
      const to = new Date(at.getTime() + 60_000);
      const res = await call(
        { method: 'GET', path: `/v1/schedules/${encodeURIComponent(scheduleId)}/shifts`, query: { from: at.toISOString(), to: to.toISOString() } },
        shiftList,
        'the on-call shifts',
      );
      return res.data.map((s) => {
        const u = s.attributes.user?.data.attributes;
        return { scheduleId, slackUserId: null, email: u?.email ?? null, name: u?.full_name ?? u?.name ?? null, until: new Date(s.attributes.ends_at) };
      });
    },
    async createFollowup(ref, f) {
      // `assigned_to_user_id` is an integer in Rootly's API: set it when the owner's Rootly id is one.
      let assignee: number | null = null;
      if (f.owner?.email) {
        const u = await rootlyUser(f.owner).catch(() => null);
        if (u && /^\d+$/.test(u.id)) assignee = Number(u.id);
      }
      const res = await call(
        {
          method: 'POST',
          path: `/v1/incidents/${encodeURIComponent(ref.backendId)}/action_items`,
          body: {
            data: {
              type: 'incident_action_items',
              attributes: {
                summary: f.title.slice(0, 255),
                description: withFollowupMarker(f.description, f.idempotencyKey),
                kind: 'follow_up',
                status: 'open',
                priority: 'medium',
                ...(f.due ? { due_date: f.due } : {}),
                ...(assignee !== null ? { assigned_to_user_id: assignee } : {}),
              },
            },
          },
        },
        created,
        'the follow-up',
      );
      return { backendId: res.data.id, url: null };
    },
    async findFollowup(ref, key) {
      const marker = followupMarker(key);
      for (let n = 1; n <= ACTION_ITEM_PAGES; n++) {
        const res = await call(
          { method: 'GET', path: `/v1/incidents/${encodeURIComponent(ref.backendId)}/action_items`, query: { 'page[number]': n, 'page[size]': 100 } },
          actionItems,
          'the follow-up lookup',
        );
        const hit = res.data.find((a) => a.attributes.description?.includes(marker));
        if (hit) return { backendId: hit.id, url: null };
        if (!res.links?.next) break;
      }
      return null;
    },
  };
}
