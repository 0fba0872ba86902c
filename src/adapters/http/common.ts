import type { Dispatcher } from 'undici';
import { BackendError } from '../../errors.js';
import type { TransportError } from './client.js';
import type { RateLimiter } from './token-bucket.js';
import type { RetryPolicyOptions } from './retry.js';

/** The slice of a pino logger the adapters use (pino's Logger satisfies it). */
export interface AdapterLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export const silentLogger: AdapterLogger = { debug: () => {}, warn: () => {} };

/** What every vendor adapter takes: credentials, transport, and injected time for tests. */
export interface VendorClientOptions {
  apiKey: string;
  /** The vendor's base URL (defaults per vendor). */
  baseUrl?: string;
  logger?: AdapterLogger;
  dispatcher?: Dispatcher;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  random?: () => number;
  timeoutMs?: number;
  retry?: Partial<RetryPolicyOptions>;
  /** Client-side budget; default just under the vendor's published limits. `null` disables. */
  limiter?: RateLimiter | null;
  /** Page size for list calls (the vendor's default applies when omitted). */
  pageSize?: number;
}

/**
 * Durable "create attempted / done" marks for an incident create, so a retry after a crash or a lost
 * response finds the incident instead of making a second one. The caller passes the store's flow
 * steps: `{ get: (k) => store.getStep(flowId, k), put: (k, v) => store.putStep(flowId, k, v) }`.
 * `put` may be first-writer-wins; the adapter writes each key once.
 */
export interface CreateGuard {
  get(key: string): Promise<unknown>;
  put(key: string, value: unknown): Promise<unknown>;
}

/** A transport failure after retries, as the port's error. */
export function transportToBackendError(err: TransportError, backend: string, what: string): BackendError {
  return new BackendError(
    'backend.unavailable',
    `${backend} did not answer ${what} (${err.kind === 'timeout' ? 'timed out' : 'connection failed'} after ${err.attempts} attempt${err.attempts === 1 ? '' : 's'})`,
    { backend, cause: err, outcomeUnknown: err.sent },
  );
}
