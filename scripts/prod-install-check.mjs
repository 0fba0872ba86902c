#!/usr/bin/env node
// Proves the production image's install without a container engine: builds the runtime tree the way
// the Dockerfile's prod-deps and runtime stages do (package.json + lockfile, `npm ci --omit=dev
// --ignore-scripts`, `npm rebuild better-sqlite3`, then dist/ and assets/ copied in) in a clean
// temporary folder, checks that no dev dependency came along, starts it with `node dist/bundle/main.js`
// in HTTP mode against the Slack emulator and PostgreSQL (a private schema), checks /healthz,
// /readyz and /metrics, stops it with SIGTERM and expects a clean exit.
//
//   npm run build && node scripts/prod-install-check.mjs
//
// better-sqlite3's native addon: the Dockerfile compiles it (or downloads a prebuilt binary). Here
// the addon this clone already compiled from the same lockfile, for the same Node, is offered to
// better-sqlite3's own installer (prebuild-install) as a local prebuild, so its install script runs
// exactly as in the image but without a second multi-minute compile. FULL_NATIVE_BUILD=1 skips that.
// PostgreSQL: TEST_DATABASE_URL (default postgres://127.0.0.1:5432/test); unreachable is a failure.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const started = Date.now();
const step = (what) => process.stdout.write(`prod-install-check: ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
class CheckFailed extends Error {}
function fail(why) {
  throw new CheckFailed(why);
}
function run(cmd, args, opts) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited ${r.status}`);
}

