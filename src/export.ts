import { parseArgs } from 'node:util';
import { openKyselyStore } from './adapters/store/index.js';
import { exportTables } from './adapters/store/export-tables.js';
import { parseTarget, writeExport } from './adapters/export/duckdb.js';

/**
 * `npm run export -- --to <file.duckdb | file.parquet | dir/> [--table <name>]`: the store's history
 * (DATABASE_URL, as the bot reads it) as tables teams can query with SQL. See docs/insights.md.
 */
export async function runExport(argv: string[], env: NodeJS.ProcessEnv = process.env, print: (line: string) => void = console.log): Promise<number> {
  let args: ReturnType<
    typeof parseArgs<{ args: string[]; options: { to: { type: 'string' }; table: { type: 'string' }; help: { type: 'boolean' } }; strict: true }>
  >;
  try {
    args = parseArgs({ args: argv, options: { to: { type: 'string' }, table: { type: 'string' }, help: { type: 'boolean' } }, strict: true });
  } catch (err) {
    print(`export: ${(err as Error).message}`);
    return 2;
  }
  const usage =
    'usage: npm run export -- --to <file.duckdb | file.parquet | dir/> [--table incidents|timeline_events|approvals|alerts|backend_incidents|incident_facts]';
  if (args.values.help || !args.values.to) {
    print(usage);
    return args.values.help ? 0 : 2;
  }
  const target = parseTarget(args.values.to, args.values.table ?? null);
  if ('error' in target) {
    print(`export: ${target.error}`);
    return 2;
  }
  const store = await openKyselyStore(env.DATABASE_URL);
  try {
    await store.migrate();
    const tables = exportTables(store.db, () => store.listIncidentFacts({ from: new Date(0), to: new Date(8.64e15) }));
    const written = await writeExport(target, tables);
    for (const w of written) print(`${w.table}: ${w.rows} rows → ${w.file}`);
    return 0;
  } finally {
    await store.close();
  }
}

const isMain = import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/export.ts') || process.argv[1]?.endsWith('/export.js');
if (isMain) {
  runExport(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`export failed: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
