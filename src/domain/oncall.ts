/**
 * Paging and on-call, pure: which target a name means, what a local rotation says about who is on
 * call at a moment, and the stable key that makes a page idempotent per incident and target.
 */

/** The kinds of thing a page can reach. Each backend supports some (see PAGE_TARGET_KINDS). */
export const TARGET_KINDS = ['escalation_policy', 'escalation_path', 'group', 'service', 'user'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

/** A page target as firebreak.yml declares it (`oncall.targets`). */
export interface TargetDefinition {
  name: string;
  kind: TargetKind;
  /** The backend's id (Rootly notification target, incident.io escalation path or user). */
  id?: string | undefined;
  /** Local backend: the PagerDuty Events v2 routing key, read from the variable the file names. */
  routingKeyEnv?: string | undefined;
}

/** What the paging service hands a pager: the target resolved to what the backend needs. */
export type PageTarget = { kind: 'configured'; name: string; target: TargetDefinition } | { kind: 'slack_user'; name: string; slackUserId: string };

const USER_MENTION = /^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$/;

/**
 * Resolve what a person typed after `/incident page`: a configured target's name (any case) or a
 * Slack mention. Returns null when it is neither.
 */
export function resolveTarget(input: string, targets: readonly TargetDefinition[]): PageTarget | null {
  const t = input.trim();
  const mention = t.match(USER_MENTION);
  if (mention) return { kind: 'slack_user', name: `<@${mention[1]}>`, slackUserId: mention[1]! };
  const hit = targets.find((x) => x.name.toLowerCase() === t.toLowerCase());
  return hit ? { kind: 'configured', name: hit.name, target: hit } : null;
}

/** The idempotency key of a page: one page per incident and target. */
export function pageKey(incidentId: string, target: PageTarget): string {
  return target.kind === 'slack_user' ? `${incidentId}:user:${target.slackUserId}` : `${incidentId}:target:${target.name.toLowerCase()}`;
}

/** A local rotation (firebreak.yml `oncall.schedules`, local backend): people take turns of `shiftHours`. */
export interface LocalRotation {
  id: string;
  users: string[];
  shiftHours: number;
  start: Date;
}

/** Who a local rotation has on call at `at`, and until when. Null before the rotation starts or with no one in it. */
export function onCallInRotation(r: LocalRotation, at: Date): { userId: string; from: Date; until: Date } | null {
  if (!r.users.length || at < r.start) return null;
  const shiftMs = r.shiftHours * 3600_000;
  const n = Math.floor((at.getTime() - r.start.getTime()) / shiftMs);
  const from = new Date(r.start.getTime() + n * shiftMs);
  return { userId: r.users[n % r.users.length]!, from, until: new Date(from.getTime() + shiftMs) };
}

/** An entry of an on-call answer, whatever the source. */
export interface OnCallPerson {
  scheduleId: string;
  slackUserId: string | null;
  email: string | null;
  name: string | null;
  until: Date | null;
}

/**
 * When to ask a paging source again whether a page was acknowledged (sources without a push):
 * 30 s after it was sent, then doubling, at most every 10 minutes.
 */
export function pageCheckDelayMs(n: number): number {
  return Math.min(30_000 * 2 ** Math.max(0, n), 600_000);
}

/** How long an unacknowledged page is checked on: after a day, the source is not asked again. */
export const PAGE_CHECK_FOR_MS = 24 * 3600_000;
