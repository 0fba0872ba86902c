import { z } from 'zod';

/**
 * Remediation actions are declared in config, not hard-coded. A definition names its parameters
 * (validated with zod built from the declaration), whether a human must approve it, who may, and
 * which executor runs it.
 */
export const ParamSpecSchema = z.object({
  type: z.enum(['string', 'number', 'integer', 'boolean']).default('string'),
  required: z.boolean().default(false),
  description: z.string().default(''),
  /** Allowed values (enum). */
  enum: z.array(z.union([z.string(), z.number()])).nonempty().optional(),
  pattern: z.string().optional(),
  min: z.number().optional(),
  max: z.number().optional(),
});
export type ParamSpec = z.infer<typeof ParamSpecSchema>;

export const PolicySchema = z.object({
  /** Incident roles whose holder may approve (e.g. commander). */
  roles: z.array(z.string()).default(['commander']),
  /** Slack user group ids (S...) whose members may approve. */
  usergroups: z.array(z.string()).default([]),
  /** Slack user ids (U...) who may approve. */
  users: z.array(z.string()).default([]),
  min_approvals: z.number().int().min(1).max(5).default(1),
  allow_self_approval: z.boolean().default(false),
  expiry_minutes: z.number().positive().max(24 * 60).default(15),
});
export type ApprovalPolicy = z.infer<typeof PolicySchema>;

export const ExecutorSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }),
  z.object({
    type: z.literal('webhook'),
    url: z.url(),
    /** Name of the environment variable holding the HMAC secret (never the secret itself). */
    secret_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/),
    timeout_ms: z.number().int().positive().default(10_000),
    retries: z.number().int().min(0).max(10).default(3),
  }),
  z.object({ type: z.literal('rootly_workflow'), workflow_id: z.string().min(1) }),
]);
export type ExecutorSpec = z.infer<typeof ExecutorSchema>;

export const ActionSchema = z.object({
  id: z.string().regex(/^[a-z][a-z0-9_]{1,63}$/, 'lowercase letters, digits and _ (2-64 chars)'),
  title: z.string().min(1).max(75),
  description: z.string().default(''),
  params: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/), ParamSpecSchema).default({}),
  requires_approval: z.boolean(),
  policy: PolicySchema.default(PolicySchema.parse({})),
  executor: ExecutorSchema.default({ type: 'none' }),
});
export type ActionDefinition = z.infer<typeof ActionSchema>;

const str = (description: string, required = true) => ({ type: 'string' as const, required, description });

/** Built-in defaults; `firebreak.yml` actions with the same id replace them. */
export const DEFAULT_ACTIONS: ActionDefinition[] = [
  {
    id: 'rollback_deployment',
    title: 'Roll back a deployment',
    description: 'Roll a service back to a previous version.',
    params: { service: { ...str('Service to roll back') }, version: { ...str('Version to roll back to') } },
    requires_approval: true,
  },
  {
    id: 'scale_infrastructure',
    title: 'Scale infrastructure',
    description: 'Change the replica count of a service.',
    params: {
      service: { ...str('Service to scale') },
      replicas: { type: 'integer', required: true, description: 'Target replica count', min: 0, max: 500 },
    },
    requires_approval: true,
  },
  {
    id: 'clear_cache',
    title: 'Clear a cache',
    description: 'Flush a named cache.',
    params: { cache: { ...str('Cache name') } },
    requires_approval: true,
  },
  {
    id: 'execute_rollback',
    title: 'Execute a rollback runbook',
    description: 'Run the rollback runbook for a change.',
    params: { change_id: { ...str('Change or release id') } },
    requires_approval: true,
  },
  { id: 'read_logs', title: 'Read logs', description: 'Fetch recent logs for a service.', params: { service: { ...str('Service') } }, requires_approval: false },
  { id: 'check_metrics', title: 'Check metrics', description: 'Fetch key metrics for a service.', params: { service: { ...str('Service') } }, requires_approval: false },
  { id: 'run_diagnostics', title: 'Run diagnostics', description: 'Run the diagnostic suite for a service.', params: { service: { ...str('Service') } }, requires_approval: false },
  { id: 'update_status', title: 'Update status page', description: 'Post a status page update.', params: { message: { ...str('Status message') } }, requires_approval: false },
].map((a) => ActionSchema.parse(a));
