import type { Severity } from './severity.js';

/**
 * Lifecycle: investigating → mitigated → resolved; cancelled from any open state.
 * `investigating` is what Rootly calls `started` and incident.io a `live` status.
 */
export const STATUSES = ['investigating', 'mitigated', 'resolved', 'cancelled'] as const;
export type IncidentStatus = (typeof STATUSES)[number];

export const OPEN_STATUSES: readonly IncidentStatus[] = ['investigating', 'mitigated'];

export function isOpen(status: IncidentStatus): boolean {
  return OPEN_STATUSES.includes(status);
}

const ALLOWED: Record<IncidentStatus, readonly IncidentStatus[]> = {
  investigating: ['mitigated', 'resolved', 'cancelled'],
  mitigated: ['investigating', 'resolved', 'cancelled'],
  resolved: ['investigating'],
  cancelled: [],
};

export function canTransition(from: IncidentStatus, to: IncidentStatus): boolean {
  return ALLOWED[from].includes(to);
}

export type IncidentOrigin = 'slack' | 'rootly' | 'incidentio' | 'alert';

export interface Incident {
  id: string;
  /** Short human number, unique per store ("INC-42"). */
  seq: number;
  title: string;
  description: string;
  severity: Severity;
  status: IncidentStatus;
  services: string[];
  private: boolean;
  origin: IncidentOrigin;
  /** For alerts: pagerduty|datadog|alertmanager|generic. */
  source: string | null;
  declaredBy: string | null;
  commanderId: string | null;
  backend: string;
  backendId: string | null;
  backendUrl: string | null;
  channelId: string | null;
  channelName: string | null;
  cardTs: string | null;
  announceTs: string | null;
  alertCount: number;
  createdAt: Date;
  updatedAt: Date;
  resolvedAt: Date | null;
  /** Bumped on every write; used for optimistic concurrency. */
  version: number;
}

/** How people know each backend (`Incident.backend`, `IncidentBackend.name`): the one display name, wherever one is shown. */
const BACKEND_LABELS: Record<string, string> = { local: 'Firebreak', rootly: 'Rootly', incidentio: 'incident.io' };

/** A backend's display name ("Rootly" for `rootly`); anything else (a person's id, `system`) unchanged. */
export function backendLabel(name: string): string {
  return BACKEND_LABELS[name] ?? name;
}

export function incidentLabel(i: Pick<Incident, 'seq'>): string {
  return `INC-${i.seq}`;
}
