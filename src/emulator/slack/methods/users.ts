import { z } from 'zod';
import { SlackApiError, parseArgs, zBool, zInt, type MethodHandler } from '../args.js';
import { page } from './render.js';

/** auth.test, users.*, usergroups.* */

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

const usersInfo: MethodHandler = (ctx) => {
  const a = parseArgs(z.object({ user: z.string().optional() }), ctx.args);
  const user = a.user ? ctx.state.users.get(a.user) : undefined;
  if (!user) throw new SlackApiError('user_not_found');
  return { user: structuredClone(user) };
};

const lookupByEmail: MethodHandler = (ctx) => {
  const a = parseArgs(z.object({ email: z.string().optional() }), ctx.args);
  const user = a.email ? ctx.state.userByEmail(a.email) : undefined;
  if (!user) throw new SlackApiError('users_not_found');
  return { user: structuredClone(user) };
};

const usersList: MethodHandler = (ctx) => {
  const a = parseArgs(z.object({ limit: zInt.optional(), cursor: z.string().optional() }), ctx.args);
  const p = page([...ctx.state.users.values()], Math.min(Math.max(a.limit ?? 200, 1), 1000), a.cursor);
  return { members: structuredClone(p.items), cache_ts: ctx.state.nowSec(), response_metadata: { next_cursor: p.nextCursor } };
};

const usergroupsList: MethodHandler = (ctx) => {
  const a = parseArgs(z.object({ include_users: zBool.optional() }), ctx.args);
  const groups = [...ctx.state.usergroups.values()].map((g) => {
    const { users, ...rest } = g;
    return { ...rest, user_count: users.length, ...(a.include_users ? { users: [...users] } : {}) };
  });
  return { usergroups: groups };
};

const usergroupsUsersList: MethodHandler = (ctx) => {
  const a = parseArgs(z.object({ usergroup: z.string().optional() }), ctx.args);
  const g = a.usergroup ? ctx.state.usergroups.get(a.usergroup) : undefined;
  if (!g) throw new SlackApiError('no_such_subteam');
  return { users: [...g.users] };
};

export const userMethods: Record<string, MethodHandler> = {
  'auth.test': authTest,
  'users.info': usersInfo,
  'users.lookupByEmail': lookupByEmail,
  'users.list': usersList,
  'usergroups.list': usergroupsList,
  'usergroups.users.list': usergroupsUsersList,
};
