import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase, type SqliteStatement } from 'kysely';
import type { Database } from './schema.js';

/**
 * SQLite: the embedded default. One process only (the port's limit): seq allocation and the job
 * claim rely on SQLite's single writer, and there is no cross-process migration lock.
 */
export function createSqliteDb(path: string): Kysely<Database> {
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
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(raw) }) });
}

/**
 * Kysely's SQLite driver prepares every query anew; compiling the SQL was about half the cost of a
 * typical store call. The queries are few and fixed (values are parameters), so each SQL text is
 * prepared once and reused (better-sqlite3 statements are reusable, and all use is synchronous).
 * Bounded, oldest first out: texts that vary (an `in (…)` list of a new length) cannot grow it.
 */
export function withStatementCache(raw: BetterSqlite3.Database, max = 500): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => {
      cache.clear();
      raw.close();
    },
    prepare: (sql: string) => {
      let stmt = cache.get(sql);
      if (stmt) return stmt;
      stmt = raw.prepare(sql) as unknown as SqliteStatement;
      if (cache.size >= max) cache.delete(cache.keys().next().value!);
      cache.set(sql, stmt);
      return stmt;
    },
  };
}
