#!/usr/bin/env node
// Compiles src/ to dist/ with tsc, when there is something to compile.
//   node scripts/build.mjs           build (npm's `prepare`: runs on `npm ci` / `npm install`)
//   node scripts/build.mjs --if-stale build only when a source is newer than dist/ (used by `npm start`)
// In a production tree (Dockerfile, scripts/prod-install-check.sh) there is no src/ and no
// TypeScript: the script does nothing, so `npm ci --omit=dev` there does not fail.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const built = join(root, 'dist', 'src', 'main.js');

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
process.exit(r.status ?? 1);
