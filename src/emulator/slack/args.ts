import { z } from 'zod';
import type { WorkspaceState } from './state.js';

/**
 * What every method handler gets and gives back, and the zod helpers that read Web API arguments.
 *
 * Arguments arrive either form-encoded (every value a string; @slack/web-api JSON-stringifies
 * arrays and objects) or as JSON (native types). The helpers accept both spellings, so a handler's
 * schema reads the same for either transport.
 */

/** A Slack error answer: HTTP 200 `{ ok:false, error, ...extra }`. */
export class SlackApiError extends Error {
  constructor(
    readonly error: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(error);
    this.name = 'SlackApiError';
  }
}

/** `invalid_blocks` / `invalid_arguments` carry Slack's problem list in response_metadata.messages. */
export function errorWithMessages(error: string, messages: string[]): SlackApiError {
  return new SlackApiError(error, { errors: messages, response_metadata: { messages } });
}

export interface MethodContext {
  state: WorkspaceState;
  args: Record<string, unknown>;
  /** The user the token belongs to (the bot user for the bot token). */
  actor: string;
  isBot: boolean;
  /** The token's granted scopes (bot token only; empty for user tokens). */
  scopes: ReadonlySet<string>;
  /** The emulator's base URL, for permalinks and response URLs. */
  baseUrl: string;
}

export type MethodResult = Record<string, unknown>;
export type MethodHandler = (ctx: MethodContext) => MethodResult | Promise<MethodResult>;

// -- zod helpers for both transports ---------------------------------------------------------------

export const zBool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', ''])]).transform((v) => v === true || v === 'true' || v === '1');

export const zInt = z.union([z.number(), z.string().regex(/^-?\d+$/)]).transform((v) => Number(v));

/** A JSON argument (blocks, view, attachments): a native value or its JSON string. */
export function zJson<T extends z.ZodType>(inner: T) {
  return z.preprocess((v) => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      return v; // left as a string so `inner` rejects it with a clear message
    }
  }, inner);
}

export const zTs = z.string().regex(/^\d+(\.\d+)?$/, 'must be a Slack timestamp');

/** A comma-separated list (users=U1,U2) or an array. */
export const zCsv = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean));

/**
 * Parse a handler's arguments; a failure is Slack's `invalid_arguments` with one message per
 * problem (`[ERROR] missing required field: channel`).
 */
export function parseArgs<T extends z.ZodType>(schema: T, args: Record<string, unknown>): z.output<T> {
  const r = schema.safeParse(args);
  if (r.success) return r.data;
  const messages = r.error.issues.map((i) => {
    const path = i.path.map(String).join('/');
    const missing = i.code === 'invalid_type' && args[String(i.path[0])] === undefined;
    return missing ? `[ERROR] missing required field: ${path}` : `[ERROR] ${i.message} [json-pointer:/${path}]`;
  });
  throw errorWithMessages('invalid_arguments', messages);
}

export function channelOrThrow(ctx: MethodContext, id: string | undefined) {
  const ch = id ? ctx.state.channel(id) : undefined;
  if (!ch) throw new SlackApiError('channel_not_found');
  return ch;
}
