import type { Kysely } from 'kysely';
import type { ProcessedStore } from '../../ports/store.js';
import { ms } from './mapping.js';
import { prepared } from './prepared.js';
import type { Database } from './schema.js';

// Every Slack request and webhook delivery records its key: compiled once (prepared.ts).
const insertKey = prepared<[string, number], { key: string }>((db, key, at) =>
  db
    .insertInto('processed_keys')
    .values({ key, at })
    .onConflict((oc) => oc.doNothing())
    .returning('key'),
);

/** Idempotency keys and the pruning of what is no longer needed (tables processed_keys, jobs). */
export class KyselyProcessedStore implements ProcessedStore {
  constructor(private readonly db: Kysely<Database>) {}

  async markProcessed(key: string, at: Date): Promise<boolean> {
    const [row] = (await insertKey(this.db, key, ms(at))).rows;
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
