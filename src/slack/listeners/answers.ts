/** How a listener answers the person: privately, after the ack, with coded errors worded once. */
import type { AllMiddlewareArgs, App, BlockAction, ButtonAction, RespondFn, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { Deps } from '../../services/deps.js';
import { afterAck } from '../ack.js';
import { reportToUser } from '../errors.js';

/** The request a listener is answering, as far as the Chat port needs it (openView's trigger budget). */
export interface Arrival {
  receivedAt: Date;
}

/**
 * When the request reached the bot: slack/bolt.ts puts it in the context (`receivedAt`, epoch ms)
 * as the request comes in (an HTTP request in `ackFirst` or the receiver's extractor, a Socket
 * Mode envelope in `socketAcks`); a request without it counts from now, when its listener starts.
 */
export function arrival(deps: Deps, context: Record<string, unknown>): Arrival {
  const at = context.receivedAt;
  return { receivedAt: typeof at === 'number' && Number.isFinite(at) ? new Date(at) : deps.clock.now() };
}

/** Tell the clicking person something only they see. */
export type Tell = (text: string) => Promise<unknown>;

/**
 * Answer the person who clicked, privately. The click's own response_url comes first: it is not
 * paced under a method tier (chat.postEphemeral is tier 4, ~100/min, so 200 clicks answered that
 * way would leave the last person waiting over a minute), and it reaches people viewing a public
 * channel they have not joined. chat.postEphemeral is the fallback when the response_url is refused.
 */
export function ephemeralTo(deps: Deps, channel: string | undefined, userId: string, respond: RespondFn): Tell {
  return async (text: string): Promise<unknown> => {
    try {
      return await respond({ response_type: 'ephemeral', replace_original: false, text });
    } catch (err) {
      if (!channel) throw err;
      deps.logger.debug({ err }, 'response_url refused; answering with chat.postEphemeral');
      return deps.chat.postEphemeral(channel, userId, text);
    }
  };
}

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;
type ButtonListener = (args: ButtonArgs) => Promise<void>;

/**
 * Every button of one App behind a single Bolt listener. Bolt runs each request through every
 * registered listener's middleware before the one that matches (about 5 µs of CPU per listener,
 * measured: some 0.2 ms a request with 40 listeners against 0.03 ms with one), and the buttons are
 * most of the listeners, so they are found here by action id instead: a Map for plain ids, then
 * the patterns (numbered ids), every match run as Bolt would run them.
 */
const buttonTables = new WeakMap<App, { byId: Map<string, ButtonListener[]>; patterns: Array<[RegExp, ButtonListener]> }>();

function addButton(app: App, actionId: string | RegExp, listener: ButtonListener): void {
  let table = buttonTables.get(app);
  if (!table) {
    const t = { byId: new Map<string, ButtonListener[]>(), patterns: [] as Array<[RegExp, ButtonListener]> };
    buttonTables.set(app, t);
    app.action<BlockAction<ButtonAction>>({ type: 'block_actions' }, async (args) => {
      const id = args.action.action_id;
      const matched = [...(t.byId.get(id) ?? []), ...t.patterns.filter(([re]) => re.test(id)).map(([, l]) => l)];
      await Promise.all(matched.map((l) => l(args)));
    });
    table = t;
  }
  if (typeof actionId === 'string') table.byId.set(actionId, [...(table.byId.get(actionId) ?? []), listener]);
  else table.patterns.push([actionId, listener]);
}

/**
 * A button listener, as every one is: ack at once, yield so queued requests are acked first, then
 * call one service with the button's value (an id, re-read from the store by the service) and the
 * signed user; expected errors become a private message, unexpected ones get an error id. A
 * modal-opening button passes `request` to openView: a form that cannot open in time (a burst
 * beyond Slack's views.open tier) is answered at once, privately, with "click again".
 */
export function onButton(
  app: App,
  deps: Deps,
  actionId: string | RegExp,
  run: (value: string, body: BlockAction, tell: Tell, request: Arrival) => Promise<void>,
): void {
  addButton(app, actionId, async ({ ack, action, body, respond, context }) => {
    await ack();
    await afterAck(context);
    const tell = ephemeralTo(deps, body.channel?.id, body.user.id, respond);
    try {
      await run(action.value ?? '', body, tell, arrival(deps, context));
    } catch (err) {
      await reportToUser(deps.logger, err, tell, { action: String(actionId) });
    }
  });
}

/**
 * The part of a modal submission after its ack: yield, run one service, answer privately in the
 * incident channel the service names (`answerIn`), and map errors in one place. Modal submissions
 * have no response_url, so answers go through chat.postEphemeral.
 */
export async function afterSubmit(
  deps: Deps,
  userId: string,
  context: Record<string, unknown>,
  run: (io: { answerIn: (channelId: string | null | undefined) => void; tell: Tell }) => Promise<unknown>,
  /** Bolt's context of the submission (see `afterAck`). */
  boltContext?: Record<string, unknown>,
): Promise<void> {
  await afterAck(boltContext);
  let channel: string | null = null;
  const tell: Tell = (text) => (channel ? deps.chat.postEphemeral(channel, userId, text) : Promise.resolve());
  try {
    await run({ answerIn: (c) => (channel = c ?? null), tell });
  } catch (err) {
    await reportToUser(deps.logger, err, tell, context);
  }
}
