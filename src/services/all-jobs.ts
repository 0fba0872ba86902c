import { alertJobs } from './alerts.js';
import { approvalJobs } from './approvals.js';
import { backendEventJobs } from './backend-events.js';
import { claudeProposalJobs } from './claude-proposals.js';
import { declareJobs } from './declare.js';
import { incidentViewJobs } from './incident-views.js';
import { type AnyJob, maintenanceJob } from './jobs.js';
import { lifecycleJobs } from './lifecycle.js';
import { runbookJobs } from './runbooks.js';
import { insightsJobs } from './insights.js';
import { insightsSyncJobs } from './insights-sync.js';
import { summaryJobs } from './summaries.js';
import { pagingJobs } from './paging.js';
import { reminderJobs } from './reminders.js';
import { followupJobs } from './followups.js';

/** Every background job, each declared beside its service (docs/architecture.md has the catalogue). */
export const allJobs: readonly AnyJob[] = [
  ...declareJobs,
  ...incidentViewJobs,
  ...lifecycleJobs,
  ...summaryJobs,
  ...claudeProposalJobs,
  ...approvalJobs,
  ...alertJobs,
  ...backendEventJobs,
  ...runbookJobs,
  ...insightsSyncJobs,
  ...insightsJobs,
  ...pagingJobs,
  ...reminderJobs,
  ...followupJobs,
  maintenanceJob,
];
