import type { App, MessageShortcut, SlackViewAction } from '@slack/bolt';
import { z } from 'zod';
import { isCalendarDate } from '../../domain/followup.js';
import { AppError } from '../../errors.js';
import type { Deps } from '../../services/deps.js';
import { acceptSuggestion, createFollowup } from '../../services/followups.js';
import { requireIncident } from '../../services/lifecycle.js';
import { configuredTargets, requestPage } from '../../services/paging.js';
import { snoozeReminder } from '../../services/reminders.js';
import { afterAck } from '../ack.js';
import { followupModal, pageModal } from '../blocks/followthrough.js';
import { reportToUser } from '../errors.js';
import { Actions, FormBlocks, Shortcuts, Views } from '../ids.js';
import { afterSubmit, arrival, onButton } from './answers.js';
import { readText } from './view-values.js';

const ShortcutMeta = z.object({ channel: z.string(), ts: z.string(), incidentId: z.string() });

/** Paging, reminder snoozes and follow-ups: thin listeners, one service call each. */
export function registerFollowThroughListeners(app: App, deps: Deps): void {
  onButton(app, deps, Actions.cardPage, async (incidentId, body, _tell, request) => {
    // trigger_id expires within ~3 s: open the modal before anything slow.
    await deps.chat.openView(
      body.trigger_id,
      pageModal(
        await requireIncident(deps, incidentId),
        configuredTargets(deps).map((t) => t.name),
      ),
      request,
    );
  });

  app.view<SlackViewAction>(Views.page, async ({ ack, view, body }) => {
    const target = readText(view.state.values, FormBlocks.target);
    const person = readText(view.state.values, FormBlocks.user);
    if (!target && !person) {
      await ack({ response_action: 'errors', errors: { [FormBlocks.user]: 'Choose a team or a person to page.' } });
      return;
    }
    await ack();
    await afterSubmit(deps, body.user.id, { view: Views.page }, async ({ answerIn, tell }) => {
      answerIn((await deps.store.getIncident(view.private_metadata))?.channelId);
      const message = readText(view.state.values, FormBlocks.message);
      const answers: string[] = [];
      if (target) answers.push(await requestPage(deps, { incidentId: view.private_metadata, target, message, actor: body.user.id }));
      if (person) answers.push(await requestPage(deps, { incidentId: view.private_metadata, target: `<@${person}>`, message, actor: body.user.id }));
      await tell(answers.join('\n'));
    });
  });

  for (const id of [Actions.reminderSnooze, Actions.reminderSnoozeLong])
    onButton(app, deps, id, async (value, body, tell) => {
      await tell(await snoozeReminder(deps, value, body.user.id));
    });

  onButton(app, deps, Actions.followupAccept, async (suggestionId, body, tell) => {
    await tell(await acceptSuggestion(deps, suggestionId, body.user.id));
  });

  // "Follow-up" on any message in an incident channel: a modal prefilled with the message.
  app.shortcut<MessageShortcut>({ callback_id: Shortcuts.followup, type: 'message_action' }, async ({ ack, shortcut, respond, context }) => {
    await ack();
    await afterAck();
    try {
      const incident = await deps.store.findIncidentByChannel(shortcut.channel.id);
      if (!incident) throw new AppError('incident.not_in_channel', 'Follow-ups are made from messages in an incident channel (`inc-*`).');
      const meta = JSON.stringify({ channel: shortcut.channel.id, ts: shortcut.message_ts, incidentId: incident.id });
      await deps.chat.openView(shortcut.trigger_id, followupModal(meta, shortcut.message.text ?? ''), arrival(deps, context));
    } catch (err) {
      await reportToUser(deps.logger, err, (text) => respond({ response_type: 'ephemeral', text }), { shortcut: Shortcuts.followup });
    }
  });

  app.view<SlackViewAction>(Views.followup, async ({ ack, view, body }) => {
    const text = readText(view.state.values, FormBlocks.message);
    const due = readText(view.state.values, FormBlocks.due);
    if (!text || text.length > 500 || (due && !isCalendarDate(due))) {
      await ack({
        response_action: 'errors',
        errors: !text || text.length > 500 ? { [FormBlocks.message]: 'Say what needs doing (at most 500 characters).' } : { [FormBlocks.due]: 'Pick a date.' },
      });
      return;
    }
    await ack();
    await afterSubmit(deps, body.user.id, { view: Views.followup }, async ({ answerIn }) => {
      const meta = ShortcutMeta.parse(JSON.parse(view.private_metadata));
      answerIn(meta.channel);
      // The message is the key: the same message becomes one follow-up, however often it is submitted.
      await createFollowup(deps, {
        incidentId: meta.incidentId,
        text,
        ownerId: readText(view.state.values, FormBlocks.owner) || null,
        due: due || null,
        source: 'shortcut',
        sourceRef: `msg:${meta.channel}:${meta.ts}`,
        actor: body.user.id,
      });
    });
  });
}
