import { afterAck } from '../ack.js';
import type { App } from '@slack/bolt';
import { HELP_TEXT, parseCommand } from '../../domain/command.js';
import type { Deps } from '../../services/deps.js';
import { runIncidentCommand, type CommandAnswer, type Reply } from '../../services/commands.js';
import { declareModal, declareReply, incidentList, statusReply } from '../blocks/incident.js';
import { COMMAND } from '../ids.js';
import { reportToUser } from '../errors.js';

/**
 * `/incident`: ack first (within Slack's 3 s, before any backend or Claude call), then parse and
 * call one service, then render its reply as an ephemeral response.
 */
export function registerCommands(app: App, deps: Deps): void {
  app.command(COMMAND, async ({ command, ack, respond }) => {
    const parsed = parseCommand(command.text ?? '', deps.config.file.roles);
    if (!parsed.ok) {
      await ack({ response_type: 'ephemeral', text: `:warning: ${parsed.error}` });
      return;
    }
    const c = parsed.command;
    if (c.kind === 'help') {
      await ack({ response_type: 'ephemeral', text: HELP_TEXT });
      return;
    }
    if (c.kind === 'declare_modal') {
      await ack();
      await afterAck();
      // The trigger id expires in ~3 s: opening the modal is the first thing after the ack.
      try {
        await deps.chat.openView(
          command.trigger_id,
          declareModal({ declarer: command.user_id, privateMetadata: JSON.stringify({ channel: command.channel_id }) }),
        );
      } catch (err) {
        await reportToUser(deps.logger, err, (text) => respond({ response_type: 'ephemeral', text }));
      }
      return;
    }
    await ack();
    await afterAck();
    try {
      const answer = await runIncidentCommand(deps, c, { userId: command.user_id, channelId: command.channel_id, triggerId: command.trigger_id });
      const reply = answer && render(answer);
      if (reply)
        await respond({ response_type: reply.inChannel ? 'in_channel' : 'ephemeral', text: reply.text, ...(reply.blocks ? { blocks: reply.blocks } : {}) });
    } catch (err) {
      await reportToUser(deps.logger, err, (text) => respond({ response_type: 'ephemeral', text }), { command: c.kind });
    }
  });
}

/** The words of a subcommand's answer: data from the service is rendered here, at the edge. */
function render(answer: CommandAnswer): Reply {
  if (!('view' in answer)) return answer;
  switch (answer.view) {
    case 'declared':
      return declareReply(answer.outcome);
    case 'list':
      return incidentList(answer.incidents);
    case 'status':
      return statusReply(answer.incident, answer.roles, answer.latest);
  }
}
