import type { Incident } from '../domain/incident.js';
import { alertLabels, runbookApplies, type MatchInput, type Runbook } from '../domain/runbook.js';
import type { Deps } from './deps.js';

/**
 * What runbooks are matched against for an incident: its severity, services, origin (or alert
 * source) and the labels of the alerts that feed it.
 */
export async function runbookMatchInput(deps: Pick<Deps, 'store'>, incident: Incident): Promise<MatchInput> {
  const labels: Record<string, string> = {};
  const sources = new Set<string>([incident.origin]);
  if (incident.source) sources.add(incident.source);
  // Only alert-fed incidents have alerts; a runbook that names labels needs them.
  if (incident.origin === 'alert' || incident.alertCount > 0) {
    for (const a of await deps.store.listAlerts({ incidentId: incident.id, limit: 20 })) {
      sources.add(a.source);
      Object.assign(labels, alertLabels(a.source, a.raw));
    }
  }
  return { severity: incident.severity, services: incident.services, sources: [...sources], labels };
}

/**
 * Which configured runbooks apply to an incident (`runbookMatchInput`). Used by the card (offers),
 * by `/incident runbook`, by automatic starts and by an agent's start (it may start only these).
 */
export async function applicableRunbooks(deps: Pick<Deps, 'config' | 'store'>, incident: Incident): Promise<Runbook[]> {
  const runbooks = deps.config.runbooks;
  if (!runbooks.length) return [];
  const m = await runbookMatchInput(deps, incident);
  return runbooks.filter((rb) => runbookApplies(rb, m));
}

/** The card's offers: id and title of each runbook that applies. */
export async function runbookOffers(deps: Pick<Deps, 'config' | 'store'>, incident: Incident): Promise<{ id: string; title: string }[]> {
  return (await applicableRunbooks(deps, incident)).map((rb) => ({ id: rb.id, title: rb.title }));
}
