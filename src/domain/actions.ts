import { createRequire } from 'node:module';
import { z } from 'zod';
import type { RE2JS } from 're2js';

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
  enum: z
    .array(z.union([z.string(), z.number()]))
    .nonempty()
    .optional(),
  /** Checked with RE2 (linear time): backreferences and look-arounds are refused at config load. */
  pattern: z.string().max(500).optional(),
  min: z.number().optional(),
  /** For a string: its maximum length; unset means DEFAULT_MAX_STRING (200). At most MAX_STRING_PARAM. */
  max: z.number().optional(),
});

/**
 * What runs is what is shown: a string parameter longer than this (unless its `max` says otherwise)
 * is refused, so the approval message shows every value in full.
 */
export const DEFAULT_MAX_STRING = 200;
/** The longest a team may allow: one value still fits in one Block Kit section (3,000 characters) with its name. */
export const MAX_STRING_PARAM = 1000;
/** The most parameters an action may declare: the approval message shows each in full. */
export const MAX_PARAMS = 10;

export const maxLength = (spec: Pick<ParamSpec, 'type' | 'max'>): number => Math.min(spec.max ?? DEFAULT_MAX_STRING, MAX_STRING_PARAM);

/**
 * re2js is loaded the first time a pattern is compiled (at config load, when an action declares
 * one), synchronously, through its CommonJS build: most configurations declare no pattern, and the
 * engine costs ~0.6 MB of heap for the life of the process once loaded. Nothing imports its ES
 * build, so one copy is ever loaded.
 */
const requireModule = createRequire(import.meta.url);
let re2js: typeof import('re2js') | undefined;

/** A team-written pattern, compiled once with RE2 (no backtracking, so no catastrophic input). */
const compiled = new Map<string, RE2JS>();
export function compilePattern(pattern: string): RE2JS {
  let re = compiled.get(pattern);
  if (!re) {
    re2js ??= requireModule('re2js') as typeof import('re2js');
    re = re2js.RE2JS.compile(pattern);
    compiled.set(pattern, re);
  }
  return re;
}
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
  /** Unset: `approvals.default_expiry_minutes` from config (15 by default) is used at proposal time. */
  expiry_minutes: z
    .number()
    .positive()
    .max(24 * 60)
    .optional(),
});
export type ApprovalPolicy = z.infer<typeof PolicySchema>;

const ConfiguredExecutors = [
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
] as const;
const ConfiguredExecutorSchema = z.discriminatedUnion('type', [...ConfiguredExecutors]);
export const ExecutorSchema = z.discriminatedUnion('type', [
  ...ConfiguredExecutors,
  /**
   * Set by the sandbox in place of every configured executor: nothing is sent, the result shows
   * what would have been. Not meant for firebreak.yml (it would simply never run anything).
   */
  z.object({ type: z.literal('dry_run'), would: ConfiguredExecutorSchema }),
]);
export type ExecutorSpec = z.infer<typeof ExecutorSchema>;

