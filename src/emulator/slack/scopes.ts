import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseYaml } from '../../yaml.js';
import { SlackApiError, type MethodContext } from './args.js';

/**
 * Bot-token scopes, as Slack enforces them: a method whose scope the app was not granted answers
 * `{ ok:false, error:'missing_scope', needed, provided }` (both comma-separated), before anything else
 * about the call is looked at. The table follows each method's "Required scopes" in Slack's method
 * reference (docs.slack.dev/reference/methods/<method>); the conversation methods need the public or
 * the private-channel scope depending on the channel.
 */
export type ScopeNeed =
  /** No scope (auth.test, views.*, chat.getPermalink). */
  | null
  /** This one scope. */
  | string
  /** Depends on the conversation the call names (or creates): public vs private channel. */
  | { public: string; private: string };

export const METHOD_SCOPES: Readonly<Record<string, ScopeNeed>> = {
  'auth.test': null,
  'apps.connections.open': null, // app-level token (connections:write), not a bot scope
  'bots.info': 'users:read',
  'bookmarks.add': 'bookmarks:write',
  'bookmarks.list': 'bookmarks:read',
  'chat.delete': 'chat:write',
  'chat.getPermalink': null,
  'chat.postEphemeral': 'chat:write',
  'chat.postMessage': 'chat:write',
  'chat.update': 'chat:write',
  'conversations.create': { public: 'channels:manage', private: 'groups:write' },
  'conversations.history': { public: 'channels:history', private: 'groups:history' },
  'conversations.info': { public: 'channels:read', private: 'groups:read' },
  'conversations.invite': { public: 'channels:manage', private: 'groups:write' },
  'conversations.join': 'channels:join',
  'conversations.list': { public: 'channels:read', private: 'groups:read' },
  'conversations.members': { public: 'channels:read', private: 'groups:read' },
  'conversations.replies': { public: 'channels:history', private: 'groups:history' },
  'conversations.setTopic': { public: 'channels:manage', private: 'groups:write' },
  'files.completeUploadExternal': 'files:write',
  'files.getUploadURLExternal': 'files:write',
  'pins.add': 'pins:write',
  'pins.list': 'pins:read',
  'reactions.add': 'reactions:write',
  'reactions.get': 'reactions:read',
  'usergroups.list': 'usergroups:read',
  'usergroups.users.list': 'usergroups:read',
  'users.info': 'users:read',
  'users.list': 'users:read',
  'users.lookupByEmail': 'users:read.email',
  'views.open': null,
  'views.publish': null,
  'views.push': null,
  'views.update': null,
};

/** Lets the bot post in public channels it is not a member of (chat.postMessage). */
export const CHAT_WRITE_PUBLIC = 'chat:write.public';

/** The scopes a call needs, given its arguments: every listed scope must be granted. */
function scopesFor(need: ScopeNeed, method: string, ctx: Pick<MethodContext, 'state' | 'args'>): string[] {
  if (need === null) return [];
  if (typeof need === 'string') return [need];
  const a = ctx.args;
  if (method === 'conversations.list') {
    const types = new Set(
      String(a.types ?? 'public_channel')
        .split(',')
        .map((t) => t.trim()),
    );
    return [...(types.has('public_channel') ? [need.public] : []), ...(types.has('private_channel') ? [need.private] : [])];
  }
  if (method === 'conversations.create') {
    const priv = a.is_private === true || a.is_private === 'true' || a.is_private === '1';
    return [priv ? need.private : need.public];
  }
  const id = typeof a.channel === 'string' ? a.channel : typeof a.channel_id === 'string' ? a.channel_id : '';
  const ch = ctx.state.channel(id) ?? ctx.state.channelByName(id.replace(/^#/, ''));
  return [ch?.is_private ? need.private : need.public];
}

/** Throws Slack's `missing_scope` answer when the granted scopes do not cover the call. */
export function requireScopes(method: string, granted: ReadonlySet<string>, ctx: Pick<MethodContext, 'state' | 'args'>): void {
  const need = METHOD_SCOPES[method];
  if (need === undefined) throw new Error(`emulator: no scope entry for ${method}; add it to METHOD_SCOPES`);
  const missing = scopesFor(need, method, ctx).filter((s) => !granted.has(s));
  if (missing.length) throw new SlackApiError('missing_scope', { needed: missing.join(','), provided: [...granted].join(',') });
}

/** The nearest manifest.yml above this module (the repository root, from src/ or dist/). */
export function findManifest(from = dirname(fileURLToPath(import.meta.url))): string | null {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'manifest.yml');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return null;
  }
}

/** `oauth_config.scopes.bot` of a Slack app manifest. */
export function botScopesFromManifest(path: string): string[] {
  const doc = parseYaml(readFileSync(path, 'utf8')) as { oauth_config?: { scopes?: { bot?: unknown } } } | null;
  const bot = doc?.oauth_config?.scopes?.bot;
  if (!Array.isArray(bot) || !bot.every((s) => typeof s === 'string')) throw new Error(`${path}: oauth_config.scopes.bot is not a list of scopes`);
  return bot;
}

let manifestScopes: string[] | null = null;
/** The bot scopes the project's manifest.yml requests (read once). */
export function defaultBotScopes(): string[] {
  if (!manifestScopes) {
    const path = findManifest();
    if (!path) throw new Error('emulator: manifest.yml not found; pass `scopes` to startSlackEmulator');
    manifestScopes = botScopesFromManifest(path);
  }
  return manifestScopes;
}
