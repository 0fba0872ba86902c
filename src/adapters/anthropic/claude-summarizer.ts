import type Anthropic from '@anthropic-ai/sdk';
import { Counter, type Registry } from 'prom-client';
import { z } from 'zod';
import type { Clock } from '../../ports/clock.js';
import { systemClock } from '../../ports/clock.js';
import type {
  ActionSpecForModel,
  DiagnoseContext,
  DiagnosisResult,
  ProposalsResult,
  ProposedActionFromModel,
  SummaryContext,
  SummaryResult,
  Summarizer,
} from '../../ports/summarizer.js';
import { buildPromptVars, type PromptName, type PromptRenderer } from './prompts.js';
import { checkInputAgainstSchema } from './json-schema-check.js';
import { estimateTokens, minCacheableTokens, modelLifecycleWarning, worthCaching } from './models.js';

/**
 * The Summarizer port over the Anthropic Messages API.
 *
 * Contract kept here:
 * - Never throws and never hangs: every failure (no key, 429/529 after the SDK's retries, a
 *   timeout, a refusal, `event: error` mid-stream, output that does not parse) is logged with the
 *   request id and answered by the fallback summarizer with `fallback: true`. An overall
 *   deadline bounds the call, because the SDK's `timeout` only covers the wait for response
 *   headers, not a stream that stalls half-way.
 * - Executes nothing: tool_use blocks become proposals (data) after validation against the
 *   offered actions; the approval gate decides what runs.
 * - The system prompt is one stable block marked `cache_control: ephemeral`, so it (and, for
 *   proposals, the tool list before it) is read from the prompt cache on repeated calls. The API
 *   caches only a prefix at least the model's minimum long (1,024 tokens for Sonnet 4.5/5.x, 4,096
 *   for Haiku 4.5 and Opus 4.5; see models.ts): the breakpoint is sent only when the prefix clears
 *   that minimum, so a prompt too short to cache is not presented as cached.
 * - A model the API does not know (404 not_found_error) and a deprecated or retired model are
 *   logged through pino naming ANTHROPIC_MODEL and reported by `problem()` (readiness); the SDK's
 *   own console.warn about deprecated models is routed to the log instead of stdout.
 */

export interface SummarizerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ClaudeSummarizerOptions {
  /** Null/empty: Claude is never called and every method answers with the fallback. */
  apiKey: string | null | undefined;
  /** Defaults to the SDK's (which honours ANTHROPIC_BASE_URL). */
  baseURL?: string | null;
  model: string;
  /** Output cap per call; default and upper bound 4000. */
  maxTokens?: number;
  /** Per HTTP attempt, until response headers (SDK `timeout`). Default 60 s. */
  timeoutMs?: number;
  /** SDK retries of 408/409/429/5xx and connection errors. Default 2. */
  maxRetries?: number;
  /** Hard bound on one whole call, retries and streaming included. Default timeoutMs × (maxRetries + 1) + 10 s. */
  deadlineMs?: number;
  logger: SummarizerLogger;
  metrics?: { registry: Registry };
  prompts: PromptRenderer;
  fallback: Summarizer;
  /** Token budget for the transcript in a prompt (estimate chars/4). Default 30 000. */
  transcriptBudgetTokens?: number;
  /** At most this many proposals are returned; extra tool calls are rejected. Default 3. */
  maxProposals?: number;
  clock?: Clock;
  /** Injected fetch for tests (the SDK's `fetch` option). */
  fetch?: typeof fetch;
}

export const MAX_OUTPUT_TOKENS = 4000;

type CallName = 'brief' | 'summary' | 'postmortem' | 'propose' | 'diagnose';

/** Why a call fell back; a label value of `firebreak_claude_calls_total`. */
export type FailureReason =
  | 'no_api_key'
  | 'auth'
  | 'model_not_found'
  | 'bad_request'
  | 'rate_limited'
  | 'overloaded'
  | 'server_error'
  | 'timeout'
  | 'connection'
  | 'stream_error'
  | 'refusal'
  | 'invalid_output'
  | 'unexpected';

class CallFailure extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
    readonly requestId: string | null = null,
  ) {
    super(message);
  }
}

