import { z } from 'zod';
import { defineJob } from './jobs.js';
import type { Deps } from './deps.js';

/**
 * The backend's incident history into the store, for insights: Rootly and incident.io (the local
 * backend is the store already). One run walks the backend's pages of incidents updated since the
 * last run (the first run: `insights.backfill_days` back) and upserts them by backend id. The
 * cursor is saved after each page, so a run that dies (SIGKILL, lost lease) resumes at the page it
 * was on; re-reading that page is harmless because rows are keyed by the backend's id.
 *
 * One replica at a time: runs are jobs keyed by their time slot (one per `sync_every_minutes`),
 * claimed by one worker; a run that finds another sync still running ends at once.
 */

export const INSIGHTS_SYNC_JOB = 'insights.sync';

const syncPayload = z.object({ slot: z.number().int() });
const syncState = z.object({
  /** The next run fetches incidents updated at or after this (null = backfill). */
  since: z.string().nullable(),
  /** A run in progress: its cursor and window; null between runs. */
  run: z.object({ cursor: z.string(), updatedSince: z.string(), startedAt: z.string() }).nullable(),
  lastFinishedAt: z.string().nullable(),
});
type SyncState = z.infer<typeof syncState>;

/** Slack and backend clocks disagree a little; the next window starts this much before the last run. */
const SKEW_MS = 5 * 60_000;
const stateKey = (backend: string) => `insights.sync:${backend}`;

export interface SyncResult {
  pages: number;
  incidents: number;
  /** False when stopped by `maxPages` (tests, the benchmark's crash); the cursor is saved. */
  finished: boolean;
}

export async function syncHistory(deps: Deps, opts: { maxPages?: number } = {}): Promise<SyncResult> {
  const { backend, store, clock, config } = deps;
  if (!backend.listIncidentHistory) return { pages: 0, incidents: 0, finished: true };
  const key = stateKey(backend.name);
  const saved = syncState.safeParse(await store.getKv(key));
  let state: SyncState = saved.success ? saved.data : { since: null, run: null, lastFinishedAt: null };
  const startedAt = clock.now();
  const run = state.run ?? {
    cursor: '',
    updatedSince: state.since ?? new Date(startedAt.getTime() - config.file.insights.backfill_days * 86_400_000).toISOString(),
    startedAt: startedAt.toISOString(),
  };
  const log = deps.logger.child({ component: 'insights-sync', backend: backend.name });
  if (state.run) log.info({ updatedSince: run.updatedSince }, 'resuming an interrupted history sync');
  let pages = 0;
  let incidents = 0;
  let cursor: string | null = run.cursor || null;
  for (;;) {
    if (opts.maxPages !== undefined && pages >= opts.maxPages) return { pages, incidents, finished: false };
    const page = await backend.listIncidentHistory({ updatedSince: new Date(run.updatedSince), cursor, pageSize: config.file.insights.page_size });
    incidents += await store.upsertBackendIncidents(backend.name, page.incidents, clock.now());
    pages++;
    if (page.next) {
      cursor = page.next;
      state = { ...state, run: { ...run, cursor } };
      await store.setKv(key, state);
      continue;
    }
    state = { since: new Date(Date.parse(run.startedAt) - SKEW_MS).toISOString(), run: null, lastFinishedAt: clock.now().toISOString() };
    await store.setKv(key, state);
    log.info({ pages, incidents }, 'history sync finished');
    return { pages, incidents, finished: true };
  }
}

/** The sync job: one per time slot (`insights.sync:<slot>`), claimed by one replica. */
export const insightsSyncJob = defineJob({
  kind: INSIGHTS_SYNC_JOB,
  payload: syncPayload,
  key: (p) => String(p.slot),
  run: async (deps, p) => {
    // A slow backfill may outlast its slot: a second run beside it would walk the same cursor.
    if ((await deps.store.countJobs({ kind: INSIGHTS_SYNC_JOB, state: 'running' })) > 1) {
      deps.logger.info({ slot: p.slot }, 'history sync skipped: another replica is syncing');
      return;
    }
    await syncHistory(deps);
  },
});

export const insightsSyncJobs = [insightsSyncJob];

/** Enqueue this slot's sync (no-op for the local backend or when already queued by a replica). */
export async function scheduleHistorySync(deps: Deps): Promise<void> {
  if (!deps.backend.listIncidentHistory) return;
  const every = deps.config.file.insights.sync_every_minutes * 60_000;
  const slot = Math.floor(deps.clock.now().getTime() / every);
  await deps.jobs.enqueue(insightsSyncJob, { slot });
}
