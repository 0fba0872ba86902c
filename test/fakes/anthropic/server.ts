import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

/**
 * A fake Anthropic Messages API on loopback, for tests and the benchmark.
 *
 * What it models: auth (`x-api-key` or `Authorization: Bearer`, as the SDK sends either),
 * the `anthropic-version` header, request validation with zod (400 invalid_request_error),
 * JSON and SSE responses framed like the real API, tool use, `event: error` after a 200,
 * refusals, deterministic token accounting and prompt caching, and injected faults.
 *
 * Limits (on purpose): tokens are estimated as ceil(chars/4) per block, not Claude's tokenizer;
 * the cache never expires during the fake's lifetime (the real TTL is 5 minutes / 1 hour);
 * images, documents, thinking and server tools are not modelled.
 */

// ---------------------------------------------------------------------------------------------
// Request validation (the subset of the Messages API Firebreak uses, checked like the API does)

const CacheControl = z.object({ type: z.literal('ephemeral'), ttl: z.enum(['5m', '1h']).optional() }).strict();

const TextBlock = z
  .object({
    type: z.literal('text'),
    text: z.string().min(1, 'text content blocks must be non-empty'),
    cache_control: CacheControl.nullish(),
    citations: z.unknown().optional(),
  })
  .strict();
const ToolUseBlock = z
  .object({
    type: z.literal('tool_use'),
    id: z.string().min(1),
    name: z.string().min(1),
    input: z.record(z.string(), z.unknown()),
    cache_control: CacheControl.nullish(),
  })
  .strict();
const ToolResultBlock = z
  .object({
    type: z.literal('tool_result'),
    tool_use_id: z.string().min(1),
    content: z.union([z.string(), z.array(TextBlock)]).optional(),
    is_error: z.boolean().optional(),
    cache_control: CacheControl.nullish(),
  })
  .strict();
const ContentBlock = z.discriminatedUnion('type', [TextBlock, ToolUseBlock, ToolResultBlock]);

const MessageParam = z.object({ role: z.enum(['user', 'assistant']), content: z.union([z.string().min(1), z.array(ContentBlock).min(1)]) }).strict();

const ToolParam = z
  .object({
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,128}$/, 'tool name must match ^[a-zA-Z0-9_-]{1,128}$'),
    description: z.string().optional(),
    input_schema: z.object({ type: z.literal('object') }).passthrough(),
    cache_control: CacheControl.nullish(),
    type: z.literal('custom').nullish(),
  })
  .strict();

const ToolChoice = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auto'), disable_parallel_tool_use: z.boolean().optional() }).strict(),
  z.object({ type: z.literal('any'), disable_parallel_tool_use: z.boolean().optional() }).strict(),
  z.object({ type: z.literal('none') }).strict(),
  z.object({ type: z.literal('tool'), name: z.string().min(1), disable_parallel_tool_use: z.boolean().optional() }).strict(),
]);

const MessagesRequestBase = z
  .object({
    model: z.string().min(1),
    max_tokens: z.number().int().positive(),
    messages: z.array(MessageParam).min(1),
    system: z.union([z.string(), z.array(TextBlock)]).optional(),
    tools: z.array(ToolParam).optional(),
    tool_choice: ToolChoice.optional(),
    stream: z.boolean().optional(),
    metadata: z.object({ user_id: z.string().nullish() }).strict().optional(),
    temperature: z.number().min(0).max(1).optional(),
    top_p: z.number().optional(),
    top_k: z.number().int().optional(),
    stop_sequences: z.array(z.string()).optional(),
  })
  .strict();
export type MessagesRequest = z.infer<typeof MessagesRequestBase>;

