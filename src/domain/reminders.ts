import type { Severity } from './severity.js';
import type { IncidentStatus } from './incident.js';

/** Minutes between update reminders per severity; 0 = no reminders. firebreak.yml `reminders:`. */
export type ReminderCadence = Record<Severity, number>;

export const DEFAULT_CADENCE: ReminderCadence = { critical: 15, high: 30, medium: 60, low: 0 };

/**
 * When the next update nudge is due, or null for none: reminders run only while an incident is
 * being investigated, and the clock restarts at the latest of the declaration, the last update and
 * a snooze's end.
 */
export function nextReminderAt(input: {
  status: IncidentStatus;
  severity: Severity;
  cadence: ReminderCadence;
  createdAt: Date;
  lastUpdateAt: Date | null;
  snoozedUntil: Date | null;
  lastNudgeAt: Date | null;
}): Date | null {
  const minutes = input.cadence[input.severity];
  if (input.status !== 'investigating' || !minutes) return null;
  const ms = minutes * 60_000;
  const since = Math.max(input.createdAt.getTime(), input.lastUpdateAt?.getTime() ?? 0, input.lastNudgeAt?.getTime() ?? 0);
  const due = since + ms;
  const snooze = input.snoozedUntil?.getTime() ?? 0;
  return new Date(Math.max(due, snooze));
}
