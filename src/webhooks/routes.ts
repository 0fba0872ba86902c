import type { IncomingMessage, ServerResponse } from 'node:http';
import { fingerprint, parseAlertPayload, parsePagerDutyAck, type AlertSource } from '../domain/alert.js';
import { BodyTooLargeError, readBody, sendJson, type Route } from '../http/routes.js';
import { createAlertIntake } from '../services/alerts.js';
import { onEscalationUpdated, pagerDutyAckJob } from '../services/paging.js';
import { backendEventJob, parseIncidentioEvent, parseRootlyEvent, type ParsedBackendEvent } from '../services/backend-events.js';
import type { Deps } from '../services/deps.js';
import { approvalView, proposeForAgent } from '../services/agents.js';
import { AppError } from '../errors.js';
import { z } from 'zod';
import { createHash, hash } from 'node:crypto';
import { createIngestLimiter, type IngestLimiter } from './ingest-limit.js';
import { verifyBearer, verifyDatadog, verifyGeneric, verifyPagerDuty, verifyRootly, verifySvix, type Verdict } from './verify.js';

/**
 * Inbound webhooks. Each request: enabled? → body within the limit (413) → authentic (401) →
 * under the ingest limit (429, alerts only) → well-formed (400) → durably stored and queued → 202.
 * The HTTP path never waits on Slack or the backend; a job does the rest. Replays are recognised
 * by the durable write itself (alerts unique on source + delivery id, backend events queued under
 * a job key per source + event id), so a crash between "seen" and "stored" cannot drop an event
 * the sender retries.
 */
export interface WebhookRouteOptions {
  /** Shared across route builds in one process; defaults to a fresh limiter from config. */
  limiter?: IngestLimiter;
}

/**
 * The status an over-the-limit alert delivery gets, per sender: the one it retries on. Datadog and
 * Alertmanager retry only on 5xx (a 429 would drop the alert), so they get 503; PagerDuty retries
 * any non-2xx and the generic scheme documents 429, so those keep 429. Both carry Retry-After.
 */
const OVERLOAD_STATUS: Record<AlertSource, 429 | 503> = { datadog: 503, alertmanager: 503, pagerduty: 429, generic: 429 };

type Outcome = 'accepted' | 'duplicate' | 'ignored' | 'disabled' | 'too_large' | 'unauthorized' | 'rate_limited' | 'invalid' | 'error';

class Reply {
  constructor(
    readonly status: number,
    readonly outcome: Outcome,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {}
}

export function webhookRoutes(deps: Deps, opts: WebhookRouteOptions = {}): Route[] {
  const cfg = deps.config.file.alerts;
  const limiter = opts.limiter ?? createIngestLimiter(cfg.rate_limit_per_minute, () => deps.clock.now().getTime());
  const agentLimiter = createIngestLimiter(deps.config.file.agents.rate_limit_per_minute, () => deps.clock.now().getTime());
  const env = deps.config.env;
  const intake = createAlertIntake(deps);

  const handle =
    (source: string, run: (req: IncomingMessage) => Promise<Reply>) =>
    async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      let reply: Reply;
      try {
        reply = await run(req);
      } catch (err) {
        // The store is down or similar: 500 makes the sender retry later, which is what we want.
        deps.logger.error({ err, source }, 'webhook failed');
        reply = new Reply(500, 'error', { error: 'internal error; retry later' });
      }
      deps.metrics.webhooks.inc({ source, outcome: reply.outcome });
      if (reply.status >= 400 && reply.outcome !== 'rate_limited' && reply.status !== 500)
        deps.logger.warn({ source, status: reply.status, reason: reply.body.error }, 'webhook refused');
      sendJson(res, reply.status, reply.body, reply.headers);
    };

  const body = async (req: IncomingMessage): Promise<Buffer | Reply> => {
    try {
      return await readBody(req, cfg.max_body_bytes);
    } catch (err) {
      if (err instanceof BodyTooLargeError) return new Reply(413, 'too_large', { error: `body larger than ${cfg.max_body_bytes} bytes` });
      throw err;
    }
  };

  const json = (raw: Buffer): unknown | Reply => {
    let v: unknown;
    try {
      v = JSON.parse(raw.toString('utf8')) as unknown;
    } catch (err) {
      return new Reply(400, 'invalid', { error: `malformed JSON: ${(err as Error).message}` });
    }
    // Refused with a reason, not stored: a 500 later would only make the sender retry forever.
    if (containersOver(raw, MAX_JSON_DEPTH) && depthOver(v, MAX_JSON_DEPTH))
      return new Reply(400, 'invalid', { error: `JSON nested deeper than ${MAX_JSON_DEPTH} levels` });
    return v;
  };

