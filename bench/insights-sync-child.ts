/**
 * The sync as its own process, for the benchmark's SIGKILL: syncs Rootly (ROOTLY_API_URL) into
 * DATABASE_URL and exits 0 when the walk is done. Killed midway, it leaves its cursor in the store.
 */
import { openAndMigrate } from '../src/adapters/store/index.js';
import { loadConfig } from '../src/config.js';
import { syncHistory } from '../src/services/insights-sync.js';
import { insightsDeps } from './insights-deps.js';

const config = loadConfig({ DATABASE_URL: process.env.DATABASE_URL, LOG_LEVEL: 'warn' }, process.cwd());
const store = await openAndMigrate(config.databaseUrl);
const deps = insightsDeps(store, config, process.env.ROOTLY_API_URL!);
const r = await syncHistory(deps);
process.stdout.write(`${JSON.stringify(r)}\n`);
await store.close();
process.exit(0);
