import type { Kysely } from 'kysely';
import type { Clock } from '../../ports/clock.js';
import type { KvStore } from '../../ports/store.js';
import { parseJson, toJson } from './mapping.js';
import type { Database } from './schema.js';

/** Small cached state by key (table kv). */
export class KyselyKvStore implements KvStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  async getKv<T = unknown>(key: string): Promise<T | undefined> {
    const row = await this.db.selectFrom('kv').select('value').where('key', '=', key).executeTakeFirst();
    return row ? (parseJson(row.value) as T) : undefined;
  }

  async setKv<T>(key: string, value: T): Promise<void> {
    const json = toJson(value);
    const now = this.clock.now().getTime();
    await this.db
      .insertInto('kv')
      .values({ key, value: json, updated_at: now })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: json, updated_at: now }))
      .execute();
  }
}
