import { AppError } from '../../errors.js';
import { systemClock, type Clock } from '../../ports/clock.js';
import type { Store } from '../../ports/store.js';
import { createKyselyStore, type KyselyStore } from './kysely-store.js';
import { claimSqliteOwner, refuseIfOwned, type OwnerVerdict } from './sqlite-owner.js';

export { createKyselyStore, type KyselyStore } from './kysely-store.js';
export { MIGRATIONS, runMigrations } from './migrations.js';
export type { OwnerVerdict } from './sqlite-owner.js';

/** Where `DATABASE_URL` unset puts the store. Relative to the working directory. */
export const DEFAULT_SQLITE_PATH = './data/firebreak.db';

/** Structurally compatible with a pino logger. */
export interface StoreLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface OpenStoreOptions {
  logger?: StoreLogger;
  /** Used for `updatedAt` stamps the callers don't pass; defaults to the system clock. */
  clock?: Clock;
  /** PostgreSQL pool size (default 10). */
  poolSize?: number;
}

export type StoreTarget = { dialect: 'sqlite'; path: string } | { dialect: 'postgres'; url: string };

/**
 * Parse `DATABASE_URL`: unset or empty → SQLite at ./data/firebreak.db; `sqlite::memory:`;
 * `sqlite:<path>` (also `sqlite://<path>`); `postgres://` or `postgresql://`. The error never
 * echoes the URL, which may hold a password.
 */
export function parseDatabaseUrl(databaseUrl: string | undefined): StoreTarget {
  const url = databaseUrl?.trim();
  if (!url) return { dialect: 'sqlite', path: DEFAULT_SQLITE_PATH };
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return { dialect: 'postgres', url };
  if (url.startsWith('sqlite:')) {
    const rest = url.startsWith('sqlite://') ? url.slice('sqlite://'.length) : url.slice('sqlite:'.length);
    if (!rest) throw new AppError('config.invalid', 'DATABASE_URL: sqlite: needs a path, e.g. sqlite:./data/firebreak.db');
    return { dialect: 'sqlite', path: rest };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
  throw new AppError(
    'config.invalid',
    `DATABASE_URL: unsupported ${scheme ? `scheme "${scheme}:"` : 'value'}; use sqlite:<path>, sqlite::memory: or postgres://user:pass@host/db (unset = SQLite at ${DEFAULT_SQLITE_PATH})`,
  );
}

/** Open (connect lazily) without migrating; call `store.migrate()` or use `openAndMigrate`. */
export async function openStore(databaseUrl: string | undefined, opts: OpenStoreOptions = {}): Promise<Store> {
  return openKyselyStore(databaseUrl, opts);
}

/** Same as openStore, typed as the concrete class (tests and tools that need `db`). */
export async function openKyselyStore(databaseUrl: string | undefined, opts: OpenStoreOptions = {}): Promise<KyselyStore> {
  const target = parseDatabaseUrl(databaseUrl);
  const clock = opts.clock ?? systemClock;
  // Each driver is loaded only when used: a SQLite deployment never pays for pg, and the reverse.
  if (target.dialect === 'sqlite') {
    const { createSqliteDb } = await import('./sqlite.js');
    return createKyselyStore(createSqliteDb(target.path), 'sqlite', { clock, logger: opts.logger });
  }
  const { createPostgresDb } = await import('./postgres.js');
  const db = createPostgresDb(target.url, { logger: opts.logger, max: opts.poolSize });
  return createKyselyStore(db, 'postgres', { clock, logger: opts.logger });
}

/** Open and apply pending migrations; closes the store if migrating fails. */
export async function openAndMigrate(databaseUrl: string | undefined, opts: OpenStoreOptions = {}): Promise<Store> {
  const store = await openStore(databaseUrl, opts);
  try {
    await store.migrate();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  return store;
}

/**
 * The bot's own store. On SQLite (one process per file) the process records itself as the file's
 * owner before anything else (see sqlite-owner.ts): a second live process on this host is refused
 * with `store.in_use` before any migration. `previousRun` tells the job runner whether the last
 * owner is known dead (its leases can be reclaimed at once) or ran on another host (they cannot);
 * null on PostgreSQL. `release` gives the file back on a clean stop.
 */
export async function openBotStore(
  databaseUrl: string | undefined,
  opts: OpenStoreOptions = {},
): Promise<{ store: Store; previousRun: OwnerVerdict | null; release(): Promise<void> }> {
  const target = parseDatabaseUrl(databaseUrl);
  if (target.dialect !== 'sqlite' || target.path === ':memory:')
    return { store: await openAndMigrate(databaseUrl, opts), previousRun: null, release: async () => {} };
  const store = await openKyselyStore(databaseUrl, opts);
  try {
    const owner = await claimSqliteOwner(store.db, { path: target.path, migrate: () => store.migrate(), clock: opts.clock ?? systemClock });
    if (owner.verdict === 'elsewhere')
      opts.logger?.warn(
        { previous: owner.previous },
        `${target.path} was last used by a process on host ${owner.previous?.hostname}: its job leases are left to run out instead of being reclaimed at once (SQLite supports one process; use PostgreSQL for several hosts)`,
      );
    return { store, previousRun: owner.verdict, release: owner.release };
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
}

/**
 * Throws `store.in_use` when another live Firebreak process on this host uses the SQLite file at
 * `path` (see sqlite-owner.ts); reads only. For a caller about to delete or replace the file.
 */
export async function refuseIfSqliteInUse(path: string): Promise<void> {
  const store = await openKyselyStore(`sqlite:${path}`);
  try {
    await refuseIfOwned(store.db, path);
  } finally {
    await store.close();
  }
}
