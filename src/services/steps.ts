import type { Block } from '../ports/chat.js';
import type { Deps } from './deps.js';

/**
 * Resumable steps ("if not done, do it"), in the manner of Dispatch's incident_create_resources.
 * A step's result is recorded in the store once it succeeds. Side effects that cannot be made
 * idempotent at the vendor (a Slack post) first record an intent; a resumed run that finds an
 * intent without a result looks for the effect (our marker in the channel) before doing it again.
 */
export async function step<T>(deps: Deps, flowId: string, name: string, run: () => Promise<T>): Promise<T> {
  const done = await deps.store.getStep<T>(flowId, name);
  if (done !== undefined) return done;
  const result = await run();
  return deps.store.putStep(flowId, name, result);
}

/** Post a message exactly once per (flow, step), even across a crash between the post and its record. */
export async function postOnce(
  deps: Deps,
  flowId: string,
  name: string,
  channelId: string,
  marker: string,
  render: () => { text: string; blocks: Block[] },
): Promise<{ ts: string }> {
  const done = await deps.store.getStep<{ ts: string }>(flowId, name);
  if (done) return done;
  const intent = await deps.store.getStep<{ oldest: string }>(flowId, `${name}.intent`);
  if (intent) {
    const history = await deps.chat.history(channelId, { oldest: intent.oldest, limit: 200 });
    const found = history.find((m) => m.blockIds?.includes(marker));
    if (found) return deps.store.putStep(flowId, name, { ts: found.ts });
  } else {
    const oldest = ((deps.clock.now().getTime() - 60_000) / 1000).toFixed(6);
    await deps.store.putStep(flowId, `${name}.intent`, { oldest });
  }
  const { text, blocks } = render();
  const posted = await deps.chat.post(channelId, text, blocks);
  return deps.store.putStep(flowId, name, { ts: posted.ts });
}
