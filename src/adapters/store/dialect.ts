import { sql, type RawBuilder } from 'kysely';
import type { StoreDialect } from './migrations.js';

/** The only differences between the two dialects the store's statements need. */
export interface DialectOps {
  /** The expression that allocates the next incident seq inside the INSERT. */
  nextSeq(): RawBuilder<number>;
  /** Whether the claim subquery can use FOR UPDATE SKIP LOCKED. */
  skipLocked: boolean;
  /**
   * Whether the insights facts are read as one statement (the per-incident aggregates joined to
   * the incidents by `seq` in SQL) rather than one statement per aggregate joined in the process.
   * Over 10,000 incidents PostgreSQL hash-joins the grouped subqueries: one statement took about
   * 65 ms of server and 100 ms of client CPU against 80 and 120 for four. SQLite materializes each
   * subquery and builds an automatic index on it: slower (about 95 ms) than the four apart (80 ms).
   */
  factsInOneStatement: boolean;
}

export const DIALECT_OPS: Record<StoreDialect, DialectOps> = {
  // SQLite: one writer at a time (even across processes, the write lock covers the statement),
  // so max+1 evaluated inside the INSERT cannot collide.
  sqlite: { nextSeq: () => sql<number>`(select coalesce(max(seq), 0) + 1 from incidents)`, skipLocked: false, factsInOneStatement: false },
  // PostgreSQL: concurrent INSERTs would all read the same max; a sequence cannot.
  postgres: { nextSeq: () => sql<number>`nextval('incident_seq')`, skipLocked: true, factsInOneStatement: true },
};
