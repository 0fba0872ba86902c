import { z } from 'zod';
import { BackendError } from '../../errors.js';
import { createHttpClient, TransportError, type HttpResponse } from '../http/client.js';
import { silentLogger, transportToBackendError, type AdapterLogger } from '../http/common.js';

/**
 * PagerDuty Events API v2: `POST /v2/enqueue`. A trigger with a `dedup_key` PagerDuty already has
 * open updates that one alert instead of raising a second, so a repeat is harmless and the client
 * may retry it. Answers: 202 `{status: "success", message, dedup_key}`; 400 `{status: "invalid
 * event", message, errors: [...]}`; 429 when throttled (retried later); 5xx retried.
 * The routing key is a secret: it is never logged and never part of an error message.
 */
export interface PagerDutyEvents {
  trigger(input: PagerDutyTrigger): Promise<{ dedupKey: string }>;
}

export interface PagerDutyTrigger {
  routingKey: string;
  dedupKey: string;
  summary: string;
  severity: 'critical' | 'error' | 'warning' | 'info';
  source: string;
  component?: string;
  customDetails?: Record<string, unknown>;
  link?: { href: string; text: string } | null;
}

const accepted = z.looseObject({ status: z.string(), message: z.string().optional(), dedup_key: z.string() });
const invalid = z.looseObject({ status: z.string().optional(), message: z.string().optional(), errors: z.array(z.string()).optional() });

export function createPagerDutyEvents(opts: {
  baseUrl?: string;
  logger?: AdapterLogger;
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}): PagerDutyEvents {
  const log = opts.logger ?? silentLogger;
  const http = createHttpClient({
    baseUrl: opts.baseUrl ?? 'https://events.pagerduty.com',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.sleep ? { sleep: opts.sleep } : {}),
    onRetry: (info) => log.debug({ backend: 'pagerduty', ...info }, 'retrying PagerDuty event'),
  });
  return {
    async trigger(t) {
      let res: HttpResponse;
      try {
        res = await http.send({
          method: 'POST',
          path: '/v2/enqueue',
          // Same dedup_key = same PagerDuty alert: repeating after an unknown outcome is safe.
          idempotent: true,
          body: {
            routing_key: t.routingKey,
            event_action: 'trigger',
            dedup_key: t.dedupKey,
            payload: {
              summary: t.summary.slice(0, 1024),
              source: t.source,
              severity: t.severity,
              ...(t.component ? { component: t.component } : {}),
              ...(t.customDetails ? { custom_details: t.customDetails } : {}),
            },
            ...(t.link ? { links: [t.link] } : {}),
          },
        });
      } catch (err) {
        if (err instanceof TransportError) throw transportToBackendError(err, 'PagerDuty', 'the page');
        throw err;
      }
      if (res.status === 202) {
        const ok = accepted.safeParse(res.body);
        if (!ok.success)
          throw new BackendError('backend.unavailable', 'PagerDuty accepted the page with an unexpected body', { backend: 'pagerduty', status: res.status });
        return { dedupKey: ok.data.dedup_key };
      }
      const bad = invalid.safeParse(res.body);
      const why = bad.success ? [bad.data.message, ...(bad.data.errors ?? [])].filter(Boolean).join('; ') : `HTTP ${res.status}`;
      const o = { backend: 'pagerduty', status: res.status };
      if (res.status === 429)
        throw new BackendError('backend.rate_limited', 'PagerDuty is throttling events for this routing key', { ...o, retryAfterMs: null });
      if (res.status === 400) throw new BackendError('backend.validation', `PagerDuty refused the page: ${why}`, { ...o, field: 'routing_key' });
      if (res.status === 401 || res.status === 403) throw new BackendError('backend.auth', `PagerDuty refused the routing key (HTTP ${res.status})`, o);
      throw new BackendError('backend.unavailable', `PagerDuty failed the page (HTTP ${res.status})`, o);
    },
  };
}

/** Our severities → PagerDuty's four. */
export const PD_SEVERITY: Record<string, PagerDutyTrigger['severity']> = { critical: 'critical', high: 'error', medium: 'warning', low: 'info' };