if (!existsSync(join(root, 'dist', 'bundle', 'main.js'))) {
  process.stderr.write('prod-install-check: dist/bundle/main.js is missing: run `npm run build` (or `npm ci`) first\n');
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'firebreak-prod-'));
const app = join(work, 'app');
mkdirSync(app);
const cleanups = [() => rmSync(work, { recursive: true, force: true })];
try {
  // --- the prod-deps stage ---------------------------------------------------------------------
  for (const f of ['package.json', 'package-lock.json']) cpSync(join(root, f), join(app, f));
  const env = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
  const addon = join(root, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
  if (process.env.FULL_NATIVE_BUILD !== '1' && existsSync(addon)) {
    const version = JSON.parse(readFileSync(join(root, 'node_modules', 'better-sqlite3', 'package.json'), 'utf8')).version;
    const prebuilds = join(work, 'prebuilds');
    mkdirSync(prebuilds);
    const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
    run('tar', ['-czf', join(prebuilds, name), '-C', join(root, 'node_modules', 'better-sqlite3'), 'build/Release/better_sqlite3.node']);
    env.npm_config_better_sqlite3_local_prebuilds = prebuilds;
  }
  step('npm ci --omit=dev --ignore-scripts in a clean folder');
  run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline'], { cwd: app, env: { ...env, npm_config_better_sqlite3_local_prebuilds: undefined } });
  step('npm rebuild better-sqlite3 (its native addon)');
  run('npm', ['rebuild', 'better-sqlite3'], { cwd: app, env });
  // Dev-only packages are the lockfile's `dev: true` entries (a package such as ajv may be both a dev
  // dependency and a production one's dependency: then it belongs in the tree).
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const devOnly = Object.entries(lock.packages ?? {})
    .filter(([path, meta]) => path.startsWith('node_modules/') && !path.slice('node_modules/'.length).includes('/node_modules/') && meta.dev === true)
    .map(([path]) => path.slice('node_modules/'.length));
  for (const dev of ['typescript', 'tsx', 'playwright-core', ...devOnly])
    if (existsSync(join(app, 'node_modules', dev))) fail(`dev-only package ${dev} is in the production tree`);
  if (!existsSync(join(app, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'))) fail('better-sqlite3 has no native addon');

  // --- the runtime stage ---------------------------------------------------------------------------
  cpSync(join(root, 'assets'), join(app, 'assets'), { recursive: true });
  cpSync(join(root, 'dist'), join(app, 'dist'), { recursive: true });

  // --- PostgreSQL: a private schema, as the tests use -------------------------------------------
  const { default: pg } = await import(pathToFileURL(join(app, 'node_modules', 'pg', 'lib', 'index.js')).href);
  const base = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://127.0.0.1:5432/test');
  if (!base.username) base.username = process.env.PGUSER ?? process.env.USER ?? 'postgres';
  const schema = `fb_prodcheck_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base.toString(), connectionTimeoutMillis: 3000 });
  await admin.connect().catch((err) => fail(`PostgreSQL not reachable at ${base.host} (${err.message})`));
  await admin.query(`create schema ${schema}`);
  cleanups.unshift(async () => {
    await admin.query(`drop schema if exists ${schema} cascade`).catch(() => undefined);
    await admin.end().catch(() => undefined);
  });
  const dbUrl = new URL(base);
  dbUrl.searchParams.set('options', `-c search_path=${schema}`);

  // --- the Slack emulator (compiled, from this clone's dist/) -------------------------------------
  const { startSlackEmulator, SlackDriver, INCIDENTS_CHANNEL_ID } = await import(
    pathToFileURL(join(root, 'dist', 'src', 'emulator', 'slack', 'index.js')).href
  );
  // A throwaway token made at each run for the emulator (never a real one), assembled so that it does
  // not look like a committed Slack token to secret scanners.
  const botToken = ['xoxb', 'prodcheck', randomBytes(6).toString('hex')].join('-');
  const signingSecret = randomBytes(16).toString('hex');
  const emulator = await startSlackEmulator({ botToken, seed: true });
  cleanups.unshift(() => emulator.close());

  const port = await new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
  step(`starting node dist/bundle/main.js on :${port} (HTTP mode, PostgreSQL schema ${schema})`);
  const bot = spawn(process.execPath, ['--max-semi-space-size=2', '--v8-pool-size=1', '--liftoff-only', '--expose-gc', 'dist/bundle/main.js'], {
    cwd: app,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      SLACK_BOT_TOKEN: botToken,
      SLACK_SIGNING_SECRET: signingSecret,
      SLACK_API_URL: emulator.apiUrl,
      ANNOUNCE_CHANNEL: 'C0INCIDENTS',
      DATABASE_URL: dbUrl.toString(),
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  bot.stdout.on('data', (c) => (out += c));
  bot.stderr.on('data', (c) => (out += c));
  const exited = new Promise((res) => bot.on('exit', (code, signal) => res({ code, signal })));
  cleanups.unshift(() => {
    if (bot.exitCode === null && bot.signalCode === null) bot.kill('SIGKILL');
  });

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  let health = null;
  while (Date.now() < deadline && bot.exitCode === null) {
    health = await fetch(`${url}/healthz`).then(
      (r) => r.status,
      () => null,
    );
    if (health === 200) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  if (health !== 200) fail(`/healthz never answered 200 (exit ${bot.exitCode}):\n${out.slice(-3000)}`);
  step('/healthz 200');
  const ready = await fetch(`${url}/readyz`);
  const body = await ready.json();
  if (ready.status !== 200 || body.checks?.store !== 'ok' || body.checks?.slack !== 'ok') fail(`/readyz ${ready.status} ${JSON.stringify(body)}`);
  step(`/readyz 200 ${JSON.stringify(body.checks)}`);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  if (!/^firebreak_process_cpu_user_seconds_total /m.test(metrics)) fail('/metrics lacks the process metrics');
  const tables = await admin.query(`select count(*)::int as n from information_schema.tables where table_schema = $1`, [schema]);
  if (!(tables.rows[0].n > 0)) fail('no tables were created in the PostgreSQL schema (migrations did not run)');
  if (!/"store":"postgres"/.test(out)) fail('the bot did not report a postgres store');

  // A declaration through the bundle: a signed `/incident declare` opens an inc- channel with the
  // card in it (the bundle's lazily loaded chunks, the store, the Slack client and the listeners).
  const driver = new SlackDriver({ emulator, requestUrl: `${url}/slack/events`, signingSecret });
  const slash = await driver.slash('declare sev2 prod-install-check declaration', { user: 'U0BOB0001', channel: INCIDENTS_CHANNEL_ID });
  if (slash.status !== 200) fail(`/incident declare answered ${slash.status}: ${JSON.stringify(slash.body)}`);
  const declared = Date.now() + 15_000;
  let card = null;
  while (Date.now() < declared && !card) {
    const channel = [...emulator.state.channels.values()].find((c) => c.name.startsWith('inc-') && c.name.includes('prod-install-check'));
    card = channel?.messages.find((m) => JSON.stringify(m.blocks ?? []).includes('prod-install-check declaration')) ?? null;
    if (!card) await new Promise((r) => setTimeout(r, 100));
  }
  if (!card) fail(`no inc- channel with the incident card 15 s after /incident declare:\n${out.slice(-3000)}`);
  step('/incident declare: an inc- channel with the card');

  bot.kill('SIGTERM');
  const stop = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 15_000))]);
  if (!stop) fail('did not stop within 15 s of SIGTERM');
  if (stop.code !== 0) fail(`exit code ${stop.code} after SIGTERM:\n${out.slice(-2000)}`);
  step('stopped cleanly on SIGTERM; the production tree works');
} catch (err) {
  process.stderr.write(`prod-install-check: FAILED: ${err instanceof CheckFailed ? err.message : (err?.stack ?? err)}\n`);
  process.exitCode = 1;
} finally {
  for (const c of cleanups) await c();
}