// What we rely on from a response, parsed rather than trusted.
const TextBlockOut = z.object({ type: z.literal('text'), text: z.string() });
const ToolUseOut = z.object({ type: z.literal('tool_use'), id: z.string(), name: z.string(), input: z.unknown() });
const OtherBlockOut = z.object({ type: z.string() }).loose();
const ModelMessage = z.object({
  id: z.string(),
  content: z.array(z.union([TextBlockOut, ToolUseOut, OtherBlockOut])),
  stop_reason: z.string().nullable(),
  usage: z.object({
    input_tokens: z.number().int().nonnegative(),
    output_tokens: z.number().int().nonnegative(),
    cache_creation_input_tokens: z.number().int().nonnegative().nullish(),
    cache_read_input_tokens: z.number().int().nonnegative().nullish(),
  }),
});
type ModelMessage = z.infer<typeof ModelMessage>;
type Usage = NonNullable<SummaryResult['usage']>;

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const DIAGNOSIS_TOOL = 'record_diagnosis';
const DiagnosisInput = z.object({
  diagnosis: z.string().min(1).max(6000),
  confidence: z.enum(['low', 'medium', 'high']),
  evidence: z.array(z.string().max(200)).max(40).default([]),
});

export interface ClaudeSummarizer extends Summarizer {
  /** False when no API key was given (every call is the fallback). */
  readonly enabled: boolean;
}

