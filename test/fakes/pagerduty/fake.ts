import { createHmac, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { startFakeServer, type FakeServer, type Reply, type RequestContext } from '../shared/server.js';

/**
 * A fake PagerDuty Events API v2 (`POST /v2/enqueue`) on loopback, answering as PagerDuty does:
 * 202 `{status: "success", message: "Event processed", dedup_key}`; 400 `{status: "invalid event",
 * message: "Event object is invalid", errors: [...]}` for a malformed event (a routing key that is
 * not 32 characters, a missing summary/source, an unknown severity or action); 429 "Request Limit
 * Exceeded" past ~120 events a minute per routing key. No authentication header: the routing key
 * in the body is the credential. A trigger with a `dedup_key` that has an open alert updates that
 * alert (its trigger count goes up) instead of opening a second; without one PagerDuty makes a key.
 */

export interface FakePagerDutyAlert {
  routingKey: string;
  dedupKey: string;
  status: 'triggered' | 'acknowledged' | 'resolved';
  summary: string;
  severity: string;
  triggers: number;
  customDetails: unknown;
}

export interface FakePagerDuty extends FakeServer {
  alerts(): FakePagerDutyAlert[];
  /** A V3 webhook subscription: PagerDuty POSTs incident events there, signed with the secret. */
  subscribe(url: string, secret: string): void;
  /**
   * A responder acknowledges the incident an alert raised (in PagerDuty's app or by phone): the
   * alert becomes `acknowledged` and, with a subscription, PagerDuty sends `incident.acknowledged`
   * (the incident's `incident_key` is the alert's dedup_key; `agent` is the person). Resolves to
   * the webhook's HTTP status (null without a subscription).
   */
  acknowledge(o: { routingKey: string; dedupKey: string; agent: { id: string; name: string }; service: string }): Promise<number | null>;
}

const event = z.object({
  routing_key: z.string({ error: "'routing_key' is missing or blank" }).length(32, "Length of 'routing_key' is incorrect (should be 32 characters)"),
  event_action: z.enum(['trigger', 'acknowledge', 'resolve'], { error: "'event_action' is invalid (must be one of: trigger, acknowledge, resolve)" }),
  dedup_key: z.string().max(255, "'dedup_key' is too long (maximum is 255 characters)").optional(),
  payload: z
    .object({
      summary: z
        .string({ error: "'payload.summary' is missing or blank" })
        .min(1, "'payload.summary' is missing or blank")
        .max(1024, "'payload.summary' is too long (maximum is 1024 characters)"),
      source: z.string({ error: "'payload.source' is missing or blank" }).min(1, "'payload.source' is missing or blank"),
      severity: z.enum(['critical', 'error', 'warning', 'info'], { error: "'payload.severity' is invalid (must be one of: critical, error, warning, info)" }),
      timestamp: z.string().optional(),
      component: z.string().optional(),
      group: z.string().optional(),
      class: z.string().optional(),
      custom_details: z.unknown().optional(),
    })
    .optional(),
  client: z.string().optional(),
  client_url: z.string().optional(),
  links: z.array(z.object({ href: z.string(), text: z.string().optional() })).optional(),
  images: z.array(z.object({ src: z.string(), href: z.string().optional(), alt: z.string().optional() })).optional(),
});

const invalid = (errors: string[]): Reply => ({ status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors } });

