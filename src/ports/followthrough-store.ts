import type { FollowupSource, FollowupState } from '../domain/followup.js';

/**
 * The store's slice for paging and follow-ups (migration 00x_followthrough). Same concurrency
 * contract as Store: `insert*` return whether this call inserted the row.
 */
export interface FollowThroughStore {
  /** One row per (incidentId, targetKey): false when that target was already paged for the incident. */
  insertPage(page: NewPage): Promise<boolean>;
  getPage(incidentId: string, targetKey: string): Promise<Page | null>;
  listPages(incidentId: string): Promise<Page[]>;
  patchPage(incidentId: string, targetKey: string, patch: Partial<Pick<Page, 'state' | 'externalId' | 'sentAt' | 'ackedAt' | 'error'>>): Promise<void>;
  findPageByExternalId(externalId: string): Promise<Page | null>;
  /**
   * sent → acknowledged, with when and by whom (compare-and-set: of a webhook, a status poll and
   * another replica telling the same acknowledgement, one call gets the page back; the rest null).
   */
  ackPage(incidentId: string, targetKey: string, ack: PageAcker & { at: Date }): Promise<Page | null>;

  /** With the same `sourceRef` (a message, a suggestion) a follow-up is created once; false then. */
  insertFollowup(f: NewFollowup): Promise<{ followup: Followup; inserted: boolean }>;
  getFollowup(id: string): Promise<Followup | null>;
  listFollowups(filter: { incidentId?: string; ownerId?: string; state?: FollowupState }): Promise<Followup[]>;
  patchFollowup(id: string, patch: Partial<Pick<Followup, 'state' | 'backendId' | 'backendUrl'>>): Promise<void>;
}

export type PageState = 'pending' | 'sent' | 'failed' | 'acknowledged';

export interface NewPage {
  incidentId: string;
  targetKey: string;
  targetName: string;
  message: string;
  pagedBy: string;
  createdAt: Date;
}

export type PageAcker = Pick<Page, 'ackedByUser' | 'ackedByName'>;

export interface Page extends NewPage {
  state: PageState;
  externalId: string | null;
  sentAt: Date | null;
  ackedAt: Date | null;
  /** The acknowledger's Slack user id, as the bot resolved it (never a name the source gave). */
  ackedByUser: string | null;
  /** The acknowledger's name (or email) as the paging source gave it: text to show, never a mention. */
  ackedByName: string | null;
  error: string | null;
}

export interface NewFollowup {
  id: string;
  incidentId: string;
  text: string;
  ownerId: string | null;
  due: string | null;
  source: FollowupSource;
  sourceRef: string | null;
  createdBy: string;
  createdAt: Date;
}

export interface Followup extends NewFollowup {
  state: FollowupState;
  backendId: string | null;
  backendUrl: string | null;
}
