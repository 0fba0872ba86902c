import type { Kysely, Selectable } from 'kysely';
import type { NewTimelineEntry, TimelineEntry, TimelineStore } from '../../ports/store.js';
import { ms, toDate } from './mapping.js';
import { prepared } from './prepared.js';
import type { Database, TimelineTable } from './schema.js';

// Every re-render of the announcement reads the timeline (its latest update line).
const selectTimeline = prepared<[string], Selectable<TimelineTable>>((db, incidentId) =>
  db.selectFrom('timeline').selectAll().where('incident_id', '=', incidentId).orderBy('at', 'asc').orderBy('id', 'asc'),
);
const insertTimeline = prepared<[string, number, string, string, string | null, string | null], { id: number | bigint }>(
  (db, incidentId, at, kind, text, author, sourceRef) =>
    db
      .insertInto('timeline')
      .values({ incident_id: incidentId, at, kind, text, author, source_ref: sourceRef })
      .onConflict((oc) => oc.doNothing())
      .returning('id'),
);

/** One timeline entry, on `db` or a transaction; false if its source ref was there already. */
export async function writeTimeline(db: Kysely<Database>, entry: NewTimelineEntry): Promise<boolean> {
  const [row] = (await insertTimeline(db, entry.incidentId, ms(entry.at), entry.kind, entry.text, entry.author, entry.sourceRef ?? null)).rows;
  return row !== undefined;
}

/** The incident timeline (table timeline). */
export class KyselyTimelineStore implements TimelineStore {
  constructor(private readonly db: Kysely<Database>) {}

  async addTimeline(entry: NewTimelineEntry): Promise<boolean> {
    return writeTimeline(this.db, entry);
  }

  async listTimeline(incidentId: string): Promise<TimelineEntry[]> {
    const { rows } = await selectTimeline(this.db, incidentId);
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
