import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { METHOD_SCOPES, botScopesFromManifest, findManifest } from '../../../src/emulator/slack/index.js';

/**
 * Every Slack Web API method the bot can call, with the bot scopes Slack's method reference names
 * for it (public channel scope, private channel scope where they differ). A method the bot calls
 * that is missing here fails the first test; a scope missing from manifest.yml fails the last one,
 * which is what a real workspace would answer with `missing_scope`.
 */
const BOT_METHODS: Record<string, string[]> = {
  'auth.test': [],
  'bookmarks.add': ['bookmarks:write'],
  'bots.info': ['users:read'], // start: the app id every request must carry (api_app_id)
  'bookmarks.list': ['bookmarks:read'], // a resumed declare flow looks for its bookmark first
  'chat.postEphemeral': ['chat:write'],
  'chat.postMessage': ['chat:write'],
  'chat.update': ['chat:write'],
  'conversations.create': ['channels:manage', 'groups:write'],
  'conversations.history': ['channels:history', 'groups:history'],
  'conversations.info': ['channels:read', 'groups:read'], // readiness: can the bot post in ANNOUNCE_CHANNEL? And: is a private incident's channel private?
  'conversations.invite': ['channels:manage', 'groups:write'],
  'conversations.list': ['channels:read', 'groups:read'],
  'conversations.replies': ['channels:history', 'groups:history'],
  'conversations.setTopic': ['channels:manage', 'groups:write'],
  'files.completeUploadExternal': ['files:write'], // the /incident stats chart and the weekly digest
  'files.getUploadURLExternal': ['files:write'],
  'pins.add': ['pins:write'],
  'usergroups.users.list': ['usergroups:read'],
  'users.info': ['users:read'],
  'users.lookupByEmail': ['users:read.email'],
  'views.open': [],
  'views.publish': [],
};

/** Scopes for behaviour rather than a method: posting in ANNOUNCE_CHANNEL without joining it, the events. */
const OTHER_SCOPES = {
  'chat:write.public': 'post announcements in a public channel the bot has not been invited to',
  'reactions:read': 'the reaction_added event (a :pushpin: adds a message to the timeline)',
  commands: 'the /incident slash command and the Follow-up message shortcut',
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'emulator' ? [] : sourceFiles(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

test('the table lists every Web API method the bot calls', () => {
  const called = new Set<string>();
  for (const file of sourceFiles(join(import.meta.dirname, '../../../src'))) {
    const text = readFileSync(file, 'utf8');
    // SlackChat.call('method', ...) and client.apiCall('method', ...): every call goes through these.
    for (const m of text.matchAll(/\b(?:call|apiCall)(?:<[^(]*?>)?\(\s*'([a-z]+(?:\.[a-zA-Z]+)+)'/g)) called.add(m[1]!);
  }
  // Bolt itself calls auth.test at start (the token check).
  called.add('auth.test');
  assert.deepEqual([...called].sort(), Object.keys(BOT_METHODS).sort());
});

test("the emulator's scope table agrees with Slack's method reference for every method the bot calls", () => {
  for (const [method, scopes] of Object.entries(BOT_METHODS)) {
    const need = METHOD_SCOPES[method];
    assert.notEqual(need, undefined, `${method}: no entry in the emulator's METHOD_SCOPES`);
    const flat = need === null || need === undefined ? [] : typeof need === 'string' ? [need] : [need.public, need.private];
    assert.deepEqual(flat, scopes, method);
  }
});

test('manifest.yml requests every scope the bot needs', () => {
  const granted = new Set(botScopesFromManifest(findManifest()!));
  const missing: string[] = [];
  for (const [method, scopes] of Object.entries(BOT_METHODS)) for (const s of scopes) if (!granted.has(s)) missing.push(`${s} (${method})`);
  for (const [s, why] of Object.entries(OTHER_SCOPES)) if (!granted.has(s)) missing.push(`${s} (${why})`);
  assert.deepEqual(missing, [], `manifest.yml lacks: ${missing.join(', ')}`);
});
