import type { IncidentBackend, BackendRef } from '../../ports/backend.js';
import type { Store } from '../../ports/store.js';

/**
 * The bot's own store as the incident platform, used when neither Rootly nor incident.io is
 * configured. The incident row already is the record, so most writes are no-ops here; post-mortems
 * are kept in the store's key/value table.
 */
export function createLocalBackend(store: Store, opts: { publicUrl?: string } = {}): IncidentBackend {
  return {
    name: 'local',
    async verify() {
      await store.ping();
    },
    async createIncident(input) {
      return { backendId: input.firebreakId, url: opts.publicUrl ? `${opts.publicUrl.replace(/\/$/, '')}/incidents/${input.firebreakId}` : null };
    },
    async updateIncident() {},
    async transition() {},
    async assignRole() {},
    async addTimelineEvent() {},
    async savePostmortem(ref: BackendRef, markdown: string) {
      await store.setKv(`postmortem:${ref.firebreakId}`, { markdown, savedAt: new Date().toISOString() });
      return 'saved';
    },
    async runWorkflow() {
      const { AppError } = await import('../../errors.js');
      throw new AppError('backend.unsupported', 'Workflow runs need the Rootly backend (INCIDENT_BACKEND=rootly).');
    },
    async recordAlert() {
      return null;
    },
    async resolveAlert() {},
    incidentUrl(ref) {
      return opts.publicUrl ? `${opts.publicUrl.replace(/\/$/, '')}/incidents/${ref.firebreakId}` : null;
    },
  };
}
