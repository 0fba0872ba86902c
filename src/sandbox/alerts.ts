import { randomUUID } from 'node:crypto';
import type { Env } from '../config.js';
import type { AlertSource } from '../domain/alert.js';
import { signGeneric, signPagerDuty } from '../webhooks/verify.js';

/**
 * Sample alerts the sandbox fires at the bot's own `/webhooks/alerts/<source>`, each shaped and
 * authenticated the way the real tool sends it (see docs/alerts.md), so the whole ingest path
 * (verify → parse → dedupe → declare or join) runs exactly as in production.
 */
export interface SampleDelivery {
  body: string;
  headers: Record<string, string>;
}

/**
 * The secret a source is checked against: its own variable when set, else the shared
 * ALERT_WEBHOOK_SECRET (the sandbox always sets the shared one).
 */
export function alertSecret(env: Env, source: AlertSource): string | undefined {
  switch (source) {
    case 'pagerduty':
      return env.PAGERDUTY_WEBHOOK_SECRET ?? env.ALERT_WEBHOOK_SECRET;
    case 'datadog':
      return env.DATADOG_WEBHOOK_SECRET ?? env.ALERT_WEBHOOK_TOKEN;
    case 'alertmanager':
      return env.ALERTMANAGER_WEBHOOK_TOKEN ?? env.ALERT_WEBHOOK_TOKEN;
    case 'generic':
      return env.ALERT_WEBHOOK_SECRET;
  }
}

function samplePayload(source: AlertSource, now: Date): unknown {
  const id = randomUUID();
  const iso = now.toISOString();
  switch (source) {
    case 'pagerduty':
      // PagerDuty V3 webhook, incident.triggered.
      return {
        event: {
          id: `01${id.replace(/-/g, '').slice(0, 24).toUpperCase()}`,
          event_type: 'incident.triggered',
          resource_type: 'incident',
          occurred_at: iso,
          agent: null,
          client: null,
          data: {
            id: `Q${id.replace(/-/g, '').slice(0, 13).toUpperCase()}`,
            type: 'incident',
            self: 'https://api.pagerduty.com/incidents/Q0SANDBOX',
            html_url: 'https://acme.pagerduty.com/incidents/Q0SANDBOX',
            number: Math.floor(now.getTime() / 1000) % 100000,
            status: 'triggered',
            // Stable across fires: firing the sample again is the same alert again, so it de-duplicates.
            incident_key: 'sandbox-checkout-latency',
            created_at: iso,
            title: 'Checkout p99 latency above 2s',
            service: { id: 'PSANDBX', type: 'service_reference', summary: 'checkout' },
            urgency: 'high',
            priority: { id: 'PSANDP1', type: 'priority_reference', summary: 'P2' },
          },
        },
      };
    case 'datadog':
      // The webhook template from docs/alerts.md, as Datadog fills it in.
      return {
        id: String(now.getTime()),
        title: '[Triggered] api 5xx error rate above 5%',
        body: 'The 5xx error rate on api is 7.2% over the last 5 minutes.',
        transition: 'Triggered',
        priority: 'P2',
        alert_id: '12345678',
        alert_cycle_key: 'sandbox-api-5xx',
        aggregation_key: 'api-5xx',
        tags: 'service:api,env:prod,team:platform',
        link: 'https://app.datadoghq.com/monitors/12345678',
      };
    case 'alertmanager':
      return {
        version: '4',
        groupKey: '{}:{alertname="KubePodCrashLooping"}',
        truncatedAlerts: 0,
        status: 'firing',
        receiver: 'firebreak',
        groupLabels: { alertname: 'KubePodCrashLooping' },
        commonLabels: { alertname: 'KubePodCrashLooping', severity: 'critical', service: 'payments' },
        commonAnnotations: {},
        externalURL: 'http://alertmanager.example.com',
        alerts: [
          {
            status: 'firing',
            labels: { alertname: 'KubePodCrashLooping', severity: 'critical', service: 'payments', namespace: 'prod', pod: 'payments-7f9c2' },
            annotations: { summary: 'payments pods are crash-looping', description: 'Pod prod/payments-7f9c2 restarted 6 times in 10 minutes.' },
            startsAt: iso,
            endsAt: '0001-01-01T00:00:00Z',
            generatorURL: 'http://prometheus.example.com/graph?g0.expr=kube_pod_container_status_restarts_total',
            fingerprint: '5a4db0c0ffee0001',
          },
        ],
      };
    case 'generic':
      return {
        title: 'Search indexing queue backing up',
        service: 'search',
        severity: 'medium',
        status: 'firing',
        external_id: 'sandbox-search-queue',
        url: 'https://status.example.com/search',
        details: { queue_depth: 48210, threshold: 10000 },
      };
  }
}

/** A sample delivery for `source`, with the headers that authenticate it. */
export function sampleAlert(source: AlertSource, secret: string, now = new Date()): SampleDelivery {
  const body = JSON.stringify(samplePayload(source, now));
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  switch (source) {
    case 'pagerduty':
      headers['x-pagerduty-signature'] = signPagerDuty(secret, body);
      headers['x-webhook-id'] = randomUUID();
      break;
    case 'datadog':
      headers['x-firebreak-token'] = secret;
      break;
    case 'alertmanager':
      headers.authorization = `Bearer ${secret}`;
      break;
    case 'generic': {
      const ts = Math.floor(now.getTime() / 1000);
      headers['x-firebreak-timestamp'] = String(ts);
      headers['x-firebreak-signature'] = signGeneric(secret, ts, body);
      break;
    }
  }
  return { body, headers };
}
