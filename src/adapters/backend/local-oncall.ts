import { onCallInRotation, type LocalRotation } from '../../domain/oncall.js';
import { BackendError } from '../../errors.js';
import type { OnCall } from '../../ports/oncall.js';
import { PD_SEVERITY, type PagerDutyEvents } from '../pagerduty/events.js';

/**
 * On-call for the local backend: pages go to PagerDuty Events v2 (one routing key per target,
 * `dedup_key` = the incident id, so repeats update one PagerDuty incident); who is on call comes
 * from the rotations in firebreak.yml; follow-ups live in Firebreak's store only.
 */
export function createLocalOnCall(opts: { pagerduty: PagerDutyEvents; routingKeys: Record<string, string>; rotations: LocalRotation[] }): OnCall {
  return {
    name: 'local',
    async page(req) {
      if (req.target.kind !== 'configured' || !req.target.target.routingKeyEnv) {
        throw new BackendError(
          'backend.validation',
          `${req.target.name} cannot be paged with the local backend: page a target from firebreak.yml that has a PagerDuty routing key`,
          { backend: 'pagerduty', field: 'target' },
        );
      }
      const routingKey = opts.routingKeys[req.target.target.routingKeyEnv];
      if (!routingKey)
        throw new BackendError('backend.validation', `${req.target.target.routingKeyEnv} is not set`, { backend: 'pagerduty', field: 'routing_key' });
      const res = await opts.pagerduty.trigger({
        routingKey,
        dedupKey: req.incident.firebreakId,
        summary: `${req.incident.title}${req.message ? ` — ${req.message}` : ''}`,
        severity: PD_SEVERITY[req.incident.severity] ?? 'error',
        source: 'firebreak',
        customDetails: { incident: req.incident.firebreakId, target: req.target.name, ...(req.message ? { message: req.message } : {}) },
        link: req.incident.url ? { href: req.incident.url, text: 'Incident channel' } : null,
      });
      return { externalId: res.dedupKey, status: 'triggered' };
    },
    async onCallNow(scheduleId, at) {
      const r = opts.rotations.find((x) => x.id === scheduleId);
      if (!r) throw new BackendError('backend.not_found', `no schedule "${scheduleId}" in firebreak.yml oncall.schedules`, { backend: 'local' });
      const who = onCallInRotation(r, at);
      return who ? [{ scheduleId, slackUserId: who.userId, email: null, name: null, until: who.until }] : [];
    },
    async createFollowup() {
      return { backendId: null, url: null };
    },
    async findFollowup() {
      return null; // the store is the record
    },
  };
}
