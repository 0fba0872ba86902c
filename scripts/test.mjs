#!/usr/bin/env node
// Runs every test file under test/ with node's built-in runner (TypeScript through tsx).
// Node 20's --test does not expand globs, so the files are listed here. Extra arguments are
// passed through (e.g. `npm test -- test/e2e` to run one folder, `--test-name-pattern=...`).
// Files named `*.serial.test.ts` measure time under load they make themselves (200 concurrent
// clicks acked within Slack's 3 s): they run after the others, one at a time, so a neighbour test
// file's CPU does not count against them.
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
const serial = files.filter((f) => /\.serial\.test\.ts$/.test(f));
const parallel = files.filter((f) => !serial.includes(f));
const concurrency = process.env.TEST_CONCURRENCY ?? '2';

function run(list, n) {
  if (!list.length) return 0;
  const res = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${n}`, '--test-reporter=spec', ...flags, ...list], {
    stdio: 'inherit',
    env: { ...process.env, NODE_ENV: 'test' },
  });
  return res.status ?? 1;
}

const first = run(parallel, concurrency);
if (serial.length) console.log(`\n# ${serial.length} timing-sensitive file(s), one at a time: ${serial.join(', ')}`);
const second = run(serial, '1');
process.exit(first || second);
