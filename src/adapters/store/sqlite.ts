import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, type SqliteDatabase, SqliteDialect, type SqliteStatement } from 'kysely';
import { storableParameters } from './mapping.js';
import type { Database } from './schema.js';

/**
 * SQLite: the embedded default. One process only (the port's limit): seq allocation and the job
 * claim rely on SQLite's single writer, and there is no cross-process migration lock.
 */
export function createSqliteDb(path: string, opts: { idleCheckpointMs?: number } = {}): Kysely<Database> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const raw = new BetterSqlite3(path);
  // WAL: readers don't block the writer; ignored (stays "memory") for :memory: databases.
  raw.pragma('journal_mode = WAL');
  // Wait for a competing writer (a CLI, a backup) instead of failing at once with SQLITE_BUSY.
  raw.pragma('busy_timeout = 5000');
  // SQLite ships with foreign keys off; the schema relies on them.
  raw.pragma('foreign_keys = ON');
  // Safe with WAL: a power loss may drop the last commits but never corrupts the file.
  raw.pragma('synchronous = NORMAL');
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: withIdleCheckpoint(raw, withStatementCache(raw), opts.idleCheckpointMs) }) });
}

/**
 * SQLite copies the write-ahead log back into the database once it passes 1,000 pages, inside the
 * commit that crosses the line, and that commit waits for the copy and its disk syncs: 7–9 ms on
 * a slow disk against 0.03 ms for an ordinary commit, about every 850 writes (docs/capacity.md,
 * "Declare"). Landing in the middle of a declaration, it delays the next Slack call by as much. So
 * the copy is made when the store has been quiet for `idleMs` after a write, where it delays
 * nobody, and the log starts over from its beginning at the next write instead of growing to the
 * line. Under sustained writes with no quiet moment (an alert storm) SQLite's own checkpoint at
 * 1,000 pages still runs, as before. PASSIVE: never waits for a reader, never blocks a writer.
 *
 * Starting the log over has a cost of its own: the first commit after a whole copy writes and
 * syncs a new log header, 1.0–1.5 ms here against 0.3–0.5 ms for a commit after a quiet moment
 * (bench/probe timings of a declaration; docs/capacity.md, "Declare"). That commit was the next
 * request's first one: the replay check of the slash command that declares. So when the copy
 * took the whole log, the log is started over right away, in the same quiet moment, by a write
 * that changes nothing (the schema's user_version set to itself: one page, any schema).
 */
export function withIdleCheckpoint(raw: BetterSqlite3.Database, db: SqliteDatabase, idleMs = 250): SqliteDatabase {
  if (raw.memory || idleMs <= 0) return db;
  let timer: NodeJS.Timeout | null = null;
  const checkpoint = () => {
    timer = null;
    if (!raw.open || raw.inTransaction) return; // the transaction's commit sets the timer again
    try {
      const [r] = raw.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
      // Copied whole (no reader held it back): start the log over now. Not through `run` below,
      // so this write sets no timer of its own.
      if (r && r.busy === 0 && r.log > 0 && r.checkpointed === r.log) raw.pragma(`user_version = ${Number(raw.pragma('user_version', { simple: true }))}`);
    } catch {
      // A streamed query holds the connection (better-sqlite3: "busy executing a query"): try
      // again after another quiet moment; SQLite's own checkpoint stays the backstop.
      timer = setTimeout(checkpoint, idleMs).unref();
    }
  };
  return {
    close: () => {
      if (timer) clearTimeout(timer);
      timer = null;
      return db.close();
    },
    prepare(sql: string): SqliteStatement {
      const stmt = db.prepare(sql);
      if (stmt.reader) return stmt;
      return {
        ...stmt,
        run: (params) => {
          const result = stmt.run(params);
          // Each write pushes the checkpoint back: it runs once the writes stop for idleMs.
          if (timer) timer.refresh();
          else timer = setTimeout(checkpoint, idleMs).unref();
          return result;
        },
      };
    },
  };
}

/**
 * Kysely prepares every query afresh; compiling the SQL is a large share of a small query's cost
 * (the approve path, the job claim). The bot issues a few hundred distinct statements, so each is
 * prepared once and reused. better-sqlite3 runs statements synchronously, so a reused statement is
 * never busy, except one being iterated: streamed queries are not cached. Values go through
 * `storableParameters` (NUL in text stored as U+FFFD, as on PostgreSQL).
 */
export function withStatementCache(raw: BetterSqlite3.Database, max = 1000): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => {
      cache.clear();
      raw.close();
    },
    prepare(sql: string): SqliteStatement {
      let stmt = cache.get(sql);
      if (!stmt) {
        stmt = raw.prepare(sql);
        if (cache.size >= max) cache.delete(cache.keys().next().value!);
        cache.set(sql, stmt);
      }
      const s = stmt;
      return {
        reader: s.reader,
        all: (params) => s.all(storableParameters(params) as unknown[]),
        run: (params) => s.run(storableParameters(params) as unknown[]),
        // An iterated statement stays busy until the iterator ends: give it its own.
        iterate: (params) => raw.prepare(sql).iterate(storableParameters(params) as unknown[]),
      };
    },
  };
}
