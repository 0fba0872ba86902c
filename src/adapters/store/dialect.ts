import { sql, type RawBuilder } from 'kysely';
import type { StoreDialect } from './migrations.js';

/** The only differences between the two dialects the store's statements need. */
export interface DialectOps {
  /** The expression that allocates the next incident seq inside the INSERT. */
  nextSeq(): RawBuilder<number>;
  /** Whether the claim subquery can use FOR UPDATE SKIP LOCKED. */
  skipLocked: boolean;
}

export const DIALECT_OPS: Record<StoreDialect, DialectOps> = {
  // SQLite: one writer at a time (even across processes, the write lock covers the statement),
  // so max+1 evaluated inside the INSERT cannot collide.
  sqlite: { nextSeq: () => sql<number>`(select coalesce(max(seq), 0) + 1 from incidents)`, skipLocked: false },
  // PostgreSQL: concurrent INSERTs would all read the same max; a sequence cannot.
  postgres: { nextSeq: () => sql<number>`nextval('incident_seq')`, skipLocked: true },
};
