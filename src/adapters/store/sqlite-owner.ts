import { readFileSync } from 'node:fs';
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
  /** This boot and the process's start tick, from /proc (see `procStart`); absent where there is no /proc. */
  procStart?: string;
}

/**
 * What the recorded owner says about the previous run: none recorded; `ours` (our own pid on this
 * host: a restart that got the same pid, as in a container); `dead` (its pid is gone, or is
 * another process's now); `elsewhere`
 * (another host: its pid cannot be checked); `live` (another process on this host still runs).
 */
export type OwnerVerdict = 'none' | 'ours' | 'dead' | 'elsewhere' | 'live';

export const OWNER_KEY = 'process.owner';

export function thisProcess(): ProcessOwner {
  return {
    pid: process.pid,
    hostname: hostname(),
    startedAt: new Date(Date.now() - Math.round(process.uptime() * 1000)).toISOString(),
    procStart: procStart('self') ?? undefined,
  };
}

/**
 * The boot id and the start time in clock ticks since boot (/proc/<pid>/stat, field 22) of a
 * process: with its pid, it names one process for the life of the machine, where a pid alone may
 * have been given to another process since. Null where /proc cannot tell (not Linux, no such pid).
 */
export function procStart(pid: number | 'self'): string | null {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (the command) is in parentheses and may hold spaces or parentheses: count from the last ')'.
    const ticks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return boot && ticks ? `${boot}:${ticks}` : null;
  } catch {
    return null;
  }
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

/**
 * Whether the recorded process still runs on this host: its pid is alive and, when the record and
 * /proc both say when it started, it is the same process (a crashed run's pid given to another
 * program since is not it: the file is free).
 */
export function ownerAlive(owner: ProcessOwner): boolean {
  if (!pidAlive(owner.pid)) return false;
  const now = owner.procStart ? procStart(owner.pid) : null;
  return now === null || now === owner.procStart;
}

/** Pure: the verdict on a recorded owner, given how to check a pid on this host. */
export function judgeOwner(recorded: ProcessOwner | null, me: ProcessOwner, alive: (owner: ProcessOwner) => boolean): OwnerVerdict {
  if (!recorded) return 'none';
  if (recorded.hostname !== me.hostname) return 'elsewhere';
  if (recorded.pid === me.pid) return 'ours';
  return alive(recorded) ? 'live' : 'dead';
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
      return {
        raw: row.value,
        owner: {
          pid: v.pid,
          hostname: v.hostname,
          startedAt: String(v.startedAt ?? ''),
          procStart: typeof v.procStart === 'string' ? v.procStart : undefined,
        },
      };
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

/**
 * Throws `store.in_use` when another live process on this host owns the file; reads only, so a
 * caller about to replace the file (the sandbox's fresh database) leaves a running one's alone.
 */
export async function refuseIfOwned(db: Kysely<Database>, path: string): Promise<void> {
  await readOwnerUnlessLive(db, path, thisProcess(), ownerAlive);
}

async function readOwnerUnlessLive(db: Kysely<Database>, path: string, me: ProcessOwner, alive: (owner: ProcessOwner) => boolean) {
  const seen = await readOwner(db);
  if (judgeOwner(seen.owner, me, alive) === 'live') throw inUse(seen.owner!, path);
  return seen;
}

export interface ClaimOptions {
  /** The database file as configured (for the message). */
  path: string;
  migrate: () => Promise<void>;
  clock: Clock;
  me?: ProcessOwner;
  alive?: (owner: ProcessOwner) => boolean;
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
  const alive = o.alive ?? ownerAlive;
  let seen = await readOwnerUnlessLive(db, o.path, me, alive);
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