export function createClaudeSummarizer(opts: ClaudeSummarizerOptions): ClaudeSummarizer {
  const log = opts.logger;
  const clock = opts.clock ?? systemClock;
  const maxTokens = Math.max(1, Math.min(Math.floor(opts.maxTokens ?? MAX_OUTPUT_TOKENS), MAX_OUTPUT_TOKENS));
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const maxRetries = opts.maxRetries ?? 2;
  const deadlineMs = opts.deadlineMs ?? timeoutMs * (maxRetries + 1) + 10_000;
  const budget = opts.transcriptBudgetTokens ?? 30_000;
  const maxProposals = opts.maxProposals ?? 3;
  const apiKey = opts.apiKey?.trim() ? opts.apiKey.trim() : null;
  const metrics = opts.metrics ? registerMetrics(opts.metrics.registry) : null;

  // The model's standing: a deprecation or end-of-life (known from the date) or a 404 from the API.
  let modelProblem: string | null = null;
  const lifecycle = modelLifecycleWarning(opts.model, clock.now());
  if (apiKey && lifecycle) {
    modelProblem = lifecycle;
    log.warn({ model: opts.model }, lifecycle);
  }
  if (apiKey) routeSdkDeprecationWarnings(log);

  // The SDK (about 10 MB of RSS on top of the app) is loaded at the first Claude call, not at start.
  let clientP: Promise<Anthropic> | null = null;
  const makeClient = (Sdk: typeof Anthropic): Anthropic =>
    new Sdk({
      apiKey,
      ...(opts.baseURL ? { baseURL: opts.baseURL } : {}),
      maxRetries,
      timeout: timeoutMs,
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
      // SDK warnings (retries, deprecations routed through its logger) go to our log, not stdout.
      logLevel: 'warn',
      logger: {
        error: (msg, ...rest) => log.error({ sdk: rest }, `anthropic sdk: ${msg}`),
        warn: (msg, ...rest) => log.warn({ sdk: rest }, `anthropic sdk: ${msg}`),
        info: (msg, ...rest) => log.info({ sdk: rest }, `anthropic sdk: ${msg}`),
        debug: () => undefined,
      },
    });
  const getClient = (): Promise<Anthropic> | null => {
    if (!apiKey) return null;
    clientP ??= loadSdk().then((m) => makeClient(m.default));
    return clientP;
  };

  // Rendered once, with no incident data and a fixed clock: the system prompt must be byte-stable
  // across calls and incidents to be read from the prompt cache.
  const systemText = opts.prompts.render('system', buildPromptVars(emptyCtx(), { transcriptBudgetTokens: 0, now: new Date(0) }).vars);
  // A breakpoint only where the prefix (tools, then system) clears the model's cache minimum.
  const systemTokens = estimateTokens(systemText);
  const system = (toolTokens = 0): Anthropic.TextBlockParam[] => [
    { type: 'text', text: systemText, ...(worthCaching(opts.model, toolTokens + systemTokens) ? { cache_control: { type: 'ephemeral' as const } } : {}) },
  ];
  if (apiKey && !worthCaching(opts.model, systemTokens))
    log.info(
      { model: opts.model, systemPromptTokens: systemTokens, minCacheableTokens: minCacheableTokens(opts.model) },
      'the system prompt is shorter than the model caches; it is sent without a cache breakpoint',
    );

  function recordUsage(call: CallName, requestId: string | null, msg: ModelMessage, started: number): Usage {
    const usage: Usage = {
      inputTokens: msg.usage.input_tokens,
      outputTokens: msg.usage.output_tokens,
      cacheReadTokens: msg.usage.cache_read_input_tokens ?? 0,
      cacheCreationTokens: msg.usage.cache_creation_input_tokens ?? 0,
    };
    log.info({ call, requestId, model: opts.model, stopReason: msg.stop_reason, usage, durationMs: Date.now() - started }, 'claude call finished');
    if (metrics) {
      metrics.tokens.inc({ call, kind: 'input' }, usage.inputTokens);
      metrics.tokens.inc({ call, kind: 'output' }, usage.outputTokens);
      metrics.tokens.inc({ call, kind: 'cache_read' }, usage.cacheReadTokens);
      metrics.tokens.inc({ call, kind: 'cache_creation' }, usage.cacheCreationTokens);
      metrics.calls.inc({ call, outcome: 'ok' });
    }
    return usage;
  }

  function recordFailure(call: CallName, err: unknown, started: number, requestId: string | null): { reason: FailureReason; requestId: string | null } {
    const f = classifyClaudeFailure(err, requestId);
    if (f.reason === 'model_not_found') {
      modelProblem = `ANTHROPIC_MODEL=${opts.model} is not a model the Anthropic API knows (404 not_found_error); set ANTHROPIC_MODEL to a current model. The plain summary is posted meanwhile.`;
      log.error({ call, requestId: f.requestId, model: opts.model }, modelProblem);
    }
    // No key is a configuration choice, not a failure: say it once at info, not as an error per call.
    const level = f.reason === 'no_api_key' ? 'info' : 'error';
    log[level](
      {
        call,
        requestId: f.requestId,
        reason: f.reason,
        status: sdk && err instanceof sdk.APIError ? (err.status ?? null) : null,
        errorType: sdk && err instanceof sdk.APIError ? err.type : null,
        err: err instanceof Error ? err.message : String(err),
        durationMs: Date.now() - started,
      },
      'claude call failed; using the fallback summary',
    );
    metrics?.calls.inc({ call, outcome: f.reason });
    return f;
  }

  async function withDeadline<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new CallFailure('timeout', `no answer within ${deadlineMs} ms`)), deadlineMs);
    try {
      return await run(controller.signal);
    } catch (err) {
      if (controller.signal.aborted) throw new CallFailure('timeout', `no answer within ${deadlineMs} ms`, (err as { requestID?: string }).requestID ?? null);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  async function textCall(
    call: Exclude<CallName, 'propose' | 'diagnose'>,
    template: PromptName,
    ctx: SummaryContext,
    fallback: () => Promise<SummaryResult>,
    onDelta?: (textSoFar: string) => void,
  ): Promise<SummaryResult> {
    const started = Date.now();
    let requestId: string | null = null;
    try {
      const pending = getClient();
      if (!pending) throw new CallFailure('no_api_key', 'ANTHROPIC_API_KEY is not set');
      const client = await pending;
      const { vars, fitted } = buildPromptVars(ctx, { transcriptBudgetTokens: budget, now: clock.now(), incremental: call === 'summary' });
      const params = {
        model: opts.model,
        max_tokens: maxTokens,
        system: system(),
        messages: [{ role: 'user' as const, content: [{ type: 'text' as const, text: opts.prompts.render(template, vars) }] }],
      };
      const raw = await withDeadline(async (signal) => {
        // Summaries and post-mortems stream: long outputs keep the connection alive, and the
        // summary shows progress. The brief is short and uses one JSON response.
        if (call === 'brief') {
          const { data, request_id } = await client.messages.create(params, { signal }).withResponse();
          requestId = request_id ?? null;
          return data as unknown;
        }
        const stream = client.messages.stream(params, { signal });
        let soFar = '';
        stream.on('text', (delta) => {
          soFar += delta;
          if (!onDelta) return;
          try {
            onDelta(soFar);
          } catch (err) {
            // A broken renderer must not break the call.
            log.warn({ call, err: (err as Error).message }, 'onDelta threw; ignored');
          }
        });
        stream.on('connect', () => {
          requestId = stream.request_id ?? null;
        });
        try {
          return (await stream.finalMessage()) as unknown;
        } finally {
          requestId = stream.request_id ?? requestId;
        }
      });
      const msg = parseMessage(raw, requestId);
      if (msg.stop_reason === 'refusal') throw new CallFailure('refusal', 'Claude declined to answer (stop_reason refusal)', requestId);
      let text = msg.content
        .flatMap((b) => (b.type === 'text' && 'text' in b && typeof b.text === 'string' ? [b.text] : []))
        .join('')
        .trim();
      if (!text) throw new CallFailure('invalid_output', 'the answer had no text', requestId);
      if (msg.stop_reason === 'max_tokens') {
        log.warn({ call, requestId, maxTokens }, 'claude answer cut at max_tokens');
        text += '\n\n_(cut at the length limit)_';
      }
      const usage = recordUsage(call, requestId, msg, started);
      return {
        text,
        fallback: false,
        usage,
        requestId,
        coveredThroughTs: fitted.newestTs ?? (call === 'summary' ? (ctx.summarizedThroughTs ?? null) : null),
      };
    } catch (err) {
      const f = recordFailure(call, err, started, requestId);
      return fallbackResult(fallback, f.requestId, log, call);
    }
  }

  async function proposeActions(ctx: SummaryContext, actions: ActionSpecForModel[]): Promise<ProposalsResult> {
    const started = Date.now();
    let requestId: string | null = null;
    const offered = new Map<string, ActionSpecForModel>();
    for (const a of [...actions].sort((x, y) => x.id.localeCompare(y.id))) {
      if (!TOOL_NAME.test(a.id)) {
        log.warn({ actionId: a.id }, 'action id is not a valid tool name; not offered to Claude');
        continue;
      }
      offered.set(a.id, a);
    }
    if (offered.size === 0) return { proposals: [], rejected: [], fallback: false, requestId: null };
    try {
      const pending = getClient();
      if (!pending) throw new CallFailure('no_api_key', 'ANTHROPIC_API_KEY is not set');
      const client = await pending;
      const { vars } = buildPromptVars(ctx, { transcriptBudgetTokens: budget, now: clock.now(), actions: [...offered.values()] });
      const tools: Anthropic.Tool[] = [...offered.values()].map((a) => ({
        name: a.id,
        description: a.description ? `${a.title}. ${a.description}` : a.title,
        input_schema: { ...a.inputSchema, type: 'object' },
      }));
      const params = {
        model: opts.model,
        max_tokens: maxTokens,
        // Tools precede the system prompt in the cache prefix, so the system breakpoint caches both.
        tools,
        tool_choice: { type: 'auto' as const },
        system: system(tools.reduce((n, t) => n + estimateTokens(`${t.name}\n${t.description ?? ''}\n${JSON.stringify(t.input_schema)}`), 0)),
        messages: [{ role: 'user' as const, content: [{ type: 'text' as const, text: opts.prompts.render('propose', vars) }] }],
      };
      const raw = await withDeadline(async (signal) => {
        const { data, request_id } = await client.messages.create(params, { signal }).withResponse();
        requestId = request_id ?? null;
        return data as unknown;
      });
      const msg = parseMessage(raw, requestId);
      if (msg.stop_reason === 'refusal') throw new CallFailure('refusal', 'Claude declined to answer (stop_reason refusal)', requestId);
      recordUsage('propose', requestId, msg, started);

      const { proposals, rejected } = collectProposals(msg, offered, maxProposals);
      if (rejected.length) log.warn({ call: 'propose', requestId, rejected }, 'claude tool calls rejected');
      return { proposals, rejected, fallback: false, requestId };
    } catch (err) {
      const f = recordFailure('propose', err, started, requestId);
      try {
        const fb = await opts.fallback.proposeActions(ctx, actions);
        return { ...fb, fallback: true, requestId: f.requestId };
      } catch (fbErr) {
        log.error({ err: (fbErr as Error).message }, 'fallback proposeActions threw');
        return { proposals: [], rejected: [], fallback: true, requestId: f.requestId };
      }
    }
  }

  /**
   * A runbook's diagnosis: one request whose tools are `record_diagnosis` (the answer, as
   * structured data) and the offered actions (proposals for the gate). The steps' outputs go in as
   * data inside `<step_outputs>`; nothing Claude answers runs.
   */
  async function diagnose(ctx: DiagnoseContext, actions: ActionSpecForModel[]): Promise<DiagnosisResult> {
    const started = Date.now();
    let requestId: string | null = null;
    const offered = new Map<string, ActionSpecForModel>();
    for (const a of [...actions].sort((x, y) => x.id.localeCompare(y.id))) if (TOOL_NAME.test(a.id) && a.id !== DIAGNOSIS_TOOL) offered.set(a.id, a);
    try {
      const pending = getClient();
      if (!pending) throw new CallFailure('no_api_key', 'ANTHROPIC_API_KEY is not set');
      const client = await pending;
      const { vars } = buildPromptVars(ctx, {
        transcriptBudgetTokens: budget,
        now: clock.now(),
        actions: [...offered.values()],
        evidence: ctx.evidence,
        instruction: ctx.instruction,
      });
      const tools: Anthropic.Tool[] = [
        {
          name: DIAGNOSIS_TOOL,
          description: 'Record the diagnosis: the most likely cause, your confidence, and the step outputs you relied on.',
          input_schema: {
            type: 'object',
            properties: {
              diagnosis: { type: 'string', description: 'A few sentences: the most likely cause and what supports it.' },
              confidence: { type: 'string', enum: ['low', 'medium', 'high'] },
              evidence: { type: 'array', items: { type: 'string' }, description: 'Step ids whose outputs you used.' },
            },
            required: ['diagnosis', 'confidence', 'evidence'],
            additionalProperties: false,
          },
        },
        ...[...offered.values()].map((a) => ({
          name: a.id,
          description: a.description ? `${a.title}. ${a.description}` : a.title,
          input_schema: { ...a.inputSchema, type: 'object' as const },
        })),
      ];
      const params = {
        model: opts.model,
        max_tokens: maxTokens,
        tools,
        tool_choice: { type: 'auto' as const },
        system: system(),
        messages: [{ role: 'user' as const, content: [{ type: 'text' as const, text: opts.prompts.render('diagnose', vars) }] }],
      };
      const raw = await withDeadline(async (signal) => {
        const { data, request_id } = await client.messages.create(params, { signal }).withResponse();
        requestId = request_id ?? null;
        return data as unknown;
      });
      const msg = parseMessage(raw, requestId);
      if (msg.stop_reason === 'refusal') throw new CallFailure('refusal', 'Claude declined to answer (stop_reason refusal)', requestId);
      recordUsage('diagnose', requestId, msg, started);
      const recorded = msg.content.flatMap((b) => {
        if (b.type !== 'tool_use') return [];
        const use = ToolUseOut.safeParse(b);
        if (!use.success || use.data.name !== DIAGNOSIS_TOOL) return [];
        const d = DiagnosisInput.safeParse(use.data.input);
        return d.success ? [d.data] : [];
      })[0];
      const text = msg.content
        .flatMap((b) => (isText(b) ? [b.text.trim()] : []))
        .filter(Boolean)
        .join('\n');
      if (!recorded && !text) throw new CallFailure('invalid_output', 'the answer had neither a diagnosis nor text', requestId);
      const { proposals, rejected } = collectProposals(msg, offered, maxProposals, [DIAGNOSIS_TOOL]);
      if (rejected.length) log.warn({ call: 'diagnose', requestId, rejected }, 'claude tool calls rejected');
      return {
        text: recorded?.diagnosis ?? text,
        confidence: recorded?.confidence ?? null,
        evidence: recorded?.evidence ?? [],
        proposals,
        rejected,
        fallback: false,
        requestId,
      };
    } catch (err) {
      const f = recordFailure('diagnose', err, started, requestId);
      const fb = await opts.fallback.diagnose(ctx, actions).catch(() => null);
      return {
        ...(fb ?? { text: '_No diagnosis (Claude unavailable)._', confidence: null, evidence: [], proposals: [], rejected: [] }),
        fallback: true,
        requestId: f.requestId,
      };
    }
  }

  return {
    enabled: apiKey !== null,
    diagnose,
    problem: () => modelProblem,
    brief: (ctx) => textCall('brief', 'brief', ctx, () => opts.fallback.brief(ctx)),
    summarize: (ctx, onDelta) => textCall('summary', 'summary', ctx, () => opts.fallback.summarize(ctx), onDelta),
    postmortem: (ctx) => textCall('postmortem', 'postmortem', ctx, () => opts.fallback.postmortem(ctx)),
    proposeActions,
  };
}

