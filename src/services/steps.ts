import type { Block } from '../ports/chat.js';
import type { Deps } from './deps.js';

/**
 * Resumable steps ("if not done, do it"), in the manner of Dispatch's incident_create_resources.
 * A step's result is recorded in the store once it succeeds.
 */
export async function step<T>(deps: Deps, flowId: string, name: string, run: () => Promise<T>): Promise<T> {
  const done = await deps.store.getStep<T>(flowId, name);
  if (done !== undefined) return done;
  const result = await run();
  return recorded(deps, flowId, name, await deps.store.putStep(flowId, name, result));
}

function recorded<T>(deps: Deps, flowId: string, name: string, result: T): T {
  deps.stepSignals.recorded(flowId, name);
  return result;
}

/**
 * In-process news of recorded steps, so that work which must come after a step (the brief after
 * the card) can be prepared beforehand and go the moment the step is recorded, instead of being
 * started by it. Only this process's records are heard: `waitForStep` looks in the store first,
 * so a step recorded by an earlier run or another replica is found there; one recorded elsewhere
 * while it waits is not heard, and the wait ends at its timeout.
 */
export class StepSignals {
  private readonly waiters = new Map<string, Set<() => void>>();

  recorded(flowId: string, name: string): void {
    const key = `${flowId}\u0000${name}`;
    const ws = this.waiters.get(key);
    if (!ws) return;
    this.waiters.delete(key);
    for (const w of ws) w();
  }

  /** Resolves true when the step is recorded in this process, false after `ms`; `cancel` stops waiting. */
  listen(flowId: string, name: string, ms: number): { heard: Promise<boolean>; cancel(): void } {
    const key = `${flowId}\u0000${name}`;
    const set = this.waiters.get(key) ?? new Set<() => void>();
    this.waiters.set(key, set);
    let done!: (v: boolean) => void;
    const heard = new Promise<boolean>((resolve) => (done = resolve));
    const timer = setTimeout(() => finish(false), ms);
    const finish = (v: boolean) => {
      clearTimeout(timer);
      set.delete(wake);
      if (!set.size && this.waiters.get(key) === set) this.waiters.delete(key);
      done(v);
    };
    const wake = () => finish(true);
    set.add(wake);
    return { heard, cancel: () => finish(false) };
  }
}

/** Whether step `name` of `flowId` is recorded, waiting up to `ms` for this process to record it. */
export async function waitForStep(deps: Deps, flowId: string, name: string, ms: number): Promise<boolean> {
  // Listen before looking, so a record landing between the look and the wait is not missed.
  const l = deps.stepSignals.listen(flowId, name, ms);
  if ((await deps.store.getStep(flowId, name)) !== undefined) {
    l.cancel();
    return true;
  }
  return l.heard;
}

/**
 * A step whose effect the vendor cannot deduplicate (a Slack post, a bookmark): an intent is
 * recorded before the call. A run that finds an intent without a result did not see how the last
 * try ended (a crash, a lost answer), so it first looks for the effect with `find` and adopts it.
 */
export async function stepWithIntent<T>(
  deps: Deps,
  flowId: string,
  name: string,
  opts: { find: (intent: { oldest: string }) => Promise<T | undefined>; run: () => Promise<T> },
): Promise<T> {
  const done = await deps.store.getStep<T>(flowId, name);
  if (done !== undefined && done !== null) return done;
  const intent = await deps.store.getStep<{ oldest: string }>(flowId, `${name}.intent`);
  if (intent) {
    const found = await opts.find(intent);
    if (found !== undefined) return recorded(deps, flowId, name, await deps.store.putStep(flowId, name, found));
  } else {
    // A minute of slack before now: the clocks of this host and Slack's need not agree exactly.
    const oldest = ((deps.clock.now().getTime() - 60_000) / 1000).toFixed(6);
    await deps.store.putStep(flowId, `${name}.intent`, { oldest });
  }
  return recorded(deps, flowId, name, await deps.store.putStep(flowId, name, await opts.run()));
}

/**
 * Post a message exactly once per (flow, step), even across a crash or a lost answer between the
 * post and its record: the message carries `marker` as a block_id and is looked for in the channel
 * (or the thread) before posting again.
 */
export async function postOnce(
  deps: Deps,
  flowId: string,
  name: string,
  channelId: string,
  marker: string,
  render: () => { text: string; blocks: Block[] },
  opts: { threadTs?: string } = {},
): Promise<{ ts: string }> {
  return stepWithIntent(deps, flowId, name, {
    find: async (intent) => {
      const messages = opts.threadTs
        ? await deps.chat.replies(channelId, opts.threadTs)
        : await deps.chat.history(channelId, { oldest: intent.oldest, limit: 200 });
      const found = messages.find((m) => m.blockIds?.includes(marker));
      return found ? { ts: found.ts } : undefined;
    },
    run: async () => {
      const { text, blocks } = render();
      const posted = await deps.chat.post(channelId, text, blocks, opts.threadTs ? { threadTs: opts.threadTs } : undefined);
      return { ts: posted.ts };
    },
  });
}
