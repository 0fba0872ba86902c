/**
 * The sync as its own process, for the benchmark's SIGKILL: syncs Rootly (ROOTLY_API_URL) into
 * DATABASE_URL and exits 0 when the walk is done. Killed midway, it leaves its cursor in the store.
 */
import { createRootlyBackend } from '../src/adapters/backend/rootly/backend.js';
import { openAndMigrate } from '../src/adapters/store/index.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import type { Deps } from '../src/services/deps.js';
import { JobRunner } from '../src/services/jobs.js';
import { syncHistory } from '../src/services/insights-sync.js';
import { systemClock } from '../src/ports/clock.js';

const config = loadConfig({ DATABASE_URL: process.env.DATABASE_URL, LOG_LEVEL: 'warn' }, process.cwd());
const logger = createLogger({ level: 'warn' });
const store = await openAndMigrate(config.databaseUrl);
const backend = createRootlyBackend({ apiKey: 'rootly-test-key', baseUrl: process.env.ROOTLY_API_URL! });
const metrics = createMetrics();
const deps = {
  config,
  store,
  backend,
  logger,
  metrics,
  clock: systemClock,
  newId: () => crypto.randomUUID(),
  jobs: new JobRunner(store, logger, systemClock, metrics),
} as unknown as Deps;
const r = await syncHistory(deps);
process.stdout.write(`${JSON.stringify(r)}\n`);
await store.close();
process.exit(0);
