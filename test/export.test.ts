import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runExport } from '../src/export.js';
import { openTestSqliteStore } from './store/pg-helper.js';
import { seedHistory } from './services/insights-seed.js';

let dir: string;
let dbUrl: string;
let cleanup: () => Promise<void>;
const NOW = new Date('2026-11-30T12:00:00Z');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fb-export-'));
  const s = await openTestSqliteStore();
  await seedHistory(s.store, { n: 200, days: 90, now: NOW });
  await s.store.upsertBackendIncidents(
    'rootly',
    [
      {
        backendId: 'r-1',
        firebreakId: null,
        title: 'Declared in Rootly',
        severity: 'high',
        status: 'resolved',
        services: ['web'],
        origin: 'backend',
        url: null,
        startedAt: new Date(NOW.getTime() - 86_400_000),
        acknowledgedAt: null,
        mitigatedAt: null,
        resolvedAt: new Date(NOW.getTime() - 80_000_000),
        postmortem: 'completed',
        updatedAt: NOW,
      },
    ],
    NOW,
  );
  await s.store.close();
  dbUrl = `sqlite:${s.path}`;
  cleanup = s.cleanup;
});
after(async () => {
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const lines: string[] = [];
const print = (l: string) => void lines.push(l);

async function query(file: string, sql: string) {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const inst = await DuckDBInstance.create(file, file === ':memory:' ? {} : { access_mode: 'READ_ONLY' });
  const conn = await inst.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJson();
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

test('--to file.duckdb writes every table; SQL over it answers what the figures say', async () => {
  const file = join(dir, 'history.duckdb');
  assert.equal(await runExport(['--to', file], { DATABASE_URL: dbUrl }, print), 0);
  assert.ok(
    lines.some((l) => /^incidents: 200 rows/.test(l)),
    lines.join('\n'),
  );
  const counts = await query(
    file,
    `select (select count(*) from incidents) i, (select count(*) from timeline_events) t, (select count(*) from approvals) a,
    (select count(*) from alerts) al, (select count(*) from backend_incidents) b, (select count(*) from incident_facts) f`,
  );
  // declared 200; commander taken on 53 of the 67 alert incidents; mitigated 200; resolved 180; reopened 10.
  assert.deepEqual(counts[0], { i: '200', t: String(200 + 53 + 200 + 180 + 10), a: '50', al: '67', b: '1', f: '201' });
  // Typed columns: timestamps are TIMESTAMPTZ, services a list, the answer joined onto approvals.
  const types = await query(
    file,
    `select column_name, data_type from information_schema.columns where table_name = 'incident_facts' and column_name in ('started_at', 'services', 'runbook') order by column_name`,
  );
  assert.deepEqual(types, [
    { column_name: 'runbook', data_type: 'BOOLEAN' },
    { column_name: 'services', data_type: 'VARCHAR[]' },
    { column_name: 'started_at', data_type: 'TIMESTAMP WITH TIME ZONE' },
  ]);
  const fp = await query(file, `select count(*) filter (where needed = 'no') as no, count(*) as executed from approvals where status = 'succeeded'`);
  assert.deepEqual(fp[0], { no: '25', executed: '50' });
  const never = await query(file, `select count(*) as n from incident_facts where acknowledged_at is null`);
  assert.equal(never[0]!.n, String(14 + 1), 'alert incidents nobody took (every fifth) and the Rootly one without acknowledged_at');

  // The three example queries of docs/insights.md run as written.
  const docs = readFileSync(new URL('../docs/insights.md', import.meta.url), 'utf8');
  const examples = [...docs.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.equal(examples.length, 3);
  for (const sql of examples) assert.ok((await query(file, sql)).length > 0, sql);
});

test('--to dir/ writes one Parquet file per table; --to file.parquet one table; a bad target is refused with the usage', async () => {
  const out = `${join(dir, 'parquet')}/`;
  assert.equal(await runExport(['--to', out], { DATABASE_URL: dbUrl }, print), 0);
  for (const t of ['incidents', 'timeline_events', 'approvals', 'alerts', 'backend_incidents', 'incident_facts'])
    assert.ok(existsSync(join(out, `${t}.parquet`)), t);
  const rows = await query(':memory:', `select count(*) as n from read_parquet('${join(out, 'incidents.parquet')}')`);
  assert.equal(rows[0]!.n, '200');
  const one = join(dir, 'facts.parquet');
  assert.equal(await runExport(['--to', one, '--table', 'incident_facts'], { DATABASE_URL: dbUrl }, print), 0);
  assert.equal((await query(':memory:', `select count(*) as n from read_parquet('${one}')`))[0]!.n, '201');
  lines.length = 0;
  assert.equal(await runExport(['--to', join(dir, 'x.csv')], { DATABASE_URL: dbUrl }, print), 2);
  assert.match(lines.join('\n'), /\.duckdb.*\.parquet.*directory/);
  assert.equal(await runExport([], { DATABASE_URL: dbUrl }, print), 2);
});
