import type { App } from '@slack/bolt';
import { z } from 'zod';
import type { RemediationVerdict } from '../../ports/insights-store.js';
import type { Deps } from '../../services/deps.js';
import { answerRemediation } from '../../services/insights.js';
import { Actions } from '../ids.js';
import { onButton } from './answers.js';

/**
 * The post-resolve "was this remediation needed?" buttons for remediations proposed outside a
 * runbook (a runbook's own question is in runbooks.ts). The value is the approval id; who may
 * answer is decided by the service from the store.
 */
const ApprovalId = z.string().min(1).max(100);

export function registerInsightsListeners(app: App, deps: Deps): void {
  const answer = (actionId: string, verdict: RemediationVerdict) =>
    onButton(app, deps, actionId, async (value, body, tell) => {
      await tell(await answerRemediation(deps, { approvalId: ApprovalId.parse(value), userId: body.user.id, answer: verdict }));
    });
  answer(Actions.remediationNeededYes, 'yes');
  answer(Actions.remediationNeededNo, 'no');
  answer(Actions.remediationNeededUnsure, 'unsure');
}
