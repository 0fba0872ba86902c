import { z } from 'zod';
import type { ActionDefinition } from './actions.js';
import { SEVERITIES, atLeast, type Severity } from './severity.js';

/**
 * Runbooks, pure: the declaration a team writes (in firebreak.yml `runbooks:` or one file per
 * runbook in a folder), its validation, and which runbooks apply to an incident. No I/O here;
 * the service (src/services/runbooks.ts) runs them, the executors (src/adapters/runbook/) do the
 * HTTP calls and commands.
 */

const ID = /^[a-z][a-z0-9_-]{1,63}$/;
const STEP_ID = /^[a-z][a-z0-9_]{0,63}$/;
const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

/** A header value: literal text, or the name of the environment variable holding a secret. */
const HeaderValue = z.union([
  z.string().max(2000),
  z.object({ env: z.string().regex(ENV_NAME, 'an environment variable name such as GRAFANA_TOKEN') }).strict(),
]);

export const HttpStepSchema = z
  .object({
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']).default('GET'),
    /** Liquid template; the scheme and host must be literal (no template before the path). */
    url: z.string().min(1).max(2000),
    headers: z.record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'a header name'), HeaderValue).default({}),
    /** Liquid template. */
    body: z.string().max(100_000).optional(),
    timeout_ms: z.number().int().positive().max(120_000).default(10_000),
    /** Status codes that count as success; default any 2xx. */
    expect_status: z.array(z.number().int().min(100).max(599)).nonempty().optional(),
    /**
     * GET and HEAD read. Any other method changes something unless the team says it does not
     * (a query API that takes POST): a change belongs in an `action` step, behind the gate.
     */
    read_only: z.boolean().optional(),
  })
  .strict();

export const CommandStepSchema = z
  .object({
    /** argv[0] is the program; each element is a Liquid template; never a shell string. */
    argv: z.array(z.string().min(1).max(4000)).nonempty().max(100),
    cwd: z.string().min(1).optional(),
    timeout_ms: z.number().int().positive().max(600_000).default(30_000),
    /** Names of environment variables passed to the command (PATH is always passed). */
    env: z.array(z.string().regex(ENV_NAME, 'an environment variable name')).default([]),
    /**
     * The team's word that this command only reads (`kubectl get`): a runbook an AI agent starts
     * may run it. Without it, an agent cannot start a runbook with this step (a person can).
     */
    read_only: z.boolean().default(false),
  })
  .strict();

export const ActionStepSchema = z
  .object({
    id: z.string().min(1),
    /** Values are Liquid templates (strings) or literals. */
    params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    reason: z.string().max(500).optional(),
  })
  .strict();

export const DiagnoseStepSchema = z
  .object({
    /** Extra instruction for Claude (Liquid template). */
    prompt: z.string().max(2000).optional(),
    /** Offer these actions as proposals (ids); default: every configured action. */
    actions: z.array(z.string()).optional(),
  })
  .strict();

const StepBase = z
  .object({
    /** For templates (`steps.<id>.output`): lowercase letters, digits and _, so it reads as a Liquid name. */
    id: z.string().regex(STEP_ID, 'lowercase letters, digits and _ (1-64 chars, a letter first)').optional(),
    title: z.string().min(1).max(120).optional(),
    continue_on_failure: z.boolean().default(false),
    action: ActionStepSchema.optional(),
    http: HttpStepSchema.optional(),
    command: CommandStepSchema.optional(),
    /** The manual step a person confirms with a button. */
    check: z.string().min(1).max(500).optional(),
    diagnose: z.union([DiagnoseStepSchema, z.literal(true)]).optional(),
  })
  .strict();

export const STEP_KINDS = ['action', 'http', 'command', 'check', 'diagnose'] as const;
export type StepKind = (typeof STEP_KINDS)[number];

export type RunbookStep = { id: string; title: string; continueOnFailure: boolean } & (
  | { kind: 'action'; action: z.infer<typeof ActionStepSchema> }
  | { kind: 'http'; http: z.infer<typeof HttpStepSchema> }
  | { kind: 'command'; command: z.infer<typeof CommandStepSchema> }
  | { kind: 'check'; check: string }
  | { kind: 'diagnose'; diagnose: z.infer<typeof DiagnoseStepSchema> }
);

export const RunbookPolicySchema = z
  .object({
    /** Incident roles whose holder may retry, skip, confirm checks and cancel. */
    roles: z.array(z.string()).default(['commander']),
    users: z.array(z.string().regex(/^[UW][A-Z0-9]+$/)).default([]),
    usergroups: z.array(z.string().regex(/^S[A-Z0-9]+$/)).default([]),
  })
  .strict();
