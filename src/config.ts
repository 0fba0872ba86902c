import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseYaml } from './yaml.js';
import { z } from 'zod';
import { ActionSchema, DEFAULT_ACTIONS, type ActionDefinition } from './domain/actions.js';
import { SEVERITIES, type Severity } from './domain/severity.js';
import { TARGET_KINDS } from './domain/oncall.js';
import type { Runbook } from './domain/runbook.js';
import { loadRunbooks } from './config-runbooks.js';
import { DEFAULT_MODEL } from './adapters/anthropic/models.js';

/**
 * The one reader of process.env and firebreak.yml. Everything else receives a `Config`.
 * Names are the public interface (README.md, "Running it", and .env.example): keep them exactly.
 */
const optionalString = z
  .string()
  .transform((s) => s.trim())
  .optional()
  .transform((s) => (s ? s : undefined));

export const MIN_SECRET_LENGTH = 16;
/** HMAC signing keys: never sent over the wire. */
const HMAC_KEYS = ['ALERT_WEBHOOK_SECRET', 'PAGERDUTY_WEBHOOK_SECRET', 'AGENT_WEBHOOK_SECRET', 'ROOTLY_WEBHOOK_SECRET'] as const;
/** Tokens their sources send in clear (a header, Basic auth, a Bearer token). */
const CLEAR_TOKENS = ['ALERT_WEBHOOK_TOKEN', 'DATADOG_WEBHOOK_SECRET', 'ALERTMANAGER_WEBHOOK_TOKEN'] as const;
const WEBHOOK_SECRETS = [...HMAC_KEYS, ...CLEAR_TOKENS, 'INCIDENTIO_WEBHOOK_SECRET'] as const;

const EnvSchema = z.object({
  SLACK_BOT_TOKEN: optionalString.pipe(
    z
      .string()
      .regex(/^xox[bp]-/, 'a bot token starting with xoxb-')
      .optional(),
  ),
  SLACK_SIGNING_SECRET: optionalString,
  SLACK_APP_TOKEN: optionalString.pipe(
    z
      .string()
      .regex(/^xapp-/, 'an app-level token starting with xapp-')
      .optional(),
  ),
  SLACK_API_URL: optionalString.pipe(z.url('a URL such as https://slack.com/api/').optional()),
  ANNOUNCE_CHANNEL: optionalString.pipe(
    z
      .string()
      .regex(/^[CG][A-Z0-9]{2,}$/, 'a channel id such as C0123ABCD')
      .optional(),
  ),
  INCIDENT_BACKEND: optionalString.pipe(z.enum(['local', 'rootly', 'incidentio']).optional()),
  ROOTLY_API_KEY: optionalString,
  ROOTLY_API_URL: optionalString.pipe(z.url().optional()),
  ROOTLY_WEBHOOK_SECRET: optionalString,
  INCIDENTIO_API_KEY: optionalString,
  INCIDENTIO_API_URL: optionalString.pipe(z.url().optional()),
  INCIDENTIO_WEBHOOK_SECRET: optionalString.pipe(z.string().startsWith('whsec_', 'a Svix secret starting with whsec_').optional()),
  ANTHROPIC_API_KEY: optionalString,
  ANTHROPIC_BASE_URL: optionalString.pipe(z.url().optional()),
  ANTHROPIC_MODEL: optionalString,
  /** PagerDuty Events API v2 base (local backend paging); tests point it at a fake. */
  PAGERDUTY_EVENTS_URL: optionalString.pipe(z.url().optional()),
  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .regex(/^(sqlite:|postgres:\/\/|postgresql:\/\/)/, 'sqlite:<path> or postgres://user@host:5432/db')
      .optional(),
  ),
  /** HMAC key of /webhooks/alerts/generic (and the default for PagerDuty's signature). Never sent by anyone. */
  ALERT_WEBHOOK_SECRET: optionalString,
  /** Shared token for the sources that send it in clear (Datadog header/Basic, Alertmanager Bearer). */
  ALERT_WEBHOOK_TOKEN: optionalString,
  PAGERDUTY_WEBHOOK_SECRET: optionalString,
  DATADOG_WEBHOOK_SECRET: optionalString,
  ALERTMANAGER_WEBHOOK_TOKEN: optionalString,
  AGENT_WEBHOOK_SECRET: optionalString,
  FIREBREAK_CONFIG: optionalString,
  FIREBREAK_PUBLIC_URL: optionalString.pipe(z.url().optional()),
  PORT: optionalString.pipe(
    z
      .string()
      .regex(/^\d{1,5}$/, 'a port number from 1 to 65535 (0: any free port)')
      .transform(Number)
      .pipe(z.number().max(65535, 'a port number from 1 to 65535 (0: any free port)'))
      .optional(),
  ),
  HOST: optionalString,
  /** Sandbox only: allow a non-loopback HOST (the console then relies on its per-run token alone). */
  SANDBOX_ALLOW_REMOTE: optionalString.pipe(z.enum(['0', '1', 'true', 'false'], 'SANDBOX_ALLOW_REMOTE: 1 or 0').optional()),
  LOG_LEVEL: optionalString.pipe(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional()),
});

