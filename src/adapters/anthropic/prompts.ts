import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Liquid, type Template } from 'liquidjs';
import { incidentLabel } from '../../domain/incident.js';
import { formatDuration, formatUtc as utc } from '../../domain/time.js';
import { fitTranscript, formatLineTime, linesSince, neutralizeDelimiters, renderTranscriptBlock, type FittedTranscript } from './transcript.js';
import { AppError } from '../../errors.js';
import type { ActionSpecForModel, StepEvidence, SummaryContext } from '../../ports/summarizer.js';

/**
 * Prompts are Liquid templates shipped in `assets/prompts/` that a team may override one by one
 * (config maps a template name to a file). Templates are read and parsed once, at construction,
 * so a missing or broken override stops startup with one clear error instead of failing during
 * an incident.
 */
export const PROMPT_NAMES = ['system', 'brief', 'summary', 'postmortem', 'propose', 'diagnose'] as const;
export type PromptName = (typeof PROMPT_NAMES)[number];

export interface PromptRendererOptions {
  /** Absolute (or cwd-relative) paths of templates that replace the shipped ones. */
  overrides?: Partial<Record<PromptName, string>>;
  /** Folder holding the shipped `<name>.liquid` files; defaults to `assets/prompts` of the package. */
  dir?: string;
}

/** The variables every template can use. All strings coming from people are already neutralised. */
export interface PromptVars {
  incident: {
    id: string;
    label: string;
    title: string;
    severity: string;
    status: string;
    description: string;
    services: string;
    commander: string;
    declared_at: string;
    resolved_at: string;
    duration: string;
    origin: string;
  };
  roles: { role: string; user: string }[];
  timeline: { at: string; kind: string; author: string; text: string }[];
  /** The attributed transcript inside `<transcript>` tags, with the omission note before it. */
  transcript: string;
  transcript_kept: number;
  transcript_omitted: number;
  /** Empty string when there is none. */
  previous_summary: string;
  previous_summary_through: string;
  actions: { id: string; title: string; description: string }[];
  /** Diagnose only: the runbook steps' outputs inside `<step_outputs>` tags ('' otherwise). */
  step_outputs: string;
  /** Diagnose only: the runbook's extra instruction ('' for none). */
  instruction: string;
  now: string;
}

/**
 * Folder of the package (the one with package.json), found by walking up from this file, so
 * the same code works from `src/` under tsx and from `dist/src/` after tsc.
 */
export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new AppError('config.invalid', `Cannot find package.json above ${from} to locate assets/prompts`);
    dir = parent;
  }
}

export function defaultPromptDir(): string {
  return join(packageRoot(), 'assets', 'prompts');
}

export class PromptRenderer {
  private readonly liquid: Liquid;
  private readonly templates = new Map<PromptName, Template[]>();
  /** Where each template came from, for logs ("override" vs shipped). */
  readonly sources: Record<PromptName, string>;

  constructor(opts: PromptRendererOptions = {}) {
    // No HTML escaping (this is a prompt, not a page); unknown filters are an error so a typo in
    // an override fails at startup; unknown variables render empty so an older override keeps working.
    this.liquid = new Liquid({ strictFilters: true, strictVariables: false, outputEscape: undefined, cache: false });
    const dir = opts.dir ?? defaultPromptDir();
    const sources = {} as Record<PromptName, string>;
    for (const name of PROMPT_NAMES) {
      const override = opts.overrides?.[name];
      const file = override ? (isAbsolute(override) ? override : resolve(override)) : join(dir, `${name}.liquid`);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new AppError(
          'config.invalid',
          `Prompt template "${name}" cannot be read from ${file}: ${(err as Error).message}`,
          { template: name, file },
          { cause: err },
        );
      }
      try {
        this.templates.set(name, this.liquid.parse(text, file));
      } catch (err) {
        throw new AppError(
          'config.invalid',
          `Prompt template "${name}" (${file}) is not valid Liquid: ${(err as Error).message}`,
          { template: name, file },
          { cause: err },
        );
      }
      sources[name] = file;
    }
    this.sources = sources;
  }

  /** Render one template; the result is trimmed of leading/trailing blank space. */
  render(name: PromptName, vars: PromptVars): string {
    const tpl = this.templates.get(name);
    if (!tpl) throw new AppError('config.invalid', `Unknown prompt template "${name}"`);
    const out = this.liquid.renderSync(tpl, vars as unknown as Record<string, unknown>) as string;
    return out.trim();
  }
}

