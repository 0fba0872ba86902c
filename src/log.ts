import { Writable } from 'node:stream';
import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';

export type { Logger };

/** Field paths whose values never reach a log line. */
const REDACT_PATHS = [
  'token',
  '*.token',
  'botToken',
  'appToken',
  'signingSecret',
  'apiKey',
  '*.apiKey',
  'secret',
  '*.secret',
  'password',
  'authorization',
  'Authorization',
  '*.authorization',
  '*.Authorization',
  'headers.authorization',
  'headers.Authorization',
  'headers["x-api-key"]',
  'headers["x-slack-signature"]',
  'req.headers.authorization',
  'req.headers["x-slack-signature"]',
  'config.env.SLACK_BOT_TOKEN',
  'config.env.SLACK_SIGNING_SECRET',
  'config.env.SLACK_APP_TOKEN',
  'env.SLACK_BOT_TOKEN',
  'env.SLACK_SIGNING_SECRET',
  'env.SLACK_APP_TOKEN',
  'env.ROOTLY_API_KEY',
  'env.INCIDENTIO_API_KEY',
  'env.ANTHROPIC_API_KEY',
];

/** Token shapes that are scrubbed even when they appear inside free text (error messages, URLs). */
const TOKEN_PATTERNS = [/xox[abprse]-[0-9A-Za-z-]{6,}/g, /xapp-[0-9A-Za-z-]{6,}/g, /sk-ant-[0-9A-Za-z_-]{6,}/g, /whsec_[0-9A-Za-z+/=]{6,}/g];

/**
 * A stream that removes every known secret value and token-shaped string from each line before it
 * is written. Path redaction alone misses secrets embedded in messages (a URL, an error text);
 * this is the second line of defence.
 */
export function scrubbingStream(target: NodeJS.WritableStream, secrets: string[]): Writable {
  const values = [...new Set(secrets.filter((s) => s && s.length >= 6))].sort((a, b) => b.length - a.length);
  return new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      let line = chunk.toString();
      for (const v of values) if (line.includes(v)) line = line.split(v).join('[Redacted]');
      for (const re of TOKEN_PATTERNS) line = line.replace(re, '[Redacted]');
      target.write(line, cb);
    },
  });
}

export interface LoggerOptions {
  level?: string;
  /** Secret values (tokens, keys) to scrub from every line. */
  secrets?: string[];
  /** Where lines go (default stdout). Tests pass a capture stream. */
  destination?: NodeJS.WritableStream;
  /** Pretty output; default: only when stdout is a TTY and LOG_FORMAT is not json. */
  pretty?: boolean;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const dest = opts.destination ?? process.stdout;
  const wantPretty = opts.pretty ?? (dest === process.stdout && process.stdout.isTTY === true && process.env.LOG_FORMAT !== 'json');
  // pino-pretty is loaded only for a person at a terminal: a service writing JSON never pays for it.
  const sink = wantPretty
    ? (createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty'))({
        destination: 1,
        colorize: true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname',
      })
    : dest;
  return pino(
    {
      level: opts.level ?? 'info',
      base: { service: 'firebreak' },
      redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
      serializers: { err: pino.stdSerializers.err },
      hooks: {
        // pino writes a `msg` field of the merge object and the message argument as two `msg` keys
        // (invalid for most JSON readers, which keep only one): keep the message, rename the field.
        logMethod(args, method) {
          const [obj, text] = args as unknown[];
          if (typeof text === 'string' && obj && typeof obj === 'object' && !(obj instanceof Error) && 'msg' in obj) {
            const { msg, ...rest } = obj as Record<string, unknown>;
            args[0] = { ...rest, detail: msg };
          }
          return method.apply(this, args as Parameters<typeof method>);
        },
      },
    },
    scrubbingStream(sink, opts.secrets ?? []),
  );
}

/** The secret values in an environment, for `createLogger({ secrets })`. */
export function secretValues(env: Record<string, string | undefined>): string[] {
  return Object.entries(env)
    .filter(([k, v]) => v && /(TOKEN|SECRET|KEY|PASSWORD)/.test(k))
    .map(([, v]) => v as string);
}
