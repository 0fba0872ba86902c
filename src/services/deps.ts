import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { IncidentBackend } from '../ports/backend.js';
import type { Chat } from '../ports/chat.js';
import type { ChartRenderer } from '../ports/charts.js';
import type { Clock } from '../ports/clock.js';
import type { ActionExecutor } from '../ports/executor.js';
import type { OnCall } from '../ports/oncall.js';
import type { Store } from '../ports/store.js';
import type { Summarizer } from '../ports/summarizer.js';
import type { JobRunner } from './jobs.js';

/** What every service gets: ports, config, and the cross-cutting tools. No globals. */
export interface Deps {
  config: Config;
  store: Store;
  chat: Chat;
  /** Insights charts (rendered in-process; the libraries load at the first chart). */
  charts: ChartRenderer;
  backend: IncidentBackend;
  /** Runs approved actions; only the approval service calls it. */
  executor: ActionExecutor;
  /** Paging, on-call lookup and follow-ups on the backend (PagerDuty + firebreak.yml for local). */
  oncall: OnCall;
  summarizer: Summarizer;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  jobs: JobRunner;
  /** In-process news of flow steps as they are recorded (see services/steps.ts). */
  newId: () => string;
}
