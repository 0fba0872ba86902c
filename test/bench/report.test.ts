/**
 * The README's Performance section is rendered from bench/results.json (bench/report.ts): what a
 * reader sees there must be the run's figures, its pass/fail, when and on what load it ran, and
 * which of the targets the run did not report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  END_MARK,
  missingTargets,
  parseResults,
  REQUIRED_TARGETS,
  renderBenchSection,
  replaceBenchSection,
  START_MARK,
  type Result,
} from '../../bench/report.js';
import { writeReadme } from '../../bench/readme.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

const run = (only: string[] = []): Result => ({
  name: 'bench.run',
  value: 612,
  unit: 's',
  run: { startedAt: '2026-12-01T06:05:09.123Z', only },
});
const load = (when: string, v: number): Result => ({ name: `machine.load_average.${when}`, value: v, unit: '', note: `1/5/15 min ${v} / 1 / 1 on 2 CPUs` });

function fullRun(): Result[] {
  return [
    run(),
    load('start', 0.42),
    ...REQUIRED_TARGETS.map((name) => ({ name, value: 1.5, unit: 's', target: '≤ 2', ok: true })),
    { name: 'declare.rootly.timeline', value: 12, unit: 'calls', note: '0.00→1.00 L slack conversations.create' },
    { name: 'footprint.module_costs', value: 56.4, unit: 'MB', note: 'alone: @slack/bolt 28.0, zod 14.1' },
    load('end', 1.87),
  ];
}

test('the section shows each judged figure with its value, target and result, the pass count, the date and the load', () => {
  const rs = fullRun();
  rs.find((r) => r.name === 'storm.sqlite.ingest')!.value = 612.4;
  rs.find((r) => r.name === 'storm.sqlite.ingest')!.unit = '202/s';
  rs.find((r) => r.name === 'storm.sqlite.ingest')!.target = '≥ 1000, none lost';
  rs.find((r) => r.name === 'storm.sqlite.ingest')!.ok = false;
  const out = renderBenchSection(rs);
  assert.match(out, /run of 2026-12-01 06:05 UTC \(every scenario\)/);
  assert.match(out, /load average 0\.42 at the start and 1\.87 at the end \(2 CPUs\)/);
  assert.match(out, new RegExp(`\\*\\*${REQUIRED_TARGETS.length - 1} of ${REQUIRED_TARGETS.length} targets pass\\*\\*`));
  assert.match(out, /\| Alert storm \| `storm\.sqlite\.ingest` \| 612 202\/s \| ≥ 1000, none lost \| \*\*FAIL\*\* \|/);
  assert.match(out, /\| Crash recovery \| `crash\.postgres\.declare\.card_after_takeover` \| 1\.50 s \| ≤ 2 \| pass \|/);
  // Figures without a target are not table rows; the module costs are shown below the table.
  assert.doesNotMatch(out, /declare\.rootly\.timeline/);
  assert.match(out, /Memory by module: 56\.40 MB alone: @slack\/bolt 28\.0, zod 14\.1\./);
  assert.doesNotMatch(out, /Not in this run/);
});

test("the declare figures with the bot on the fakes' event loop are shown beside the target ones, without a target", () => {
  const rs = [
    ...fullRun(),
    { name: 'declare.shared_loop.rootly.modal.card_answered', value: 2.236, unit: '× L' },
    { name: 'declare.shared_loop.rootly.modal.all_done', value: 3.371, unit: '× L' },
    { name: 'declare.shared_loop.rootly.timeline', value: 13, unit: 'calls', note: '0.00→1.00 L slack conversations.create' },
  ];
  const out = renderBenchSection(rs);
  assert.match(out, /fakes' event loop, for comparison \(no target\): `rootly\.modal\.card_answered` 2\.24 × L, `rootly\.modal\.all_done` 3\.37 × L\./);
  assert.doesNotMatch(out, /shared_loop\.rootly\.timeline|rootly\.timeline/);
  assert.match(out, new RegExp(`\\*\\*${REQUIRED_TARGETS.length} of ${REQUIRED_TARGETS.length} targets pass\\*\\*`));
});

test('the storm on two replicas is shown beside the target figures, without a target, and does not stand in for storm.postgres.ingest', () => {
  const rs = [
    ...fullRun().filter((r) => r.name !== 'storm.postgres.ingest'),
    { name: 'storm.postgres.ingest_2_replicas', value: 2412.3, unit: '202/s', note: "extra row, not the target's: two bot processes" },
  ];
  const out = renderBenchSection(rs);
  assert.match(out, /Alert storm on two replicas, for comparison \(no target\): 2412 202\/s — extra row, not the target's: two bot processes\./);
  assert.doesNotMatch(out, /\| `storm\.postgres\.ingest_2_replicas` \|/);
  assert.match(out, /Not in this run: .*`storm\.postgres\.ingest`/);
});

test('a scenario that failed is a FAIL row with its reason, and the targets it never reported are named', () => {
  const rs = fullRun().filter((r) => !r.name.startsWith('crash.postgres.'));
  rs.push({ name: 'storm500.error', value: Number.NaN, unit: '', ok: false, note: 'scenario failed: timed out' });
  const out = renderBenchSection(rs);
  assert.match(out, /\| Storm bigger than Slack \| `storm500\.error` \| scenario failed: timed out \| +\| \*\*FAIL\*\* \|/);
  assert.match(out, /Not in this run: `crash\.postgres\.declare\.card_after_takeover`, `crash\.postgres\.approval\.result_after_takeover`\./);
  assert.deepEqual(missingTargets(rs), ['crash.postgres.declare.card_after_takeover', 'crash.postgres.approval.result_after_takeover']);
});

test('a figure reported without a pass/fail does not count as the target being there', () => {
  const rs = fullRun().map((r) => (r.name === 'footprint.idle_rss' ? { name: r.name, value: r.value, unit: r.unit } : r));
  assert.deepEqual(missingTargets(rs), ['footprint.idle_rss']);
});

test('results.json as the bench writes it (NaN becomes null) parses; a malformed one is refused with the field named', () => {
  const rs = fullRun();
  rs.push({ name: 'race.error', value: Number.NaN, unit: '', ok: false, note: 'scenario failed: x' });
  const back = parseResults(JSON.stringify(rs));
  assert.equal(back.length, rs.length);
  assert.ok(Number.isNaN(back.at(-1)!.value));
  assert.deepEqual(back[0]!.run, { startedAt: '2026-12-01T06:05:09.123Z', only: [] });
  assert.throws(() => parseResults(JSON.stringify([{ name: 'x', unit: 's' }])), /value/);
});

test('only the text between the markers is replaced, and a document without exactly one pair is refused', () => {
  const doc = `# Title\n\nbefore\n\n${START_MARK}\nold figures\n${END_MARK}\n\nafter\n`;
  const out = replaceBenchSection(doc, 'new figures');
  assert.equal(out, `# Title\n\nbefore\n\n${START_MARK}\nnew figures\n${END_MARK}\n\nafter\n`);
  assert.equal(replaceBenchSection(out, 'new figures'), out, 'rewriting is idempotent');
  assert.throws(() => replaceBenchSection('# no markers\n', 'x'), /section/);
  assert.throws(() => replaceBenchSection(`${START_MARK}\n${END_MARK}\n${START_MARK}\n${END_MARK}\n`, 'x'), /section/);
  assert.throws(() => replaceBenchSection(`${END_MARK}\n${START_MARK}\n`, 'x'), /section/);
});

test('the README is written from a full run only, unless a subset is asked for', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-readme-'));
  try {
    const path = join(dir, 'README.md');
    writeFileSync(path, `intro\n${START_MARK}\nplaceholder\n${END_MARK}\nrest\n`);
    const subset = [run(['storm']), load('start', 3), { name: 'storm.sqlite.ingest', value: 900, unit: '202/s', target: '≥ 1000', ok: false }, load('end', 3)];
    assert.throws(() => writeReadme(subset, path), /subset run \(BENCH_ONLY=storm\)/);
    assert.match(readFileSync(path, 'utf8'), /placeholder/, 'left alone');
    const printed = writeReadme(subset, path, { allowSubset: true });
    const written = readFileSync(path, 'utf8');
    assert.match(written, /\(only storm\)/);
    assert.match(written, /^intro\n/);
    assert.match(written, /\nrest\n$/);
    assert.match(printed.join('\n'), /0 of 1 targets pass[\s\S]*FAIL {2}storm\.sqlite\.ingest 900 202\/s/);
    writeReadme(fullRun(), path);
    assert.match(readFileSync(path, 'utf8'), /\(every scenario\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the project's README has the one marked section the bench rewrites", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  assert.doesNotThrow(() => replaceBenchSection(readme, 'x'));
});
