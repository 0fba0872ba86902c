import type { Kysely } from 'kysely';
import type { Clock } from '../../ports/clock.js';
import type { KvStore } from '../../ports/store.js';
import { parseJson, toJson } from './mapping.js';
import { prepared } from './prepared.js';
import type { Database } from './schema.js';

const selectKv = prepared<[string], { value: string }>((db, key) => db.selectFrom('kv').select('value').where('key', '=', key));
const upsertKv = prepared<[string, string, number], unknown>((db, key, value, now) =>
  db
    .insertInto('kv')
    .values({ key, value, updated_at: now })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: now })),
);

/** Small cached state by key (table kv). */
export class KyselyKvStore implements KvStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  async getKv<T = unknown>(key: string): Promise<T | undefined> {
    const [row] = (await selectKv(this.db, key)).rows;
    return row ? (parseJson(row.value) as T) : undefined;
  }

  async setKv<T>(key: string, value: T): Promise<void> {
    const json = toJson(value);
    const now = this.clock.now().getTime();
    await upsertKv(this.db, key, json, now);
  }
}
