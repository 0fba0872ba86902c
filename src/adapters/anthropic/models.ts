/**
 * What Firebreak knows about Claude models: the default, end-of-life dates and the prompt-cache
 * minimum. Sources: Anthropic's model deprecations page (the SDK ships the same end-of-life list
 * and prints it with console.warn; we log it through pino instead) and the prompt-caching guide
 * ("minimum cacheable prompt length"). Pure data and functions, no I/O.
 */
export const DEFAULT_MODEL = 'claude-sonnet-5-5';

/** Model id → end-of-life date (UTC, inclusive: the model is gone from that day). */
export const MODEL_END_OF_LIFE: Readonly<Record<string, string>> = {
  'claude-mythos-preview': '2026-06-30',
  'claude-sonnet-4-5': '2026-11-30',
  'claude-sonnet-4-5-20250929': '2026-11-30',
  'claude-opus-4-5': '2027-01-22',
  'claude-opus-4-5-20251101': '2027-01-22',
};

/** A warning sentence naming ANTHROPIC_MODEL when the model is deprecated or past end of life; else null. */
export function modelLifecycleWarning(model: string, now: Date): string | null {
  const eol = MODEL_END_OF_LIFE[model];
  if (!eol) return null;
  const today = now.toISOString().slice(0, 10);
  if (today >= eol)
    return `ANTHROPIC_MODEL=${model} reached end of life on ${eol}; Claude calls will fail and the plain summary is used. Set ANTHROPIC_MODEL to a current model (default ${DEFAULT_MODEL}).`;
  return `ANTHROPIC_MODEL=${model} is deprecated and reaches end of life on ${eol}. Set ANTHROPIC_MODEL to a current model (default ${DEFAULT_MODEL}).`;
}

/**
 * The shortest prefix (tokens) the API caches for a model. A `cache_control` breakpoint on a
 * shorter prefix is accepted and silently not cached. Unknown models get the largest known
 * minimum, so Firebreak never assumes a cache that may not exist.
 */
export function minCacheableTokens(model: string): number {
  const m = model.toLowerCase();
  if (/^claude-(opus|fable|mythos)-5/.test(m)) return 512;
  if (/^claude-(haiku-4-5|opus-4-5|opus-4-6|opus-4-7)/.test(m)) return 4096;
  if (/^claude-sonnet-4-6/.test(m)) return 2048;
  if (/^claude-(sonnet-5|sonnet-4|opus-4-8|opus-4-1|opus-4)/.test(m)) return 1024;
  if (/^claude-3-(5-)?haiku|^claude-haiku-3/.test(m)) return 2048;
  return 4096;
}

/** Firebreak's token estimate (about four characters a token), as used for the transcript budget. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * Whether a prefix of this many estimated tokens is worth a cache breakpoint: only when it clears
 * the model's minimum with a 15 % margin for the difference between the estimate and the tokenizer.
 */
export function worthCaching(model: string, estimatedTokens: number): boolean {
  return estimatedTokens >= Math.ceil(minCacheableTokens(model) * 1.15);
}