  // -- alerts --------------------------------------------------------------------------------

  /** The secret each source is checked with, and the variable that sets it (for the 503 message). */
  const alertAuth: Record<AlertSource, { secret: string | undefined; envName: string; check: (req: IncomingMessage, raw: Buffer, secret: string) => Verdict }> =
    {
      pagerduty: { secret: env.PAGERDUTY_WEBHOOK_SECRET, envName: 'PAGERDUTY_WEBHOOK_SECRET', check: (req, raw, s) => verifyPagerDuty(req.headers, raw, s) },
      datadog: {
        // A token Datadog sends in clear: never the HMAC key ALERT_WEBHOOK_SECRET.
        secret: env.DATADOG_WEBHOOK_SECRET ?? env.ALERT_WEBHOOK_TOKEN,
        envName: 'DATADOG_WEBHOOK_SECRET (or ALERT_WEBHOOK_TOKEN)',
        check: (req, _raw, s) => verifyDatadog(req.headers, s),
      },
      alertmanager: {
        secret: env.ALERTMANAGER_WEBHOOK_TOKEN ?? env.ALERT_WEBHOOK_TOKEN,
        envName: 'ALERTMANAGER_WEBHOOK_TOKEN (or ALERT_WEBHOOK_TOKEN)',
        check: (req, _raw, s) => verifyBearer(req.headers, s),
      },
      generic: {
        secret: env.ALERT_WEBHOOK_SECRET,
        envName: 'ALERT_WEBHOOK_SECRET',
        check: (req, raw, s) => verifyGeneric(req.headers, raw, s, deps.clock.now()),
      },
    };

  const ingestAlerts = async (source: AlertSource, req: IncomingMessage): Promise<Reply> => {
    const auth = alertAuth[source];
    // Never accept unauthenticated alerts. 503 (not 404) so the sender keeps retrying: once the
    // secret is set and the bot restarted, the queued deliveries arrive instead of being lost.
    if (!auth.secret) return new Reply(503, 'disabled', { error: `${source} alerts are not enabled: set ${auth.envName}` });
    const raw = await body(req);
    if (raw instanceof Reply) return raw;
    const verdict = auth.check(req, raw, auth.secret);
    if (!verdict.ok) return new Reply(401, 'unauthorized', { error: `authentication failed: ${verdict.reason}` });
    const parsedJson = json(raw);
    if (parsedJson instanceof Reply) return parsedJson;
    const parsed = parseAlertPayload(source, parsedJson);
    if (!parsed.ok) return new Reply(400, 'invalid', { error: parsed.reason });
    if (parsed.alerts.length === 0) {
      // A page we sent through PagerDuty was acknowledged: shown in the incident (paging service).
      const ack = source === 'pagerduty' ? parsePagerDutyAck(parsedJson) : null;
      // Ours when its incident key is the dedup key of a page we sent (the incident id).
      if (ack && (await deps.store.listPages(ack.incidentKey)).some((p) => p.externalId === ack.incidentKey)) {
        const { deliveryId: key, ...payload } = ack;
        const added = await deps.jobs.enqueue(pagerDutyAckJob, payload, { key });
        return added ? new Reply(202, 'accepted', { acknowledgement: true }) : new Reply(200, 'duplicate', { duplicate: true });
      }
      return new Reply(200, 'ignored', { ignored: parsed.ignored ?? 'no alerts in payload' });
    }
    if (parsed.alerts.length > cfg.max_alerts_per_delivery)
      return new Reply(413, 'too_large', {
        error: `${parsed.alerts.length} alerts in one delivery; at most ${cfg.max_alerts_per_delivery} (alerts.max_alerts_per_delivery) — split it`,
      });
    // The limit counts alerts, not deliveries: one delivery of 50 alerts costs 50.
    const retryAfter = limiter.take(source, parsed.alerts.length);
    if (retryAfter !== null)
      return new Reply(
        OVERLOAD_STATUS[source],
        'rate_limited',
        { error: `more than ${cfg.rate_limit_per_minute} ${source} alerts per minute` },
        { 'retry-after': String(retryAfter) },
      );

    // Generic deliveries have no id of their own: the same body (a retry, a replay) is the same
    // delivery, whatever its signature header looks like.
    const deliveryId = parsed.deliveryId ?? (source === 'generic' ? `body:${hash('sha256', raw, 'hex')}` : null);
    const receivedAt = deps.clock.now();
    // Everything is parsed before the first write, so a 400 never leaves half a delivery behind.
    // The alerts and their processing jobs are stored together (a replay is found by its delivery
    // id and still gets its job: a no-op by the job key unless the first delivery lost it).
    const stored = await intake.accept(
      parsed.alerts.map((a, i) => ({
        id: deps.newId(),
        source,
        deliveryId: deliveryId === null ? null : parsed.alerts.length > 1 ? `${deliveryId}#${i}` : deliveryId,
        fingerprint: fingerprint(a),
        externalId: a.externalId,
        title: a.title.slice(0, 500),
        service: a.service,
        severity: a.severity,
        status: a.status,
        url: a.url,
        raw: a.raw,
        receivedAt,
      })),
    );
    const ids = stored.map((r) => r.alert.id);
    const fresh = stored.filter((r) => r.inserted).length;
    if (fresh === 0) return new Reply(200, 'duplicate', { duplicate: true, alerts: ids });
    return new Reply(202, 'accepted', { accepted: fresh, alerts: ids });
  };

