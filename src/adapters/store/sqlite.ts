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
