import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kysely, SqliteDialect, type LogEvent } from 'kysely';
import BetterSqlite3 from 'better-sqlite3';
import { prepared } from '../../src/adapters/store/prepared.js';
import { runMigrations } from '../../src/adapters/store/migrations.js';
import type { Database } from '../../src/adapters/store/schema.js';

/** An in-memory SQLite store database whose executed statements are recorded. */
async function loggedDb(): Promise<{ db: Kysely<Database>; ran: Array<{ sql: string; parameters: readonly unknown[] }> }> {
  const ran: Array<{ sql: string; parameters: readonly unknown[] }> = [];
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }),
    log: (e: LogEvent) => {
      if (e.level === 'query') ran.push({ sql: e.query.sql, parameters: e.query.parameters });
    },
  });
  await runMigrations(db, 'sqlite', () => new Date());
  ran.length = 0;
  return { db, ran };
}

test('a prepared statement runs the SQL its builder compiles, with each call’s values (a value used twice filled twice)', async () => {
  const { db, ran } = await loggedDb();
  const upsert = prepared<[string, string, number], unknown>((d, key, value, at) =>
    d
      .insertInto('kv')
      .values({ key, value, updated_at: at })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: at })),
  );
  const read = prepared<[string], { value: string }>((d, key) => d.selectFrom('kv').select('value').where('key', '=', key));
  await upsert(db, 'a', '"one"', 1);
  await upsert(db, 'a', '"two"', 2);
  await upsert(db, 'b', '"three"', 3);
  assert.deepEqual((await read(db, 'a')).rows, [{ value: '"two"' }]);
  assert.deepEqual((await read(db, 'b')).rows, [{ value: '"three"' }]);
  assert.deepEqual((await read(db, 'c')).rows, []);
  const built = db
    .insertInto('kv')
    .values({ key: 'b', value: '"three"', updated_at: 3 })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: '"three"', updated_at: 3 }))
    .compile();
  assert.deepEqual(ran[2], { sql: built.sql, parameters: built.parameters });
  await db.destroy();
});

test('a placeholder the statement does not bind is refused at the first run', async () => {
  const { db } = await loggedDb();
  const wrong = prepared<[string, string], { value: string }>((d, key, _unused) => d.selectFrom('kv').select('value').where('key', '=', key));
  await assert.rejects(() => wrong(db, 'a', 'b'), /parameter 1 is not bound/);
  await db.destroy();
});

test('PostgreSQL: the alert intake’s burst insert and the job claim are prepared once per connection, then only bound and run', async (t) => {
  const { withPgSchema, openTestPgStore } = await import('./pg-helper.js');
  const { sql } = await import('kysely');
  const pg = await withPgSchema();
  if (!pg) return t.skip('PostgreSQL not reachable');
  const store = await openTestPgStore(pg.url, { poolSize: 1 });
  try {
    const alert = (i: number) => ({
      id: `alr_prep_${i}`,
      source: 'generic' as const,
      deliveryId: `d-${i}`,
      fingerprint: 'fp',
      externalId: null,
      title: `t${i}`,
      service: null,
      severity: 'high' as const,
      status: 'firing' as const,
      url: null,
      raw: {},
      receivedAt: new Date(1000),
    });
    const jobs = {
      burst: (xs: Array<{ id: string }>) => ({ id: `job_${xs[0]!.id}`, kind: 'k', key: null, payload: { ids: xs.map((x) => x.id) }, runAfter: new Date(0) }),
      replay: (x: { id: string }) => ({ id: `job_r_${x.id}`, kind: 'k', key: `k:${x.id}`, payload: {}, runAfter: new Date(0) }),
    };
    for (let i = 0; i < 3; i++) await store.insertAlertsWithJobs([alert(2 * i), alert(2 * i + 1)], jobs);
    // One connection (pool of 1): its session's prepared statements.
    const { rows } = await sql<{ name: string }>`select name from pg_prepared_statements`.execute(store.db);
    assert.deepEqual(
      rows.map((r) => r.name),
      ['alerts.insert_burst'],
    );
    assert.equal((await store.listAlerts({})).length, 6);
    // The job claim too (it runs at every poll): one prepared statement however often it runs.
    assert.equal((await store.claimJobs(['k'], 'w', 2, new Date(1), 1000)).length, 2);
    assert.equal((await store.claimJobs(['k'], 'w', 2, new Date(1), 1000)).length, 1);
    const after = await sql<{ name: string }>`select name from pg_prepared_statements`.execute(store.db);
    assert.equal(after.rows.filter((r) => r.name.startsWith('s_')).length, 1);
  } finally {
    await store.close();
    await pg.cleanup();
  }
});