export const MessagesRequestSchema = MessagesRequestBase.superRefine((body, ctx) => {
  body.messages.forEach((m, i) => {
    const expected = i % 2 === 0 ? 'user' : 'assistant';
    if (m.role !== expected) {
      ctx.addIssue({
        code: 'custom',
        path: ['messages', i, 'role'],
        message: i === 0 ? 'first message must use the "user" role' : 'roles must alternate between "user" and "assistant"',
      });
    }
  });
  if (body.tool_choice && !body.tools?.length) {
    ctx.addIssue({ code: 'custom', path: ['tool_choice'], message: 'tool_choice may only be specified while providing tools' });
  }
  if (body.tool_choice?.type === 'tool' && !body.tools?.some((t) => t.name === (body.tool_choice as { name: string }).name)) {
    ctx.addIssue({ code: 'custom', path: ['tool_choice', 'name'], message: 'tool_choice names a tool that is not in tools' });
  }
  const names = new Set<string>();
  for (const t of body.tools ?? []) {
    if (names.has(t.name)) ctx.addIssue({ code: 'custom', path: ['tools'], message: `tool names must be unique: ${t.name}` });
    names.add(t.name);
  }
  const breakpoints = linearize(body).filter((b) => b.cached).length;
  if (breakpoints > 4) {
    ctx.addIssue({ code: 'custom', path: [], message: `A maximum of 4 blocks with cache_control may be provided. Found ${breakpoints}.` });
  }
});

// ---------------------------------------------------------------------------------------------
// Token accounting and caching

/** One unit of the prompt in cache order: tools, then system, then messages. */
interface PromptUnit {
  key: unknown;
  text: string;
  tokens: number;
  cached: boolean;
}

