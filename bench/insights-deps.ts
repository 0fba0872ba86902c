/**
 * The Deps the insights bench hands to syncHistory and buildStats, in the bench process and in the
 * sync child it SIGKILLs: what those two read (config, store, backend, clock, logger, metrics, ids,
 * jobs) and nothing else, so the cast is to a partial Deps. `rootlyUrl` null: the local backend.
 */
import { createRootlyBackend } from '../src/adapters/backend/rootly/backend.js';
import type { Config } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { systemClock } from '../src/ports/clock.js';
import type { Store } from '../src/ports/store.js';
import type { Deps } from '../src/services/deps.js';
import { JobRunner } from '../src/services/jobs.js';

export function insightsDeps(store: Store, config: Config, rootlyUrl: string | null): Deps {
  const logger = createLogger({ level: 'warn' });
  const metrics = createMetrics();
  const backend = rootlyUrl ? createRootlyBackend({ apiKey: 'rootly-test-key', baseUrl: rootlyUrl }) : ({ name: 'local' } as Deps['backend']);
  return {
    config,
    store,
    backend,
    logger,
    metrics,
    clock: systemClock,
    newId: () => crypto.randomUUID(),
    jobs: new JobRunner(store, logger, systemClock, metrics),
  } as unknown as Deps;
}
