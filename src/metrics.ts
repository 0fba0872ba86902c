import { Counter, Histogram, Registry, collectDefaultMetrics, Gauge } from 'prom-client';

/** Prometheus metrics on a registry of our own (no global state, so tests can build many apps). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'firebreak_' });
  return {
    registry,
    slackRequests: new Counter({
      name: 'firebreak_slack_requests_total',
      help: 'Slack requests handled, by kind and outcome',
      labelNames: ['kind', 'outcome'] as const,
      registers: [registry],
    }),
    ackSeconds: new Histogram({
      name: 'firebreak_slack_ack_seconds',
      help: 'Time from receiving a Slack request to its ack',
      labelNames: ['kind'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    incidents: new Counter({
      name: 'firebreak_incidents_declared_total',
      help: 'Incidents declared, by origin and severity',
      labelNames: ['origin', 'severity'] as const,
      registers: [registry],
    }),
    approvals: new Counter({
      name: 'firebreak_approvals_total',
      help: 'Approval decisions and executions, by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    webhooks: new Counter({
      name: 'firebreak_webhooks_total',
      help: 'Inbound webhooks, by source and outcome',
      labelNames: ['source', 'outcome'] as const,
      registers: [registry],
    }),
    jobs: new Counter({
      name: 'firebreak_jobs_total',
      help: 'Background jobs run, by kind and outcome',
      labelNames: ['kind', 'outcome'] as const,
      registers: [registry],
    }),
    resolvedSeconds: new Histogram({
      name: 'firebreak_incident_resolved_duration_seconds',
      help: 'Time from declaration to resolve, by severity, observed when an incident is resolved (in Slack or by a backend webhook)',
      labelNames: ['severity'] as const,
      // 5 min … 7 days
      buckets: [300, 900, 1800, 3600, 7200, 14_400, 28_800, 86_400, 259_200, 604_800],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'firebreak_job_queue_depth',
      help: 'Queued background jobs (sampled)',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
