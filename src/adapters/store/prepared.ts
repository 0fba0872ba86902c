import type { Compilable, CompiledQuery, Kysely, QueryResult } from 'kysely';
import type { Database } from './schema.js';

/**
 * A hot statement built and compiled by Kysely once, then run again with new values. Building a
 * query (immutable operation nodes) and compiling it to SQL is most of Kysely's CPU for a small
 * statement, and the declare path runs the same few statements (steps, the incident, roles, kv,
 * audit, timeline, jobs) dozens of times per declaration: compiling them once takes that share
 * off every hop. The SQL is still Kysely's own for the dialect (compiled through the same
 * builder), so SQLite and PostgreSQL run exactly what the builder produces; only the values change.
 *
 * `build` receives one placeholder per parameter and must use each as a bound value (a `where`
 * value, an inserted or updated value), never in an identifier or anything that changes the SQL's
 * shape (an `in` list whose length varies, a `null` that would become `is null`). Values `build`
 * writes itself (constants) stay as compiled. A placeholder that the compiled query does not bind
 * is a programming error, thrown at the first run. Compiled once per dialect (a process may hold
 * both, as the tests do).
 *
 * `opts.statement` marks the text for PostgreSQL's named prepared statements (see postgres.ts): the
 * server then parses and plans it once per connection too. Only for a statement run often.
 */
export function prepared<A extends unknown[], R>(
  build: (db: Kysely<Database>, ...params: { [K in keyof A]: never }) => Compilable<R>,
  opts: { statement?: boolean } = {},
): (db: Kysely<Database>, ...args: A) => Promise<QueryResult<R>> {
  // Compiled once per dialect: keyed by the database's adapter, which its transactions share.
  const byDialect = new WeakMap<object, { query: CompiledQuery<R>; slots: Array<number | null> }>();
  return async (db, ...args) => {
    const adapter = db.getExecutor().adapter;
    let compiled = byDialect.get(adapter);
    if (!compiled) {
      const marks = args.map((_, i) => `\u0000prepared-parameter-${i}\u0000`);
      const query = build(db, ...(marks as { [K in keyof A]: never })).compile();
      const slots = query.parameters.map((p) => {
        const i = typeof p === 'string' ? marks.indexOf(p) : -1;
        return i < 0 ? null : i;
      });
      for (let i = 0; i < marks.length; i++) if (!slots.includes(i)) throw new Error(`prepared: parameter ${i} is not bound in: ${query.sql}`);
      compiled = { query: opts.statement ? { ...query, sql: `/* statement */ ${query.sql}` } : query, slots };
      byDialect.set(adapter, compiled);
    }
    const { query, slots } = compiled;
    return db.executeQuery<R>({ ...query, parameters: slots.map((s, k) => (s === null ? query.parameters[k] : args[s])) });
  };
}
