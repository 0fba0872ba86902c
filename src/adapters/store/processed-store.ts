import type { Kysely } from 'kysely';
import type { ProcessedStore } from '../../ports/store.js';
import { ms } from './mapping.js';
import type { Database } from './schema.js';

/** Idempotency keys and the pruning of what is no longer needed (tables processed_keys, jobs). */
export class KyselyProcessedStore implements ProcessedStore {
  constructor(private readonly db: Kysely<Database>) {}

  async markProcessed(key: string, at: Date): Promise<boolean> {
    const row = await this.db
      .insertInto('processed_keys')
      .values({ key, at: ms(at) })
      .onConflict((oc) => oc.doNothing())
      .returning('key')
      .executeTakeFirst();
    return row !== undefined;
  }

  async pruneProcessed(before: Date): Promise<number> {
    const res = await this.db.deleteFrom('processed_keys').where('at', '<', ms(before)).executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  async pruneJobs(before: Date): Promise<number> {
    const res = await this.db.deleteFrom('jobs').where('state', '=', 'done').where('updated_at', '<', ms(before)).executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}
