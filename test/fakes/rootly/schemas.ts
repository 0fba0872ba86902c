import { z } from 'zod';

/**
 * Request-body schemas for the Rootly routes the fake serves, written by hand from
 * rootly-openapi.json (new_incident, update_incident, mitigate_incident, ...). Strict objects: an
 * attribute the spec does not name is refused, as Rootly's `additionalProperties: false` says.
 */

const str = z.string().nullish();
const strs = z.array(z.string()).nullish();
export const INCIDENT_STATUSES = [
  'in_triage',
  'started',
  'detected',
  'acknowledged',
  'mitigated',
  'resolved',
  'closed',
  'cancelled',
  'scheduled',
  'in_progress',
  'completed',
] as const;
const KINDS = ['test', 'test_sub', 'example', 'example_sub', 'normal', 'normal_sub', 'backfilled', 'scheduled'] as const;

const incidentAttrs = {
  title: str,
  kind: z.enum(KINDS).nullish(),
  parent_incident_id: str,
  duplicate_incident_id: str,
  summary: str,
  private: z.boolean().nullish(),
  severity_id: str,
  public_title: str,
  alert_ids: strs,
  environment_ids: strs,
  incident_type_ids: strs,
  service_ids: strs,
  functionality_ids: strs,
  group_ids: strs,
  cause_ids: strs,
  labels: z.record(z.string(), z.unknown()).nullish(),
  slack_channel_name: str,
  slack_channel_id: str,
  slack_channel_url: str,
  slack_channel_archived: z.boolean().nullish(),
  started_at: str,
  mitigated_at: str,
  resolved_at: str,
};

const envelope = <A extends z.ZodType>(type: string, attributes: A) =>
  z.strictObject({
    data: z.strictObject({
      type: z.literal(type),
      id: z.string().optional(),
      attributes,
    }),
  });

export const newIncident = envelope(
  'incidents',
  z.strictObject({ ...incidentAttrs, user_id: str, notify_emails: strs, status: z.enum(INCIDENT_STATUSES).optional() }),
);
export const updateIncident = envelope('incidents', z.strictObject({ ...incidentAttrs, status: z.enum(INCIDENT_STATUSES).nullish() }));
export const mitigateIncident = envelope('incidents', z.strictObject({ mitigation_message: str }));
export const resolveIncident = envelope('incidents', z.strictObject({ resolution_message: str }));
export const cancelIncident = envelope('incidents', z.strictObject({ cancellation_message: str }));
// restart_incident: `attributes` is not required and has no properties.
export const restartIncident = z.strictObject({
  data: z.strictObject({ type: z.literal('incidents'), id: z.string().optional(), attributes: z.strictObject({}).optional() }),
});
export const assignRole = envelope('incidents', z.strictObject({ user_id: z.string(), incident_role_id: z.string() }));
export const newEvent = envelope('incident_events', z.strictObject({ event: z.string(), visibility: z.enum(['internal', 'external']).optional() }));
export const updatePostMortem = envelope(
  'incident_post_mortems',
  z.strictObject({
    title: z.string().optional(),
    status: z.enum(['draft', 'published']).optional(),
    started_at: str,
    mitigated_at: str,
    resolved_at: str,
    show_timeline: z.boolean().optional(),
    show_action_items: z.boolean().optional(),
    cause_ids: strs,
  }),
);
export const newWorkflowRun = envelope(
  'workflow_runs',
  z
    .strictObject({
      incident_id: z.string().optional(),
      post_mortem_id: z.string().optional(),
      action_item_id: z.string().optional(),
      alert_id: z.string().optional(),
      pulse_id: z.string().optional(),
      immediate: z.boolean().nullish(),
      check_conditions: z.boolean().nullish(),
      context: z.record(z.string(), z.unknown()).optional(),
    })
    .refine((a) => [a.incident_id, a.post_mortem_id, a.action_item_id, a.alert_id, a.pulse_id].filter((x) => x !== undefined).length <= 1, {
      message: 'only one of incident_id, post_mortem_id, action_item_id, alert_id, pulse_id may be given',
    }),
);
export const ALERT_SOURCE_ENUM = [
  'rootly',
  'manual',
  'api',
  'web',
  'slack',
  'email',
  'workflow',
  'live_call_routing',
  'pagerduty',
  'opsgenie',
  'victorops',
  'pagertree',
  'datadog',
  'nobl9',
  'zendesk',
  'asana',
  'clickup',
  'sentry',
  'rollbar',
  'jira',
  'honeycomb',
  'service_now',
  'linear',
  'grafana',
  'alertmanager',
  'google_cloud',
  'generic_webhook',
  'cloud_watch',
  'azure',
  'splunk',
  'chronosphere',
  'app_optics',
  'bug_snag',
  'monte_carlo',
  'nagios',
  'prtg',
  'catchpoint',
  'app_dynamics',
  'checkly',
  'new_relic',
  'gitlab',
] as const;
export const newAlert = envelope(
  'alerts',
  z.strictObject({
    noise: z.enum(['noise', 'not_noise']).nullish(),
    source: z.enum(ALERT_SOURCE_ENUM),
    status: z.enum(['open', 'triggered']).optional(),
    summary: z.string(),
    service_ids: strs,
    group_ids: strs,
    environment_ids: strs,
    started_at: str,
    ended_at: str,
    external_id: str,
    external_url: str,
    alert_urgency_id: str,
    notification_target_type: z.enum(['User', 'Group', 'EscalationPolicy', 'Service']).nullish(),
    notification_target_id: str,
    labels: z.array(z.strictObject({ key: z.string(), value: z.string() })).optional(),
    data: z.record(z.string(), z.unknown()).nullish(),
  }),
);

/** new_incident_action_item: `summary` required; `assigned_to_user_id` is an integer. */
export const newActionItem = envelope(
  'incident_action_items',
  z.strictObject({
    summary: z.string().min(1),
    description: str,
    kind: z.enum(['task', 'follow_up']).optional(),
    assigned_to_user_id: z.number().int().nullish(),
    assigned_to_group_ids: z.array(z.string()).optional(),
    priority: z.enum(['high', 'medium', 'low']).optional(),
    status: z.enum(['open', 'in_progress', 'cancelled', 'done']).optional(),
    due_date: str,
    jira_issue_id: str,
    jira_issue_key: str,
    jira_issue_url: str,
  }),
);

/** resolve_alert: the body is optional; only these attributes. */
export const resolveAlert = z
  .strictObject({
    data: z
      .strictObject({
        type: z.literal('alerts').optional(),
        attributes: z.strictObject({ resolution_message: z.string().nullish(), resolve_related_incidents: z.boolean().nullish() }).optional(),
      })
      .optional(),
  })
  .nullish();