export const ActionSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9_]{1,63}$/, 'lowercase letters, digits and _ (2-64 chars)'),
    title: z.string().min(1).max(75),
    description: z.string().default(''),
    params: z
      .record(z.string().regex(/^[a-z][a-z0-9_]{0,39}$/), ParamSpecSchema)
      .refine((p) => Object.keys(p).length <= MAX_PARAMS, `at most ${MAX_PARAMS} parameters`)
      .default({}),
    requires_approval: z.boolean(),
    policy: PolicySchema.default(PolicySchema.parse({})),
    executor: ExecutorSchema.default({ type: 'none' }),
  })
  // A parameter declaration that can never be satisfied, or contradicts itself, stops start-up
  // with a line naming it, instead of refusing every proposal later in the middle of an incident.
  .superRefine((a, ctx) => {
    for (const [name, p] of Object.entries(a.params)) {
      const at = (key: string) => ['params', name, key];
      if (p.min !== undefined && p.max !== undefined && p.min > p.max)
        ctx.addIssue({ code: 'custom', path: at('min'), message: `min (${p.min}) is greater than max (${p.max})` });
      if (p.pattern !== undefined && p.type !== 'string')
        ctx.addIssue({ code: 'custom', path: at('pattern'), message: `pattern only applies to string parameters (this one is ${p.type})` });
      if (p.pattern !== undefined) {
        try {
          compilePattern(p.pattern);
        } catch (err) {
          ctx.addIssue({
            code: 'custom',
            path: at('pattern'),
            message: `pattern cannot be used (patterns run with RE2: no backreferences or look-arounds): ${(err as Error).message}`,
          });
        }
      }
      if (p.type === 'string' && p.max !== undefined && p.max > MAX_STRING_PARAM)
        ctx.addIssue({
          code: 'custom',
          path: at('max'),
          message: `a string parameter may allow at most ${MAX_STRING_PARAM} characters (the approval message shows it in full)`,
        });
      if (p.type === 'boolean' && (p.enum || p.min !== undefined || p.max !== undefined))
        ctx.addIssue({ code: 'custom', path: at('type'), message: 'a boolean parameter takes no enum, min or max' });
      for (const v of p.enum ?? []) {
        const ok = p.type === 'string' ? typeof v === 'string' : typeof v === 'number' && (p.type === 'number' || Number.isInteger(v));
        if (!ok) ctx.addIssue({ code: 'custom', path: at('enum'), message: `allowed value ${JSON.stringify(v)} is not of type ${p.type}` });
      }
    }
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
  {
    id: 'read_logs',
    title: 'Read logs',
    description: 'Fetch recent logs for a service.',
    params: { service: { ...str('Service') } },
    requires_approval: false,
  },
  {
    id: 'check_metrics',
    title: 'Check metrics',
    description: 'Fetch key metrics for a service.',
    params: { service: { ...str('Service') } },
    requires_approval: false,
  },
  {
    id: 'run_diagnostics',
    title: 'Run diagnostics',
    description: 'Run the diagnostic suite for a service.',
    params: { service: { ...str('Service') } },
    requires_approval: false,
  },
  {
    id: 'update_status',
    title: 'Update status page',
    description: 'Post a status page update.',
    params: { message: { ...str('Status message') } },
    requires_approval: false,
  },
].map((a) => ActionSchema.parse(a));

// -- parameters: one zod schema built from the declaration --------------------------------------

export type ParamValue = string | number | boolean;

/**
 * The zod schema for an action's parameters. Input is what a proposer gives: `key=value` strings
 * from the slash command or the modal, or JSON values from Claude and agents; strings are coerced
 * to the declared type. Every problem is reported with a fixed sentence (users read them in Slack):
 * "missing required parameter `version`", "`replicas` must be an integer", "unknown parameter `foo`".
 * The schema is hand-written as one transform rather than composed from zod primitives, so the
 * wording and the order of problems (declared order, then unknown keys) are ours, not zod's.
 */
export function paramsSchema(action: Pick<ActionDefinition, 'params'>) {
  return z.record(z.string(), z.unknown()).transform((raw, ctx) => {
    const out: Record<string, ParamValue> = {};
    for (const [name, spec] of Object.entries(action.params)) {
      const v = raw[name];
      const absent = v === undefined || v === null || (typeof v === 'string' && v.trim() === '');
      if (absent) {
        if (spec.required) ctx.addIssue({ code: 'custom', path: [name], message: `missing required parameter \`${name}\`` });
        continue;
      }
      const res = coerceParam(name, spec, v);
      if ('problem' in res) ctx.addIssue({ code: 'custom', path: [name], message: res.problem });
      else out[name] = res.value;
    }
    for (const key of Object.keys(raw)) {
      if (!Object.hasOwn(action.params, key)) ctx.addIssue({ code: 'custom', path: [key], message: `unknown parameter \`${key}\`` });
    }
    return out;
  });
}

function coerceParam(name: string, spec: ParamSpec, v: unknown): { value: ParamValue } | { problem: string } {
  const n = `\`${name}\``;
  let value: ParamValue;
  switch (spec.type) {
    case 'string':
      // Claude may send `version: 41` for a string parameter; its text is what was meant.
      if (typeof v === 'string') value = v.trim();
      else if (typeof v === 'number' || typeof v === 'boolean') value = String(v);
      else return { problem: `${n} must be text` };
      break;
    case 'number':
    case 'integer': {
      const num = typeof v === 'number' ? v : typeof v === 'string' && /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v.trim()) ? Number(v.trim()) : NaN;
      if (!Number.isFinite(num)) return { problem: `${n} must be ${spec.type === 'integer' ? 'an integer' : 'a number'}` };
      if (spec.type === 'integer' && !Number.isInteger(num)) return { problem: `${n} must be an integer` };
      value = num;
      break;
    }
    case 'boolean': {
      const t = typeof v === 'boolean' ? v : typeof v === 'string' ? BOOLEAN_WORDS[v.trim().toLowerCase()] : undefined;
      if (t === undefined) return { problem: `${n} must be true or false` };
      value = t;
      break;
    }
  }
  if (spec.enum && !spec.enum.some((e) => e === value)) return { problem: `${n} must be one of: ${spec.enum.join(', ')}` };
  if (typeof value === 'number') {
    if (spec.min !== undefined && value < spec.min) return { problem: `${n} must be at least ${spec.min}` };
    if (spec.max !== undefined && value > spec.max) return { problem: `${n} must be at most ${spec.max}` };
  }
  if (typeof value === 'string') {
    // The length first: a value too long to show in full is refused before any pattern runs on it.
    const most = maxLength(spec);
    if (value.length > most) return { problem: `${n} is ${value.length} characters; at most ${most} are allowed, so that the approval shows it in full` };
    if (spec.min !== undefined && value.length < spec.min) return { problem: `${n} must be at least ${spec.min} characters` };
    if (spec.pattern !== undefined && !compilePattern(spec.pattern).test(value)) return { problem: `${n} must match \`${spec.pattern}\`` };
  }
  return { value };
}

const BOOLEAN_WORDS: Record<string, boolean> = { true: true, false: false, yes: true, no: false, '1': true, '0': false, on: true, off: false };

/**
 * JSON Schema (draft 2020-12 subset) of an action's parameters, for Claude tool use and for agents.
 * `additionalProperties: false` mirrors the zod schema's refusal of unknown keys.
 */
export function actionJsonSchema(action: Pick<ActionDefinition, 'params'>): Record<string, unknown> {
  const properties: Record<string, Record<string, unknown>> = {};
  const required: string[] = [];
  for (const [name, p] of Object.entries(action.params)) {
    const prop: Record<string, unknown> = { type: p.type };
    if (p.description) prop.description = p.description;
    if (p.enum) prop.enum = [...p.enum];
    if (p.pattern !== undefined) prop.pattern = p.pattern;
    if (p.type === 'string') {
      if (p.min !== undefined) prop.minLength = p.min;
      prop.maxLength = maxLength(p);
    } else if (p.type !== 'boolean') {
      if (p.min !== undefined) prop.minimum = p.min;
      if (p.max !== undefined) prop.maximum = p.max;
    }
    properties[name] = prop;
    if (p.required) required.push(name);
  }
  return { type: 'object', properties, required, additionalProperties: false };
}

/**
 * Whether a recorded execution result says the action really ran. An action without an executor
 * records `executed: false` (the decision alone); results from before that flag count as run.
 */
export const wasExecuted = (result: unknown) => (result as { executed?: unknown } | null)?.executed !== false;
