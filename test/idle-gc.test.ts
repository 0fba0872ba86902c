import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createIdleGc } from '../src/idle-gc.js';

/** A fake event loop: the ms it worked and idled since the last check, and the young generation's bytes. */
function fakeLoop() {
  let active = 0;
  let idle = 0;
  let young = 0;
  return {
    utilization: (current?: EventLoopUtilization, previous?: EventLoopUtilization): EventLoopUtilization =>
      current && previous ? { idle: current.idle - previous.idle, active: current.active - previous.active, utilization: 0 } : { idle, active, utilization: 0 },
    youngBytes: () => young,
    interval(busyMs: number, youngBytes: number, elapsedMs = 100) {
      active += busyMs;
      idle += elapsedMs - busyMs;
      young = youngBytes;
    },
  };
}

test('collects the young generation only after a quiet interval, and only when there is enough to collect', () => {
  const loop = fakeLoop();
  const collected: string[] = [];
  const idle = createIdleGc({ utilization: loop.utilization, youngBytes: loop.youngBytes, gc: (o) => collected.push(o.type) });
  const after = (busyMs: number, youngBytes: number) => {
    loop.interval(busyMs, youngBytes);
    return idle.check();
  };
  assert.equal(after(40, 900_000), false, 'busy (a declaration in progress): not now');
  assert.equal(after(0.5, 900_000), true, 'quiet, with the burst’s garbage: collect');
  assert.equal(after(0.5, 10_000), false, 'quiet, but nearly nothing to collect');
  assert.equal(after(30, 800_000), false, 'busy again');
  assert.equal(after(1, 700_000), true, 'quiet again (a job poll is not work)');
  assert.equal(after(2, 700_000), false, '2 ms of work in 100 ms is not quiet');
  assert.deepEqual(collected, ['minor', 'minor']);
  assert.equal(idle.collections(), 2);
});

test('after a busy interval it looks again soon, so a burst’s garbage is collected in the wait before the next burst', () => {
  const loop = fakeLoop();
  const collected: number[] = [];
  const idle = createIdleGc({ utilization: loop.utilization, youngBytes: loop.youngBytes, gc: () => collected.push(1), checkMs: 100, settleMs: 15 });
  assert.equal(idle.nextDelay(), 100, 'a quiet process is looked at every checkMs');
  loop.interval(12, 900_000);
  assert.equal(idle.check(), false, 'the interval held a burst (a declaration’s first layer)');
  assert.equal(idle.nextDelay(), 15, 'looked at again settleMs later, not a whole checkMs');
  // 15 ms later: the burst ended and the process waits for Slack's answer.
  loop.interval(0.1, 900_000, 15);
  assert.equal(idle.check(), true, 'quiet for those 15 ms: collected in the wait');
  assert.equal(idle.nextDelay(), 100, 'back to every checkMs');
  loop.interval(0.5, 900_000, 15);
  assert.equal(idle.check(), false, '0.5 ms of work in 15 ms is not quiet (the fraction, not the absolute ms, decides)');
  assert.equal(idle.nextDelay(), 15);
  assert.equal(collected.length, 1);
});

test('does nothing without gc (node started without --expose-gc)', () => {
  const idle = createIdleGc({ gc: null, youngBytes: () => 10_000_000, utilization: () => ({ idle: 0, active: 0, utilization: 0 }) });
  assert.equal(idle.enabled, false);
  assert.equal(idle.check(), false);
});

test('a real young generation is collected: V8’s own gc, as --expose-gc gives it', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (o: { type: 'minor' }) => void;
  const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_used_size;
  // Only the collection is under test here: any interval counts as quiet.
  const idle = createIdleGc({ gc, quietFraction: Number.POSITIVE_INFINITY, minYoungBytes: 64 * 1024 });
  const keep: object[] = [];
  for (let i = 0; i < 20_000; i++)
    if (i % 1000 === 0) keep.push({ i, s: `x${i}` });
    else void { i, s: `x${i}` };
  const before = young();
  assert.ok(before >= 64 * 1024, `garbage in the young generation (${before} bytes)`);
  assert.equal(idle.check(), true);
  assert.ok(young() < before / 2, `collected: ${before} → ${young()} bytes`);
  assert.equal(keep.length, 20);
});
