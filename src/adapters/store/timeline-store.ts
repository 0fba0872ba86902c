import type { Kysely } from 'kysely';
import type { NewTimelineEntry, TimelineEntry, TimelineStore } from '../../ports/store.js';
import { ms, toDate } from './mapping.js';
import type { Database } from './schema.js';

/** The incident timeline (table timeline). */
export class KyselyTimelineStore implements TimelineStore {
  constructor(private readonly db: Kysely<Database>) {}

  async addTimeline(entry: NewTimelineEntry): Promise<boolean> {
    const row = await this.db
      .insertInto('timeline')
      .values({
        incident_id: entry.incidentId,
        at: ms(entry.at),
        kind: entry.kind,
        text: entry.text,
        author: entry.author,
        source_ref: entry.sourceRef ?? null,
      })
      .onConflict((oc) => oc.doNothing())
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async listTimeline(incidentId: string): Promise<TimelineEntry[]> {
    const rows = await this.db.selectFrom('timeline').selectAll().where('incident_id', '=', incidentId).orderBy('at', 'asc').orderBy('id', 'asc').execute();
    return rows.map((r) => ({
      id: Number(r.id),
      incidentId: r.incident_id,
      at: toDate(r.at),
      kind: r.kind,
      text: r.text,
      author: r.author,
      sourceRef: r.source_ref,
    }));
  }
}
