import { z } from 'zod';

/**
 * Zod schemas for the parts of Rootly's JSON:API responses the adapter reads. Written from
 * rootly-openapi.json; loose objects, because Rootly adds attributes over time and we only
 * depend on the ones named here.
 */

export const linksSchema = z.looseObject({
  next: z.string().nullable().optional(),
});

const resource = <A extends z.ZodType>(type: string, attributes: A) => z.looseObject({ id: z.string(), type: z.literal(type), attributes });

export const severityResource = resource(
  'severities',
  z.looseObject({
    name: z.string(),
    slug: z.string().nullish(),
    severity: z.enum(['critical', 'high', 'medium', 'low']).nullish(),
    position: z.number().nullish(),
  }),
);

export const incidentRoleResource = resource('incident_roles', z.looseObject({ name: z.string(), slug: z.string().nullish(), enabled: z.boolean().nullish() }));

export const userResource = resource('users', z.looseObject({ email: z.string() }));

export const incidentAttributes = z.looseObject({
  title: z.string().nullish(),
  status: z.string().nullish(),
  url: z.string().nullish(),
  labels: z.record(z.string(), z.unknown()).nullish(),
});
export const incidentResource = resource('incidents', incidentAttributes);

export const listOf = <T extends z.ZodType>(item: T) => z.looseObject({ data: z.array(item), links: linksSchema.optional() });

export const incidentResponse = z.looseObject({
  data: incidentResource,
  included: z.array(z.looseObject({ id: z.string(), type: z.string(), attributes: z.record(z.string(), z.unknown()).optional() })).optional(),
});

export const postMortemAttributes = z.looseObject({
  title: z.string(),
  status: z.enum(['draft', 'published']).nullish(),
});

export const workflowRunResponse = z.looseObject({
  data: resource('workflow_runs', z.looseObject({ status: z.string() })),
});

export const errorsList = z.looseObject({
  errors: z.array(
    z.looseObject({
      title: z.string(),
      status: z.string().optional(),
      code: z.string().nullish(),
      detail: z.string().nullish(),
      source: z.looseObject({ pointer: z.string().optional() }).optional(),
    }),
  ),
});

/** `POST /v1/alerts` `source` enum values we map to (subset of the spec's enum). */
export const ALERT_SOURCES = new Set([
  'rootly',
  'manual',
  'api',
  'web',
  'slack',
  'email',
  'workflow',
  'pagerduty',
  'opsgenie',
  'victorops',
  'datadog',
  'sentry',
  'honeycomb',
  'grafana',
  'alertmanager',
  'google_cloud',
  'generic_webhook',
  'cloud_watch',
  'azure',
  'splunk',
  'new_relic',
  'gitlab',
  'checkly',
  'nagios',
]);
