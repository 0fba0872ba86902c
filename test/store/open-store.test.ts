import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { AppError } from '../../src/errors.js';
import { openAndMigrate, openStore, parseDatabaseUrl } from '../../src/adapters/store/index.js';
import { withDefaultUser } from '../../src/adapters/store/postgres.js';

test('DATABASE_URL forms select the dialect', () => {
  assert.deepEqual(parseDatabaseUrl(undefined), { dialect: 'sqlite', path: './data/firebreak.db' });
  assert.deepEqual(parseDatabaseUrl(''), { dialect: 'sqlite', path: './data/firebreak.db' });
  assert.deepEqual(parseDatabaseUrl('sqlite::memory:'), { dialect: 'sqlite', path: ':memory:' });
  assert.deepEqual(parseDatabaseUrl('sqlite:./x/y.db'), { dialect: 'sqlite', path: './x/y.db' });
  assert.deepEqual(parseDatabaseUrl('sqlite:///var/lib/fb.db'), { dialect: 'sqlite', path: '/var/lib/fb.db' });
  assert.deepEqual(parseDatabaseUrl('postgres://u:p@h/db'), { dialect: 'postgres', url: 'postgres://u:p@h/db' });
  assert.deepEqual(parseDatabaseUrl('postgresql://h/db'), { dialect: 'postgres', url: 'postgresql://h/db' });
});

test('an unsupported DATABASE_URL is a clear config error that does not leak the password', () => {
  for (const bad of ['mysql://root:hunter2@db/x', 'firebreak.db', 'sqlite:']) {
    assert.throws(
      () => parseDatabaseUrl(bad),
      (e) => e instanceof AppError && e.code === 'config.invalid' && /DATABASE_URL/.test(e.message) && !e.message.includes('hunter2'),
      bad,
    );
  }
});

test('unset DATABASE_URL creates ./data/firebreak.db under the working directory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-cwd-'));
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const store = await openAndMigrate(undefined);
    assert.equal(store.dialect, 'sqlite');
    await store.setKv('k', 1);
    await store.close();
    assert.ok(existsSync(join(dir, 'data', 'firebreak.db')));
  } finally {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a SQLite file store keeps its data across reopen', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-reopen-'));
  const url = `sqlite:${join(dir, 'nested', 'fb.db')}`;
  try {
    const a = await openAndMigrate(url);
    await a.setKv('summary', { text: 'kept' });
    await a.close();
    const b = await openAndMigrate(url);
    assert.deepEqual(await b.getKv('summary'), { text: 'kept' });
    await b.close();
    // WAL is a property of the file: another reader sees it, so the pragma really took effect.
    const raw = new BetterSqlite3(join(dir, 'nested', 'fb.db'), { readonly: true });
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    raw.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('openStore does not migrate; queries fail until migrate() runs', async () => {
  const store = await openStore('sqlite::memory:');
  await assert.rejects(store.getKv('x'), /no such table/);
  await store.migrate();
  assert.equal(await store.getKv('x'), undefined);
  await store.close();
});

test('postgres URL without a user gets the OS user only when PGUSER and USER are unset', () => {
  assert.equal(withDefaultUser('postgres://h/db', { USER: 'me' }), 'postgres://h/db');
  assert.equal(withDefaultUser('postgres://bob@h/db', {}), 'postgres://bob@h/db');
  assert.match(withDefaultUser('postgres://h:5432/db', {}), /^postgres:\/\/[^@/]+@h:5432\/db$/);
});
