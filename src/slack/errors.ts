import { randomUUID } from 'node:crypto';
import { AppError, userMessage } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * The one place where an error thrown by a service becomes words for a Slack user. Expected
 * errors (AppError) are shown as they are; anything else is logged with an id the user can quote.
 */
export async function reportToUser(
  logger: Logger,
  err: unknown,
  tell: (text: string) => Promise<unknown>,
  context: Record<string, unknown> = {},
): Promise<void> {
  const errorId = err instanceof AppError ? undefined : randomUUID().slice(0, 8);
  if (errorId) logger.error({ err, errorId, ...context }, 'unexpected error in a Slack handler');
  else {
    const { code, message, detail } = err as AppError;
    // The one line per refusal: what the thrower knew (`detail`) rides on it rather than on a line of its own.
    logger.info({ code, reason: message, ...(Object.keys(detail).length ? { detail } : {}), ...context }, 'request refused');
  }
  await tell(userMessage(err, errorId)).catch((e) => logger.warn({ err: e }, 'could not tell the user about an error'));
}