/**
 * Tool calls → proposals for the gate: each validated against the offered action (unknown tools,
 * invalid parameters, duplicates and calls over the limit are rejected with a reason). Tools named
 * in `ignore` (e.g. record_diagnosis) are not proposals and are skipped here.
 */
function collectProposals(
  msg: ModelMessage,
  offered: Map<string, ActionSpecForModel>,
  maxProposals: number,
  ignore: readonly string[] = [],
): { proposals: ProposedActionFromModel[]; rejected: ProposalsResult['rejected'] } {
  const proposals: ProposedActionFromModel[] = [];
  const rejected: ProposalsResult['rejected'] = [];
  const seen = new Set<string>();
  const allText = msg.content
    .flatMap((b) => (isText(b) ? [b.text.trim()] : []))
    .filter(Boolean)
    .join('\n');
  let pending: string[] = [];
  for (const block of msg.content) {
    if (isText(block)) {
      if (block.text.trim()) pending.push(block.text.trim());
      continue;
    }
    if (block.type !== 'tool_use') continue;
    if (ignore.includes(String((block as { name?: unknown }).name))) continue;
    const use = ToolUseOut.safeParse(block);
    if (!use.success) {
      rejected.push({ reason: 'malformed tool_use block', raw: block });
      continue;
    }
    // The rationale for a call is the text written since the previous call (or all text).
    const rationale = pending.join('\n') || allText || '(no rationale given)';
    pending = [];
    const { name, input } = use.data;
    const action = offered.get(name);
    if (!action) {
      rejected.push({ reason: `unknown tool "${name}" (not one of the offered actions)`, raw: { name, input } });
      continue;
    }
    const checked = action.validate ? action.validate(input) : checkInputAgainstSchema(action.inputSchema, input);
    if (!checked.ok) {
      rejected.push({ reason: `invalid params for "${name}": ${checked.error}`, raw: { name, input } });
      continue;
    }
    const key = `${name}:${stableJson(checked.value)}`;
    if (seen.has(key)) {
      rejected.push({ reason: `duplicate proposal of "${name}" with the same params`, raw: { name, input } });
      continue;
    }
    if (proposals.length >= maxProposals) {
      rejected.push({ reason: `over the limit of ${maxProposals} proposals per request`, raw: { name, input } });
      continue;
    }
    seen.add(key);
    proposals.push({ actionId: name, params: checked.value, rationale });
  }
  return { proposals, rejected };
}

