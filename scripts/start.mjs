#!/usr/bin/env node
// `npm start`: run the compiled bot (dist/, built once by `npm ci` through `prepare`). In a clone
// whose sources changed since that build (a `git pull`, an edit), compile first so the code that
// runs is the code on disk; otherwise start at once. Containers run dist/bundle/main.js directly
// (the bundle scripts/build.mjs makes of dist/src/main.js).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs'), '--if-stale'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
await import(pathToFileURL(join(root, 'dist', 'bundle', 'main.js')).href);