export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function linearize(body: MessagesRequest): PromptUnit[] {
  const units: PromptUnit[] = [];
  const push = (key: unknown, text: string, cached: boolean) => units.push({ key, text, tokens: estimateTokens(text), cached });
  for (const t of body.tools ?? []) {
    push(
      { tool: t.name, d: t.description, s: t.input_schema },
      `${t.name}\n${t.description ?? ''}\n${JSON.stringify(t.input_schema)}`,
      Boolean(t.cache_control),
    );
  }
  if (typeof body.system === 'string') push({ system: body.system }, body.system, false);
  else for (const b of body.system ?? []) push({ system: b.text }, b.text, Boolean(b.cache_control));
  body.messages.forEach((m, i) => {
    if (typeof m.content === 'string') {
      push({ m: i, role: m.role, text: m.content }, m.content, false);
      return;
    }
    for (const b of m.content) {
      const text =
        b.type === 'text'
          ? b.text
          : b.type === 'tool_use'
            ? `${b.name} ${JSON.stringify(b.input)}`
            : typeof b.content === 'string'
              ? b.content
              : (b.content ?? []).map((c) => c.text).join('\n');
      push({ m: i, role: m.role, b: { ...b, cache_control: undefined } }, text, Boolean(b.cache_control));
    }
  });
  return units;
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

// ---------------------------------------------------------------------------------------------
// Scripted replies and faults

export type FakeReply =
  | { text: string; stopReason?: 'end_turn' | 'max_tokens' | 'stop_sequence' }
  | { toolUses: { name: string; input: unknown }[]; text?: string }
  | { refusal: true; text?: string }
  | { error: { status: number; type: string; message: string; retryAfter?: number } }
  /** SSE only: send `afterText` as deltas, then `event: error` (a 200 that fails mid-stream). */
  | { streamError: { type?: string; message?: string }; afterText?: string };

export type Responder = (req: LoggedRequest) => FakeReply | undefined;

export interface Fault {
  /** Answer with this HTTP status (429, 529, 500, ...) and the matching error type. */
  status?: number;
  /** How many requests this fault applies to (default 1). */
  times?: number;
  /** Extra delay before answering. */
  latencyMs?: number;
  /** Seconds, sent as `retry-after` (with `status`). */
  retryAfter?: number;
  /** Destroy the socket without any response. */
  drop?: boolean;
  /** SSE only: send this many content deltas, then `event: error` overloaded_error. */
  streamErrorAfterChunks?: number;
}

export interface LoggedRequest {
  requestId: string;
  at: Date;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The validated body (null when auth or validation failed). */
  body: MessagesRequest | null;
  raw: unknown;
  stream: boolean;
  status: number;
  usage: Usage | null;
  /** Every text of the request in cache order (tools, system, messages), joined: for assertions. */
  promptText: string;
  /** The text of the last user message only. */
  userText: string;
  systemText: string;
}

export interface FakeAnthropicOptions {
  /** Accepted key (default `sk-ant-test`). */
  apiKey?: string;
  /** Delay before every answer. */
  latencyMs?: number;
  /** Delay between SSE events, so streaming is observable. */
  chunkDelayMs?: number;
  /** Characters per text delta in SSE (default 24). */
  chunkChars?: number;
  /** Called when the reply queue is empty; undefined = the default reply. */
  respond?: Responder;
  /** Prefixes shorter than this are not cached, as on the real API (default: the model's minimum, see cacheMinimum). */
  minCacheableTokens?: number;
  /** Model ids the API serves; any other answers 404 not_found_error (default: CURRENT_MODELS). */
  models?: string[];
}

/**
 * The models the fake serves (the API's list on 2026-11-30: claude-sonnet-4-5 reached end of life
 * that day and is gone). A request for anything else gets the API's 404 not_found_error.
 */
export const CURRENT_MODELS = [
  'claude-sonnet-5-5',
  'claude-opus-5-5',
  'claude-haiku-5-5',
  'claude-sonnet-4-6',
  'claude-opus-4-6',
  'claude-opus-4-5',
  'claude-haiku-4-5',
];

/** The API's minimum cacheable prefix per model family (prompt-caching guide). */
export function cacheMinimum(model: string): number {
  if (/^claude-(opus|fable|mythos)-5/.test(model)) return 512;
  if (/^claude-(haiku-4-5|opus-4-5|opus-4-6|opus-4-7)/.test(model)) return 4096;
  if (/^claude-sonnet-4-6/.test(model)) return 2048;
  if (/^claude-haiku-5/.test(model)) return 4096;
  return 1024;
}

const ERROR_TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

export class FakeAnthropic {
  readonly requests: LoggedRequest[] = [];
  private server: Server | null = null;
  private seq = 0;
  private readonly seenPrefixes = new Set<string>();
  private readonly queue: FakeReply[] = [];
  private readonly faults: (Fault & { left: number })[] = [];
  private responder: Responder | undefined;
  private readonly opts: Required<Omit<FakeAnthropicOptions, 'respond' | 'minCacheableTokens'>> & { minCacheableTokens: number | null };
  url = '';

  constructor(opts: FakeAnthropicOptions = {}) {
    this.opts = {
      apiKey: opts.apiKey ?? 'sk-ant-test',
      latencyMs: opts.latencyMs ?? 0,
      chunkDelayMs: opts.chunkDelayMs ?? 0,
      chunkChars: opts.chunkChars ?? 24,
      minCacheableTokens: opts.minCacheableTokens ?? null,
      models: opts.models ?? CURRENT_MODELS,
    };
    this.responder = opts.respond;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (err instanceof ClientGone) return;
        if (!res.headersSent) this.sendError(res, 500, 'api_error', `fake crashed: ${String(err)}`, 'req_fake_crash');
        else res.destroy();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }

  /** Queue replies, used in order before the responder/default. */
  enqueue(...replies: FakeReply[]): void {
    this.queue.push(...replies);
  }

  setResponder(fn: Responder | undefined): void {
    this.responder = fn;
  }

  /** Faults apply per HTTP request (so SDK retries consume them), in the order injected. */
  inject(fault: Fault): void {
    this.faults.push({ ...fault, left: fault.times ?? 1 });
  }

  /** Forget the log, queue and faults (the cache survives, like the real one would). */
  reset(): void {
    this.requests.length = 0;
    this.queue.length = 0;
    this.faults.length = 0;
  }

  /** Message requests that got a 200. */
  get messageRequests(): LoggedRequest[] {
    return this.requests.filter((r) => r.path === '/v1/messages');
  }

  /** Sum of usage over the log, for the benchmark. */
  totals(): Usage & { requests: number } {
    const t = { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, requests: 0 };
    for (const r of this.requests) {
      if (!r.usage) continue;
      t.requests++;
      t.input_tokens += r.usage.input_tokens;
      t.output_tokens += r.usage.output_tokens;
      t.cache_creation_input_tokens += r.usage.cache_creation_input_tokens;
      t.cache_read_input_tokens += r.usage.cache_read_input_tokens;
    }
    return t;
  }

  // -------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = `req_fake_${String(++this.seq).padStart(6, '0')}`;
    const url = new URL(req.url ?? '/', 'http://fake');
    const rawText = await readBody(req);
    const entry: LoggedRequest = {
      requestId,
      at: new Date(),
      method: req.method ?? 'GET',
      path: url.pathname,
      headers: req.headers,
      body: null,
      raw: null,
      stream: false,
      status: 0,
      usage: null,
      promptText: '',
      userText: '',
      systemText: '',
    };
    this.requests.push(entry);
    const fail = (status: number, type: string, message: string, extra: Record<string, string> = {}) => {
      entry.status = status;
      this.sendError(res, status, type, message, requestId, extra);
    };

    // Auth before anything else, as the API does.
    const key = headerValue(req.headers['x-api-key']) ?? /^Bearer\s+(.+)$/i.exec(headerValue(req.headers.authorization) ?? '')?.[1];
    if (!key) return fail(401, 'authentication_error', 'x-api-key header is required');
    if (key !== this.opts.apiKey) return fail(401, 'authentication_error', 'invalid x-api-key');

    if (req.method === 'GET' && url.pathname === '/v1/models') {
      entry.status = 200;
      const data = this.opts.models.map((id) => ({ type: 'model', id, display_name: id, created_at: '2025-09-29T00:00:00Z' }));
      return sendJson(res, 200, { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null }, requestId);
    }
    if (url.pathname !== '/v1/messages') return fail(404, 'not_found_error', `Not found: ${req.method} ${url.pathname}`);
    if (req.method !== 'POST') return fail(405, 'invalid_request_error', `Method ${req.method} not allowed`);

    const version = headerValue(req.headers['anthropic-version']);
    if (!version) return fail(400, 'invalid_request_error', 'anthropic-version: header is required');
    if (!/^\d{4}-\d{2}-\d{2}$/.test(version)) return fail(400, 'invalid_request_error', `anthropic-version: invalid version ${version}`);

    let json: unknown;
    try {
      json = JSON.parse(rawText);
    } catch {
      return fail(400, 'invalid_request_error', 'request body is not valid JSON');
    }
    entry.raw = json;
    const parsed = MessagesRequestSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const where = issue.path.map(String).join('.');
      return fail(400, 'invalid_request_error', `${where ? `${where}: ` : ''}${issue.message}`);
    }
    const body = parsed.data;
    entry.body = body;
    // The API's answer for a model it does not serve (unknown, misspelt or retired).
    if (!this.opts.models.includes(body.model)) return fail(404, 'not_found_error', `model: ${body.model}`);
    entry.stream = body.stream === true;
    const units = linearize(body);
    entry.promptText = units.map((u) => u.text).join('\n');
    entry.systemText = typeof body.system === 'string' ? body.system : (body.system ?? []).map((b) => b.text).join('\n');
    const lastUser = [...body.messages].reverse().find((m) => m.role === 'user');
    entry.userText = !lastUser
      ? ''
      : typeof lastUser.content === 'string'
        ? lastUser.content
        : lastUser.content.map((b) => (b.type === 'text' ? b.text : '')).join('\n');

    // Faults, then latency.
    const fault = this.takeFault(entry.stream);
    const delay = this.opts.latencyMs + (fault?.latencyMs ?? 0);
    if (delay > 0) await sleepUnlessGone(delay, res);
    if (res.destroyed) {
      entry.status = -1;
      return;
    }
    if (fault?.drop) {
      entry.status = -1;
      res.socket?.destroy();
      return;
    }
    if (fault?.status) {
      const type = ERROR_TYPE_BY_STATUS[fault.status] ?? 'api_error';
      const extra: Record<string, string> = fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {};
      return fail(fault.status, type, type === 'overloaded_error' ? 'Overloaded' : `Injected ${fault.status}`, extra);
    }

    const reply = this.queue.shift() ?? this.responder?.(entry) ?? defaultReply(entry);
    if ('error' in reply) {
      const extra: Record<string, string> = reply.error.retryAfter !== undefined ? { 'retry-after': String(reply.error.retryAfter) } : {};
      return fail(reply.error.status, reply.error.type, reply.error.message, extra);
    }

    const usage = this.account(body, units);
    const content = buildContent(reply, requestId);
    const outputText = content.map((c) => (c.type === 'text' ? c.text : JSON.stringify(c.input))).join('');
    usage.output_tokens = Math.max(1, estimateTokens(outputText));
    entry.usage = usage;
    entry.status = 200;
    const stopReason =
      'refusal' in reply
        ? 'refusal'
        : 'toolUses' in reply && reply.toolUses.length
          ? 'tool_use'
          : 'stopReason' in reply && reply.stopReason
            ? reply.stopReason
            : 'end_turn';
    const message = {
      id: `msg_fake_${String(this.seq).padStart(6, '0')}`,
      type: 'message',
      role: 'assistant',
      model: body.model,
      content,
      stop_reason: stopReason,
      stop_sequence: null,
      usage,
    };

    if (!entry.stream) return sendJson(res, 200, message, requestId);
    const errorAfter =
      'streamError' in reply
        ? { after: Infinity, error: reply.streamError }
        : fault?.streamErrorAfterChunks !== undefined
          ? { after: fault.streamErrorAfterChunks, error: {} }
          : null;
    await this.streamMessage(res, message, requestId, errorAfter);
  }

  private takeFault(stream: boolean): Fault | null {
    const i = this.faults.findIndex((f) => f.left > 0 && (f.streamErrorAfterChunks === undefined || stream));
    if (i < 0) return null;
    const f = this.faults[i]!;
    f.left--;
    if (f.left <= 0) this.faults.splice(i, 1);
    return f;
  }

  /** Cache accounting: the longest already-seen breakpoint prefix is read; the rest up to the last breakpoint is written. */
  private account(body: MessagesRequest, units: PromptUnit[]): Usage {
    const total = units.reduce((s, u) => s + u.tokens, 0);
    const breakpoints = units.flatMap((u, i) => (u.cached ? [i] : []));
    const usage: Usage = { input_tokens: total, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    if (!breakpoints.length) return usage;
    const prefixTokens = (end: number) => units.slice(0, end + 1).reduce((s, u) => s + u.tokens, 0);
    const prefixHash = (end: number) =>
      createHash('sha256')
        .update(JSON.stringify([body.model, units.slice(0, end + 1).map((u) => u.key)]))
        .digest('hex');
    const minimum = this.opts.minCacheableTokens ?? cacheMinimum(body.model);
    const cacheable = breakpoints.filter((end) => prefixTokens(end) >= minimum);
    if (!cacheable.length) return usage;
    let read = 0;
    for (const end of cacheable) if (this.seenPrefixes.has(prefixHash(end))) read = prefixTokens(end);
    const last = cacheable[cacheable.length - 1]!;
    const written = prefixTokens(last) - read;
    for (const end of cacheable) this.seenPrefixes.add(prefixHash(end));
    usage.cache_read_input_tokens = read;
    usage.cache_creation_input_tokens = written;
    usage.input_tokens = total - read - written;
    return usage;
  }

  private async streamMessage(
    res: ServerResponse,
    message: { content: ContentOut[]; usage: Usage; stop_reason: string } & Record<string, unknown>,
    requestId: string,
    errorAfter: { after: number; error: { type?: string; message?: string } } | null,
  ): Promise<void> {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'request-id': requestId, connection: 'keep-alive' });
    // Stop writing as soon as the client goes away (an aborted or timed-out stream).
    let gone = false;
    res.on('close', () => {
      gone = true;
    });
    const send = async (event: string, data: unknown) => {
      if (gone) throw new ClientGone();
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      if (this.opts.chunkDelayMs > 0) await sleep(this.opts.chunkDelayMs);
    };
    const { usage } = message;
    await send('message_start', {
      type: 'message_start',
      message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } },
    });
    let deltas = 0;
    const errorNow = async (): Promise<boolean> => {
      if (!errorAfter || deltas < errorAfter.after) return false;
      await send('error', { type: 'error', error: { type: errorAfter.error.type ?? 'overloaded_error', message: errorAfter.error.message ?? 'Overloaded' } });
      res.end();
      return true;
    };
    let index = 0;
    for (const block of message.content) {
      if (block.type === 'text') {
        await send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
        if (index === 0) await send('ping', { type: 'ping' });
        for (const piece of chunk(block.text, this.opts.chunkChars)) {
          if (await errorNow()) return;
          await send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } });
          deltas++;
        }
      } else {
        await send('content_block_start', {
          type: 'content_block_start',
          index,
          content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
        });
        if (index === 0) await send('ping', { type: 'ping' });
        for (const piece of chunk(JSON.stringify(block.input), this.opts.chunkChars)) {
          if (await errorNow()) return;
          await send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece } });
          deltas++;
        }
      }
      await send('content_block_stop', { type: 'content_block_stop', index });
      index++;
    }
    // A scripted `streamError` with no text still fails: after the last delta, before message_delta.
    if (errorAfter) {
      errorAfter.after = Math.min(errorAfter.after, deltas);
      if (await errorNow()) return;
    }
    await send('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: message.stop_reason, stop_sequence: null },
      usage: { output_tokens: usage.output_tokens },
    });
    await send('message_stop', { type: 'message_stop' });
    res.end();
  }

  private sendError(res: ServerResponse, status: number, type: string, message: string, requestId: string, extra: Record<string, string> = {}): void {
    sendJson(res, status, { type: 'error', error: { type, message }, request_id: requestId }, requestId, extra);
  }
}