export async function startFakePagerDuty(opts: { perKeyPerMinute?: number; now?: () => number } = {}): Promise<FakePagerDuty> {
  const now = opts.now ?? Date.now;
  const perKey = opts.perKeyPerMinute ?? 120;
  const alerts: FakePagerDutyAlert[] = [];
  const hits = new Map<string, number[]>();
  const server = await startFakeServer({
    routes: [
      {
        method: 'POST',
        template: '/v2/enqueue',
        handler: (ctx: RequestContext): Reply => {
          const parsed = event.safeParse(ctx.body);
          if (!parsed.success) return invalid(parsed.error.issues.map((i) => i.message));
          const e = parsed.data;
          if (e.event_action === 'trigger' && !e.payload) return invalid(["'payload' is missing or blank"]);
          if (e.event_action !== 'trigger' && !e.dedup_key) return invalid(["'dedup_key' is missing or blank"]);
          // ~120 events a minute per routing key, over a sliding 60 s window.
          const t = now();
          const window = (hits.get(e.routing_key) ?? []).filter((x) => x > t - 60_000);
          if (window.length >= perKey) return { status: 429, body: { status: 'throttle event', message: 'Request Limit Exceeded' } };
          window.push(t);
          hits.set(e.routing_key, window);
          const dedupKey = e.dedup_key ?? randomUUID().replace(/-/g, '');
          const open = alerts.find((a) => a.routingKey === e.routing_key && a.dedupKey === dedupKey && a.status !== 'resolved');
          if (e.event_action === 'trigger') {
            if (open) {
              open.triggers += 1;
              if (open.status === 'triggered') open.summary = e.payload!.summary;
            } else {
              alerts.push({
                routingKey: e.routing_key,
                dedupKey,
                status: 'triggered',
                summary: e.payload!.summary,
                severity: e.payload!.severity,
                triggers: 1,
                customDetails: e.payload!.custom_details ?? null,
              });
            }
          } else if (open) open.status = e.event_action === 'acknowledge' ? 'acknowledged' : 'resolved';
          return { status: 202, body: { status: 'success', message: 'Event processed', dedup_key: dedupKey } };
        },
      },
    ],
    authenticate: () => null,
    notFound: () => ({ status: 404, body: { status: 'not found', message: 'Not found' } }),
    rateLimited: () => ({ status: 429, body: { status: 'throttle event', message: 'Request Limit Exceeded' } }),
    ...(opts.now ? { now: opts.now } : {}),
  });
  let subscription: { url: string; secret: string } | null = null;
  const incidentIds = new Map<string, string>();
  return {
    ...server,
    alerts: () => alerts,
    subscribe(url, secret) {
      subscription = { url, secret };
    },
    async acknowledge(o) {
      const alert = alerts.find((a) => a.routingKey === o.routingKey && a.dedupKey === o.dedupKey && a.status !== 'resolved');
      if (!alert) throw new Error(`no open fake PagerDuty alert ${o.dedupKey}`);
      alert.status = 'acknowledged';
      if (!subscription) return null;
      const incidentId = incidentIds.get(`${o.routingKey}:${o.dedupKey}`) ?? `Q${randomUUID().replace(/-/g, '').slice(0, 13).toUpperCase()}`;
      incidentIds.set(`${o.routingKey}:${o.dedupKey}`, incidentId);
      const body = JSON.stringify({
        event: {
          id: randomUUID(),
          event_type: 'incident.acknowledged',
          resource_type: 'incident',
          occurred_at: new Date(now()).toISOString(),
          agent: {
            html_url: `https://acme.pagerduty.com/users/${o.agent.id}`,
            id: o.agent.id,
            self: `https://api.pagerduty.com/users/${o.agent.id}`,
            summary: o.agent.name,
            type: 'user_reference',
          },
          client: null,
          data: {
            id: incidentId,
            type: 'incident',
            self: `https://api.pagerduty.com/incidents/${incidentId}`,
            html_url: `https://acme.pagerduty.com/incidents/${incidentId}`,
            number: 1,
            status: 'acknowledged',
            incident_key: o.dedupKey,
            created_at: new Date(now()).toISOString(),
            title: alert.summary,
            service: {
              html_url: 'https://acme.pagerduty.com/services/PSVC',
              id: 'PSVC',
              self: 'https://api.pagerduty.com/services/PSVC',
              summary: o.service,
              type: 'service_reference',
            },
            assignees: [],
            escalation_policy: null,
            teams: [],
            priority: null,
            urgency: 'high',
            conference_bridge: null,
            resolve_reason: null,
          },
        },
      });
      const sig = createHmac('sha256', subscription.secret).update(body).digest('hex');
      const res = await fetch(subscription.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-pagerduty-signature': `v1=${sig}`, 'user-agent': 'PagerDuty-Webhook/V3.0' },
        body,
      });
      await res.text();
      return res.status;
    },
  };
}
