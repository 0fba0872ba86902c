import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { SlackApiError, errorWithMessages, parseArgs, zJson, type MethodContext, type MethodHandler } from '../args.js';
import { validateView } from '../blockkit.js';
import type { EmuView } from '../types.js';
import { renderView } from './render.js';

/** A trigger id is good for this long after Slack issues it. */
export const TRIGGER_TTL_MS = 3000;
/** Slack keeps at most three modals on a stack. */
const MAX_STACK = 3;

const viewObject = zJson(z.record(z.string(), z.unknown()));

function checkView(view: Record<string, unknown>): void {
  const problems = validateView(view);
  // Slack reports view problems as invalid_arguments (not invalid_blocks) on views.* methods.
  if (problems.length > 0) throw errorWithMessages('invalid_arguments', problems);
}

/** Use up a trigger id: unknown or older than 3 s → expired; second use → exchanged. */
function exchangeTrigger(ctx: MethodContext, triggerId: string | undefined): string {
  if (!triggerId) throw errorWithMessages('invalid_arguments', ['[ERROR] missing required field: trigger_id']);
  const t = ctx.state.triggers.get(triggerId);
  if (!t || ctx.state.clock() - t.issuedAt > TRIGGER_TTL_MS) throw new SlackApiError('expired_trigger_id');
  if (t.used) throw new SlackApiError('exchanged_trigger_id');
  t.used = true;
  return t.user;
}

function newHash(ctx: MethodContext): string {
  return `${ctx.state.nowSec()}.${randomBytes(4).toString('hex')}`;
}

function buildView(ctx: MethodContext, raw: Record<string, unknown>, user: string, id: string, extra: Partial<EmuView>): EmuView {
  return {
    id,
    team_id: ctx.state.teamId,
    type: raw.type === 'home' ? 'home' : 'modal',
    user_id: user,
    ...(raw.title !== undefined ? { title: raw.title } : {}),
    ...(raw.submit !== undefined ? { submit: raw.submit } : {}),
    ...(raw.close !== undefined ? { close: raw.close } : {}),
    blocks: Array.isArray(raw.blocks) ? raw.blocks : [],
    private_metadata: typeof raw.private_metadata === 'string' ? raw.private_metadata : '',
    callback_id: typeof raw.callback_id === 'string' ? raw.callback_id : '',
    external_id: typeof raw.external_id === 'string' ? raw.external_id : '',
    clear_on_close: raw.clear_on_close === true,
    notify_on_close: raw.notify_on_close === true,
    state: { values: {} },
    hash: newHash(ctx),
    root_view_id: id,
    previous_view_id: null,
    app_id: ctx.state.appId,
    bot_id: ctx.state.botId,
    open: true,
    ...extra,
  };
}

function checkExternalId(ctx: MethodContext, raw: Record<string, unknown>, except?: string): void {
  const ext = raw.external_id;
  if (typeof ext !== 'string' || ext === '') return;
  for (const v of ctx.state.views.values()) {
    if (v.external_id === ext && v.id !== except) throw new SlackApiError('duplicate_external_id');
  }
}

const openArgs = z.object({ trigger_id: z.string().optional(), view: viewObject });
const open: MethodHandler = (ctx) => {
  const a = parseArgs(openArgs, ctx.args);
  if (a.view.type !== 'modal') throw errorWithMessages('invalid_arguments', ['[ERROR] must be a valid enum value [json-pointer:/view/type]']);
  checkView(a.view);
  checkExternalId(ctx, a.view);
  const user = exchangeTrigger(ctx, a.trigger_id);
  const view = buildView(ctx, a.view, user, ctx.state.newId('V'), {});
  ctx.state.putView(view, 'view.opened');
  return { view: renderView(view) };
};

const pushArgs = z.object({ trigger_id: z.string().optional(), view: viewObject });
const push: MethodHandler = (ctx) => {
  const a = parseArgs(pushArgs, ctx.args);
  checkView(a.view);
  checkExternalId(ctx, a.view);
  const user = exchangeTrigger(ctx, a.trigger_id);
  // The stack is the user's open modals; push onto the newest.
  const stack = [...ctx.state.views.values()].filter((v) => v.type === 'modal' && v.open && v.user_id === user);
  const top = stack[stack.length - 1];
  if (!top) throw new SlackApiError('not_found');
  if (stack.filter((v) => v.root_view_id === top.root_view_id).length >= MAX_STACK) throw new SlackApiError('push_limit_reached');
  const view = buildView(ctx, a.view, user, ctx.state.newId('V'), { root_view_id: top.root_view_id, previous_view_id: top.id });
  ctx.state.putView(view, 'view.opened');
  return { view: renderView(view) };
};

const updateArgs = z.object({ view_id: z.string().optional(), external_id: z.string().optional(), hash: z.string().optional(), view: viewObject });
const update: MethodHandler = (ctx) => {
  const a = parseArgs(updateArgs, ctx.args);
  if (!a.view_id && !a.external_id) throw errorWithMessages('invalid_arguments', ['[ERROR] must provide view_id or external_id']);
  const existing = a.view_id ? ctx.state.view(a.view_id) : [...ctx.state.views.values()].find((v) => v.external_id === a.external_id);
  if (!existing?.open) throw new SlackApiError('not_found');
  if (a.hash !== undefined && a.hash !== existing.hash) throw new SlackApiError('hash_conflict');
  checkView(a.view);
  checkExternalId(ctx, a.view, existing.id);
  const view = buildView(ctx, a.view, existing.user_id, existing.id, {
    root_view_id: existing.root_view_id,
    previous_view_id: existing.previous_view_id,
    state: existing.state,
    type: existing.type,
  });
  ctx.state.putView(view, 'view.updated');
  return { view: renderView(view) };
};

const publishArgs = z.object({ user_id: z.string().optional(), hash: z.string().optional(), view: viewObject });
const publish: MethodHandler = (ctx) => {
  const a = parseArgs(publishArgs, ctx.args);
  if (!a.user_id || !ctx.state.users.has(a.user_id)) throw new SlackApiError('user_not_found');
  if (a.view.type !== 'home') throw errorWithMessages('invalid_arguments', ['[ERROR] must be a valid enum value [json-pointer:/view/type]']);
  checkView(a.view);
  const existing = ctx.state.homeView(a.user_id);
  if (existing && a.hash !== undefined && a.hash !== existing.hash) throw new SlackApiError('hash_conflict');
  // A user's Home tab keeps one view id across publishes, as in Slack.
  const id = existing?.id ?? ctx.state.newId('V');
  const view = buildView(ctx, a.view, a.user_id, id, {});
  ctx.state.putView(view, 'home.published');
  return { view: renderView(view) };
};

export const viewMethods: Record<string, MethodHandler> = {
  'views.open': open,
  'views.push': push,
  'views.update': update,
  'views.publish': publish,
};