  // -- backend webhooks ------------------------------------------------------------------------

  const ingestBackendEvent = async (
    source: 'rootly' | 'incidentio',
    req: IncomingMessage,
    secret: string | undefined,
    envName: string,
    verify: (raw: Buffer) => Verdict,
    parse: (body: unknown) => ParsedBackendEvent,
    /** Events about something other than an incident (a page's escalation), answered here when it applies. */
    other?: (body: unknown) => Promise<Reply | null>,
  ): Promise<Reply> => {
    if (!secret) return new Reply(503, 'disabled', { error: `${source} webhooks are not enabled: set ${envName}` });
    const raw = await body(req);
    if (raw instanceof Reply) return raw;
    const verdict = verify(raw);
    if (!verdict.ok) return new Reply(401, 'unauthorized', { error: `authentication failed: ${verdict.reason}` });
    const parsedJson = json(raw);
    if (parsedJson instanceof Reply) return parsedJson;
    const answered = other ? await other(parsedJson) : null;
    if (answered) return answered;
    const parsed = parse(parsedJson);
    if (!parsed.ok) return new Reply(400, 'invalid', { error: parsed.reason });
    if ('ignored' in parsed) return new Reply(200, 'ignored', { ignored: parsed.ignored });
    const added = await deps.jobs.enqueue(backendEventJob, parsed.event, { key: `${source}:${parsed.event.eventId}` });
    return added ? new Reply(202, 'accepted', { accepted: 1 }) : new Reply(200, 'duplicate', { duplicate: true });
  };

  // -- agent proposals -------------------------------------------------------------------------

  /**
   * An external agent (an AI SRE assistant, a runbook bot) proposes an action. It goes through the
   * same gate as a person's or Claude's proposal and never runs without a human's Approve. The
   * incident is named by our id, its channel id or its backend id.
   */
  const AgentProposal = z
    .object({
      agent: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a short agent name (letters, digits, . _ -)'),
      incident: z
        .object({ id: z.string().optional(), channel_id: z.string().optional(), backend_id: z.string().optional() })
        .refine((i) => i.id || i.channel_id || i.backend_id, 'name the incident by id, channel_id or backend_id'),
      action: z.string().min(1),
      params: z.record(z.string(), z.unknown()).default({}),
      reason: z.string().min(1, 'say why').max(2000),
    })
    .strict();

