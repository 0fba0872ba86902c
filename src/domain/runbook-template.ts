import { Liquid } from 'liquidjs';
import type { Runbook } from './runbook.js';

/**
 * Liquid templating of runbook step parameters (`{{ incident.services[0] }}`,
 * `{{ steps.deploys.json.items[0].version }}`). Strict: an unknown variable or filter is an
 * error, so a typo fails the step with a clear sentence instead of sending an empty value.
 * Pure computation (no file system: templates are strings from the configuration).
 */
const OPTIONS = { strictVariables: true, strictFilters: true, cache: false, ownPropertyOnly: true, templates: {} } as const;
const engine = new Liquid({ ...OPTIONS, outputEscape: undefined });

/**
 * A value filled into a URL is one piece of data, never structure: every `{{ }}` output is
 * percent-encoded (`/`, `?`, `#`, `&` and `\` included), so an incident title or an alert label cannot
 * move the request to another path of the host the runbook names (where its secret header would
 * go too) or add query parameters. A value that is `.` or `..` would still climb the path once the
 * URL is normalised: it is refused. `url_encode` does the same (and is not encoded twice); `raw`
 * is the team's explicit word that a value is trusted structure.
 */
function urlValue(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  if (/^(?:\.|%2e){1,2}$/i.test(s)) throw new Error(`a value filled into the URL is \`${s}\`, which would climb the URL's path; nothing was sent`);
  return encodeURIComponent(s);
}
const urlEngine = new Liquid({ ...OPTIONS, outputEscape: urlValue });
urlEngine.registerFilter('url_encode', { handler: (v: unknown) => urlValue(v).replace(/%20/g, '+'), raw: true });

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
    if (s.kind === 'action')
      for (const [k, v] of Object.entries(s.action.params)) if (typeof v === 'string') out.push({ where: at(`action.params.${k}`), text: v });
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

/**
 * Render one argv element. A value filled in is one argument, and never an option the team did
 * not write: an element the template does not start with `-` must not start with `-` once filled
 * (an alert whose service is `--raw=/api/v1/secrets` would otherwise give `kubectl get` a new flag).
 * `--namespace={{ x }}` is the team's flag; its value may be anything.
 */
export function renderArgvTemplate(text: string, vars: TemplateVars): string {
  const out = renderTemplate(text, vars);
  if (out.startsWith('-') && !text.startsWith('-'))
    throw new TemplateError(
      `argument \`${text.slice(0, 120)}\` filled in starts with "-" (\`${out.slice(0, 60)}\`), so the command would take it as an option; nothing was run`,
    );
  return out;
}

/** Render a URL template: every filled-in value percent-encoded (see urlValue). */
export function renderUrlTemplate(text: string, vars: TemplateVars): string {
  return renderWith(urlEngine, text, vars);
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
  return renderWith(engine, text, vars);
}

function renderWith(liquid: Liquid, text: string, vars: TemplateVars): string {
  if (!text.includes('{{') && !text.includes('{%')) return text;
  try {
    return liquid.parseAndRenderSync(text, vars as unknown as Record<string, unknown>) as string;
  } catch (err) {
    throw new TemplateError(`template \`${text.slice(0, 120)}\` could not be filled: ${firstLine(err)}`);
  }
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err)
    .split('\n')[0]!
    .slice(0, 300);
}
