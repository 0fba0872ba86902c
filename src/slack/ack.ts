/**
 * Yield after an ack so that other requests already waiting in this event-loop turn get acked
 * before this one's follow-up work (store reads, Slack calls) runs. Promise continuations after
 * `ack()` would otherwise run first, ahead of every queued request: under a burst of clicks the
 * later ones would wait behind earlier ones' work. The delay is one loop turn.
 */
export function afterAck(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
