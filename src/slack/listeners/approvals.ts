import type { App, SlackViewAction } from '@slack/bolt';
import { z } from 'zod';
import { validateParams } from '../../domain/approval-policy.js';
import { AppError } from '../../errors.js';
import { approve, closedText, deny, proposeAction } from '../../services/approvals.js';
import type { Deps } from '../../services/deps.js';
import { requireIncident } from '../../services/lifecycle.js';
import { denyModal, parseParamLines, proposeModal } from '../blocks/approval.js';
import { afterSubmit, onButton } from './answers.js';
import { readText } from './view-values.js';
import { Actions, FormBlocks, Views } from '../ids.js';

/**
 * The approval gate's Slack edge: Approve / Deny buttons, the deny-reason modal, and the card's
 * "Propose action" modal. Each listener acks first, then calls one service. The only things taken
 * from a click are the approval id (the button value) and the signed user id: what runs is read
 * from the store by the service.
 */
export function registerApprovalListeners(app: App, deps: Deps): void {
  const ApprovalId = z.string().min(1).max(100);

  onButton(app, deps, Actions.approve, async (value, body, tell) => {
    const result = await approve(deps, { approvalId: ApprovalId.parse(value), userId: body.user.id });
    await tell(result.text);
  });

  onButton(app, deps, Actions.deny, async (value, body, tell, request) => {
    const approvalId = ApprovalId.parse(value);
    // The trigger expires in ~3 s: one store read, then the modal. A decided approval gets the
    // explanation instead of a modal that could only fail on submit.
    const a = await deps.store.getApproval(approvalId);
    if (!a) throw new AppError('approval.not_found', 'That approval does not exist. Nothing was run.', { approvalId });
    if (a.status !== 'pending') {
      await tell(closedText(a));
      return;
    }
    await deps.chat.openView(body.trigger_id, denyModal(a.id, a.actionId, a.params), request);
  });

  app.view<SlackViewAction>(Views.deny, async ({ ack, view, body }) => {
    const reason = readText(view.state.values, FormBlocks.reason);
    if (!reason) {
      await ack({ response_action: 'errors', errors: { [FormBlocks.reason]: 'Say why, so the proposer knows what to do instead.' } });
      return;
    }
    await ack();
    await afterSubmit(deps, body.user.id, { view: Views.deny }, async ({ answerIn, tell }) => {
      const approvalId = ApprovalId.parse(view.private_metadata);
      answerIn((await deps.store.getApproval(approvalId))?.channelId);
      const result = await deny(deps, { approvalId, userId: body.user.id, reason });
      await tell(result.text);
    });
  });

  onButton(app, deps, Actions.cardProposeAction, async (value, body, _tell, request) => {
    const incident = await requireIncident(deps, value);
    await deps.chat.openView(body.trigger_id, proposeModal(incident.id, deps.config.actions), request);
  });

  // The action select has no dispatch_action, but a client may still send it: ack and ignore.
  app.action(Actions.proposeActionPick, async ({ ack }) => {
    await ack();
  });

  app.view<SlackViewAction>(Views.propose, async ({ ack, view, body }) => {
    const values = view.state.values;
    const actionId = readText(values, FormBlocks.action);
    const reason = readText(values, FormBlocks.reason);
    const action = deps.config.actions.find((a) => a.id === actionId);
    if (!action) {
      await ack({ response_action: 'errors', errors: { [FormBlocks.action]: 'Choose one of the configured actions.' } });
      return;
    }
    // Validate in the ack, so the problem appears on the field and the modal stays open.
    const lines = parseParamLines(readText(values, FormBlocks.params));
    const checked = lines.ok ? validateParams(action, lines.params) : lines;
    if (!checked.ok) {
      await ack({ response_action: 'errors', errors: { [FormBlocks.params]: checked.problems.join('; ').slice(0, 2000) } });
      return;
    }
    if (!reason) {
      await ack({ response_action: 'errors', errors: { [FormBlocks.reason]: 'Give a reason for the approvers.' } });
      return;
    }
    await ack();
    await afterSubmit(deps, body.user.id, { view: Views.propose }, async ({ answerIn }) => {
      const incident = await requireIncident(deps, view.private_metadata);
      answerIn(incident.channelId);
      await proposeAction(deps, {
        incidentId: incident.id,
        actionId: action.id,
        rawParams: lines.ok ? lines.params : {},
        reason,
        proposedBy: body.user.id,
        proposerKind: 'user',
      });
    });
  });
}
