import { Liquid } from 'liquidjs';
import type { Runbook } from './runbook.js';

/**
 * Liquid templating of runbook step parameters (`{{ incident.services[0] }}`,
 * `{{ steps.deploys.json.items[0].version }}`). Strict: an unknown variable or filter is an
 * error, so a typo fails the step with a clear sentence instead of sending an empty value.
 * Pure computation (no file system: templates are strings from the configuration).
 */
const engine = new Liquid({ strictVariables: true, strictFilters: true, outputEscape: undefined, cache: false, ownPropertyOnly: true, templates: {} });

export interface TemplateVars {
  incident: {
    id: string;
    label: string;
    title: string;
    severity: string;
    status: string;
    services: string[];
    description: string;
    origin: string;
    source: string;
    channel: string;
    commander: string;
  };
  alert: { source: string; labels: Record<string, string> };
  runbook: { id: string; title: string };
  /** Earlier steps by id: status, captured output, HTTP status, parsed JSON when the output is JSON. */
  steps: Record<string, { status: string; output: string; status_code: number | null; json: unknown }>;
}

/** Every template string of a runbook, with where it is (for config errors). */
export function templatesOf(rb: Runbook): { where: string; text: string }[] {
  const out: { where: string; text: string }[] = [];
  rb.steps.forEach((s, i) => {
    const at = (k: string) => `runbooks.${rb.id}.steps[${i}].${k}`;
    if (s.kind === 'action') for (const [k, v] of Object.entries(s.action.params)) if (typeof v === 'string') out.push({ where: at(`action.params.${k}`), text: v });
    if (s.kind === 'http') {
      out.push({ where: at('http.url'), text: s.http.url });
      if (s.http.body !== undefined) out.push({ where: at('http.body'), text: s.http.body });
      for (const [k, v] of Object.entries(s.http.headers)) if (typeof v === 'string') out.push({ where: at(`http.headers.${k}`), text: v });
    }
    if (s.kind === 'command') s.command.argv.forEach((a, j) => out.push({ where: at(`command.argv[${j}]`), text: a }));
    if (s.kind === 'diagnose' && s.diagnose.prompt) out.push({ where: at('diagnose.prompt'), text: s.diagnose.prompt });
  });
  return out;
}

/** Problems parsing a runbook's templates, one line each (checked at start-up). */
export function checkTemplates(rb: Runbook): string[] {
  const problems: string[] = [];
  for (const t of templatesOf(rb)) {
    try {
      engine.parse(t.text);
    } catch (err) {
      problems.push(`${t.where}: not a valid Liquid template (${firstLine(err)})`);
    }
  }
  return problems;
}

export class TemplateError extends Error {}

/** Render one template; a missing variable or a bad filter throws a TemplateError naming it. */
export function renderTemplate(text: string, vars: TemplateVars): string {
  if (!text.includes('{{') && !text.includes('{%')) return text;
  try {
    return engine.parseAndRenderSync(text, vars as unknown as Record<string, unknown>) as string;
  } catch (err) {
    throw new TemplateError(`template \`${text.slice(0, 120)}\` could not be filled: ${firstLine(err)}`);
  }
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!.slice(0, 300);
}
