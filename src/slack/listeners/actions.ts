import type { App, BlockAction } from '@slack/bolt';
import type { Deps } from '../../services/deps.js';
import { declareDraft } from '../../services/declare.js';
import { declareReply } from '../blocks/incident.js';
import { openChannelLater } from '../../services/declare.js';
import { assignRole, requireIncident } from '../../services/lifecycle.js';
import { postSummary } from '../../services/summaries.js';
import { requestSplitOut } from '../../services/storms.js';
import { roleModal, resolveModal, severityModal, statusModal } from '../blocks/incident.js';
import { Actions } from '../ids.js';
import { type Arrival, onButton, type Tell } from './answers.js';
import { AppError } from '../../errors.js';

/** Card buttons and the duplicate offer. Each acks at once; the value is only an id, re-read from the store. */
export function registerActions(app: App, deps: Deps): void {
  const on = (actionId: string, run: (value: string, body: BlockAction, tell: Tell, request: Arrival) => Promise<void>) => onButton(app, deps, actionId, run);

  const modal = (actionId: string, build: (deps: Deps, incidentId: string) => Promise<Record<string, unknown>>) =>
    on(actionId, async (incidentId, body, _tell, request) => {
      // trigger_id expires within ~3 s: open the modal before anything slow.
      await deps.chat.openView(body.trigger_id, await build(deps, incidentId), request);
    });

  modal(Actions.cardUpdateStatus, async (d, id) => statusModal(await requireIncident(d, id)));
  modal(Actions.cardChangeSeverity, async (d, id) => severityModal(await requireIncident(d, id)));
  modal(Actions.cardAssignRole, async (d, id) => roleModal(await requireIncident(d, id), d.config.file.roles));
  modal(Actions.cardResolve, async (d, id) => resolveModal(await requireIncident(d, id)));

  // Bound by the same rules as `/incident role commander`: a refusal says who may take command.
  on(Actions.cardTakeCommand, async (incidentId, body, tell) => {
    const before = await requireIncident(deps, incidentId);
    const holder = (await deps.store.getRoles(before.id)).commander;
    if (holder) {
      await tell(holder === body.user.id ? 'You are already the commander.' : `<@${holder}> is already the commander; ask them to hand it over.`);
      return;
    }
    await assignRole(deps, incidentId, 'commander', body.user.id, body.user.id);
    // Taking command is refused to anyone not eligible when eligibility is configured, so whoever
    // gets here approves as commander.
    await tell(
      ':white_check_mark: You are now the commander. Actions proposed from now on can be approved by you (proposals made earlier keep the approvers they had).',
    );
  });

  on(Actions.announceOpenChannel, async (incidentId, body, tell) => {
    const { alreadyOpen } = await openChannelLater(deps, incidentId, body.user.id);
    await tell(alreadyOpen ? `It has one: <#${alreadyOpen}>.` : 'Opening the incident channel; you will be invited to it.');
  });

  // Split out: the value is the alert's id; who may is checked by the service, the work is a keyed job.
  on(Actions.stormSplitOut, async (alertId, body, tell) => {
    const { already } = await requestSplitOut(deps, alertId, body.user.id);
    await tell(
      already
        ? `That alert already has its own incident${already.channelId ? `: <#${already.channelId}>` : ''}.`
        : 'Splitting it out: it gets an incident of its own (announced as usual), and the list here links to it.',
    );
  });

  on(Actions.cardSummarize, async (incidentId, body, tell) => {
    const privately = await postSummary(deps, incidentId, body.user.id);
    if (privately) await tell(privately);
  });

  on(Actions.duplicateJoin, async (incidentId, body, tell) => {
    const incident = await requireIncident(deps, incidentId);
    if (!incident.channelId) throw new AppError('incident.not_found', 'That incident has no channel yet.');
    await deps.chat.invite(incident.channelId, [body.user.id]);
    await tell(`Added you to <#${incident.channelId}>.`);
  });

  on(Actions.duplicateDeclareAnyway, async (draftId, _body, tell) => {
    // The draft id makes the click idempotent: a double click declares once.
    await tell(declareReply(await declareDraft(deps, draftId)).text);
  });
}
