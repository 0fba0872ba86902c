import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../src/config.js';

const problems = (env: Record<string, string>, cwd?: string) => {
  try {
    loadConfig(env, cwd ?? mkdtempSync(join(tmpdir(), 'fbcfg-')));
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
};

test('defaults: sandbox without Slack credentials, local backend, SQLite, port 3000', () => {
  const c = loadConfig({}, mkdtempSync(join(tmpdir(), 'fbcfg-')));
  assert.equal(c.slackMode, 'sandbox');
  assert.equal(c.backend, 'local');
  assert.equal(c.port, 3000);
  assert.equal(c.databaseUrl, undefined);
  assert.equal(c.anthropicModel, 'claude-sonnet-5-5');
  assert.equal(c.slackApiUrl, 'https://slack.com/api/');
});

test('mode and backend selection follow the README (Running it, Backends)', () => {
  assert.equal(loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' }).slackMode, 'socket');
  assert.equal(loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' }).slackMode, 'http');
  assert.equal(loadConfig({ ROOTLY_API_KEY: 'k' }).backend, 'rootly');
  assert.equal(loadConfig({ INCIDENTIO_API_KEY: 'k' }).backend, 'incidentio');
  assert.equal(loadConfig({ ROOTLY_API_KEY: 'k', INCIDENT_BACKEND: 'local' }).backend, 'local');
});

test('one clear line per problem, naming the variable and never echoing a secret', () => {
  const p = problems({ SLACK_BOT_TOKEN: 'not-a-token-supersecret', PORT: 'eighty', INCIDENT_BACKEND: 'jira', DATABASE_URL: 'mysql://x' });
  assert.ok(
    p.some((l) => l.startsWith('SLACK_BOT_TOKEN:')),
    p.join('\n'),
  );
  assert.ok(p.some((l) => l.startsWith('PORT:')));
  assert.ok(p.some((l) => l.startsWith('INCIDENT_BACKEND:') && /local, rootly, incidentio/.test(l)));
  assert.ok(p.some((l) => l.startsWith('DATABASE_URL:')));
  assert.ok(!p.join('\n').includes('supersecret'));
  assert.ok(problems({ INCIDENT_BACKEND: 'rootly' }).some((l) => l.startsWith('ROOTLY_API_KEY:')));
  assert.ok(problems({ SLACK_BOT_TOKEN: 'xoxb-1' }).some((l) => l.startsWith('SLACK_SIGNING_SECRET:')));
});

test('every problem is reported at once: a bad INCIDENT_BACKEND does not hide a missing signing secret', () => {
  const p = problems({ SLACK_BOT_TOKEN: 'xoxb-1', INCIDENT_BACKEND: 'jira', PORT: 'eighty', SLACK_APP_TOKEN: '' });
  assert.ok(
    p.some((l) => l.startsWith('INCIDENT_BACKEND:')),
    p.join('\n'),
  );
  assert.ok(
    p.some((l) => l.startsWith('PORT:')),
    p.join('\n'),
  );
  assert.ok(
    p.some((l) => l.startsWith('SLACK_SIGNING_SECRET:')),
    p.join('\n'),
  );
  // An invalid token still counts as "set" for the rules across variables, and its value never shows.
  const q = problems({ SLACK_APP_TOKEN: 'bad-app-token-hunter2', INCIDENT_BACKEND: 'rootly' });
  assert.ok(
    q.some((l) => l.startsWith('SLACK_APP_TOKEN:')),
    q.join('\n'),
  );
  assert.ok(
    q.some((l) => l.startsWith('SLACK_BOT_TOKEN:')),
    q.join('\n'),
  );
  assert.ok(
    q.some((l) => l.startsWith('ROOTLY_API_KEY:')),
    q.join('\n'),
  );
  assert.ok(!q.join('\n').includes('hunter2'));
  // One line per problem, each naming one variable.
  for (const l of [...p, ...q]) assert.match(l, /^[A-Z_]+: [^\n]+$/);
  assert.equal(new Set(p).size, p.length);
});

test('firebreak.yml: unknown executor or invalid parameter schema stops start-up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fbcfg-'));
  writeFileSync(join(dir, 'firebreak.yml'), 'actions:\n  - id: purge\n    title: Purge\n    requires_approval: true\n    executor: { type: ssh }\n');
  assert.ok(problems({}, dir).some((l) => l.includes('actions.0.executor')));
  writeFileSync(join(dir, 'firebreak.yml'), 'actions:\n  - id: purge\n    title: Purge\n    requires_approval: true\n    params: { n: { type: float } }\n');
  assert.ok(problems({}, dir).some((l) => l.includes('actions.0.params.n.type')));
  writeFileSync(
    join(dir, 'firebreak.yml'),
    'actions:\n  - id: purge\n    title: Purge\n    requires_approval: true\n    executor: { type: webhook, url: "https://x.example/h", secret_env: PURGE_SECRET }\n',
  );
  const http = { SLACK_BOT_TOKEN: 'xoxb-1-2-abc', SLACK_SIGNING_SECRET: 'signing-secret-0123456789' };
  assert.ok(problems(http, dir).some((l) => l.startsWith('PURGE_SECRET: required')));
  assert.ok(problems({ ...http, PURGE_SECRET: 'x' }, dir).some((l) => l.startsWith('PURGE_SECRET: too short')));
  // The sandbox never calls a configured executor, so it does not need (and refuses) its secret.
  assert.deepEqual(problems({}, dir), []);
  const c = loadConfig({ ...http, PURGE_SECRET: 'x'.repeat(32) }, dir);
  assert.ok(c.actions.some((a) => a.id === 'purge') && c.actions.some((a) => a.id === 'rollback_deployment'));
});