export interface BuildVarsOptions {
  /** Token budget for the transcript (estimate: chars/4). */
  transcriptBudgetTokens: number;
  now: Date;
  actions?: ActionSpecForModel[];
  /** Summary only: with a previous summary, send just the lines after `summarizedThroughTs`. */
  incremental?: boolean;
  /** Diagnose only. */
  evidence?: StepEvidence[];
  instruction?: string;
}

/**
 * Turn a SummaryContext into template variables: dates as UTC strings, untrusted text
 * neutralised so it cannot close a delimiter tag, the transcript cut to the budget (see
 * src/adapters/anthropic/transcript.ts for the rule). With `incremental`, a previous summary and
 * `summarizedThroughTs`, only the newer lines are included.
 */
export function buildPromptVars(ctx: SummaryContext, opts: BuildVarsOptions): { vars: PromptVars; fitted: FittedTranscript } {
  const n = neutralizeDelimiters;
  const inc = ctx.incident;
  const hasPrevious = typeof ctx.previousSummary === 'string' && ctx.previousSummary.trim() !== '';
  const lines = opts.incremental && hasPrevious ? linesSince(ctx.transcript, ctx.summarizedThroughTs) : ctx.transcript;
  const fitted = fitTranscript(lines, opts.transcriptBudgetTokens);
  const end = inc.resolvedAt ?? opts.now;
  const vars: PromptVars = {
    incident: {
      id: inc.id,
      label: incidentLabel(inc),
      title: n(inc.title),
      severity: inc.severity,
      status: inc.status,
      description: n(inc.description ?? ''),
      services: inc.services.map(n).join(', '),
      commander: inc.commanderId ?? '',
      declared_at: utc(inc.createdAt),
      resolved_at: inc.resolvedAt ? utc(inc.resolvedAt) : '',
      duration: formatDuration(end.getTime() - inc.createdAt.getTime()),
      origin: inc.source ? `${inc.origin} (${inc.source})` : inc.origin,
    },
    roles: Object.entries(ctx.roles)
      .sort(([a], [b]) => (a === 'commander' ? -1 : b === 'commander' ? 1 : a.localeCompare(b)))
      .map(([role, user]) => ({ role: n(role), user: n(user) })),
    timeline: ctx.timeline.map((e) => ({ at: utc(e.at), kind: n(e.kind), author: n(e.author ?? ''), text: n(e.text) })),
    transcript: renderTranscriptBlock(fitted),
    transcript_kept: fitted.kept,
    transcript_omitted: fitted.omitted,
    previous_summary: hasPrevious ? n(ctx.previousSummary!.trim()) : '',
    previous_summary_through: hasPrevious && ctx.summarizedThroughTs ? formatLineTime(ctx.summarizedThroughTs) : '',
    actions: (opts.actions ?? []).map((a) => ({ id: a.id, title: n(a.title), description: n(a.description) })),
    step_outputs: opts.evidence ? renderEvidence(opts.evidence) : '',
    instruction: n(opts.instruction ?? ''),
    now: utc(opts.now),
  };
  return { vars, fitted };
}

/**
 * Step outputs as data: each inside `<step_output>` with its step id and status, the text
 * neutralised so an output cannot close the delimiters (a web page that says `</step_outputs>`).
 */
export function renderEvidence(evidence: readonly StepEvidence[]): string {
  const n = neutralizeDelimiters;
  const attr = (s: string) => n(s).replace(/["<>\n]/g, ' ');
  const body = evidence.length
    ? evidence
        .map((e) => `<step_output step="${attr(e.step)}" title="${attr(e.title)}" status="${attr(e.status)}">\n${n(e.output) || '(no output)'}\n</step_output>`)
        .join('\n')
    : '(no step has produced output)';
  return `<step_outputs>\n${body}\n</step_outputs>`;
}
