import type { App } from '@slack/bolt';
import type { Deps } from '../../services/deps.js';
import { registerActions } from './actions.js';
import { registerApprovalListeners } from './approvals.js';
import { registerCommands } from './commands.js';
import { registerEvents } from './events.js';
import { registerRunbookListeners } from './runbooks.js';
import { registerViews } from './views.js';
import { registerFollowThroughListeners } from './followthrough.js';
import { registerInsightsListeners } from './insights.js';

/** Every Slack listener: slash commands, modals, buttons, events, approval and runbook clicks. */
export function registerListeners(bolt: App, deps: Deps): void {
  registerCommands(bolt, deps);
  registerViews(bolt, deps);
  registerActions(bolt, deps);
  registerEvents(bolt, deps);
  registerApprovalListeners(bolt, deps);
  registerRunbookListeners(bolt, deps);
  registerFollowThroughListeners(bolt, deps);
  registerInsightsListeners(bolt, deps);
}