function isText(b: { type: string }): b is { type: 'text'; text: string } {
  return b.type === 'text' && typeof (b as { text?: unknown }).text === 'string';
}

function parseMessage(raw: unknown, requestId: string | null): ModelMessage {
  const parsed = ModelMessage.safeParse(raw);
  if (!parsed.success) {
    throw new CallFailure('invalid_output', `unexpected response shape: ${parsed.error.issues[0]?.message ?? 'invalid'}`, requestId);
  }
  return parsed.data;
}

async function fallbackResult(run: () => Promise<SummaryResult>, requestId: string | null, log: SummarizerLogger, call: CallName): Promise<SummaryResult> {
  try {
    const r = await run();
    return { ...r, fallback: true, requestId, coveredThroughTs: null };
  } catch (err) {
    // The fallback is local code and should not fail; if it does, still answer.
    log.error({ call, err: (err as Error).message }, 'fallback summarizer threw');
    return { text: '_Automatic summary unavailable (Claude and the fallback both failed; see logs)._', fallback: true, requestId, coveredThroughTs: null };
  }
}

function classifyClaudeFailure(err: unknown, requestId: string | null): { reason: FailureReason; requestId: string | null } {
  if (err instanceof CallFailure) return { reason: err.reason, requestId: err.requestId ?? requestId };
  // SDK errors exist only once the SDK is loaded (every call goes through it).
  if (sdk && err instanceof sdk.APIConnectionTimeoutError) return { reason: 'timeout', requestId };
  if (sdk && err instanceof sdk.APIUserAbortError) return { reason: 'timeout', requestId };
  if (sdk && err instanceof sdk.APIError) {
    const id = err.requestID ?? requestId;
    const s = err.status;
    // A status-less APIError is the SDK's translation of `event: error` in a 200 stream.
    if (s === undefined) return { reason: err.type === 'overloaded_error' ? 'overloaded' : 'stream_error', requestId: id };
    if (s === 401 || s === 403) return { reason: 'auth', requestId: id };
    // The API's answer for an unknown or retired model: 404 not_found_error, "model: <id>".
    if (s === 404 && err.type === 'not_found_error' && /\bmodel\b/i.test(err.message)) return { reason: 'model_not_found', requestId: id };
    if (s === 429) return { reason: 'rate_limited', requestId: id };
    if (s === 529) return { reason: 'overloaded', requestId: id };
    if (s >= 500) return { reason: 'server_error', requestId: id };
    if (s === 408) return { reason: 'timeout', requestId: id };
    return { reason: 'bad_request', requestId: id };
  }
  if (err instanceof Error && /connection|fetch failed|ECONN|socket/i.test(err.message)) return { reason: 'connection', requestId };
  return { reason: 'unexpected', requestId };
}

