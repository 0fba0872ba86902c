import type { Block } from '../ports/chat.js';
import type { Deps } from './deps.js';

/**
 * Resolves once the HTTP requests handed over so far in this event-loop turn are on the wire.
 * undici writes a request on a kept-alive socket only in the loop's check phase (a setImmediate:
 * it first lets the loop read whatever the server sent on the idle socket, GHSA-35p6-xmwp-9g52),
 * so until then a request handed over waits behind all the other work of the turn: a post whose
 * answer everything waits for (the channel, the card) would leave after the store records and the
 * rendering of the posts behind it. Work that can wait awaits this first: two immediates, the
 * second queued in the check phase where undici writes, so it runs in the next turn, after them.
 */
export function afterHandOver(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/**
 * How a run of a flow reads its steps. `fresh`: this run began the flow (it created the record the
 * flow is keyed by, in this process, and started at once), so no step of it can be recorded yet:
 * a step is not looked up before it runs. Its results are still recorded (first writer wins), so a
 * retry or a run after a crash resumes as ever.
 */
export interface StepRun {
  fresh?: boolean;
}

/**
 * Resumable steps ("if not done, do it"), in the manner of Dispatch's incident_create_resources.
 * A step's result is recorded in the store once it succeeds.
 */
export async function step<T>(deps: Deps, flowId: string, name: string, run: () => Promise<T>, how: StepRun = {}): Promise<T> {
  const done = how.fresh ? undefined : await deps.store.getStep<T>(flowId, name);
  if (done !== undefined) return done;
  const result = await run();
  return deps.store.putStep(flowId, name, result);
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
  opts: {
    find: (intent: { oldest: string }) => Promise<T | undefined>;
    run: () => Promise<T>;
    /** A fresh run's intent, recorded ahead (`recordIntent`) while the run waited for something else. */
    intentRecorded?: Promise<void> | null;
  } & StepRun,
): Promise<T> {
  if (opts.fresh && opts.intentRecorded) {
    await opts.intentRecorded;
  } else {
    const done = opts.fresh ? undefined : await deps.store.getStep<T>(flowId, name);
    if (done !== undefined && done !== null) return done;
    const intent = opts.fresh ? undefined : await deps.store.getStep<{ oldest: string }>(flowId, `${name}.intent`);
    if (intent) {
      const found = await opts.find(intent);
      if (found !== undefined) return deps.store.putStep(flowId, name, found);
    } else {
      await recordIntent(deps, flowId, name);
    }
  }
  return deps.store.putStep(flowId, name, await opts.run());
}

/**
 * The intent of a step with an effect (`stepWithIntent`), recorded before its call. A fresh run
 * may record it ahead, while it waits for what the call needs (the card's, while the channel is
 * being created): the call then leaves with no store write before it. An intent recorded and never
 * followed by its call costs a resumed run one look for an effect that is not there.
 */
export async function recordIntent(deps: Deps, flowId: string, name: string): Promise<void> {
  // A minute of slack before now: the clocks of this host and Slack's need not agree exactly.
  const oldest = ((deps.clock.now().getTime() - 60_000) / 1000).toFixed(6);
  await deps.store.putStep(flowId, `${name}.intent`, { oldest });
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
  opts: { threadTs?: string; intentRecorded?: Promise<void> | null } & StepRun = {},
): Promise<{ ts: string }> {
  return stepWithIntent(deps, flowId, name, {
    fresh: opts.fresh,
    intentRecorded: opts.intentRecorded,
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