test('secrets: shorter than 16 characters stops start-up naming the variable, never the value', () => {
  const err = (() => {
    try {
      loadConfig({ ALERT_WEBHOOK_SECRET: 'short-s3cret', ALERTMANAGER_WEBHOOK_TOKEN: 'tiny' }, '/nonexistent');
    } catch (e) {
      return e as ConfigError;
    }
    return null;
  })();
  assert.ok(err instanceof ConfigError);
  assert.ok(
    err.problems.some((p) => /^ALERT_WEBHOOK_SECRET: too short: use at least 16/.test(p)),
    err.problems.join('\n'),
  );
  assert.ok(err.problems.some((p) => /^ALERTMANAGER_WEBHOOK_TOKEN: too short/.test(p)));
  assert.doesNotMatch(err.message, /short-s3cret|tiny/);
  assert.doesNotThrow(() => loadConfig({ ALERT_WEBHOOK_SECRET: 'a'.repeat(16) }, '/nonexistent'));
});

test('secrets: one value cannot be both a token sent in clear and an HMAC key', () => {
  const same = 'the-same-value-0123456789';
  assert.throws(
    () => loadConfig({ ALERT_WEBHOOK_SECRET: same, ALERT_WEBHOOK_TOKEN: same }, '/nonexistent'),
    (e: unknown) =>
      e instanceof ConfigError && e.problems.some((p) => /^ALERT_WEBHOOK_TOKEN: must differ from ALERT_WEBHOOK_SECRET/.test(p)) && !e.message.includes(same),
  );
  assert.doesNotThrow(() => loadConfig({ ALERT_WEBHOOK_SECRET: same, ALERT_WEBHOOK_TOKEN: `${same}-token` }, '/nonexistent'));
});

test('.env.example names every environment variable Firebreak reads (the documented interface, both ways)', async () => {
  const { readFileSync, readdirSync, statSync } = await import('node:fs');
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : n.endsWith('.ts') ? [join(dir, n)] : []));
  const read = new Set<string>();
  for (const f of files('src')) {
    const src = readFileSync(f, 'utf8');
    for (const m of src.matchAll(/\benv\.([A-Z][A-Z0-9_]+)|\benv\[['"]([A-Z][A-Z0-9_]+)['"]\]/g)) read.add(m[1] ?? m[2]!);
  }
  // config.ts reads the environment through a zod schema: its keys (and the secret lists) are names too.
  const config = readFileSync('src/config.ts', 'utf8');
  const schema = config.slice(config.indexOf('const EnvSchema = z.object({'), config.indexOf('\n});', config.indexOf('const EnvSchema')));
  for (const m of schema.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)) read.add(m[1]!);
  // The operating system's own variables, passed through to child processes or libpq defaults.
  for (const system of ['PATH', 'USER', 'PGUSER']) read.delete(system);
  const documented = new Set([...readFileSync('.env.example', 'utf8').matchAll(/^#?\s*([A-Z][A-Z0-9_]{2,})=/gm)].map((m) => m[1]!));
  assert.deepEqual([...read].filter((v) => !documented.has(v)).sort(), [], 'read by the source but not in .env.example');
  // Documented for other readers: compose.yaml's database password, and the agent token a firebreak.yml `token_env` names.
  const elsewhere = new Set(['POSTGRES_PASSWORD', 'FIREBREAK_AGENT_TOKEN']);
  assert.deepEqual([...documented].filter((v) => !read.has(v) && !elsewhere.has(v)).sort(), [], 'in .env.example but read by nothing');
});