interface Metrics {
  tokens: Counter<'call' | 'kind'>;
  calls: Counter<'call' | 'outcome'>;
}

let sdkWarningsRouted = false;

let sdk: typeof import('@anthropic-ai/sdk') | null = null;
async function loadSdk(): Promise<typeof import('@anthropic-ai/sdk')> {
  sdk ??= await import('@anthropic-ai/sdk');
  return sdk;
}
/**
 * The SDK prints "The model '…' is deprecated and will reach end-of-life on …" with console.warn on
 * every call. Firebreak says it once through pino (modelLifecycleWarning), so that line is dropped
 * from stdout; every other console.warn passes through untouched.
 */
function routeSdkDeprecationWarnings(log: SummarizerLogger): void {
  if (sdkWarningsRouted) return;
  sdkWarningsRouted = true;
  const original = console.warn.bind(console);
  const seen = new Set<string>();
  console.warn = (...args: unknown[]) => {
    const first = args[0];
    if (typeof first === 'string' && /^The model '[^']+' is deprecated and will reach end-of-life/.test(first)) {
      const line = first.split('\n')[0]!;
      if (!seen.has(line)) {
        seen.add(line);
        log.warn({ source: 'anthropic-sdk' }, line);
      }
      return;
    }
    original(...args);
  };
}

/** Register once per registry: a second summarizer on the same registry reuses the counters. */
function registerMetrics(registry: Registry): Metrics {
  const get = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter<L>({ name, help, labelNames, registers: [registry] });
  return {
    tokens: get('firebreak_claude_tokens_total', 'Claude tokens by kind (input, output, cache_read, cache_creation) and call', ['call', 'kind']),
    calls: get('firebreak_claude_calls_total', 'Claude calls by outcome (ok, or the reason the fallback was used)', ['call', 'outcome']),
  };
}

/** The system template sees no incident data (it must be stable to be cached). */
function emptyCtx(): SummaryContext {
  const epoch = new Date(0);
  return {
    incident: {
      id: '',
      seq: 0,
      title: '',
      description: '',
      severity: 'low',
      status: 'investigating',
      services: [],
      private: false,
      origin: 'slack',
      source: null,
      declaredBy: null,
      commanderId: null,
      backend: 'local',
      backendId: null,
      backendUrl: null,
      channelId: null,
      channelName: null,
      cardTs: null,
      announceTs: null,
      alertCount: 0,
      createdAt: epoch,
      updatedAt: epoch,
      resolvedAt: epoch,
      version: 0,
    },
    roles: {},
    timeline: [],
    transcript: [],
  };
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}