  const ingestProposal = async (req: IncomingMessage): Promise<Reply> => {
    const secret = env.AGENT_WEBHOOK_SECRET;
    if (!secret) return new Reply(503, 'disabled', { error: 'agent proposals are not enabled: set AGENT_WEBHOOK_SECRET' });
    const raw = await body(req);
    if (raw instanceof Reply) return raw;
    const key = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : null;
    if (key !== null && !/^[\x21-\x7e]{1,200}$/.test(key))
      return new Reply(400, 'invalid', { error: 'Idempotency-Key must be 1-200 printable characters without spaces' });
    const verdict = verifyGeneric(req.headers, raw, secret, deps.clock.now(), { idempotencyKey: key });
    if (!verdict.ok) return new Reply(401, 'unauthorized', { error: `authentication failed: ${verdict.reason}` });
    const retryAfter = agentLimiter.take('agents');
    if (retryAfter !== null)
      return new Reply(
        429,
        'rate_limited',
        { error: `more than ${deps.config.file.agents.rate_limit_per_minute} agent proposals per minute` },
        { 'retry-after': String(retryAfter) },
      );
    const parsedJson = json(raw);
    if (parsedJson instanceof Reply) return parsedJson;
    const parsed = AgentProposal.safeParse(parsedJson);
    if (!parsed.success) return new Reply(400, 'invalid', { error: parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') });
    const p = parsed.data;
    const incident = p.incident.id
      ? await deps.store.getIncident(p.incident.id)
      : p.incident.channel_id
        ? await deps.store.findIncidentByChannel(p.incident.channel_id)
        : await deps.store.findIncidentByBackendId(deps.backend.name, p.incident.backend_id!);
    if (!incident) return new Reply(404, 'invalid', { error: 'no such incident' });
    // A retried delivery (same Idempotency-Key) proposes once.
    try {
      // The same service as the MCP tool `propose_action` (src/services/agents.ts). The webhook is signed with the
      // team's own secret and names the incident itself: private incidents included, as before.
      // Without an Idempotency-Key, the signed message itself (timestamp and body) is the key: the
      // same request sent again within the 5-minute window (a replay) proposes once.
      const idempotencyKey =
        key ??
        `signed:${createHash('sha256')
          .update(`${String(req.headers['x-firebreak-timestamp'])}.`)
          .update(raw)
          .digest('hex')}`;
      const { approval, duplicate } = await proposeForAgent(
        deps,
        { name: p.agent, scopes: ['propose'], incidents: { private: true } },
        { incident, action: p.action, params: p.params, reason: p.reason, idempotencyKey },
      );
      if (duplicate) return new Reply(200, 'duplicate', { duplicate: true, approval_id: approval.id, status: approval.status });
      // Who may approve, fixed now; an empty list means nobody can (an incident nobody had taken
      // command of), and `policy` says so: the sender need not wait for the expiry.
      const { policy, approvers } = approvalView(deps, approval);
      return new Reply(202, 'accepted', { approval_id: approval.id, status: approval.status, expires_at: approval.expiresAt.toISOString(), policy, approvers });
    } catch (err) {
      if (err instanceof AppError && (err.code === 'action.unknown' || err.code === 'action.invalid_params' || err.code === 'input.invalid'))
        return new Reply(422, 'invalid', { error: err.message });
      // The incident is resolved or cancelled: a retry would be refused too, so it is not a 5xx.
      if (err instanceof AppError && err.code === 'incident.bad_transition') return new Reply(409, 'invalid', { error: err.message });
      // The same action with the same parameters already stands: that approval is the one to follow.
      if (err instanceof AppError && err.code === 'action.already_proposed')
        return new Reply(409, 'invalid', { error: err.message, approval_id: err.detail.approvalId, status: err.detail.status });
      throw err;
    }
  };

  const alertRoute = (source: AlertSource): Route => ({
    method: 'POST',
    path: `/webhooks/alerts/${source}`,
    handler: handle(source, (req) => ingestAlerts(source, req)),
  });

  return [
    {
      method: 'POST',
      path: '/webhooks/rootly',
      handler: handle('rootly', (req) =>
        ingestBackendEvent(
          'rootly',
          req,
          env.ROOTLY_WEBHOOK_SECRET,
          'ROOTLY_WEBHOOK_SECRET',
          (raw) => verifyRootly(req.headers, raw, env.ROOTLY_WEBHOOK_SECRET!, deps.clock.now()),
          parseRootlyEvent,
        ),
      ),
    },
    {
      method: 'POST',
      path: '/webhooks/incidentio',
      handler: handle('incidentio', (req) =>
        ingestBackendEvent(
          'incidentio',
          req,
          env.INCIDENTIO_WEBHOOK_SECRET,
          'INCIDENTIO_WEBHOOK_SECRET',
          (raw) => verifySvix(req.headers, raw, env.INCIDENTIO_WEBHOOK_SECRET!, deps.clock.now()),
          (b) => parseIncidentioEvent(b, String(req.headers['webhook-id'])),
          async (b) => {
            const r = await onEscalationUpdated(deps, b, String(req.headers['webhook-id']));
            if (r === 'checking') return new Reply(202, 'accepted', { accepted: 1 });
            return r === 'not_ours' ? new Reply(200, 'ignored', { ignored: 'an escalation Firebreak is not waiting on' }) : null;
          },
        ),
      ),
    },
    alertRoute('pagerduty'),
    alertRoute('datadog'),
    alertRoute('alertmanager'),
    alertRoute('generic'),
    { method: 'POST', path: '/webhooks/agents/proposals', handler: handle('agent', ingestProposal) },
  ];
}

const MAX_JSON_DEPTH = 32;

/**
 * Whether the JSON text may hold more than `max` objects and arrays: each opens with a `{` or `[`
 * (counted inside strings too, so this only over-counts). A body with at most `max` of them
 * cannot nest `max` deep, and the walk below is skipped (most alert deliveries: a handful).
 */
function containersOver(raw: Buffer, max: number): boolean {
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i];
    if ((b === 0x7b || b === 0x5b) && ++n > max) return true;
  }
  return false;
}

/** True when `v` nests deeper than `max` (iterative: a hostile body cannot blow the stack). */
function depthOver(v: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    if (d >= max) return true;
    for (const y of Array.isArray(x) ? x : Object.values(x)) stack.push([y, d + 1]);
  }
  return false;
}
