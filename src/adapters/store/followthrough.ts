import type { Kysely, Selectable } from 'kysely';
import type { FollowupSource, FollowupState } from '../../domain/followup.js';
import type { Followup, FollowThroughStore, NewFollowup, NewPage, Page, PageAcker, PageState } from '../../ports/followthrough-store.js';
import type { Database, FollowupsTable, PagesTable } from './schema.js';

/** The FollowThroughStore over the shared Kysely schema (both dialects; migration 002_followthrough). */
export class KyselyFollowThroughStore implements FollowThroughStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insertPage(p: NewPage): Promise<boolean> {
    const row = await this.db
      .insertInto('pages')
      .values({
        incident_id: p.incidentId,
        target_key: p.targetKey,
        target_name: p.targetName,
        message: p.message,
        paged_by: p.pagedBy,
        state: 'pending',
        external_id: null,
        error: null,
        created_at: p.createdAt.getTime(),
        sent_at: null,
        acked_at: null,
        acked_by_user: null,
        acked_by_name: null,
      })
      .onConflict((oc) => oc.doNothing())
      .returning('incident_id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async getPage(incidentId: string, targetKey: string): Promise<Page | null> {
    const r = await this.db.selectFrom('pages').selectAll().where('incident_id', '=', incidentId).where('target_key', '=', targetKey).executeTakeFirst();
    return r ? toPage(r) : null;
  }

  async listPages(incidentId: string): Promise<Page[]> {
    const rows = await this.db.selectFrom('pages').selectAll().where('incident_id', '=', incidentId).orderBy('created_at').execute();
    return rows.map(toPage);
  }

  async findPageByExternalId(externalId: string): Promise<Page | null> {
    const r = await this.db.selectFrom('pages').selectAll().where('external_id', '=', externalId).executeTakeFirst();
    return r ? toPage(r) : null;
  }

  async ackPage(incidentId: string, targetKey: string, ack: PageAcker & { at: Date }): Promise<Page | null> {
    const r = await this.db
      .updateTable('pages')
      .set({ state: 'acknowledged', acked_at: ack.at.getTime(), acked_by_user: ack.ackedByUser, acked_by_name: ack.ackedByName })
      .where('incident_id', '=', incidentId)
      .where('target_key', '=', targetKey)
      .where('state', '=', 'sent')
      .returningAll()
      .executeTakeFirst();
    return r ? toPage(r) : null;
  }

  async patchPage(incidentId: string, targetKey: string, patch: Partial<Pick<Page, 'state' | 'externalId' | 'sentAt' | 'ackedAt' | 'error'>>): Promise<void> {
    const set: Partial<Selectable<PagesTable>> = {};
    if (patch.state !== undefined) set.state = patch.state;
    if (patch.externalId !== undefined) set.external_id = patch.externalId;
    if (patch.sentAt !== undefined) set.sent_at = patch.sentAt ? patch.sentAt.getTime() : null;
    if (patch.ackedAt !== undefined) set.acked_at = patch.ackedAt ? patch.ackedAt.getTime() : null;
    if (patch.error !== undefined) set.error = patch.error;
    if (!Object.keys(set).length) return;
    await this.db.updateTable('pages').set(set).where('incident_id', '=', incidentId).where('target_key', '=', targetKey).execute();
  }

  async insertFollowup(f: NewFollowup): Promise<{ followup: Followup; inserted: boolean }> {
    const row = await this.db
      .insertInto('followups')
      .values({
        id: f.id,
        incident_id: f.incidentId,
        text: f.text,
        owner_id: f.ownerId,
        due: f.due,
        source: f.source,
        source_ref: f.sourceRef,
        created_by: f.createdBy,
        created_at: f.createdAt.getTime(),
        state: 'open',
        backend_id: null,
        backend_url: null,
      })
      .onConflict((oc) => oc.doNothing())
      .returningAll()
      .executeTakeFirst();
    if (row) return { followup: toFollowup(row), inserted: true };
    const existing = f.sourceRef ? await this.db.selectFrom('followups').selectAll().where('source_ref', '=', f.sourceRef).executeTakeFirst() : undefined;
    const again = existing ?? (await this.db.selectFrom('followups').selectAll().where('id', '=', f.id).executeTakeFirstOrThrow());
    return { followup: toFollowup(again), inserted: false };
  }

  async getFollowup(id: string): Promise<Followup | null> {
    const r = await this.db.selectFrom('followups').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toFollowup(r) : null;
  }

  async listFollowups(filter: { incidentId?: string; ownerId?: string; state?: FollowupState }): Promise<Followup[]> {
    const rows = await this.db
      .selectFrom('followups')
      .selectAll()
      .$if(filter.incidentId !== undefined, (q) => q.where('incident_id', '=', filter.incidentId!))
      .$if(filter.ownerId !== undefined, (q) => q.where('owner_id', '=', filter.ownerId!))
      .$if(filter.state !== undefined, (q) => q.where('state', '=', filter.state!))
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toFollowup);
  }

  async patchFollowup(id: string, patch: Partial<Pick<Followup, 'state' | 'backendId' | 'backendUrl'>>): Promise<void> {
    const set: Partial<Selectable<FollowupsTable>> = {};
    if (patch.state !== undefined) set.state = patch.state;
    if (patch.backendId !== undefined) set.backend_id = patch.backendId;
    if (patch.backendUrl !== undefined) set.backend_url = patch.backendUrl;
    if (!Object.keys(set).length) return;
    await this.db.updateTable('followups').set(set).where('id', '=', id).execute();
  }
}

const date = (v: number | string | null): Date | null => (v === null ? null : new Date(Number(v)));
const PAGE_STATES: readonly PageState[] = ['pending', 'sent', 'failed', 'acknowledged'];
const SOURCES: readonly FollowupSource[] = ['command', 'shortcut', 'claude'];

function toPage(r: Selectable<PagesTable>): Page {
  return {
    incidentId: r.incident_id,
    targetKey: r.target_key,
    targetName: r.target_name,
    message: r.message,
    pagedBy: r.paged_by,
    createdAt: date(r.created_at)!,
    state: PAGE_STATES.find((s) => s === r.state) ?? 'pending',
    externalId: r.external_id,
    sentAt: date(r.sent_at),
    ackedAt: date(r.acked_at),
    ackedByUser: r.acked_by_user ?? null,
    ackedByName: r.acked_by_name ?? null,
    error: r.error,
  };
}

function toFollowup(r: Selectable<FollowupsTable>): Followup {
  return {
    id: r.id,
    incidentId: r.incident_id,
    text: r.text,
    ownerId: r.owner_id,
    due: r.due,
    source: SOURCES.find((s) => s === r.source) ?? 'command',
    sourceRef: r.source_ref,
    createdBy: r.created_by,
    createdAt: date(r.created_at)!,
    state: r.state === 'done' ? 'done' : 'open',
    backendId: r.backend_id,
    backendUrl: r.backend_url,
  };
}
