/**
 * Test helpers for opening a store. Reused by other suites (approval races across two app
 * instances, replicas), so keep the exports stable:
 *
 *   const pg = await withPgSchema();            // null when PostgreSQL is unreachable (and not CI)
 *   const a = await openTestPgStore(pg.url);    // two calls = two pools = two "replicas"
 *   ...; await pg.cleanup();                    // drops the schema
 *
 *   const { store, cleanup } = await openTestSqliteStore();
 *   const s = await openTestStore(dialect);     // either of the two; null as withPgSchema
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openKyselyStore, type OpenStoreOptions } from '../../src/adapters/store/index.js';
import type { KyselyStore } from '../../src/adapters/store/kysely-store.js';
import { withDefaultUser } from '../../src/adapters/store/postgres.js';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://127.0.0.1:5432/test';

export interface PgSchema {
  /** Connection string whose sessions use the private schema (search_path). */
  url: string;
  schema: string;
  /** Drop the schema and everything in it. Close your stores first. */
  cleanup(): Promise<void>;
}

/** Why PostgreSQL can't be used, or null when it can. Cached per process. */
let reachability: Promise<string | null> | undefined;
export function pgUnreachableReason(): Promise<string | null> {
  reachability ??= (async () => {
    const client = new pg.Client({ connectionString: withDefaultUser(TEST_DATABASE_URL), connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('select 1');
      return null;
    } catch (err) {
      return `PostgreSQL not reachable at ${redact(TEST_DATABASE_URL)} (${(err as Error).message})`;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return reachability;
}

/**
 * Create a fresh schema `fb_test_<random>` and return a URL whose connections use it, so
 * concurrently running test files never see each other's rows. Returns null when PostgreSQL is
 * unreachable; throws instead when `CI` is set, so CI cannot silently skip the PostgreSQL half.
 */
export async function withPgSchema(): Promise<PgSchema | null> {
  const reason = await pgUnreachableReason();
  if (reason) {
    if (process.env.CI) throw new Error(`${reason}; CI is set, so this is a failure, not a skip`);
    return null;
  }
  const schema = `fb_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: withDefaultUser(TEST_DATABASE_URL) });
  await admin.connect();
  try {
    await admin.query(`create schema ${schema}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_DATABASE_URL);
  // libpq `options` startup parameter: every session of every pool built from this URL.
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    schema,
    async cleanup() {
      const c = new pg.Client({ connectionString: withDefaultUser(TEST_DATABASE_URL) });
      await c.connect();
      try {
        await c.query(`drop schema if exists ${schema} cascade`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Open and migrate a store on a schema from `withPgSchema()`. Each call is a separate pool. */
export async function openTestPgStore(url: string, opts: OpenStoreOptions = {}): Promise<KyselyStore> {
  const store = await openKyselyStore(url, opts);
  await store.migrate();
  return store;
}

/**
 * A migrated SQLite store in a temp file (a file, not :memory:, so WAL and the real pragmas are
 * exercised). `cleanup` closes it and deletes the file.
 */
export async function openTestSqliteStore(opts: OpenStoreOptions = {}): Promise<{ store: KyselyStore; path: string; cleanup(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-store-'));
  const path = join(dir, 'test.db');
  const store = await openKyselyStore(`sqlite:${path}`, opts);
  await store.migrate();
  let closed = false;
  return {
    store,
    path,
    async cleanup() {
      if (!closed) {
        closed = true;
        await store.close();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A migrated store of the dialect a suite runs on: SQLite in a temp file, or PostgreSQL in a fresh
 * schema (null when PostgreSQL is unreachable and CI is not set, see withPgSchema). `cleanup`
 * closes it and removes its file or schema.
 */
export async function openTestStore(dialect: 'sqlite' | 'postgres'): Promise<{ store: KyselyStore; cleanup(): Promise<void> } | null> {
  if (dialect === 'sqlite') return openTestSqliteStore();
  const pg = await withPgSchema();
  if (!pg) return null;
  const store = await openTestPgStore(pg.url);
  return {
    store,
    async cleanup() {
      await store.close();
      await pg.cleanup();
    },
  };
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable TEST_DATABASE_URL>';
  }
}