class ClientGone extends Error {}

type ContentOut = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: unknown };

function buildContent(reply: Exclude<FakeReply, { error: unknown }>, requestId: string): ContentOut[] {
  if ('toolUses' in reply) {
    const out: ContentOut[] = [];
    if (reply.text) out.push({ type: 'text', text: reply.text });
    reply.toolUses.forEach((t, i) => out.push({ type: 'tool_use', id: `toolu_fake_${requestId.slice(-6)}_${i}`, name: t.name, input: t.input }));
    return out;
  }
  if ('refusal' in reply) return reply.text ? [{ type: 'text', text: reply.text }] : [];
  if ('streamError' in reply) return reply.afterText ? [{ type: 'text', text: reply.afterText }] : [];
  return [{ type: 'text', text: reply.text }];
}

const POSTMORTEM_HEADINGS = ['Summary', 'Root Cause', 'Trigger', 'Impact', 'Timeline', 'Resolution', 'Prevention'];

/**
 * Deterministic text derived from the prompt, so end-to-end tests work without scripting: it names
 * the incident title (from a `Title:` line) and the number of transcript lines, and answers a
 * post-mortem request with the seven headings. It never calls a tool.
 */
export function defaultReply(req: LoggedRequest): FakeReply {
  const text = req.userText;
  const title = /^Title:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? 'the incident';
  const transcript = /<transcript>\n([\s\S]*?)<\/transcript>/.exec(text)?.[1] ?? '';
  const lines = transcript.split('\n').filter((l) => /^\[[^\]]+\] @/.test(l)).length;
  if (POSTMORTEM_HEADINGS.every((h) => text.includes(`## ${h}`))) {
    return {
      text: POSTMORTEM_HEADINGS.map((h) => `## ${h}\n${h} of "${title}" (fake draft from ${lines} transcript lines).`).join('\n\n'),
    };
  }
  return {
    text: `*Status*: "${title}" is being handled. This is a deterministic summary from the fake Claude, based on ${lines} transcript lines. *Next steps*: keep the channel updated.`,
  };
}

// ---------------------------------------------------------------------------------------------

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, body: unknown, requestId: string, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'request-id': requestId, ...extra });
  res.end(text);
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function chunk(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** A delay that ends early when the client disconnects, so a closed fake leaves no timers behind. */
function sleepUnlessGone(ms: number, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      res.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    res.on('close', done);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Start a fake on 127.0.0.1:0; close it in `after()`. */
export async function startFakeAnthropic(opts: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  return new FakeAnthropic(opts).start();
}
