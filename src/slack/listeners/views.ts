import type { App, SlackViewAction, ViewSubmitAction } from '@slack/bolt';
import { z } from 'zod';
import { parseSeverity, SEVERITY_INPUTS } from '../../domain/severity.js';
import { STATUSES } from '../../domain/incident.js';
import type { Deps } from '../../services/deps.js';
import { declareOrOffer, slackDeclareInput } from '../../services/declare.js';
import { declareReply } from '../blocks/incident.js';
import { assignRole, changeSeverity, changeStatus } from '../../services/lifecycle.js';
import { DeclareBlocks, FormBlocks, Views } from '../ids.js';
import { afterSubmit } from './answers.js';
import { beforeReply } from '../ack.js';
import { readInput, readText } from './view-values.js';

const DeclareMeta = z.object({ channel: z.string().optional() }).catch({});

/** What a declare modal's ack carries: each invalid field's error, or null when it is valid. */
export interface DeclareModalErrors {
  response_action: 'errors';
  errors: Record<string, string>;
}

/**
 * The declare modal's ack, from its values alone (no I/O): the errors on the right fields, or null
 * to close it. The HTTP receiver's early ack (slack/bolt.ts) calls it before the request reaches
 * Bolt, and the listener below for Socket Mode.
 */
export function declareModalAck(v: ViewSubmitAction['view']['state']['values']): DeclareModalErrors | null {
  const title = readText(v, DeclareBlocks.title);
  const errors: Record<string, string> = {};
  if (!title) errors[DeclareBlocks.title] = 'A title is required.';
  if (title.length > 200) errors[DeclareBlocks.title] = 'At most 200 characters.';
  if (!parseSeverity(readText(v, DeclareBlocks.severity))) errors[DeclareBlocks.severity] = `Choose a severity: ${SEVERITY_INPUTS}.`;
  return Object.keys(errors).length ? { response_action: 'errors', errors } : null;
}

export function registerViews(app: App, deps: Deps): void {
  // Declare modal. Validation errors go back on the right field, in the ack. The similar-incident
  // check reads only the local store (no backend call) so the ack stays fast.
  app.view(Views.declare, async ({ ack, view, body, context }) => {
    const v = view.state.values;
    const title = readText(v, DeclareBlocks.title);
    const severity = parseSeverity(readText(v, DeclareBlocks.severity));
    const invalid = declareModalAck(v);
    if (invalid || !severity) {
      await ack(invalid ?? undefined);
      return;
    }
    const meta = DeclareMeta.parse(safeJson(view.private_metadata));
    const privateSel = readInput(v, DeclareBlocks.private);
    const input = slackDeclareInput({
      title,
      severity,
      userId: body.user.id,
      channelId: meta.channel ?? null,
      // A double submission of the same modal carries the same view id: declared once.
      dedupeKey: `view:${view.id}`,
      description: readText(v, DeclareBlocks.description),
      services: readText(v, DeclareBlocks.services)
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
      private: Array.isArray(privateSel) && privateSel.includes('private'),
      commanderId: readText(v, DeclareBlocks.commander),
    });
    await ack();
    await afterSubmit(
      deps,
      body.user.id,
      { view: Views.declare },
      async ({ answerIn }) => {
        answerIn(meta.channel);
        const reply = declareReply(await declareOrOffer(deps, input));
        await beforeReply();
        if (meta.channel) await deps.chat.postEphemeral(meta.channel, body.user.id, reply.text, reply.blocks);
      },
      context,
    );
  });

  const lifecycleView = (
    callbackId: string,
    run: (incidentId: string, values: ViewSubmitAction['view']['state']['values'], userId: string) => Promise<unknown>,
  ) =>
    app.view<SlackViewAction>(callbackId, async ({ ack, view, body }) => {
      await ack();
      await afterSubmit(deps, body.user.id, { view: callbackId }, async ({ answerIn }) => {
        answerIn((await deps.store.getIncident(view.private_metadata))?.channelId);
        await run(view.private_metadata, view.state.values, body.user.id);
      });
    });

  lifecycleView(Views.status, async (id, v, user) => {
    const status = z.enum(STATUSES).parse(readInput(v, FormBlocks.status));
    await changeStatus(deps, id, status, user, readText(v, FormBlocks.message));
  });
  lifecycleView(Views.severity, async (id, v, user) => {
    const sev = parseSeverity(readText(v, FormBlocks.severity));
    if (sev) await changeSeverity(deps, id, sev, user);
  });
  lifecycleView(Views.role, async (id, v, user) => {
    const role = readText(v, FormBlocks.role);
    const who = readText(v, FormBlocks.user);
    if (role && who) await assignRole(deps, id, role, who, user);
  });
  lifecycleView(Views.resolve, async (id, v, user) => {
    await changeStatus(deps, id, 'resolved', user, readText(v, FormBlocks.message));
  });
}

function safeJson(s: string | undefined): unknown {
  try {
    return s ? JSON.parse(s) : {};
  } catch {
    return {};
  }
}
