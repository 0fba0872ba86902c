import { createHash } from 'node:crypto';
import { userInfo } from 'node:os';
import pg from 'pg';
import { Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient } from 'kysely';
import { storableParameters } from './mapping.js';
import type { Database } from './schema.js';

export interface PoolErrorLogger {
  warn(obj: object, msg?: string): void;
}

const INT8_OID = 20;

/**
 * PostgreSQL: for several replicas. Timestamps are int8 epoch ms; pg returns int8 as a string by
 * default, so this pool (only this pool, not the global pg.types) parses it to a number.
 */
export function createPostgresDb(connectionString: string, opts: { logger?: PoolErrorLogger; max?: number } = {}): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: withDefaultUser(connectionString),
    max: opts.max ?? 10,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client losing its connection emits 'error' on the pool; unhandled, it kills the process.
  pool.on('error', (err) => opts.logger?.warn({ err: err.message }, 'postgres pool: idle client error'));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: storablePool(pool) }) });
}

/**
 * A statement whose text starts with `/* statement: <name> *\/` is prepared once per connection
 * under that name and then only bound and executed: for the few hot statements of a fixed text
 * (the alert intake's burst insert, the batch join, the job claim), whose parsing and planning were
 * a fifth of their cost. `/* statement *\/` without a name is named by a hash of its text, for a
 * statement with a few shapes (the claim's list of kinds). Only marked statements: an `in (...)`
 * list makes a new text per length, and every named statement stays in its session.
 */
const NAMED = /^\/\* statement(?:: ([a-z0-9_.-]+))? \*\//;
const statementName = (q: string): string | undefined => {
  const m = NAMED.exec(q);
  if (!m) return undefined;
  return m[1] ?? `s_${createHash('sha1').update(q).digest('hex').slice(0, 20)}`;
};

/**
 * The pool as Kysely sees it, with every statement's values through `storableParameters`:
 * PostgreSQL refuses U+0000 in text (the statement fails), so it is stored as U+FFFD, as on SQLite.
 */
function storablePool(pool: pg.Pool): PostgresPool {
  return {
    async connect() {
      const client = await pool.connect();
      return {
        // Only the (sql, values) form: no cursor is configured, so Kysely never streams.
        query: ((q: string, values: readonly unknown[]) => {
          const name = statementName(q);
          const params = storableParameters(values) as unknown[];
          return name ? client.query({ name, text: q, values: params }) : client.query(q, params);
        }) as unknown as PostgresPoolClient['query'],
        release: (destroy?: boolean) => client.release(destroy),
      };
    },
    end: () => pool.end(),
  };
}

/**
 * libpq (psql) defaults the user name to the OS user; node-postgres uses $PGUSER or $USER and
 * fails when both are unset (containers, systemd units). Fill in the OS user in that one case so
 * `postgres://host/db` means what it means to psql.
 */
export function withDefaultUser(connectionString: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.PGUSER || env.USER) return connectionString;
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    return connectionString; // let pg report its own parse error
  }
  if (url.username) return connectionString;
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    return connectionString;
  }
  url.username = name;
  return url.toString();
}