/**
 * Rules across variables. They read the raw (trimmed) values, not the parsed ones, so they run even
 * when another variable is invalid: every problem is reported in one go, not one per restart.
 */
function crossFieldProblems(env: NodeJS.ProcessEnv): string[] {
  const has = (name: string) => (env[name] ?? '').trim() !== '';
  const problems: string[] = [];
  const backend = (env.INCIDENT_BACKEND ?? '').trim();
  if (backend === 'rootly' && !has('ROOTLY_API_KEY')) problems.push('ROOTLY_API_KEY: required when INCIDENT_BACKEND=rootly');
  if (backend === 'incidentio' && !has('INCIDENTIO_API_KEY')) problems.push('INCIDENTIO_API_KEY: required when INCIDENT_BACKEND=incidentio');
  if (has('SLACK_BOT_TOKEN') && !has('SLACK_APP_TOKEN') && !has('SLACK_SIGNING_SECRET'))
    problems.push('SLACK_SIGNING_SECRET: required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)');
  if ((has('SLACK_APP_TOKEN') || has('SLACK_SIGNING_SECRET')) && !has('SLACK_BOT_TOKEN'))
    problems.push('SLACK_BOT_TOKEN: required when a Slack app token or signing secret is set');
  // Secrets we ask operators to make: at least 16 characters. Named, never echoed.
  for (const name of WEBHOOK_SECRETS) {
    const v = (env[name] ?? '').trim();
    if (v !== '' && v.length < MIN_SECRET_LENGTH)
      problems.push(`${name}: too short: use at least ${MIN_SECRET_LENGTH} random characters (e.g. openssl rand -hex 32)`);
  }
  // A token is sent in clear by its sender (a header, Basic auth, a Bearer token); an HMAC key
  // never leaves either side. One value must not be both, or a leaked token forges signatures.
  for (const t of CLEAR_TOKENS)
    for (const h of HMAC_KEYS)
      if (has(t) && has(h) && env[t]!.trim() === env[h]!.trim())
        problems.push(`${t}: must differ from ${h}: ${t} is sent in clear by its source, ${h} is an HMAC signing key`);
  return problems;
}

const Sev = z.enum(SEVERITIES);

/**
 * `read` the incidents, `update` them (status updates, notes), `propose` actions to the gate, and
 * start `runbooks` (their read-only steps run by themselves; risky steps wait for a person).
 */
export const AGENT_SCOPES = ['read', 'update', 'propose', 'runbooks'] as const;
export type AgentScope = (typeof AGENT_SCOPES)[number];

const AgentSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a short agent name (letters, digits, . _ -)'),
    /** The environment variable holding this agent's bearer token (never the token itself). */
    token_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name such as FIREBREAK_AGENT_TOKEN'),
    scopes: z.array(z.enum(AGENT_SCOPES)).min(1).default(['read']),
    /** Optional: only incidents matching every given field are visible to the agent. */
    incidents: z
      .object({
        severities: z.array(Sev).min(1).optional(),
        services: z.array(z.string().min(1)).min(1).optional(),
        /**
         * Private incidents (their title, channel and messages are for the channel's members) are
         * hidden from agents unless this is true.
         */
        private: z.boolean().default(false),
      })
      .strict()
      .optional(),
    rate_limit_per_minute: z.number().int().positive().default(120),
    incident_rate_limit_per_minute: z.number().int().positive().default(30),
  })
  .strict();

