import { sql, type Kysely } from 'kysely';
import type { Clock } from '../../ports/clock.js';
import type { FollowThroughStore } from '../../ports/followthrough-store.js';
import type { InsightsStore } from '../../ports/insights-store.js';
import type { RunbookStore } from '../../ports/runbook-store.js';
import type {
  AlertStore,
  ApprovalStore,
  AuditStore,
  FlowStore,
  IncidentStore,
  JobStore,
  KvStore,
  ProcessedStore,
  RoleStore,
  Store,
  TimelineStore,
} from '../../ports/store.js';
import { KyselyAlertStore } from './alert-store.js';
import { KyselyApprovalStore } from './approval-store.js';
import { KyselyAuditStore } from './audit-store.js';
import { DIALECT_OPS } from './dialect.js';
import { KyselyFlowStore } from './flow-store.js';
import { KyselyFollowThroughStore } from './followthrough.js';
import { KyselyIncidentStore } from './incident-store.js';
import { KyselyInsightsStore } from './insights-store.js';
import { KyselyJobStore } from './job-store.js';
import { KyselyKvStore } from './kv-store.js';
import { runMigrations, type MigrationLogger, type StoreDialect } from './migrations.js';
import { KyselyProcessedStore } from './processed-store.js';
import { KyselyRunbookStore } from './runbook-store.js';
import type { Database } from './schema.js';
import { KyselyTimelineStore } from './timeline-store.js';

/** The Store over Kysely, plus the database handle (export and tests read tables directly). */
export type KyselyStore = Store & { readonly db: Kysely<Database> };

/**
 * The one Store implementation, over Kysely, for both dialects, composed of one adapter per area of
 * the port (incident-store.ts, approval-store.ts, job-store.ts, …) over one shared connection. Every
 * method is a single statement (or an insert-if-absent followed by a read of the winner), so
 * atomicity comes from the database, not from locks in this process: that is what makes it safe
 * for several replicas on one PostgreSQL. The only dialect differences are in dialect.ts.
 */
export function createKyselyStore(db: Kysely<Database>, dialect: StoreDialect, opts: { clock: Clock; logger?: MigrationLogger }): KyselyStore {
  const { clock } = opts;
  const ops = DIALECT_OPS[dialect];
  let closed = false;
  return {
    dialect,
    db,
    async migrate() {
      await runMigrations(db, dialect, () => clock.now(), opts.logger);
    },
    async ping() {
      await sql`select 1`.execute(db);
    },
    /** Idempotent: a second close (e.g. a test's cleanup after a graceful shutdown) is a no-op. */
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
    ...methodsOf<IncidentStore & RoleStore>(new KyselyIncidentStore(db, ops), {
      createIncident: true,
      getIncident: true,
      findIncidentByChannel: true,
      findIncidentByBackendId: true,
      findIncidentByDedupeKey: true,
      findIncidentsByDedupeKeys: true,
      listOpenIncidents: true,
      listIncidents: true,
      updateIncident: true,
      bumpAlertCount: true,
      setRole: true,
      getRoles: true,
    }),
    ...methodsOf<TimelineStore>(new KyselyTimelineStore(db), { addTimeline: true, listTimeline: true }),
    ...methodsOf<FlowStore>(new KyselyFlowStore(db, clock), { getStep: true, getStepOfFlows: true, putStep: true, listSteps: true }),
    ...methodsOf<ApprovalStore>(new KyselyApprovalStore(db, clock), {
      createApproval: true,
      getApproval: true,
      listApprovals: true,
      transitionApproval: true,
      patchApproval: true,
      addVote: true,
      listVotes: true,
    }),
    ...methodsOf<AuditStore>(new KyselyAuditStore(db), { audit: true, listAudit: true }),
    ...methodsOf<ProcessedStore>(new KyselyProcessedStore(db), { markProcessed: true, pruneProcessed: true, pruneJobs: true }),
    ...methodsOf<AlertStore>(new KyselyAlertStore(db, clock, dialect), {
      insertAlert: true,
      insertAlertsWithJobs: true,
      getAlert: true,
      getAlerts: true,
      listAlerts: true,
      markAlert: true,
      getFingerprint: true,
      getFingerprints: true,
      claimFingerprint: true,
      joinAlerts: true,
      countOpeningAlert: true,
    }),
    ...methodsOf<JobStore>(new KyselyJobStore(db, clock, ops), {
      enqueueJob: true,
      claimJobs: true,
      completeJob: true,
      completeJobs: true,
      extendJobLeases: true,
      failJob: true,
      expireLeases: true,
      releaseJobs: true,
      countJobs: true,
    }),
    ...methodsOf<KvStore>(new KyselyKvStore(db, clock), { getKv: true, setKv: true }),
    ...methodsOf<InsightsStore>(new KyselyInsightsStore(db, ops), {
      upsertBackendIncidents: true,
      countBackendIncidents: true,
      listIncidentFacts: true,
      recordRemediationAnswer: true,
      listRemediationAnswers: true,
    }),
    ...methodsOf<FollowThroughStore>(new KyselyFollowThroughStore(db), {
      insertPage: true,
      getPage: true,
      listPages: true,
      patchPage: true,
      findPageByExternalId: true,
      ackPage: true,
      insertFollowup: true,
      getFollowup: true,
      listFollowups: true,
      patchFollowup: true,
    }),
    ...methodsOf<RunbookStore>(new KyselyRunbookStore(db, clock), {
      createRunbookRun: true,
      getRunbookRun: true,
      listRunbookRuns: true,
      transitionRunbookRun: true,
      patchRunbookRun: true,
      listRunbookSteps: true,
      getRunbookStep: true,
      transitionRunbookStep: true,
      findRunbookStepByApproval: true,
    }),
  };
}

/**
 * The methods of port `P` on `area`, bound to it. `methods` names every method of the port once:
 * the compiler rejects a missing or unknown name, so a method added to a port cannot be left out.
 */
function methodsOf<P>(area: P, methods: { readonly [K in keyof P]-?: true }): P {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(methods)) {
    const fn = (area as Record<string, unknown>)[name];
    if (typeof fn !== 'function') throw new TypeError(`store area has no method ${name}`);
    out[name] = fn.bind(area);
  }
  return out as P;
}
