import { z } from 'zod';
import { nextReminderAt } from '../domain/reminders.js';
import { incidentLabel } from '../domain/incident.js';
import { AppError } from '../errors.js';
import { reminderNudge } from '../slack/blocks/followthrough.js';
import type { Deps } from './deps.js';
import { defineJob } from './jobs.js';

const Payload = z.object({ incidentId: z.string(), dueMs: z.number() });
const snoozeKey = (id: string) => `reminder:snooze:${id}`;
const lastNudgeKey = (id: string) => `reminder:last:${id}`;

/** When the incident's next nudge is due, from the store (null: none, e.g. mitigated or low). */
async function nextDue(deps: Deps, incidentId: string): Promise<{ at: Date; minutes: number } | null> {
  const incident = await deps.store.getIncident(incidentId);
  if (!incident) return null;
  const timeline = await deps.store.listTimeline(incidentId);
  const lastUpdate = timeline.filter((t) => t.kind === 'update').at(-1)?.at ?? null;
  const snooze = await deps.store.getKv<string>(snoozeKey(incidentId));
  const lastNudge = await deps.store.getKv<number>(lastNudgeKey(incidentId));
  const cadence = deps.config.file.reminders;
  const at = nextReminderAt({
    status: incident.status,
    severity: incident.severity,
    cadence,
    createdAt: incident.createdAt,
    lastUpdateAt: lastUpdate,
    snoozedUntil: snooze ? new Date(snooze) : null,
    lastNudgeAt: lastNudge ? new Date(lastNudge) : null,
  });
  return at ? { at, minutes: cadence[incident.severity] } : null;
}

/**
 * (Re)schedule the incident's next nudge. The job key is the incident and the due time, so every
 * replica scheduling the same interval adds one job, and a nudge is sent at most once per interval.
 */
export async function scheduleReminder(deps: Deps, incidentId: string): Promise<void> {
  const next = await nextDue(deps, incidentId);
  if (!next) return;
  const dueMs = next.at.getTime();
  await deps.jobs.enqueue(reminderJob, { incidentId, dueMs }, { delayMs: Math.max(0, dueMs - deps.clock.now().getTime()) });
}

export async function runReminder(deps: Deps, { incidentId }: z.output<typeof Payload>, jobId: string): Promise<void> {
  const next = await nextDue(deps, incidentId);
  if (!next) return; // mitigated, resolved, cancelled, or a severity without reminders: stop
  const dueMs = next.at.getTime();
  if (dueMs > deps.clock.now().getTime()) return scheduleReminder(deps, incidentId); // an update or a snooze moved it
  const incident = (await deps.store.getIncident(incidentId))!;
  // Claim the interval before posting: of two jobs that find the same interval due (two replicas,
  // a stale job), one posts; that job's own retries (a failed post) may post, no other job can.
  const winner = await deps.store.putStep(`reminder:${incidentId}`, String(dueMs), jobId);
  if (winner === jobId && incident.channelId) {
    const roles = await deps.store.getRoles(incidentId);
    const m = reminderNudge(incident, roles.commander ?? incident.commanderId, next.minutes, dueMs);
    await deps.chat.post(incident.channelId, m.text, m.blocks);
    await deps.store.audit({
      at: deps.clock.now(),
      incidentId,
      actor: 'system',
      action: 'incident.update_reminder',
      detail: { dueAt: new Date(dueMs).toISOString() },
    });
  }
  await deps.store.setKv(lastNudgeKey(incidentId), dueMs);
  await scheduleReminder(deps, incidentId);
}

/** "Snooze" on a nudge: no reminder before `minutes` from now. */
export async function snoozeReminder(deps: Deps, value: string, actor: string): Promise<string> {
  const [incidentId, mins] = value.split('|');
  const minutes = Number(mins);
  if (!incidentId || !Number.isInteger(minutes) || minutes <= 0 || minutes > 24 * 60)
    throw new AppError('input.invalid', 'That snooze button is not valid any more.');
  const incident = await deps.store.getIncident(incidentId);
  if (!incident) throw new AppError('incident.not_found', 'That incident no longer exists.');
  const until = new Date(deps.clock.now().getTime() + minutes * 60_000);
  await deps.store.setKv(snoozeKey(incidentId), until.toISOString());
  await deps.store.audit({ at: deps.clock.now(), incidentId, actor, action: 'incident.reminder_snoozed', detail: { until: until.toISOString() } });
  await scheduleReminder(deps, incidentId);
  return `Update reminders for ${incidentLabel(incident)} snoozed for ${minutes} minutes.`;
}

/** One nudge check per incident and due time: replicas scheduling the same interval add one job. */
export const reminderJob = defineJob({
  kind: 'incident.reminder',
  payload: Payload,
  key: (p) => `${p.incidentId}:${p.dueMs}`,
  run: (deps, p, job) => runReminder(deps, p, job.id),
});
export const reminderJobs = [reminderJob];
