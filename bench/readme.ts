/**
 * `npm run bench:readme`: rewrite README.md's bench section from bench/results.json and print what
 * passes. Refuses a results.json from a subset run (BENCH_ONLY), since the README shows a full
 * run's figures; `-- --subset` writes it anyway (the section then says which scenarios ran).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatValue, missingTargets, parseResults, renderBenchSection, replaceBenchSection, runOf, type Result } from './report.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Write the section into `readmePath`; returns the lines to print. Throws on a subset run unless allowed. */
export function writeReadme(results: Result[], readmePath: string, opts: { allowSubset?: boolean } = {}): string[] {
  const run = runOf(results);
  if (!opts.allowSubset && (!run || run.only.length > 0))
    throw new Error(
      run
        ? `bench/results.json comes from a subset run (BENCH_ONLY=${run.only.join(',')}): run the full bench, or pass --subset`
        : 'bench/results.json does not say which scenarios ran (written before bench.run existed): run the bench again',
    );
  writeFileSync(readmePath, replaceBenchSection(readFileSync(readmePath, 'utf8'), renderBenchSection(results)));
  const judged = results.filter((r) => r.ok !== undefined);
  const out = [
    `${readmePath}: bench section from the run of ${run?.startedAt ?? '?'}; ${judged.filter((r) => r.ok).length} of ${judged.length} targets pass`,
    ...judged.map((r) => `  ${r.ok ? 'pass' : 'FAIL'}  ${r.name} ${formatValue(r.value)} ${r.unit}${r.target ? ` (${r.target})` : ''}`),
  ];
  for (const w of ['start', 'end']) {
    const l = results.find((r) => r.name === `machine.load_average.${w}`);
    if (l) out.push(`  load average at the ${w}: ${l.note ?? formatValue(l.value)}`);
  }
  const missing = missingTargets(results);
  if (missing.length) out.push(`  not in this run: ${missing.join(', ')}`);
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const results = parseResults(readFileSync(join(ROOT, 'bench/results.json'), 'utf8'));
    process.stdout.write(`${writeReadme(results, join(ROOT, 'README.md'), { allowSubset: process.argv.includes('--subset') }).join('\n')}\n`);
  } catch (err) {
    process.stderr.write(`bench:readme: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