export type RunbookPolicy = z.infer<typeof RunbookPolicySchema>;

export const RunbookSchema = z
  .object({
    id: z.string().regex(ID, 'lowercase letters, digits, _ and - (2-64 chars)'),
    title: z.string().min(1).max(120),
    description: z.string().max(1000).default(''),
    applies_to: z
      .object({
        services: z.array(z.string().min(1)).default([]),
        /** Alert sources (pagerduty, datadog, alertmanager, generic) or `slack`, `rootly`, `incidentio`. */
        sources: z.array(z.string().min(1)).default([]),
        /** Every label must match (alert labels; Alertmanager labels, generic `details`). */
        labels: z.record(z.string(), z.string()).default({}),
        min_severity: z.enum(SEVERITIES).default('low'),
      })
      .strict()
      .prefault({}),
    /** Start on a matching incident (declared, from an alert or a backend) once it has a channel. */
    auto: z.boolean().default(false),
    policy: RunbookPolicySchema.prefault({}),
    steps: z.array(StepBase).min(1).max(40),
  })
  .strict()
  .superRefine((rb, ctx) => {
    const ids = new Set<string>();
    rb.steps.forEach((s, i) => {
      const kinds = STEP_KINDS.filter((k) => s[k] !== undefined);
      if (kinds.length !== 1)
        ctx.addIssue({
          code: 'custom',
          path: ['steps', i],
          message: kinds.length ? `has ${kinds.join(' and ')}; a step is exactly one of ${STEP_KINDS.join(', ')}` : `needs one of ${STEP_KINDS.join(', ')}`,
        });
      const id = s.id ?? `step_${i + 1}`;
      if (ids.has(id)) ctx.addIssue({ code: 'custom', path: ['steps', i, 'id'], message: `duplicate step id "${id}"` });
      ids.add(id);
      if (s.command && /\{\{|\{%/.test(s.command.argv[0] ?? ''))
        ctx.addIssue({
          code: 'custom',
          path: ['steps', i, 'command', 'argv', 0],
          message: 'the program (argv[0]) must be written out: templates only in the arguments',
        });
      if (s.http) {
        const literalHead = /^https?:\/\/[^/{}%]+(\/|$)/i.exec(s.http.url);
        if (!literalHead)
          ctx.addIssue({
            code: 'custom',
            path: ['steps', i, 'http', 'url'],
            message: 'must start with a literal http:// or https:// host (templates only after the host)',
          });
        const reads = s.http.method === 'GET' || s.http.method === 'HEAD';
        if (!reads && s.http.read_only !== true)
          ctx.addIssue({
            code: 'custom',
            path: ['steps', i, 'http', 'method'],
            message: `${s.http.method} changes something: use an action step (it goes through the approval gate), or declare read_only: true if this call only reads`,
          });
      }
    });
  });

export type RunbookDeclaration = z.infer<typeof RunbookSchema>;

export interface Runbook {
  id: string;
  title: string;
  description: string;
  appliesTo: { services: string[]; sources: string[]; labels: Record<string, string>; minSeverity: Severity };
  auto: boolean;
  policy: RunbookPolicy;
  steps: RunbookStep[];
  /** Where it was declared (firebreak.yml or a file), for messages. */
  source: string;
}

/** The validated declaration in the shape the rest of the code uses. */
export function toRunbook(d: RunbookDeclaration, source: string): Runbook {
  return {
    id: d.id,
    title: d.title,
    description: d.description,
    appliesTo: { services: d.applies_to.services, sources: d.applies_to.sources, labels: d.applies_to.labels, minSeverity: d.applies_to.min_severity },
    auto: d.auto,
    policy: d.policy,
    source,
    steps: d.steps.map((s, i): RunbookStep => {
      const base = { id: s.id ?? `step_${i + 1}`, continueOnFailure: s.continue_on_failure };
      if (s.action) return { ...base, title: s.title ?? `Action \`${s.action.id}\``, kind: 'action', action: s.action };
      if (s.http) return { ...base, title: s.title ?? `${s.http.method} ${s.http.url}`, kind: 'http', http: s.http };
      if (s.command) return { ...base, title: s.title ?? s.command.argv.join(' '), kind: 'command', command: s.command };
      if (s.check !== undefined) return { ...base, title: s.title ?? s.check, kind: 'check', check: s.check };
      const diagnose = s.diagnose === true || s.diagnose === undefined ? {} : s.diagnose;
      return { ...base, title: s.title ?? 'Diagnosis by Claude', kind: 'diagnose', diagnose };
    }),
  };
}

/**
 * What a step waits for before it has its effect: `nothing` (it reads: an HTTP read, a command, a
 * diagnosis, a read-only action), `approval` (a risky action: a person's Approve through the gate)
 * or `person` (a check someone confirms).
 */
export type StepWait = 'nothing' | 'approval' | 'person';

export function stepWaitsFor(step: RunbookStep, actions: readonly Pick<ActionDefinition, 'id' | 'requires_approval'>[]): StepWait {
  switch (step.kind) {
    case 'action':
      // An unknown action is refused at start-up; treat it as risky all the same.
      return actions.find((a) => a.id === step.action.id)?.requires_approval === false ? 'nothing' : 'approval';
    case 'check':
      return 'person';
    default:
      return 'nothing';
  }
}

/**
 * May an AI agent start this runbook? It may cause only read-only steps to run by itself: HTTP
 * steps read (any other method must be declared `read_only`), diagnoses read, risky actions wait
 * for a person's Approve and checks for a person's click. A command can do anything, so each one
 * must be declared `read_only: true` by the team; otherwise only a person may start the runbook.
 */
export function agentStartRefusal(rb: Runbook): string | null {
  const commands = unvouchedCommands(rb);
  if (!commands.length) return null;
  return `runbook \`${rb.id}\` has command step${commands.length === 1 ? '' : 's'} not declared read_only (${commands.join(', ')}), so only a person may start it`;
}

/**
 * The ids of the command steps the team has not declared read_only: such a command may change
 * something and no Approve guards it, so a person the runbook's policy names must start the run
 * (not anyone in the channel, not an agent, not an automatic start).
 */
export function unvouchedCommands(rb: Runbook): string[] {
  return rb.steps.filter((s) => s.kind === 'command' && !s.command.read_only).map((s) => s.id);
}

export interface MatchInput {
  severity: Severity;
  services: string[];
  /** `origin` or, for alerts, the alert source. */
  sources: string[];
  labels: Record<string, string>;
}

/** Every condition given must hold; an empty list means "any". */
export function runbookApplies(rb: Runbook, m: MatchInput): boolean {
  return unmetConditions(rb, m).length === 0;
}

/**
 * The conditions of `applies_to` the incident does not meet, each in words (empty: it applies),
 * e.g. `severity: at least critical, the incident is high`. The incident's values come from
 * outside (alerts): the words are for an agent's answer or a log, not for Slack blocks.
 */
export function unmetConditions(rb: Runbook, m: MatchInput): string[] {
  const a = rb.appliesTo;
  const unmet: string[] = [];
  const lower = (xs: string[]) => xs.map((x) => x.toLowerCase());
  const list = (xs: string[]) => (xs.length ? xs.join(', ') : 'none');
  if (!atLeast(m.severity, a.minSeverity)) unmet.push(`severity: at least ${a.minSeverity}, the incident is ${m.severity}`);
  if (a.services.length && !lower(m.services).some((s) => lower(a.services).includes(s)))
    unmet.push(`services: ${a.services.join(', ')}; the incident's: ${list(m.services)}`);
  if (a.sources.length && !lower(m.sources).some((s) => lower(a.sources).includes(s)))
    unmet.push(`sources: ${a.sources.join(', ')}; the incident's: ${list(m.sources)}`);
  for (const [k, v] of Object.entries(a.labels))
    if (m.labels[k] !== v) unmet.push(`label ${k}=${v}; the incident's alerts have ${k in m.labels ? `${k}=${m.labels[k]}` : `no ${k}`}`);
  return unmet;
}

/**
 * Labels of a stored alert, for matching: Alertmanager's labels, the generic source's string
 * `details`, Datadog's `key:value` tags. Other sources have none.
 */
export function alertLabels(source: string, raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const obj = (v: unknown): Record<string, unknown> | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null);
  const r = obj(raw);
  if (!r) return out;
  const take = (rec: Record<string, unknown> | null) => {
    for (const [k, v] of Object.entries(rec ?? {})) if (typeof v === 'string') out[k] = v;
  };
  if (source === 'alertmanager') take(obj(r.labels));
  if (source === 'generic') take(obj(r.details));
  if (source === 'datadog' && (typeof r.tags === 'string' || Array.isArray(r.tags))) {
    const tags = typeof r.tags === 'string' ? r.tags.split(',') : r.tags.filter((t): t is string => typeof t === 'string');
    for (const t of tags) {
      const [k, ...rest] = t.trim().split(':');
      if (k && rest.length) out[k] = rest.join(':');
    }
  }
  return out;
}
