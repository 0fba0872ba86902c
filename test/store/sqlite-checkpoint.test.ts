import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { createSqliteDb } from '../../src/adapters/store/sqlite.js';

/** A SQLite store in a fresh folder with table `t`, its path, and its quiet time before a checkpoint. */
async function withDb(idleCheckpointMs: number, fn: (db: ReturnType<typeof createSqliteDb>, path: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-checkpoint-'));
  const path = join(dir, 'fb.db');
  const db = createSqliteDb(path, { idleCheckpointMs });
  try {
    await sql`create table t (x integer)`.execute(db);
    await fn(db, path);
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

// SQLite's own checkpoint runs inside the commit that takes the write-ahead log past 1,000 pages
// (a 7–9 ms stall on a slow disk, in the middle of whatever the bot was doing). The store makes
// that copy once it has been quiet, so the log starts over instead of growing to the line.
test('SQLite: after a quiet moment the write-ahead log is copied back and starts over, instead of growing to the 1,000-page checkpoint', async () => {
  await withDb(30, async (db, path) => {
    const walSize = () => statSync(`${path}-wal`).size;
    const sizes: number[] = [];
    for (let round = 0; round < 3; round++) {
      // 150 commits (about 150 log frames): three rounds stay under SQLite's own 1,000-page line.
      for (let i = 0; i < 150; i++) await sql`insert into t (x) values (${i})`.execute(db);
      sizes.push(walSize());
      await sleep(150);
    }
    // Without the quiet-time copy the log keeps every round's frames (about 3× the first round's).
    assert.ok(sizes[2]! <= sizes[0]! * 1.2, `the log grew from ${sizes[0]} to ${sizes[2]} bytes over three quiet moments`);
    const rows = await sql<{ n: number }>`select count(*) as n from t`.execute(db);
    assert.equal(rows.rows[0]!.n, 450, 'every write kept');
  });
});

test('SQLite: a quiet-time checkpoint is skipped while a transaction is open and runs after it', async () => {
  await withDb(20, async (db, path) => {
    await db.transaction().execute(async (tx) => {
      for (let i = 0; i < 50; i++) await sql`insert into t (x) values (${i})`.execute(tx);
      await sleep(80); // the timer fires inside the transaction: nothing is copied, nothing breaks
      await sql`insert into t (x) values (${-1})`.execute(tx);
    });
    const before = statSync(`${path}-wal`).size;
    await sleep(100);
    // One more commit: written over the start of a log that started over, it leaves the file as
    // large as it was; appended to a log never copied back, it makes it one frame longer.
    await sql`insert into t (x) values (${7})`.execute(db);
    assert.equal(statSync(`${path}-wal`).size, before, 'the log started over after the transaction and a quiet moment');
    const rows = await sql<{ n: number }>`select count(*) as n from t`.execute(db);
    assert.equal(rows.rows[0]!.n, 52);
  });
});

/** The write-ahead log header's salt: SQLite draws a new one each time the log starts over. */
const walSalt = (path: string) => readFileSync(`${path}-wal`).subarray(16, 24).toString('hex');

// Starting the log over writes and syncs a new header (about a millisecond here): done in the quiet
// moment after the copy, not by the next request's first commit (the replay check of a declaration).
test('SQLite: after the quiet-time copy the log is started over in the same quiet moment; the next commit only appends', async () => {
  await withDb(30, async (db, path) => {
    for (let i = 0; i < 50; i++) await sql`insert into t (x) values (${i})`.execute(db);
    const beforeQuiet = walSalt(path);
    await sleep(150);
    const afterQuiet = walSalt(path);
    assert.notEqual(afterQuiet, beforeQuiet, 'the log was started over during the quiet moment');
    await sql`insert into t (x) values (${50})`.execute(db);
    assert.equal(walSalt(path), afterQuiet, 'the next commit appended to the log instead of starting it over');
    const version = await sql<{ user_version: number }>`pragma user_version`.execute(db);
    assert.equal(version.rows[0]!.user_version, 0, 'the write that starts the log over changes nothing');
    const rows = await sql<{ n: number }>`select count(*) as n from t`.execute(db);
    assert.equal(rows.rows[0]!.n, 51);
  });
});
