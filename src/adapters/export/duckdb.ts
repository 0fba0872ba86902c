import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Writes tables to DuckDB or Parquet through `@duckdb/node-api`, which is loaded here only (the
 * `npm run export` command), never by the bot: its native library is large.
 *
 * Targets: `file.duckdb` (a database with every table; replaced if it exists), `file.parquet` (one
 * table, `incidents` unless named), `dir/` (one Parquet file per table).
 */

export type ColumnType = 'VARCHAR' | 'INTEGER' | 'BIGINT' | 'DOUBLE' | 'BOOLEAN' | 'TIMESTAMPTZ' | 'VARCHAR[]';
export interface ExportColumn {
  name: string;
  type: ColumnType;
}
export type Cell = string | number | boolean | Date | string[] | null;
export interface ExportTable {
  name: string;
  columns: ExportColumn[];
  rows: () => AsyncIterable<Cell[]>;
}

export type ExportTarget = { kind: 'duckdb'; path: string } | { kind: 'parquet'; path: string; table: string } | { kind: 'dir'; path: string };

/** `--to` as given: a directory (ends with / or exists as one), a .parquet file, or a .duckdb file. */
export function parseTarget(to: string, table: string | null): ExportTarget | { error: string } {
  const path = resolve(to);
  if (to.endsWith('/') || (existsSync(path) && statSync(path).isDirectory())) return { kind: 'dir', path };
  if (/\.parquet$/i.test(to)) return { kind: 'parquet', path, table: table ?? 'incidents' };
  if (/\.(duckdb|db)$/i.test(to)) return { kind: 'duckdb', path };
  return { error: `--to ${to}: use a file ending in .duckdb, a file ending in .parquet, or a directory ending in /` };
}

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;
const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;

export async function writeExport(target: ExportTarget, tables: ExportTable[]): Promise<{ table: string; rows: number; file: string }[]> {
  const duck = await import('@duckdb/node-api');
  if (target.kind === 'duckdb') {
    // A fresh file: an export is a snapshot, not a merge into an older one.
    for (const f of [target.path, `${target.path}.wal`]) if (existsSync(f)) rmSync(f);
  }
  if (target.kind === 'dir') mkdirSync(target.path, { recursive: true });
  const instance = await duck.DuckDBInstance.create(target.kind === 'duckdb' ? target.path : ':memory:');
  const conn = await instance.connect();
  const out: { table: string; rows: number; file: string }[] = [];
  try {
    const chosen = target.kind === 'parquet' ? tables.filter((t) => t.name === target.table) : tables;
    if (chosen.length === 0)
      throw new Error(`no table named ${target.kind === 'parquet' ? target.table : ''}; tables: ${tables.map((t) => t.name).join(', ')}`);
    for (const t of chosen) {
      await conn.run(`create or replace table ${q(t.name)} (${t.columns.map((c) => `${q(c.name)} ${c.type}`).join(', ')})`);
      const appender = await conn.createAppender(t.name);
      let n = 0;
      for await (const row of t.rows()) {
        row.forEach((v, i) => append(duck, appender, t.columns[i]!.type, v));
        appender.endRow();
        if (++n % 10_000 === 0) appender.flushSync();
      }
      appender.closeSync();
      let file = target.path;
      if (target.kind !== 'duckdb') {
        file = target.kind === 'dir' ? join(target.path, `${t.name}.parquet`) : target.path;
        await conn.run(`copy ${q(t.name)} to ${lit(file)} (format parquet)`);
      }
      out.push({ table: t.name, rows: n, file });
    }
    await conn.run('checkpoint').catch(() => undefined);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
  return out;
}

type Duck = typeof import('@duckdb/node-api');
type Appender = Awaited<ReturnType<InstanceType<Duck['DuckDBConnection']>['createAppender']>>;

function append(duck: Duck, a: Appender, type: ColumnType, v: Cell): void {
  if (v === null || v === undefined) return a.appendNull();
  switch (type) {
    case 'VARCHAR':
      return a.appendVarchar(String(v));
    case 'INTEGER':
      return a.appendInteger(Number(v));
    case 'BIGINT':
      return a.appendBigInt(BigInt(Math.trunc(Number(v))));
    case 'DOUBLE':
      return a.appendDouble(Number(v));
    case 'BOOLEAN':
      return a.appendBoolean(Boolean(v));
    case 'TIMESTAMPTZ': {
      const ms = v instanceof Date ? v.getTime() : Number(v);
      return a.appendTimestampTZ(new duck.DuckDBTimestampTZValue(BigInt(Math.trunc(ms)) * 1000n));
    }
    case 'VARCHAR[]':
      return a.appendList(duck.listValue((v as string[]).map(String)), duck.LIST(duck.VARCHAR));
  }
}
