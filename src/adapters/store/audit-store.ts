import type { Kysely } from 'kysely';
import type { AuditEntry, AuditStore, NewAuditEntry } from '../../ports/store.js';
import { ms, parseJson, toDate } from './mapping.js';
import { prepared } from './prepared.js';
import type { Database } from './schema.js';

const insertAudit = prepared<[number, string | null, string | null, string, string, string], unknown>((db, at, incidentId, approvalId, actor, action, detail) =>
  db.insertInto('audit_log').values({ at, incident_id: incidentId, approval_id: approvalId, actor, action, detail }),
);

/** One audit entry, on `db` or a transaction (a declaration writes one with its incident). */
export async function writeAudit(db: Kysely<Database>, entry: NewAuditEntry): Promise<void> {
  await insertAudit(db, ms(entry.at), entry.incidentId, entry.approvalId ?? null, entry.actor, entry.action, JSON.stringify(entry.detail ?? {}));
}

/** The append-only audit log (table audit_log). */
export class KyselyAuditStore implements AuditStore {
  constructor(private readonly db: Kysely<Database>) {}

  async audit(entry: NewAuditEntry): Promise<void> {
    await writeAudit(this.db, entry);
  }

  async listAudit(filter: { incidentId?: string; approvalId?: string; limit?: number }): Promise<AuditEntry[]> {
    // Newest `limit` entries, returned oldest first (append order).
    const rows = await this.db
      .selectFrom('audit_log')
      .selectAll()
      .$if(filter.incidentId !== undefined, (qb) => qb.where('incident_id', '=', filter.incidentId!))
      .$if(filter.approvalId !== undefined, (qb) => qb.where('approval_id', '=', filter.approvalId!))
      .orderBy('id', 'desc')
      .$if(filter.limit !== undefined, (qb) => qb.limit(filter.limit!))
      .execute();
    return rows.reverse().map((r) => ({
      id: Number(r.id),
      at: toDate(r.at),
      incidentId: r.incident_id,
      approvalId: r.approval_id,
      actor: r.actor,
      action: r.action,
      detail: parseJson(r.detail) as Record<string, unknown>,
    }));
  }
}
