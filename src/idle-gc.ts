import { getHeapSpaceStatistics } from 'node:v8';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/**
 * A young-generation collection while the process is quiet, so that the next burst of work does
 * not stop for one. An incident bot is idle most of the time and then busy for a few hundred
 * milliseconds (a declaration: a dozen Slack and backend calls): the garbage of the last burst and
 * of the quiet polling in between fills the young generation, which is small on purpose (`npm
 * start` runs with --max-semi-space-size=2 for the footprint), and V8 collects it when it is full,
 * which is always in the middle of the next burst, where a 0.5–2 ms pause delays the next Slack
 * call by as much (`--trace-gc` of the declare bench: a scavenge in about every other
 * declaration). Collected in the quiet instead, a mostly dead young generation costs ~0.2 ms and
 * delays nobody.
 *
 * Needs `gc` (node --expose-gc, which `npm start` passes): without it, nothing happens. Checks every
 * `checkMs` while the process is quiet; collects when the interval since the last check was quiet
 * (the event loop busy for less than `quietFraction` of it) and the young generation holds at least
 * `minYoungBytes`, so a quiet process is not collected over and over for nothing. After a busy
 * interval it looks again `settleMs` later rather than `checkMs`: a declaration waits about one
 * Slack round trip between its bursts of work, and the garbage of one burst is collected in that
 * wait, before the next burst (a 100 ms check almost always spans a burst, and found the process busy
 * until the whole declaration was over: the scavenges then fell inside the later bursts).
 */
export interface IdleGcOptions {
  checkMs?: number;
  settleMs?: number;
  quietFraction?: number;
  minYoungBytes?: number;
  /** Injected in tests; defaults to the `gc` that --expose-gc puts on the global object (null: none). */
  gc?: ((opts: { type: 'minor' }) => void) | null;
  youngBytes?: () => number;
  utilization?: (current?: EventLoopUtilization, previous?: EventLoopUtilization) => EventLoopUtilization;
}

/** The check `startIdleGc` runs: whether to collect now, collecting, and when to look again. */
export function createIdleGc(opts: IdleGcOptions = {}): { check(): boolean; nextDelay(): number; collections(): number; enabled: boolean } {
  const gc = opts.gc === undefined ? (globalThis as { gc?: (o: { type: 'minor' }) => void }).gc : opts.gc;
  const checkMs = opts.checkMs ?? 100;
  const settleMs = opts.settleMs ?? 15;
  const quietFraction = opts.quietFraction ?? 0.02;
  const minYoungBytes = opts.minYoungBytes ?? 256 * 1024;
  const youngBytes = opts.youngBytes ?? (() => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_used_size ?? 0);
  const utilization = opts.utilization ?? ((c, p) => performance.eventLoopUtilization(c, p));
  let count = 0;
  let last = utilization();
  let busy = false;
  return {
    enabled: !!gc,
    collections: () => count,
    nextDelay: () => (busy ? settleMs : checkMs),
    check() {
      const now = utilization();
      const { active, idle } = utilization(now, last);
      last = now;
      busy = active >= quietFraction * (active + idle);
      if (!gc || busy || youngBytes() < minYoungBytes) return false;
      gc({ type: 'minor' });
      count++;
      return true;
    },
  };
}

export function startIdleGc(opts: IdleGcOptions = {}): { stop(): void; collections(): number } {
  const idle = createIdleGc(opts);
  if (!idle.enabled) return { stop: () => undefined, collections: idle.collections };
  let timer: NodeJS.Timeout;
  const arm = () => {
    timer = setTimeout(() => {
      idle.check();
      arm();
    }, idle.nextDelay());
    timer.unref();
  };
  arm();
  return { stop: () => clearTimeout(timer), collections: idle.collections };
}
