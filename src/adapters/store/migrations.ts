import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

export type StoreDialect = 'sqlite' | 'postgres';

/**
 * Ordered, append-only list of schema migrations. Never edit a released migration; add a new one.
 *
 * We use our own small runner instead of Kysely's Migrator because the Migrator's "does the
 * migration table exist" check looks across all PostgreSQL schemas, which breaks when several
 * Firebreak schemas (tests, staging) share one database. The runner records applied names in
 * `firebreak_migrations` and, on PostgreSQL, holds a session advisory lock keyed by the current
 * schema so two replicas starting together apply each migration exactly once.
 */
export interface Migration {
  name: string;
  up(db: Kysely<Database>, dialect: StoreDialect): Promise<void>;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    name: '001_initial',
    async up(db, dialect) {
      const pg = dialect === 'postgres';
      // Autoincrement ids: SQLite's INTEGER PRIMARY KEY AUTOINCREMENT never reuses ids; bigserial on PG.
      const serialId = (col: 'id') => (pg ? sql`${sql.ref(col)} bigserial primary key` : sql`${sql.ref(col)} integer primary key autoincrement`);

      if (pg) {
        // seq allocation across replicas: a sequence never hands out the same value twice.
        // (A failed or conflicting insert leaves a gap; INC numbers are unique, not dense.)
        await sql`create sequence if not exists incident_seq`.execute(db);
      }

      await db.schema
        .createTable('incidents')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('seq', 'integer', (c) => c.notNull().unique())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('services', 'text', (c) => c.notNull())
        .addColumn('private', 'integer', (c) => c.notNull())
        .addColumn('origin', 'text', (c) => c.notNull())
        .addColumn('source', 'text')
        .addColumn('declared_by', 'text')
        .addColumn('commander_id', 'text')
        .addColumn('backend', 'text', (c) => c.notNull())
        .addColumn('backend_id', 'text')
        .addColumn('backend_url', 'text')
        .addColumn('channel_id', 'text')
        .addColumn('channel_name', 'text')
        .addColumn('card_ts', 'text')
        .addColumn('announce_ts', 'text')
        .addColumn('alert_count', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('resolved_at', 'bigint')
        .addColumn('version', 'integer', (c) => c.notNull())
        // NULLs are distinct in a unique index on both dialects, so "unique when not null" holds.
        .addColumn('dedupe_key', 'text', (c) => c.unique())
        .execute();
      await db.schema.createIndex('incidents_channel_idx').on('incidents').column('channel_id').execute();
      await db.schema.createIndex('incidents_backend_idx').on('incidents').columns(['backend', 'backend_id']).execute();
      await db.schema.createIndex('incidents_status_idx').on('incidents').column('status').execute();

      await db.schema
        .createTable('incident_roles')
        .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('incident_roles_pk', ['incident_id', 'role'])
        .execute();

      await sql`create table timeline (
        ${serialId('id')},
        incident_id text not null references incidents(id) on delete cascade,
        at bigint not null,
        kind text not null,
        text text not null,
        author text,
        source_ref text
      )`.execute(db);
      await db.schema.createIndex('timeline_source_ref_uq').on('timeline').columns(['incident_id', 'source_ref']).unique().execute();

      await db.schema
        .createTable('flow_steps')
        .addColumn('flow_id', 'text', (c) => c.notNull())
        .addColumn('step', 'text', (c) => c.notNull())
        .addColumn('result', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('flow_steps_pk', ['flow_id', 'step'])
        .execute();

      await db.schema
        .createTable('approvals')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
        .addColumn('action_id', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('proposed_by', 'text', (c) => c.notNull())
        .addColumn('proposer_kind', 'text', (c) => c.notNull())
        .addColumn('policy', 'text', (c) => c.notNull())
        .addColumn('requires_approval', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('channel_id', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('message_ts', 'text')
        .addColumn('decided_by', 'text')
        .addColumn('decided_at', 'bigint')
        .addColumn('deny_reason', 'text')
        .addColumn('result', 'text')
        .addColumn('error', 'text')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('approvals_incident_idx').on('approvals').columns(['incident_id', 'status']).execute();

      await db.schema
        .createTable('approval_votes')
        .addColumn('approval_id', 'text', (c) => c.notNull().references('approvals.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('approval_votes_pk', ['approval_id', 'user_id'])
        .execute();

      // No foreign keys: the audit trail must outlive anything it mentions.
      await sql`create table audit_log (
        ${serialId('id')},
        at bigint not null,
        incident_id text,
        approval_id text,
        actor text not null,
        action text not null,
        detail text not null
      )`.execute(db);
      await db.schema.createIndex('audit_incident_idx').on('audit_log').column('incident_id').execute();
      await db.schema.createIndex('audit_approval_idx').on('audit_log').column('approval_id').execute();

      await db.schema
        .createTable('processed_keys')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('processed_keys_at_idx').on('processed_keys').column('at').execute();

      // alerts and fingerprints name incidents without a foreign key: a fingerprint is claimed
      // with a pre-generated incident id before that incident row exists.
      await db.schema
        .createTable('alerts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('delivery_id', 'text')
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('external_id', 'text')
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('service', 'text')
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('url', 'text')
        .addColumn('raw', 'text', (c) => c.notNull())
        .addColumn('received_at', 'bigint', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('incident_id', 'text')
        .addColumn('error', 'text')
        .execute();
      await db.schema.createIndex('alerts_delivery_uq').on('alerts').columns(['source', 'delivery_id']).unique().execute();
      await db.schema.createIndex('alerts_fingerprint_idx').on('alerts').column('fingerprint').execute();
      await db.schema.createIndex('alerts_incident_idx').on('alerts').column('incident_id').execute();

      await db.schema
        .createTable('alert_fingerprints')
        .addColumn('fingerprint', 'text', (c) => c.primaryKey())
        .addColumn('incident_id', 'text', (c) => c.notNull())
        .addColumn('first_seen', 'bigint', (c) => c.notNull())
        .addColumn('last_seen', 'bigint', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.unique())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('run_after', 'bigint', (c) => c.notNull())
        .addColumn('claimed_by', 'text')
        .addColumn('claimed_until', 'bigint')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('jobs_due_idx').on('jobs').columns(['state', 'run_after']).execute();
      await db.schema.createIndex('jobs_claimed_by_idx').on('jobs').column('claimed_by').execute();

      await db.schema
        .createTable('kv')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  {
    // Who may approve is fixed when an action is proposed (see ApproverSnapshot). Rows from before
    // keep null and are decided by the live check they were proposed under.
    name: '002_approval_approvers',
    async up(db) {
      await db.schema.alterTable('approvals').addColumn('approvers', 'text').execute();
    },
  },
  {
    // Insights: the backend's incident history (synced; keyed by the backend's id, so a resumed sync
    // never makes a second row) and the "was this remediation needed?" answers.
    name: '003_insights',
    async up(db) {
      await db.schema
        .createTable('backend_incidents')
        .addColumn('backend', 'text', (c) => c.notNull())
        .addColumn('backend_id', 'text', (c) => c.notNull())
        .addColumn('firebreak_id', 'text')
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('severity', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('services', 'text', (c) => c.notNull())
        .addColumn('origin', 'text', (c) => c.notNull())
        .addColumn('url', 'text')
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('acknowledged_at', 'bigint')
        .addColumn('mitigated_at', 'bigint')
        .addColumn('resolved_at', 'bigint')
        .addColumn('postmortem', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('synced_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('backend_incidents_pk', ['backend', 'backend_id'])
        .execute();
      await db.schema.createIndex('backend_incidents_started_idx').on('backend_incidents').column('started_at').execute();
      await db.schema.createIndex('backend_incidents_firebreak_idx').on('backend_incidents').column('firebreak_id').execute();
      await db.schema
        .createTable('remediation_answers')
        .addColumn('approval_id', 'text', (c) => c.primaryKey())
        .addColumn('answer', 'text', (c) => c.notNull())
        .addColumn('answered_by', 'text', (c) => c.notNull())
        .addColumn('answered_at', 'bigint', (c) => c.notNull())
        .execute();
      // The figures read incidents by start time and timelines/approvals by incident.
      await db.schema.createIndex('incidents_created_idx').on('incidents').column('created_at').execute();
      await db.schema.createIndex('timeline_incident_at_idx').on('timeline').columns(['incident_id', 'at']).execute();
    },
  },
  {
    // Paging (one row per incident and target: the idempotency of a page) and follow-ups
    // (source_ref unique: a message or an accepted suggestion becomes one follow-up).
    name: '004_followthrough',
    async up(db) {
      await db.schema
        .createTable('pages')
        .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
        .addColumn('target_key', 'text', (c) => c.notNull())
        .addColumn('target_name', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('paged_by', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('external_id', 'text')
        .addColumn('error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('sent_at', 'bigint')
        .addColumn('acked_at', 'bigint')
        .addPrimaryKeyConstraint('pages_pk', ['incident_id', 'target_key'])
        .execute();
      await db.schema.createIndex('pages_external_idx').on('pages').column('external_id').execute();
      await db.schema
        .createTable('followups')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
        .addColumn('text', 'text', (c) => c.notNull())
        .addColumn('owner_id', 'text')
        .addColumn('due', 'text')
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('source_ref', 'text', (c) => c.unique())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('backend_id', 'text')
        .addColumn('backend_url', 'text')
        .execute();
      await db.schema.createIndex('followups_incident_idx').on('followups').column('incident_id').execute();
      await db.schema.createIndex('followups_owner_idx').on('followups').columns(['owner_id', 'state']).execute();
    },
  },
  {
    // Runbook runs and their steps (docs/runbooks.md), and the answers to "was this automated
    // remediation needed?" asked after resolve (read by insights: the false-positive rate).
    name: '005_runbooks',
    async up(db) {
      await db.schema
        .createTable('runbook_runs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
        .addColumn('runbook_id', 'text', (c) => c.notNull())
        .addColumn('runbook', 'text', (c) => c.notNull())
        .addColumn('started_by', 'text', (c) => c.notNull())
        .addColumn('channel_id', 'text', (c) => c.notNull())
        .addColumn('dedupe_key', 'text', (c) => c.unique())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('message_ts', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('finished_at', 'bigint')
        .addColumn('cancelled_by', 'text')
        .addColumn('feedback_asked_at', 'bigint')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('runbook_runs_incident_idx').on('runbook_runs').column('incident_id').execute();

      await db.schema
        .createTable('runbook_steps')
        .addColumn('run_id', 'text', (c) => c.notNull().references('runbook_runs.id').onDelete('cascade'))
        .addColumn('idx', 'integer', (c) => c.notNull())
        .addColumn('step_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('started_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .addColumn('output', 'text')
        .addColumn('detail', 'text', (c) => c.notNull())
        .addColumn('error', 'text')
        .addColumn('approval_id', 'text')
        .addColumn('actor', 'text')
        .addColumn('acted_at', 'bigint')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('runbook_steps_pk', ['run_id', 'idx'])
        .execute();
      await db.schema.createIndex('runbook_steps_approval_idx').on('runbook_steps').column('approval_id').execute();

      // Keyed by the approval: each automated remediation is one approval of the gate.
      await db.schema
        .createTable('remediation_feedback')
        .addColumn('approval_id', 'text', (c) => c.primaryKey())
        .addColumn('incident_id', 'text', (c) => c.notNull())
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('step_index', 'integer', (c) => c.notNull())
        .addColumn('action_id', 'text', (c) => c.notNull())
        .addColumn('answer', 'text', (c) => c.notNull())
        .addColumn('answered_by', 'text', (c) => c.notNull())
        .addColumn('answered_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('remediation_feedback_incident_idx').on('remediation_feedback').column('incident_id').execute();
    },
  },
  {
    // One record for "was this remediation needed?". 003 (insights) and 005 (the runbooks'
    // post-resolve question) each had a table, and the figures read only 003's, so the answers
    // people gave on runbook messages never reached the false-positive rate. Both are merged into
    // one `remediation_answers`, keyed by the approval (each remediation is one approval of the
    // gate). Every row is kept: where both tables answered for the same approval, the later answer
    // wins, as a later answer always replaced an earlier one. Plain SQL valid on both dialects.
    name: '006_remediation_answers',
    async up(db) {
      await sql`create table remediation_answers_006 (
        approval_id text primary key,
        incident_id text,
        action_id text,
        run_id text,
        step_index integer,
        answer text not null,
        answered_by text not null,
        answered_at bigint not null
      )`.execute(db);
      await sql`insert into remediation_answers_006 (approval_id, incident_id, action_id, run_id, step_index, answer, answered_by, answered_at)
        select approval_id, incident_id, action_id, run_id, step_index, answer, answered_by, answered_at from remediation_feedback`.execute(db);
      // An 003 answer knew only its approval: the incident and action come from the approval (null if
      // it is gone), the run and step from the runbook step that proposed it, if one did.
      // (`where true`: SQLite needs it to read ON CONFLICT after INSERT ... SELECT.)
      await sql`insert into remediation_answers_006 (approval_id, incident_id, action_id, run_id, step_index, answer, answered_by, answered_at)
        select r.approval_id, a.incident_id, a.action_id,
          (select s.run_id from runbook_steps s where s.approval_id = r.approval_id order by s.run_id, s.idx limit 1),
          (select s.idx from runbook_steps s where s.approval_id = r.approval_id order by s.run_id, s.idx limit 1),
          r.answer, r.answered_by, r.answered_at
        from remediation_answers r left join approvals a on a.id = r.approval_id
        where true
        on conflict (approval_id) do update set
          answer = excluded.answer, answered_by = excluded.answered_by, answered_at = excluded.answered_at
        where excluded.answered_at > remediation_answers_006.answered_at`.execute(db);
      await sql`drop table remediation_feedback`.execute(db);
      await sql`drop table remediation_answers`.execute(db);
      await sql`alter table remediation_answers_006 rename to remediation_answers`.execute(db);
      await db.schema.createIndex('remediation_answers_incident_idx').on('remediation_answers').column('incident_id').execute();
    },
  },
  {
    // `/incident stats` reads, per incident in the period, an aggregate of its timeline (first
    // human entry, first mitigation, reopens) and of its executed remediations. These indexes hold
    // every column those aggregates read, so they are answered from the index alone (no lookup of
    // each row in the table). Each replaces an index that is its prefix: no extra index to write.
    name: '007_insights_covering_indexes',
    async up(db) {
      await db.schema.createIndex('timeline_incident_facts_idx').on('timeline').columns(['incident_id', 'at', 'kind', 'author']).execute();
      await db.schema.dropIndex('timeline_incident_at_idx').execute();
      await db.schema.createIndex('approvals_incident_facts_idx').on('approvals').columns(['incident_id', 'status', 'requires_approval', 'id']).execute();
      await db.schema.dropIndex('approvals_incident_idx').execute();
    },
  },
  {
    // Who acknowledged a page (a Slack user id, or the name the paging source gave).
    name: '008_page_acks',
    async up(db) {
      await db.schema.alterTable('pages').addColumn('acked_by', 'text').execute();
    },
  },
  {
    // The job claim reads due jobs in (run_after, id) order straight off this index and stops
    // after the few it takes (claimJobs); jobs_due_idx alone made SQLite sort every due job. It
    // replaces jobs_due_idx, its prefix: no extra index to write.
    name: '009_job_claim_order',
    async up(db) {
      await db.schema.createIndex('jobs_claim_idx').on('jobs').columns(['state', 'run_after', 'id']).execute();
      await db.schema.dropIndex('jobs_due_idx').execute();
    },
  },
  {
    // Who acknowledged a page, as two things: the Slack user id the bot resolved (the source's
    // Slack id for the person, or their email through users.lookupByEmail), which is mentioned and
    // may author the timeline line, and the name the source gave, which is only ever shown as text.
    // 008's acked_by held `resolved id ?? name ?? email`, so a pager's name spelled like a user id
    // could not be told from a resolved one: every old value is kept as a name (an old
    // acknowledgement is not shown again; the timeline line it wrote is unchanged).
    name: '010_page_ack_identity',
    async up(db) {
      await db.schema.alterTable('pages').renameColumn('acked_by', 'acked_by_name').execute();
      await db.schema.alterTable('pages').addColumn('acked_by_user', 'text').execute();
    },
  },
];

export interface MigrationLogger {
  info(obj: object, msg?: string): void;
}

/**
 * Apply pending migrations. Each migration runs in its own transaction (both dialects have
 * transactional DDL) together with its bookkeeping row, so a crash leaves it either fully applied
 * or not at all. Returns the names applied by this call.
 *
 * Limit on SQLite: there is no cross-process lock; SQLite is the single-process store, so run
 * migrations from the one process that owns the file.
 */
export async function runMigrations(
  db: Kysely<Database>,
  dialect: StoreDialect,
  now: () => Date,
  logger?: MigrationLogger,
  /** The list to apply (a prefix of MIGRATIONS: tests that build an older schema to migrate from). */
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<string[]> {
  if (dialect === 'postgres') {
    // A session-level lock needs one connection held for the whole run.
    return db.connection().execute(async (conn) => {
      // Keyed by schema: replicas sharing a schema serialise; separate schemas don't block each other.
      const key = sql`hashtext('firebreak.migrate:' || current_schema())`;
      await sql`select pg_advisory_lock(${key})`.execute(conn);
      try {
        return await applyPending(conn, dialect, now, logger, migrations);
      } finally {
        await sql`select pg_advisory_unlock(${key})`.execute(conn);
      }
    });
  }
  return applyPending(db, dialect, now, logger, migrations);
}

async function applyPending(
  db: Kysely<Database>,
  dialect: StoreDialect,
  now: () => Date,
  logger: MigrationLogger | undefined,
  migrations: readonly Migration[],
): Promise<string[]> {
  await db.schema
    .createTable('firebreak_migrations')
    .ifNotExists()
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('applied_at', 'bigint', (c) => c.notNull())
    .execute();
  const done = new Set((await db.selectFrom('firebreak_migrations').select('name').execute()).map((r) => r.name));
  const applied: string[] = [];
  for (const m of migrations) {
    if (done.has(m.name)) continue;
    await db.transaction().execute(async (trx) => {
      await m.up(trx, dialect);
      await trx.insertInto('firebreak_migrations').values({ name: m.name, applied_at: now().getTime() }).execute();
    });
    logger?.info({ migration: m.name, dialect }, 'store migration applied');
    applied.push(m.name);
  }
  return applied;
}
