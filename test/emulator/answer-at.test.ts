import assert from 'node:assert/strict';
import { test } from 'node:test';
import { answerAt } from '../../src/emulator/answer-at.js';

// The emulator and the fakes answer `latencyMs` after a call arrived: never earlier (a benchmark in
// units of that latency would credit the bot with time Slack did not give), whatever the wait.
test('answerAt never runs before its deadline, for waits shorter and longer than the timer wakes early, and at once for a past one', async () => {
  const waits = [0.3, 1, 1.7, 2, 2.5, 5, 13, 40];
  const early: string[] = [];
  await Promise.all(
    waits.map(
      (w) =>
        new Promise<void>((resolve) => {
          const due = performance.now() + w;
          answerAt(due, () => {
            const now = performance.now();
            if (now < due) early.push(`${w} ms: ${(due - now).toFixed(3)} ms early`);
            resolve();
          });
        }),
    ),
  );
  assert.deepEqual(early, []);
  let ran = false;
  answerAt(performance.now() - 1, () => (ran = true));
  assert.ok(ran, 'a deadline already passed runs in the same turn');
});
