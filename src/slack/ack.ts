import { afterHandOver } from '../services/steps.js';

/**
 * Yield after an ack so that other requests already waiting in this event-loop turn get acked
 * before this one's follow-up work (store reads, Slack calls) runs. Promise continuations after
 * `ack()` would otherwise run first, ahead of every queued request: under a burst of clicks the
 * later ones would wait behind earlier ones' work. The delay is one loop turn.
 *
 * Not for a request the HTTP receiver acked before Bolt saw it (`ackedEarly` in Bolt's context,
 * slack/bolt.ts): that one already reached its listener a turn after its ack, behind the acks
 * queued with it (`afterAcks`), and a second turn would only delay the work (a declaration's
 * channel) by another loop turn.
 */
export function afterAck(context?: Record<string, unknown>): Promise<void> {
  if (context?.ackedEarly === true) return Promise.resolve();
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Wait, before a person's reply, until the work the request started in this process (the declare
 * flow, which starts at once) has its first Slack call on the wire: the reply is read by one
 * person, the channel is what every responder waits for. The flow's SQLite reads and writes do not
 * leave the turn, so it hands its first call over within it; undici writes that call in the turn's
 * check phase (`afterHandOver`), and a reply started before then would go ahead of it.
 */
export const beforeReply: () => Promise<void> = afterHandOver;

/**
 * When the ack of a request whose work starts before its ack (a declaration, slack/bolt.ts) is
 * written: once the work's first Slack call is on the wire (undici writes it in the turn's check
 * phase, `afterHandOver`), and no later than the loop turn after, whatever the work is waiting for
 * (a store on the network, a similar incident found and no call at all).
 */
export const ackAfterFirstCall: () => Promise<void> = afterHandOver;

/**
 * Start work that follows an ack, one item per event-loop turn: between two items the loop reads
 * the requests that arrived meanwhile and acks them, so a burst of clicks is acked first and worked
 * off after. (One setImmediate per item would run every queued item's work back to back in one
 * turn.) Used for clicks, commands and the declare modal, acked before Bolt sees them (slack/bolt.ts).
 *
 * While a burst is still arriving (a Slack request came in during the last loop turn: `noteArrival`),
 * no item starts: one item is a millisecond or two of work that does not yield (store reads, rendering,
 * handing a Slack call over), and every request arriving meanwhile would wait that long for its ack.
 * Items start once a turn passes with no new request, or when the oldest has waited `MAX_DEFER_MS`,
 * so a steady stream of requests cannot hold the work back for longer than that. A lone request
 * (a declaration) starts in the turn of its ack, as before.
 */
const MAX_DEFER_MS = 20;
let arrivals = 0;

/** A Slack request reached the bot (counted before its ack; see `afterAcks`). */
export function noteArrival(): void {
  arrivals++;
}

export const afterAcks: (run: () => void) => void = (() => {
  const queue: { run: () => void; at: number }[] = [];
  let scheduled = false;
  let seen = 0;
  const next = (): void => {
    const oldest = queue[0];
    if (oldest && arrivals !== seen && performance.now() - oldest.at < MAX_DEFER_MS) {
      seen = arrivals;
      setImmediate(next);
      return;
    }
    seen = arrivals;
    const item = queue.shift();
    if (queue.length) setImmediate(next);
    else scheduled = false;
    item?.run();
  };
  return (run) => {
    queue.push({ run, at: performance.now() });
    if (!scheduled) {
      scheduled = true;
      seen = arrivals;
      setImmediate(next);
    }
  };
})();
