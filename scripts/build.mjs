#!/usr/bin/env node
// Compiles src/ to dist/ with tsc, then bundles the bot's entry point (dist/src/main.js) with
// esbuild into dist/bundle/main.js, the file `npm start` and the container run: one file to read
// instead of some 800 modules to resolve and load makes start-up twice as fast and the idle process
// a few MB smaller (the bench's footprint figures). dist/src/ stays: tests, the exporter and the
// module-cost report import it.
//   node scripts/build.mjs           build (npm's `prepare`: runs on `npm ci` / `npm install`)
//   node scripts/build.mjs --if-stale build only when a source is newer than dist/ (used by `npm start`)
// In a production tree (Dockerfile, scripts/prod-install-check.sh) there is no src/ and no
// TypeScript: the script does nothing, so `npm ci --omit=dev` there does not fail.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const built = join(root, 'dist', 'bundle', 'main.js');

if (!existsSync(join(root, 'src')) || !existsSync(join(root, 'tsconfig.build.json'))) process.exit(0);

function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (p.endsWith('.ts')) newest = Math.max(newest, st.mtimeMs);
    }
  };
  walk(join(root, 'src'));
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'])
    if (existsSync(join(root, f))) newest = Math.max(newest, statSync(join(root, f)).mtimeMs);
  return newest;
}

if (process.argv.includes('--if-stale')) {
  if (existsSync(built) && statSync(built).mtimeMs >= newestSource()) process.exit(0);
  process.stderr.write(
    existsSync(built) ? 'firebreak: sources changed since the last build, compiling first...\n' : 'firebreak: no build yet, compiling first...\n',
  );
}
if (!existsSync(tsc)) {
  process.stderr.write('firebreak: TypeScript is not installed (a production install?): cannot compile src/. Run `npm ci` (with dev dependencies) first.\n');
  process.exit(existsSync(built) ? 0 : 1);
}
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
if (r.status !== 0) process.exit(r.status ?? 1);

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  process.stderr.write('firebreak: esbuild is not installed (a production install?): cannot bundle dist/src/. Run `npm ci` (with dev dependencies) first.\n');
  process.exit(1);
}
rmSync(join(root, 'dist', 'bundle'), { recursive: true, force: true });
await esbuild.build({
  entryPoints: [join(root, 'dist', 'src', 'main.js')],
  outdir: join(root, 'dist', 'bundle'),
  bundle: true,
  // The lazily imported parts (a backend's adapter, the sandbox, the Anthropic SDK, PostgreSQL or
  // SQLite) stay separate chunks, loaded only by the configurations that use them.
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  // Native addons, packages loaded from a worker thread by file path (pino's transports), and
  // optional parts the bot does not load at run time stay in node_modules.
  external: ['better-sqlite3', 'pg-native', '@duckdb/node-api', '@resvg/resvg-js', 'playwright-core', 'pino', 'pino-pretty', 'thread-stream'],
  // Bundled CommonJS packages call require() for Node's built-ins; an ES module has none.
  banner: { js: "import { createRequire as __firebreakCreateRequire } from 'node:module'; const require = __firebreakCreateRequire(import.meta.url);" },
  legalComments: 'linked',
});
process.exit(0);
