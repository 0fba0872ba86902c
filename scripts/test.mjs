#!/usr/bin/env node
// Runs every test file under test/ with node's built-in runner (TypeScript through tsx).
// Node 20's --test does not expand globs, so the files are listed here. Extra arguments are
// passed through (e.g. `npm test -- test/e2e` to run one folder, `--test-name-pattern=...`).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const roots = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-'));

function collect(path, out) {
  const st = statSync(path);
  if (st.isDirectory()) {
    for (const name of readdirSync(path).sort()) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      collect(join(path, name), out);
    }
  } else if (/\.test\.ts$/.test(path)) out.push(path);
  return out;
}

const files = (roots.length ? roots : ['test']).flatMap((r) => collect(r, []));
if (!files.length) {
  console.error('no test files found');
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const res = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...flags, ...files],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
process.exit(res.status ?? 1);
