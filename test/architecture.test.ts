import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The layering the README describes, checked over every import and re-export in src/ and test/:
 * - domain/ imports nothing outside domain/ (node builtins and pure libraries such as zod are fine);
 * - services/ never import adapters/;
 * - adapters/ never import services/;
 * - only sandbox/ and tests import the Slack emulator (src/emulator/), which is not part of the bot.
 * Services render Slack messages through slack/blocks only where the allow-list below says why.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Services that may import from src/slack/blocks/ (and the block ids and markers of what they
 * render, src/slack/ids.ts), and why. Anything else there is a violation.
 */
const SERVICES_THAT_RENDER: Record<string, string> = {
  'src/services/approvals.ts': 'the approval message is the gate itself: its state is rendered where it changes',
  'src/services/incident-views.ts': 'the one module that posts and refreshes the incident card, topic and announcement',
  'src/services/insights.ts': 'the stats answer, the weekly digest and the App Home figures are one chart and one message each, posted where they are computed',
};

/**
 * Services that still import slack/ directly while issue 15 step 2 (incident-views.ts, drafts in
 * declare.ts, approval-policy returning data) lands. Every entry is a debt: remove it when its
 * imports go; the test fails if an entry no longer imports slack/, so the list can only shrink.
 */
const PENDING_SLACK_IMPORTS = new Set(['src/services/followups.ts', 'src/services/paging.ts', 'src/services/reminders.ts', 'src/services/runbooks.ts']);

/**
 * Pure libraries domain code may use: no I/O, no clock, no globals. liquidjs: the runbook templates'
 * engine is built with an empty in-memory template map, so include/render never read a file.
 */
const PURE_LIBRARIES = new Set(['zod', 're2js', 'liquidjs']);

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : filesUnder(p);
    return /\.(ts|mts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** The specifier of every `import … from`, `export … from`, side-effect `import '…'` and dynamic `import('…')`. */
export function importsOf(source: string): string[] {
  const out: string[] = [];
  const re = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
  for (const m of code.matchAll(re)) out.push((m[1] ?? m[2])!);
  return out;
}

/** `src/<area>/…` of a file or of a relative import target, or null for a package. */
function areaOf(pathFromRoot: string): string | null {
  const m = /^src\/([^/]+)(?:\/|\.ts$)/.exec(pathFromRoot);
  return m ? m[1]!.replace(/\.ts$/, '') : null;
}

interface Edge {
  from: string;
  spec: string;
  to: string | null;
}

function edges(): Edge[] {
  const all: Edge[] = [];
  for (const file of [...filesUnder(join(ROOT, 'src')), ...filesUnder(join(ROOT, 'test'))]) {
    const from = relative(ROOT, file).split('\\').join('/');
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const to = spec.startsWith('.')
        ? relative(ROOT, resolve(dirname(file), spec))
            .split('\\')
            .join('/')
        : null;
      all.push({ from, spec, to });
    }
  }
  return all;
}

export function violations(list: Edge[]): string[] {
  const out: string[] = [];
  for (const { from, spec, to } of list) {
    const fromArea = areaOf(from);
    const toArea = to ? areaOf(to) : null;
    const say = (why: string) => out.push(`${from} imports ${spec}: ${why}`);
    if (fromArea === 'domain') {
      if (to && toArea !== 'domain') say('domain imports nothing outside domain/');
      if (!to && !spec.startsWith('node:') && !PURE_LIBRARIES.has(spec)) say('domain uses only node builtins and pure libraries');
    }
    if (fromArea === 'services' && toArea === 'adapters') say('services never import adapters (use a port)');
    if (
      fromArea === 'services' &&
      toArea === 'slack' &&
      !(from in SERVICES_THAT_RENDER && (to!.startsWith('src/slack/blocks/') || to === 'src/slack/ids.js')) &&
      !PENDING_SLACK_IMPORTS.has(from)
    )
      say('services do not import slack/ (only the allow-listed renderers, and only slack/blocks and slack/ids)');
    if (fromArea === 'adapters' && toArea === 'services') say('adapters never import services');
    if (toArea === 'emulator' && fromArea !== 'emulator' && fromArea !== 'sandbox' && !from.startsWith('test/'))
      say('only src/sandbox/ and tests import the emulator');
  }
  return out;
}

test('the import graph follows the layering (domain ← services ← adapters; emulator only for sandbox and tests)', () => {
  const list = edges();
  assert.ok(list.length > 500, `parsed only ${list.length} imports: the parser is broken`);
  assert.deepEqual(violations(list), []);
});

test('the pending slack/ imports only shrink: each listed service still imports slack/', () => {
  const importing = new Set(
    edges()
      .filter((e) => areaOf(e.from) === 'services' && e.to && areaOf(e.to) === 'slack')
      .map((e) => e.from),
  );
  assert.deepEqual(
    [...PENDING_SLACK_IMPORTS].filter((f) => !importing.has(f)),
    [],
    'remove these from PENDING_SLACK_IMPORTS',
  );
});

test('the checker catches each kind of violation', () => {
  const bad: Edge[] = [
    { from: 'src/domain/x.ts', spec: '../ports/store.js', to: 'src/ports/store.js' },
    { from: 'src/domain/x.ts', spec: 'pino', to: null },
    { from: 'src/services/x.ts', spec: '../adapters/http/retry.js', to: 'src/adapters/http/retry.js' },
    { from: 'src/services/x.ts', spec: '../slack/ids.js', to: 'src/slack/ids.js' },
    { from: 'src/adapters/x.ts', spec: '../services/steps.js', to: 'src/services/steps.js' },
    { from: 'src/app.ts', spec: './emulator/slack/index.js', to: 'src/emulator/slack/index.js' },
  ];
  assert.equal(violations(bad).length, bad.length);
  const good: Edge[] = [
    { from: 'src/domain/x.ts', spec: 'zod', to: null },
    { from: 'src/domain/x.ts', spec: 'node:crypto', to: null },
    { from: 'src/services/x.ts', spec: '../ports/store.js', to: 'src/ports/store.js' },
    { from: 'src/sandbox/index.ts', spec: '../emulator/slack/index.js', to: 'src/emulator/slack/index.js' },
    { from: 'test/e2e/harness.ts', spec: '../../src/emulator/slack/index.js', to: 'src/emulator/slack/index.js' },
  ];
  assert.deepEqual(violations(good), []);
  assert.deepEqual(importsOf("import type { A } from './a.js';\nexport { b } from \"./b.js\";\nimport './c.js';\nconst d = await import('./d.js');"), [
    './a.js',
    './b.js',
    './c.js',
    './d.js',
  ]);
});