/** An agent as the MCP edge sees it: the file's entry with its token resolved. */
export interface AgentConfig {
  name: string;
  token: string;
  scopes: AgentScope[];
  /** null: every incident but the private ones. */
  incidents: { severities?: Severity[]; services?: string[]; private?: boolean } | null;
  ratePerMinute: number;
  incidentRatePerMinute: number;
}

const FileSchema = z
  .object({
    channel: z
      .object({
        name_template: z.string().min(1).default('inc-{date}-{slug}'),
      })
      .prefault({}),
    /** Slack user ids invited to every incident channel. */
    responders: z.array(z.string().regex(/^[UW][A-Z0-9]+$/)).default([]),
    roles: z
      .array(z.string().regex(/^[a-z][a-z0-9_-]*$/))
      .min(1)
      .default(['commander', 'communications', 'scribe']),
    announce: z
      .object({
        /** Incidents created outside Slack (backend UI, alerts) get a channel from this severity up. */
        auto_channel_min_severity: Sev.default('high'),
      })
      .prefault({}),
    alerts: z
      .object({
        dedupe_window_minutes: z.number().positive().default(60),
        rate_limit_per_minute: z.number().int().positive().default(120),
        batch_seconds: z.number().min(0).default(30),
        resolve_incident_on_resolved_alert: z.boolean().default(false),
        max_body_bytes: z.number().int().positive().default(1_000_000),
        /** One delivery carries at most this many alerts (413 above it); the rate limit counts alerts. */
        max_alerts_per_delivery: z.number().int().positive().max(1000).default(50),
        /**
         * Storm grouping: once alerts have opened `max_new_incidents` incidents within
         * `window_minutes`, a new alert joins one "storm" incident per service (`group_by:
         * service`) or one overall (`all`) instead of opening its own. 0 turns grouping off.
         */
        storm: z
          .object({
            max_new_incidents: z.number().int().min(0).default(10),
            window_minutes: z.number().positive().default(5),
            group_by: z.enum(['service', 'all']).default('service'),
            /** The storm's alert list is brought up to date at most this often (one edit per page). */
            list_update_seconds: z.number().min(1).max(60).default(10),
          })
          .prefault({}),
      })
      .prefault({}),
    agents: z
      .object({
        /** Proposals per minute from all agents together (429 + Retry-After above it). */
        rate_limit_per_minute: z.number().int().positive().default(30),
        /** AI agents allowed on `/mcp` (docs/agents.md). Tokens come from the variables named here. */
        mcp: z.array(AgentSchema).default([]),
      })
      .strict()
      .prefault({}),
    approvals: z
      .object({
        default_expiry_minutes: z.number().positive().default(15),
        /**
         * Who is eligible for command: may take command of an incident that has no commander and no
         * human declarer (opened by an alert or in the backend's UI), and approves as commander (a
         * commander who is not eligible approves nothing through the role). Unset: the
         * `responders`; both empty: every commander approves. Policy approvers always are eligible.
         */
        eligible_commanders: z
          .object({
            users: z.array(z.string().regex(/^[UW][A-Z0-9]+$/)).default([]),
            usergroups: z.array(z.string().regex(/^S[A-Z0-9]+$/)).default([]),
          })
          .strict()
          .optional(),
      })
      .prefault({}),
    actions: z.array(ActionSchema).default([]),
    prompts: z.partialRecord(z.enum(['system', 'brief', 'summary', 'postmortem', 'propose', 'diagnose']), z.string()).default({}),
    runbooks: z
      .object({
        /** `command` steps run only when this is true (docs/runbooks.md). */
        allow_commands: z.boolean().default(false),
        /** A folder of runbook files (one runbook per .yml/.yaml file), relative to this file. */
        folder: z.string().min(1).optional(),
        /** Captured output kept per step (characters). */
        max_output_chars: z.number().int().positive().max(1_000_000).default(20_000),
        /** Runbooks declared inline; checked one by one (see config-runbooks.ts). */
        definitions: z.array(z.unknown()).default([]),
      })
      .strict()
      .prefault({}),
    /** Paging and on-call (docs/oncall.md). */
    oncall: z
      .object({
        /** What `/incident page <name>` can reach. */
        targets: z
          .array(
            z
              .object({
                name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/i, 'a name without spaces'),
                type: z.enum(TARGET_KINDS),
                /** The backend's id of the target (Rootly, incident.io). */
                id: z.string().min(1).optional(),
                /** Local backend: the variable holding this target's PagerDuty Events v2 routing key. */
                routing_key_env: z
                  .string()
                  .regex(/^[A-Z][A-Z0-9_]*$/, 'an environment variable name')
                  .optional(),
              })
              .strict(),
          )
          .default([]),
        /** service name → the schedule whose on-call person joins its incidents (and answers `/incident oncall`). */
        services: z.record(z.string(), z.object({ schedule: z.string().min(1) }).strict()).default({}),
        /** Local backend: simple rotations (people take turns of shift_hours from start). */
        schedules: z
          .array(
            z
              .object({
                id: z.string().min(1),
                users: z.array(z.string().regex(/^[UW][A-Z0-9]+$/)).min(1),
                shift_hours: z.number().positive().default(168),
                start: z.iso.datetime({ offset: true }).default('2026-01-05T09:00:00Z'),
              })
              .strict(),
          )
          .default([]),
        /** Invite the on-call person of an incident's services when its channel opens. */
        auto_invite: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /** Minutes without an `/incident update` before the commander is nudged, per severity (0 = never). */
    reminders: z
      .object({
        critical: z.number().min(0).default(15),
        high: z.number().min(0).default(30),
        medium: z.number().min(0).default(60),
        low: z.number().min(0).default(0),
      })
      .strict()
      .prefault({}),
    insights: z
      .object({
        /** Backend history sync (Rootly, incident.io): the first run reaches back this far. */
        backfill_days: z.number().int().min(1).max(3650).default(180),
        sync_every_minutes: z.number().int().min(1).max(1440).default(15),
        page_size: z.number().int().min(1).max(100).default(100),
        /** Weekly digest: posted once a week to `channel` (a channel id) on `day` at `hour` (UTC). */
        digest: z
          .object({
            channel: z
              .string()
              .regex(/^[CG][A-Z0-9]{2,}$/, 'a channel id such as C0123ABCD')
              .nullable()
              .default(null),
            day: z.enum(['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday']).default('monday'),
            hour: z.number().int().min(0).max(23).default(9),
          })
          .prefault({}),
      })
      .prefault({}),
    claude: z
      .object({
        max_tokens: z.number().int().positive().max(4000).default(4000),
        timeout_ms: z.number().int().positive().default(60_000),
        max_retries: z.number().int().min(0).max(5).default(2),
        transcript_budget_tokens: z.number().int().positive().default(60_000),
      })
      .prefault({}),
  })
  .strict();

export type FileConfig = z.infer<typeof FileSchema>;
export type Env = z.infer<typeof EnvSchema>;

export type SlackMode = 'http' | 'socket' | 'sandbox';

/**
 * How the bot reaches Slack, with exactly the credentials that mode needs. HTTP mode (events
 * signed with the signing secret, also the sandbox's, against its emulator) or Socket Mode (an
 * app-level token). Null without SLACK_BOT_TOKEN: sandbox mode before the sandbox supplies them.
 */
export type SlackConnection = { mode: 'http'; botToken: string; signingSecret: string } | { mode: 'socket'; botToken: string; appToken: string };

export interface Config {
  env: Env;
  file: FileConfig;
  /** A label for logs and the sandbox check; `slack` holds the connection itself. */
  slackMode: SlackMode;
  slack: SlackConnection | null;
  backend: 'local' | 'rootly' | 'incidentio';
  slackApiUrl: string;
  rootlyApiUrl: string;
  incidentioApiUrl: string;
  anthropicModel: string;
  databaseUrl: string | undefined;
  port: number;
  host: string;
  logLevel: string;
  /** Effective action registry: defaults, replaced by id from the file. */
  actions: ActionDefinition[];
  /** Executor secrets read from the variables the actions name (`secret_env`), by variable name. */
  executorSecrets: Record<string, string>;
  /** Runbooks from firebreak.yml and the runbook folder, validated. */
  runbooks: Runbook[];
  /** Values of the variables runbooks name (HTTP header secrets, command environments, PATH), by name. */
  runbookEnv: Record<string, string>;
  /** Start-up notes that are not errors (e.g. command steps present but commands disabled). */
  warnings: string[];
  /** PagerDuty routing keys read from the variables the paging targets name (`routing_key_env`), by variable name. */
  pagerdutyRoutingKeys: Record<string, string>;
  configPath: string | null;
  /** Agents allowed on `/mcp`, tokens resolved from their `token_env` variables. */
  agents: AgentConfig[];
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** One line per problem, naming the variable and what is expected, never the value. */
function describeIssues(issues: readonly z.core.$ZodIssue[], prefix: string): string[] {
  return issues.map((i) => {
    const where = i.path.length ? i.path.join('.') : '(root)';
    let msg = i.message;
    if (i.code === 'invalid_value' && 'values' in i) msg = `expected one of ${(i.values as unknown[]).join(', ')}`;
    if (i.code === 'unrecognized_keys') msg = `unknown key(s) ${i.keys.join(', ')}`;
    return `${prefix}${where}: ${msg}`;
  });
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const parsedEnv = EnvSchema.safeParse(env);
  const problems: string[] = [];
  if (!parsedEnv.success) problems.push(...describeIssues(parsedEnv.error.issues, ''));
  problems.push(...crossFieldProblems(env));

  const explicitPath = parsedEnv.success ? parsedEnv.data.FIREBREAK_CONFIG : optionalString.safeParse(env.FIREBREAK_CONFIG).data;
  const configPath = explicitPath ? resolve(cwd, explicitPath) : existsSync(resolve(cwd, 'firebreak.yml')) ? resolve(cwd, 'firebreak.yml') : null;
  let file: FileConfig = FileSchema.parse({});
  if (configPath) {
    if (!existsSync(configPath)) {
      problems.push(`FIREBREAK_CONFIG: file not found: ${configPath}`);
    } else {
      let raw: unknown;
      try {
        raw = parseYaml(readFileSync(configPath, 'utf8')) ?? {};
      } catch (err) {
        problems.push(`${configPath}: not valid YAML (${(err as Error).message.split('\n')[0]})`);
      }
      if (raw !== undefined) {
        const parsedFile = FileSchema.safeParse(raw);
        if (parsedFile.success) file = parsedFile.data;
        else problems.push(...describeIssues(parsedFile.error.issues, `firebreak.yml `));
      }
    }
  }

  // Actions: defaults replaced by id; executors naming secrets must find them in the environment.
  const byId = new Map(DEFAULT_ACTIONS.map((a) => [a.id, a]));
  for (const a of file.actions) byId.set(a.id, a);
  const actions = [...byId.values()];
  // The sandbox never calls a configured executor (it shows what would have been sent), so it
  // needs none of their secrets; it refuses to start when they are present.
  const sandbox = parsedEnv.success && !parsedEnv.data.SLACK_BOT_TOKEN;
  for (const a of actions) {
    if (!sandbox && a.executor.type === 'webhook' && !env[a.executor.secret_env])
      problems.push(`${a.executor.secret_env}: required by action ${a.id} (webhook executor signing secret)`);
    else if (!sandbox && a.executor.type === 'webhook' && env[a.executor.secret_env]!.trim().length < MIN_SECRET_LENGTH)
      problems.push(`${a.executor.secret_env}: too short for action ${a.id}: use at least ${MIN_SECRET_LENGTH} random characters`);
    if (!sandbox && a.executor.type === 'rootly_workflow' && !(parsedEnv.success && parsedEnv.data.ROOTLY_API_KEY))
      problems.push(`ROOTLY_API_KEY: required by action ${a.id} (rootly_workflow executor)`);
    for (const [name, p] of Object.entries(a.params)) {
      if (p.pattern) {
        try {
          new RegExp(p.pattern);
        } catch {
          problems.push(`firebreak.yml actions.${a.id}.params.${name}.pattern: not a valid regular expression`);
        }
      }
    }
  }

  const runbooks = loadRunbooks(file.runbooks, { baseDir: configPath ? dirname(configPath) : cwd, env, actions });
  problems.push(...runbooks.problems);
  const agents: AgentConfig[] = [];
  const agentNames = new Set<string>();
  for (const a of file.agents.mcp) {
    if (agentNames.has(a.name)) problems.push(`firebreak.yml agents.mcp.${a.name}: the name is used twice`);
    agentNames.add(a.name);
    const token = (env[a.token_env] ?? '').trim();
    if (!token) problems.push(`${a.token_env}: required by agent ${a.name} (its bearer token for /mcp)`);
    else if (token.length < 24) problems.push(`${a.token_env}: agent ${a.name}'s token must be at least 24 characters (for example: openssl rand -hex 32)`);
    else
      agents.push({
        name: a.name,
        token,
        scopes: [...new Set(a.scopes)],
        incidents: a.incidents ?? null,
        ratePerMinute: a.rate_limit_per_minute,
        incidentRatePerMinute: a.incident_rate_limit_per_minute,
      });
  }
  if (new Set(agents.map((a) => a.token)).size !== agents.length) problems.push('firebreak.yml agents.mcp: two agents share one token; give each its own');
  for (const t of file.oncall.targets) {
    if (t.routing_key_env && !env[t.routing_key_env]) problems.push(`${t.routing_key_env}: required by paging target ${t.name} (PagerDuty routing key)`);
    if (!t.id && !t.routing_key_env)
      problems.push(`firebreak.yml oncall.targets.${t.name}: needs an id (Rootly, incident.io) or a routing_key_env (PagerDuty)`);
  }

  if (problems.length || !parsedEnv.success) throw new ConfigError(problems);
  const e = parsedEnv.data;

  const backend = e.INCIDENT_BACKEND ?? (e.ROOTLY_API_KEY ? 'rootly' : e.INCIDENTIO_API_KEY ? 'incidentio' : 'local');
  const slack: SlackConnection | null = !e.SLACK_BOT_TOKEN
    ? null
    : e.SLACK_APP_TOKEN
      ? { mode: 'socket', botToken: e.SLACK_BOT_TOKEN, appToken: e.SLACK_APP_TOKEN }
      : // crossFieldProblems refused HTTP mode without a signing secret above
        { mode: 'http', botToken: e.SLACK_BOT_TOKEN, signingSecret: e.SLACK_SIGNING_SECRET ?? '' };
  const slackMode: SlackMode = slack?.mode ?? 'sandbox';
  const slackApiUrl = e.SLACK_API_URL ?? 'https://slack.com/api/';
  return {
    env: e,
    file,
    slackMode,
    slack,
    backend,
    slackApiUrl: slackApiUrl.endsWith('/') ? slackApiUrl : `${slackApiUrl}/`,
    rootlyApiUrl: e.ROOTLY_API_URL ?? 'https://api.rootly.com',
    incidentioApiUrl: e.INCIDENTIO_API_URL ?? 'https://api.incident.io',
    anthropicModel: e.ANTHROPIC_MODEL ?? DEFAULT_MODEL,
    databaseUrl: e.DATABASE_URL,
    port: e.PORT ?? 3000,
    // The sandbox console can press Approve and has no login: keep it on this machine unless asked.
    host: e.HOST ?? (slackMode === 'sandbox' ? '127.0.0.1' : '0.0.0.0'),
    logLevel: e.LOG_LEVEL ?? 'info',
    actions,
    executorSecrets: Object.fromEntries(
      actions.flatMap((a) => (a.executor.type === 'webhook' && env[a.executor.secret_env] ? [[a.executor.secret_env, env[a.executor.secret_env]!]] : [])),
    ),
    runbooks: runbooks.runbooks,
    runbookEnv: runbooks.env,
    warnings: runbooks.warnings,
    pagerdutyRoutingKeys: Object.fromEntries(
      file.oncall.targets.flatMap((t) => (t.routing_key_env && env[t.routing_key_env] ? [[t.routing_key_env, env[t.routing_key_env]!]] : [])),
    ),
    configPath,
    agents,
  };
}
