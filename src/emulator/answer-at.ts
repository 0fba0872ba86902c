/**
 * Run `fn` at `deadline` (performance.now() ms), not before, and as close after it as the event
 * loop allows. The emulator and the fakes answer each call `latencyMs` after it arrived. A plain
 * setTimeout for the rest of the wait fired 0.6 ms before the deadline at the median and up to
 * 1.7 ms before (Node measures timers against a loop clock of whole milliseconds, read at the
 * start of the loop turn): the fakes answered early, and a benchmark counting in units of that
 * latency credited the bot with time the vendor never gave it. So the timer is set to wake a
 * little early and the last stretch is waited for one loop turn at a time (`setImmediate`, which
 * lets other requests and answers go meanwhile): measured, 0.004 ms after the deadline at the
 * median, never before (test/emulator/answer-at.test.ts checks that it never runs early).
 */
export function answerAt(deadline: number, fn: () => void): void {
  const wait = deadline - performance.now();
  if (wait <= 0) {
    fn();
    return;
  }
  if (wait > EARLY_MS) setTimeout(() => answerAt(deadline, fn), wait - EARLY_MS);
  else setImmediate(() => answerAt(deadline, fn));
}

/** How early the timer wakes: more than its error either way (whole milliseconds of the loop's clock, a busy loop's lag). */
const EARLY_MS = 3;
