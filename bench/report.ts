/**
 * The bench's figures as the README shows them: a section between `<!-- bench:start -->` and
 * `<!-- bench:end -->`, rendered from bench/results.json and nothing else, so the README's numbers
 * are those of a bench run (`npm run bench:readme`, or `BENCH_WRITE_README=1 npm run bench`).
 * Pure: no file or clock access here (bench/readme.ts does the I/O).
 */
import { z } from 'zod';

/** One figure of a bench run (bench/results.json is an array of these). */
export interface Result {
  name: string;
  value: number;
  unit: string;
  target?: string;
  ok?: boolean;
  numerator?: number;
  denominator?: number;
  note?: string;
  /** Only on `bench.run`: when the run started and which scenarios it ran (empty = all). */
  run?: { startedAt: string; only: string[] };
}

// JSON has no NaN: a figure that could not be measured (a failed scenario) is written as null.
const ResultSchema = z.object({
  name: z.string().min(1),
  value: z
    .number()
    .nullable()
    .transform((v) => v ?? Number.NaN),
  unit: z.string(),
  target: z.string().optional(),
  ok: z.boolean().optional(),
  numerator: z.number().nullable().optional(),
  denominator: z.number().nullable().optional(),
  note: z.string().optional(),
  run: z.object({ startedAt: z.string(), only: z.array(z.string()) }).optional(),
});

