import type { OnCallPerson, PageTarget } from '../domain/oncall.js';
import type { BackendRef, BackendUser } from './backend.js';

/**
 * Paging, on-call lookup and follow-ups on the incident platform: Rootly (alerts with a
 * notification target, schedule shifts, action items), incident.io (escalations, schedule entries,
 * follow-ups), or, for the local backend, PagerDuty Events v2 for pages, firebreak.yml rotations for
 * on-call, and the store for follow-ups.
 *
 * Errors: `BackendError` as for IncidentBackend; a target this backend cannot page is
 * `backend.validation` with a message a person can act on.
 */
export interface OnCall {
  readonly name: string;
  /** Page once: `idempotencyKey` makes a retry after a lost answer land on the same page. */
  page(req: PageRequest): Promise<PageResult>;
  /**
   * Where the source can be asked: what a page is now (Rootly: the alert and its acknowledgement
   * event; incident.io: the escalation and its `acked` event). Absent where the source pushes
   * acknowledgements instead (PagerDuty: its V3 webhooks) or cannot tell.
   */
  pageStatus?(externalId: string): Promise<PageStatus>;
  /** Who is on call now on a schedule (empty when no one). */
  onCallNow(scheduleId: string, at: Date): Promise<OnCallPerson[]>;
  /** Record a follow-up on the backend; null id where the store is the record (local). */
  createFollowup(ref: BackendRef, f: BackendFollowup): Promise<{ backendId: string | null; url: string | null }>;
  /**
   * The follow-up an earlier `createFollowup` with this `idempotencyKey` made, if the backend has
   * it (found by the marker the create writes into its description: neither Rootly's action items
   * nor incident.io's follow-ups take an idempotency key). Null when there is none.
   */
  findFollowup(ref: BackendRef, idempotencyKey: string): Promise<{ backendId: string | null; url: string | null } | null>;
}

export interface PageRequest {
  incident: BackendRef & { title: string; severity: string; url: string | null };
  target: PageTarget;
  /** The person to page, when the target is a Slack user (email lets the backend find them). */
  user: BackendUser | null;
  message: string;
  idempotencyKey: string;
}

export interface PageResult {
  /** The backend's id of the page (Rootly alert, incident.io escalation, PagerDuty dedup_key). */
  externalId: string;
  /** What the source says about it, e.g. `triggered`, `success`. */
  status: string;
}

/** What a paging source says about a page. */
export interface PageStatus {
  /** `closed`: resolved, cancelled or expired with no acknowledgement to show. */
  state: 'open' | 'acknowledged' | 'closed';
  ack: PageAck | null;
}

/** An acknowledgement: when, and who as far as the source says (a Slack id, an email, a name). */
export interface PageAck {
  at: Date;
  by: { slackUserId: string | null; email: string | null; name: string | null } | null;
}

export interface BackendFollowup {
  title: string;
  description: string;
  owner: BackendUser | null;
  due: string | null;
  idempotencyKey: string;
}
