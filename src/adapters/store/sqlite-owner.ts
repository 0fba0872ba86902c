import { hostname } from 'node:os';
import { sql, type Kysely } from 'kysely';
import { AppError } from '../../errors.js';
import type { Clock } from '../../ports/clock.js';
import type { Database } from './schema.js';

/**
 * SQLite serves one process: the bot's process records itself in the database (kv `process.owner`)
 * so a second one started on the same file (another port, another terminal) refuses to start
 * instead of ending the live process's job leases as a dead run's and working its jobs twice.
 */
export interface ProcessOwner {
  pid: number;
  hostname: string;
  /** When the process started (ISO 8601): tells the person which run it is. */
  startedAt: string;
}

/**
 * What the recorded owner says about the previous run: none recorded; `ours` (our own pid on this
 * host: a restart that got the same pid, as in a container); `dead` (its pid is gone); `elsewhere`
 * (another host: its pid cannot be checked); `live` (another process on this host still runs).
 */
export type OwnerVerdict = 'none' | 'ours' | 'dead' | 'elsewhere' | 'live';

export const OWNER_KEY = 'process.owner';

export function thisProcess(): ProcessOwner {
  return { pid: process.pid, hostname: hostname(), startedAt: new Date(Date.now() - Math.round(process.uptime() * 1000)).toISOString() };
}

/** Signal 0 checks the pid without touching it; EPERM means it exists under another user. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Pure: the verdict on a recorded owner, given how to check a pid on this host. */
export function judgeOwner(recorded: ProcessOwner | null, me: ProcessOwner, alive: (pid: number) => boolean): OwnerVerdict {
  if (!recorded) return 'none';
  if (recorded.hostname !== me.hostname) return 'elsewhere';
  if (recorded.pid === me.pid) return 'ours';
  return alive(recorded.pid) ? 'live' : 'dead';
}

/** The recorded owner as stored (raw, for compare-and-set) and parsed; a database without the kv table (never migrated) has none. */
async function readOwner(db: Kysely<Database>): Promise<{ raw: string | null; owner: ProcessOwner | null }> {
  const table = await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name = 'kv'`.execute(db);
  if (!table.rows.length) return { raw: null, owner: null };
  const row = await db.selectFrom('kv').select('value').where('key', '=', OWNER_KEY).executeTakeFirst();
  if (!row) return { raw: null, owner: null };
  try {
    const v = JSON.parse(row.value) as Partial<ProcessOwner>;
    if (typeof v.pid === 'number' && typeof v.hostname === 'string')
      return { raw: row.value, owner: { pid: v.pid, hostname: v.hostname, startedAt: String(v.startedAt ?? '') } };
  } catch {
    // An unreadable record is no owner: it is replaced below.
  }
  return { raw: row.value, owner: null };
}

function inUse(owner: ProcessOwner, path: string): AppError {
  return new AppError(
    'store.in_use',
    `another Firebreak process (pid ${owner.pid}, started ${owner.startedAt}) is using ${path}; SQLite supports one process — stop it, or use PostgreSQL for several replicas`,
    { pid: owner.pid, hostname: owner.hostname, path },
  );
}

export interface ClaimOptions {
  /** The database file as configured (for the message). */
  path: string;
  migrate: () => Promise<void>;
  clock: Clock;
  me?: ProcessOwner;
  alive?: (pid: number) => boolean;
}

/**
 * Check the recorded owner before touching anything (no migration runs while another live process
 * owns the file), migrate, then record this process with a compare-and-set against what was read,
 * so two processes starting at once cannot both win. Throws `store.in_use` when another process on
 * this host is alive. Returns the verdict on the previous owner (the job runner's reclaim uses it).
 */
export async function claimSqliteOwner(
  db: Kysely<Database>,
  o: ClaimOptions,
): Promise<{ verdict: OwnerVerdict; previous: ProcessOwner | null; release(): Promise<void> }> {
  const me = o.me ?? thisProcess();
  const alive = o.alive ?? pidAlive;
  let seen = await readOwner(db);
  if (judgeOwner(seen.owner, me, alive) === 'live') throw inUse(seen.owner!, o.path);
  await o.migrate();
  const mine = JSON.stringify(me);
  for (;;) {
    const verdict = judgeOwner(seen.owner, me, alive);
    if (verdict === 'live') throw inUse(seen.owner!, o.path);
    const now = o.clock.now().getTime();
    const won =
      seen.raw === null
        ? Number(
            (
              await db
                .insertInto('kv')
                .values({ key: OWNER_KEY, value: mine, updated_at: now })
                .onConflict((oc) => oc.column('key').doNothing())
                .executeTakeFirst()
            ).numInsertedOrUpdatedRows ?? 0n,
          ) === 1
        : Number(
            (await db.updateTable('kv').set({ value: mine, updated_at: now }).where('key', '=', OWNER_KEY).where('value', '=', seen.raw).executeTakeFirst())
              .numUpdatedRows,
          ) === 1;
    if (won)
      return {
        verdict,
        previous: seen.owner,
        // A clean stop gives the file back, so a later process that happens to get this pid is not taken for us.
        async release() {
          await db.deleteFrom('kv').where('key', '=', OWNER_KEY).where('value', '=', mine).execute();
        },
      };
    seen = await readOwner(db); // another process wrote in between: judge what it wrote
  }
}
