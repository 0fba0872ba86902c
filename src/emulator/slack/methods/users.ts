import { z } from 'zod';
import { SlackApiError, parseArgs, zBool, zInt, type MethodHandler } from '../args.js';
import { page } from './render.js';

/** auth.test, bots.info, users.*, usergroups.* */

const authTest: MethodHandler = (ctx) => {
  const user = ctx.state.users.get(ctx.actor);
  return {
    url: `https://${ctx.state.teamDomain}.slack.com/`,
    team: 'Acme',
    user: user?.name ?? ctx.actor,
    team_id: ctx.state.teamId,
    user_id: ctx.actor,
    ...(ctx.isBot ? { bot_id: ctx.state.botId } : {}),
    is_enterprise_install: false,
  };
};

const botsInfoArgs = z.object({ bot: z.string().optional() });
/**
 * bots.info: the one bot this workspace knows is the app's own (auth.test's `bot_id`); Slack
 * answers `bot_not_found` for an id it does not know, and for a call without one.
 */
const botsInfo: MethodHandler = (ctx) => {
  const a = parseArgs(botsInfoArgs, ctx.args);
  if (!a.bot || a.bot !== ctx.state.botId) throw new SlackApiError('bot_not_found');
  const icon = (n: number) => `https://a.slack-edge.com/80588/img/plugins/app/bot_${n}.png`;
  return {
    bot: {
      id: ctx.state.botId,
      deleted: false,
      name: 'Firebreak',
      updated: ctx.state.nowSec(),
      app_id: ctx.state.appId,
      user_id: ctx.state.botUserId,
      icons: { image_36: icon(36), image_48: icon(48), image_72: icon(72) },
    },
  };
};

const usersInfoArgs = z.object({ user: z.string().optional() });
const usersInfo: MethodHandler = (ctx) => {
  const a = parseArgs(usersInfoArgs, ctx.args);
  const user = a.user ? ctx.state.users.get(a.user) : undefined;
  if (!user) throw new SlackApiError('user_not_found');
  return { user: structuredClone(user) };
};

const lookupByEmailArgs = z.object({ email: z.string().optional() });
const lookupByEmail: MethodHandler = (ctx) => {
  const a = parseArgs(lookupByEmailArgs, ctx.args);
  const user = a.email ? ctx.state.userByEmail(a.email) : undefined;
  if (!user) throw new SlackApiError('users_not_found');
  return { user: structuredClone(user) };
};

const usersListArgs = z.object({ limit: zInt.optional(), cursor: z.string().optional() });
const usersList: MethodHandler = (ctx) => {
  const a = parseArgs(usersListArgs, ctx.args);
  const p = page([...ctx.state.users.values()], Math.min(Math.max(a.limit ?? 200, 1), 1000), a.cursor);
  return { members: structuredClone(p.items), cache_ts: ctx.state.nowSec(), response_metadata: { next_cursor: p.nextCursor } };
};

const usergroupsListArgs = z.object({ include_users: zBool.optional() });
const usergroupsList: MethodHandler = (ctx) => {
  const a = parseArgs(usergroupsListArgs, ctx.args);
  const groups = [...ctx.state.usergroups.values()].map((g) => {
    const { users, ...rest } = g;
    return { ...rest, user_count: users.length, ...(a.include_users ? { users: [...users] } : {}) };
  });
  return { usergroups: groups };
};

const usergroupsUsersListArgs = z.object({ usergroup: z.string().optional() });
const usergroupsUsersList: MethodHandler = (ctx) => {
  const a = parseArgs(usergroupsUsersListArgs, ctx.args);
  const g = a.usergroup ? ctx.state.usergroups.get(a.usergroup) : undefined;
  if (!g) throw new SlackApiError('no_such_subteam');
  return { users: [...g.users] };
};

export const userMethods: Record<string, MethodHandler> = {
  'auth.test': authTest,
  'bots.info': botsInfo,
  'users.info': usersInfo,
  'users.lookupByEmail': lookupByEmail,
  'users.list': usersList,
  'usergroups.list': usergroupsList,
  'usergroups.users.list': usergroupsUsersList,
};
