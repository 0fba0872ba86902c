/**
 * Coded errors. Every error a user can see is an `AppError` with a code; `userMessage()` is the one
 * place that turns a code into words for Slack. Anything else is unexpected: it is logged with an
 * error id the user can quote.
 */
export type ErrorCode =
  | 'input.invalid'
  | 'input.unknown_severity'
  | 'input.unknown_command'
  | 'incident.not_found'
  | 'incident.not_in_channel'
  | 'incident.bad_transition'
  | 'action.unknown'
  | 'action.invalid_params'
  | 'action.already_proposed'
  | 'approval.not_found'
  | 'approval.not_pending'
  | 'approval.expired'
  | 'approval.not_allowed'
  | 'approval.self_approval'
  | 'approval.already_voted'
  | 'role.not_allowed'
  | 'backend.validation'
  | 'backend.auth'
  | 'backend.not_found'
  | 'backend.rate_limited'
  | 'backend.unavailable'
  | 'backend.unsupported'
  | 'chat.error'
  | 'executor.failed'
  | 'config.invalid'
  | 'store.in_use'
  | 'runbook.already_running'
  | 'runbook.not_applicable'
  | 'agent.forbidden'
  | 'agent.rate_limited';

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly detail: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, detail: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
    this.detail = detail;
  }
}

export class BackendError extends AppError {
  readonly status: number | null;
  readonly field: string | null;
  readonly retryAfterMs: number | null;
  /**
   * The request may have been carried out although we saw no answer (a 5xx, a timeout, a
   * connection lost after sending). A caller must not repeat a non-idempotent write blindly.
   */
  readonly outcomeUnknown: boolean;
  constructor(
    code: Extract<ErrorCode, `backend.${string}`>,
    message: string,
    opts: { status?: number | null; field?: string | null; retryAfterMs?: number | null; backend?: string; cause?: unknown; outcomeUnknown?: boolean } = {},
  ) {
    super(code, message, { backend: opts.backend, status: opts.status, field: opts.field }, { cause: opts.cause });
    this.name = 'BackendError';
    this.status = opts.status ?? null;
    this.field = opts.field ?? null;
    this.retryAfterMs = opts.retryAfterMs ?? null;
    this.outcomeUnknown = opts.outcomeUnknown ?? code === 'backend.unavailable';
  }
}

export class ChatError extends AppError {
  readonly slackError: string;
  readonly retryAfterMs: number | null;
  constructor(slackError: string, message?: string, opts: { retryAfterMs?: number | null; cause?: unknown; detail?: Record<string, unknown> } = {}) {
    super('chat.error', message ?? `Slack refused the call: ${slackError}`, { ...opts.detail, slackError }, { cause: opts.cause });
    this.name = 'ChatError';
    this.slackError = slackError;
    this.retryAfterMs = opts.retryAfterMs ?? null;
  }
}

/** A modal whose trigger_id was too old to send (the adapter's `trigger_not_sent`) or Slack refused as expired. */
const FORM_TOO_LATE = new Set(['trigger_not_sent', 'expired_trigger_id']);

/** The words a Slack user sees for an error. `errorId` is quoted for unexpected failures. */
export function userMessage(err: unknown, errorId?: string): string {
  if (err instanceof AppError) {
    switch (err.code) {
      case 'backend.auth':
        return `:warning: The incident backend refused our credentials (${String(err.detail.backend ?? 'backend')}). Check ROOTLY_API_KEY / INCIDENTIO_API_KEY and its scope.`;
      case 'backend.validation':
        return `:warning: The incident backend rejected the request${err instanceof BackendError && err.field ? ` (field \`${err.field}\`)` : ''}: ${err.message}`;
      case 'backend.rate_limited':
      case 'backend.unavailable':
        return `:hourglass: The incident backend is not answering right now (${err.message}). Firebreak keeps the record and will retry.`;
      case 'role.not_allowed':
      case 'runbook.not_applicable':
        return `:no_entry: ${err.message}`;
      case 'chat.error':
        if (err instanceof ChatError && FORM_TOO_LATE.has(err.slackError))
          return ':hourglass: The form could not open: Slack is busy right now. Please click again (or run the command again).';
        return `:warning: Slack refused a call: ${err.message}`;
      default:
        return `:warning: ${err.message}`;
    }
  }
  return `:boom: Something went wrong on our side${errorId ? ` (error id \`${errorId}\`)` : ''}. The team can find it in the logs.`;
}