/** Parse bench/results.json's content; throws with the first problem named. */
export function parseResults(json: string): Result[] {
  const parsed = z.array(ResultSchema).safeParse(JSON.parse(json));
  if (!parsed.success) throw new Error(`bench/results.json: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
  return parsed.data.map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined && v !== null)) as unknown as Result);
}

/** A figure as the bench prints it: whole numbers from 100 up, two decimals below. */
export function formatValue(v: number): string {
  return Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)) : String(v);
}

/**
 * Issue 16's targets: a full run must report each (with its figure and pass/fail). A pattern
 * matches one name; `*` stands for one dot-free segment.
 */
export const REQUIRED_TARGETS = [
  'declare.rootly.modal.card_answered',
  'declare.rootly.modal.all_done',
  'declare.rootly.inline.card_answered',
  'declare.rootly.inline.all_done',
  'declare.incidentio.modal.card_answered',
  'declare.incidentio.modal.all_done',
  'declare.incidentio.inline.card_answered',
  'declare.incidentio.inline.all_done',
  'crash.declare.card_after_restart',
  'crash.approval.result_after_restart',
  'crash.postgres.declare.card_after_takeover',
  'crash.postgres.approval.result_after_takeover',
  'ack.slash_command.p50_ratio',
  'ack.slash_command.p99_ratio',
  'ack.button_click.p50_ratio',
  'ack.button_click.p99_ratio',
  'footprint.idle_rss',
  'footprint.start_to_ready',
  'storm.sqlite.ingest',
  'storm.postgres.ingest',
  'storm500.visible_in_slack',
  'storm500.channels_created',
  'storm500.slack_429s',
] as const;

/** Issue 16's targets a run lacks, or reports without a target and a pass/fail. */
export function missingTargets(results: Result[]): string[] {
  const have = new Set(results.filter((r) => r.target !== undefined && r.ok !== undefined).map((r) => r.name));
  return REQUIRED_TARGETS.filter((n) => !have.has(n));
}

const AREAS: Record<string, string> = {
  declare: 'Declare',
  crash: 'Crash recovery',
  ack: 'Acks',
  footprint: 'Footprint',
  storm: 'Alert storm',
  storm500: 'Storm bigger than Slack',
  race: 'Approval race',
  summary: 'Summary cost',
  'insights-sync': 'Insights sync',
  insights: 'Insights',
  mcp: 'Agents (MCP)',
};

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The run's own record (`bench.run`), or null for a results.json written before it existed. */
export function runOf(results: Result[]): Result['run'] | null {
  return results.find((r) => r.name === 'bench.run')?.run ?? null;
}

/**
 * The section's body (markers excluded): when and where the run was made, how many targets pass,
 * the issue's targets it lacks, and one table row per figure that has a pass/fail (in run order),
 * then the per-module memory costs, which have no target but are asked for.
 */
export function renderBenchSection(results: Result[]): string {
  const run = runOf(results);
  const load = (when: string) => results.find((r) => r.name === `machine.load_average.${when}`);
  const judged = results.filter((r) => r.ok !== undefined);
  const passing = judged.filter((r) => r.ok).length;
  const when = run ? `${run.startedAt.slice(0, 16).replace('T', ' ')} UTC` : 'an undated run';
  const scope = !run ? 'scenarios unknown' : run.only.length === 0 ? 'every scenario' : `only ${run.only.join(', ')}`;
  const start = load('start');
  const end = load('end');
  const machine =
    start && end
      ? `load average ${formatValue(start.value)} at the start and ${formatValue(end.value)} at the end (${/on (\d+) CPUs/.exec(start.note ?? '')?.[1] ?? '?'} CPUs)`
      : 'load average not recorded';
  const lines = [
    '<!-- Written by `npm run bench:readme` from bench/results.json: edit the bench, not this section. -->',
    `Figures of the \`npm run bench\` run of ${when} (${scope}), ${machine}: **${passing} of ${judged.length} targets pass**.`,
  ];
  const missing = missingTargets(results);
  if (missing.length) lines.push('', `Not in this run: ${missing.map((m) => `\`${m}\``).join(', ')}.`);
  lines.push('', '| area | figure | value | target | result |', '| --- | --- | ---: | --- | --- |');
  for (const r of judged) {
    const area = AREAS[r.name.split('.')[0]!] ?? r.name.split('.')[0]!;
    const value = r.name.endsWith('.error') ? (r.note ?? 'failed') : `${formatValue(r.value)} ${r.unit}`.trim();
    lines.push(`| ${cell(area)} | \`${cell(r.name)}\` | ${cell(value)} | ${cell(r.target ?? '')} | ${r.ok ? 'pass' : '**FAIL**'} |`);
  }
  // The declare path with the bot on the fakes' event loop (how it was measured before the bot got
  // its own process): no target, but shown beside the target figures so the change stays visible.
  const shared = results.filter((r) => /^declare\.shared_loop\.[^.]+\.[^.]+\.(card_answered|all_done)$/.test(r.name));
  if (shared.length)
    lines.push(
      '',
      `Declare with the bot on the fakes' event loop, for comparison (no target): ${shared.map((r) => `\`${r.name.slice('declare.shared_loop.'.length)}\` ${formatValue(r.value)} ${r.unit}`).join(', ')}.`,
    );
  // The storm on two replicas: an extra figure beside storm.postgres.ingest's target, not a target.
  const replicas = results.find((r) => r.name === 'storm.postgres.ingest_2_replicas');
  if (replicas)
    lines.push('', `Alert storm on two replicas, for comparison (no target): ${formatValue(replicas.value)} ${replicas.unit} — ${cell(replicas.note ?? '')}.`);
  const modules = results.find((r) => r.name === 'footprint.module_costs');
  if (modules) lines.push('', `Memory by module: ${formatValue(modules.value)} ${modules.unit} ${cell(modules.note ?? '')}.`);
  return lines.join('\n');
}

export const START_MARK = '<!-- bench:start -->';
export const END_MARK = '<!-- bench:end -->';

/** `doc` with the text between the markers replaced by `body`; throws when the markers are not there once each, in order. */
export function replaceBenchSection(doc: string, body: string): string {
  const a = doc.indexOf(START_MARK);
  const b = doc.indexOf(END_MARK);
  if (a < 0 || b < a || doc.indexOf(START_MARK, a + 1) >= 0 || doc.indexOf(END_MARK, b + 1) >= 0)
    throw new Error(`expected one ${START_MARK} … ${END_MARK} section`);
  return `${doc.slice(0, a + START_MARK.length)}\n${body}\n${doc.slice(b)}`;
}
