import { afterAck, beforeReply } from '../ack.js';
import type { App } from '@slack/bolt';
import { HELP_TEXT, parseCommand, type ParseResult } from '../../domain/command.js';
import type { Deps } from '../../services/deps.js';
import { runIncidentCommand, type CommandAnswer, type Reply } from '../../services/commands.js';
import { declareModal, declareReply, incidentList, statusReply } from '../blocks/incident.js';
import { COMMAND } from '../ids.js';
import { reportToUser } from '../errors.js';
import { arrival } from './answers.js';

/** An answer that travels in the slash command's ack body (Slack shows it to the user alone). */
export interface CommandAck {
  response_type: 'ephemeral';
  text: string;
}

/**
 * The answer of an `/incident` that needs no I/O, which therefore goes in the ack itself: the help
 * text, or what is wrong with the command. Null for every other command: its ack is empty and its
 * answer follows through `respond()`. Pure; the HTTP receiver's early ack (slack/bolt.ts) calls it
 * before the request reaches Bolt, and the listener below for Socket Mode.
 */
export function commandAck(parsed: ParseResult): CommandAck | null {
  if (!parsed.ok) return { response_type: 'ephemeral', text: `:warning: ${parsed.error}` };
  return parsed.command.kind === 'help' ? { response_type: 'ephemeral', text: HELP_TEXT } : null;
}

/**
 * What the HTTP receiver's early ack (slack/bolt.ts) does with an `/incident`, from one parse of its
 * text: the answer the ack carries (`commandAck`), and whether the command declares (`/incident
 * declare <severity> <title>`), whose work goes before its ack.
 */
export function commandEarly(text: string, roles: readonly string[]): { answer: CommandAck | null; workFirst: boolean } {
  const parsed = parseCommand(text, roles);
  return { answer: commandAck(parsed), workFirst: parsed.ok && parsed.command.kind === 'declare' };
}

/**
 * `/incident`: ack first (within Slack's 3 s, before any backend or Claude call), then parse and
 * call one service, then render its reply as an ephemeral response. In HTTP mode a signed command
 * is acked before it gets here (its `ack` is then a no-op; a declaration's ack follows its
 * channel's request onto the wire, `commandEarly`), and help and parse errors never get here:
 * slack/bolt.ts answers them in the ack with `commandAck`.
 */
export function registerCommands(app: App, deps: Deps): void {
  app.command(COMMAND, async ({ command, ack, respond, context }) => {
    const parsed = parseCommand(command.text ?? '', deps.config.file.roles);
    const immediate = commandAck(parsed);
    if (immediate || !parsed.ok) {
      await ack(immediate ?? undefined);
      return;
    }
    const c = parsed.command;
    if (c.kind === 'declare_modal') {
      await ack();
      await afterAck(context);
      // The trigger id expires in ~3 s: opening the modal is the first thing after the ack.
      try {
        await deps.chat.openView(
          command.trigger_id,
          declareModal({ declarer: command.user_id, privateMetadata: JSON.stringify({ channel: command.channel_id }) }),
          arrival(deps, context),
        );
      } catch (err) {
        await reportToUser(deps.logger, err, (text) => respond({ response_type: 'ephemeral', text }));
      }
      return;
    }
    await ack();
    await afterAck(context);
    try {
      const answer = await runIncidentCommand(deps, c, { userId: command.user_id, channelId: command.channel_id, triggerId: command.trigger_id });
      const reply = answer && render(answer);
      if (reply) {
        await beforeReply();
        await respond({ response_type: reply.inChannel ? 'in_channel' : 'ephemeral', text: reply.text, ...(reply.blocks ? { blocks: reply.blocks } : {}) });
      }
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
