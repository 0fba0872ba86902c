/**
 * SQLite serves one process: the owner recorded in the file decides whether a new process may
 * start. A pid is not enough to name a process: after a crash the pid may be given to another
 * program, and the bot must not refuse to start forever because of it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { once } from 'node:events';
import { openBotStore } from '../../src/adapters/store/index.js';
import { OWNER_KEY, procStart } from '../../src/adapters/store/sqlite-owner.js';
import { openTestSqliteStore } from './pg-helper.js';

/** A file whose recorded owner is `owner`; a live process (a child) to play the recorded pid. */
async function fileOwnedBy(owner: (pid: number) => object) {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  await once(child, 'spawn');
  const t = await openTestSqliteStore();
  await t.store.db
    .insertInto('kv')
    .values({ key: OWNER_KEY, value: JSON.stringify(owner(child.pid!)), updated_at: 0 })
    .execute();
  await t.store.close();
  return {
    path: t.path,
    async cleanup() {
      child.kill();
      await t.cleanup();
    },
  };
}

const linux = procStart('self') !== null;

test('a recorded owner whose pid now belongs to another process (a crash, the pid reused) does not keep the bot from starting', {
  skip: !linux && 'no /proc',
}, async () => {
  const f = await fileOwnedBy((pid) => ({ pid, hostname: hostname(), startedAt: '2026-01-01T00:00:00.000Z', procStart: `${procStart(pid)!.split(':')[0]}:1` }));
  try {
    const opened = await openBotStore(`sqlite:${f.path}`);
    assert.equal(opened.previousRun, 'dead');
    await opened.release();
    await opened.store.close();
  } finally {
    await f.cleanup();
  }
});

test('the recorded owner still running (same pid, same start) is refused with store.in_use; so is a record from before start times were kept', async () => {
  for (const withStart of [true, false]) {
    if (withStart && !linux) continue;
    const f = await fileOwnedBy((pid) => ({
      pid,
      hostname: hostname(),
      startedAt: '2026-01-01T00:00:00.000Z',
      ...(withStart ? { procStart: procStart(pid) } : {}),
    }));
    try {
      await assert.rejects(openBotStore(`sqlite:${f.path}`), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'store.in_use');
        assert.match(err.message, /another Firebreak process \(pid \d+, started 2026-01-01T00:00:00.000Z\) is using/);
        return true;
      });
    } finally {
      await f.cleanup();
    }
  }
});
