/**
 * Migration 010 splits who acknowledged a page into the Slack user id the bot resolved and the name
 * the paging source gave. 008's `acked_by` held either, so a store is built at 009 with both kinds
 * of value, migrated, and read back through the store: every old value is a name (text), none is
 * taken for a Slack id, and a new acknowledgement keeps the two apart.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openKyselyStore } from '../../src/adapters/store/index.js';
import type { KyselyStore } from '../../src/adapters/store/kysely-store.js';
import { MIGRATIONS, runMigrations } from '../../src/adapters/store/migrations.js';
import { withPgSchema } from './pg-helper.js';

const T0 = new Date('2026-11-02T10:00:00Z');
const BEFORE_010 = MIGRATIONS.findIndex((m) => m.name === '010_page_ack_identity');

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`migration 010: a page's acknowledger as a resolved id and a name (${dialect})`, () => {
    let store: KyselyStore;
    let cleanup = async () => {};
    let skip: string | null = null;
    before(async () => {
      if (dialect === 'sqlite') {
        const dir = mkdtempSync(join(tmpdir(), 'firebreak-010-'));
        store = await openKyselyStore(`sqlite:${join(dir, 'old.db')}`);
        cleanup = async () => {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        };
      } else {
        const pg = await withPgSchema();
        if (!pg) return void (skip = 'PostgreSQL not reachable');
        store = await openKyselyStore(pg.url);
        cleanup = async () => {
          await store.close();
          await pg.cleanup();
        };
      }
      assert.ok(BEFORE_010 > 0, 'migration 010 is in the list');
      await runMigrations(store.db, dialect, () => T0, undefined, MIGRATIONS.slice(0, BEFORE_010));
    });
    after(async () => cleanup());

    test('old acknowledgers become names, never mentions; a new acknowledgement stores the id and the name apart', async (t) => {
      if (skip) return t.skip(skip);
      const incidentId = randomUUID();
      await store.createIncident({
        id: incidentId,
        title: 'Checkout down',
        description: '',
        severity: 'high',
        services: ['checkout'],
        private: false,
        origin: 'slack',
        declaredBy: 'U0BOB0001',
        commanderId: 'U0BOB0001',
        backend: 'local',
        createdAt: T0,
      });
      // As 008 stored them: a resolved id, a PagerDuty agent named like one, a name; and one not acknowledged.
      const old = { a: 'U0CAROL01', b: 'U0ALICE01', c: 'Carol Jiménez', d: null };
      for (const [key, by] of Object.entries(old))
        await sql`insert into pages (incident_id, target_key, target_name, message, paged_by, state, created_at, acked_at, acked_by)
            values (${incidentId}, ${key}, ${key}, ${''}, ${'U0BOB0001'}, ${by ? 'acknowledged' : 'sent'}, ${T0.getTime()}, ${by ? T0.getTime() : null}, ${by})`.execute(
          store.db,
        );
      assert.deepEqual(
        await runMigrations(store.db, dialect, () => T0),
        MIGRATIONS.slice(BEFORE_010).map((m) => m.name),
      );
      for (const [key, by] of Object.entries(old)) {
        const p = (await store.getPage(incidentId, key))!;
        assert.equal(p.ackedByUser, null, `${key}: an old value cannot say it was resolved`);
        assert.equal(p.ackedByName, by, `${key}: kept as the name shown`);
      }
      const acked = await store.ackPage(incidentId, 'd', { at: T0, ackedByUser: 'U0DAVE001', ackedByName: 'Dave' });
      assert.deepEqual([acked?.ackedByUser, acked?.ackedByName], ['U0DAVE001', 'Dave']);
    });
  });
}
