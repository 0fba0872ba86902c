import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { parseYaml } from './yaml.js';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import type { ActionDefinition } from './domain/actions.js';
import { RunbookSchema, toRunbook, type Runbook } from './domain/runbook.js';
import { checkTemplates } from './domain/runbook-template.js';

/**
 * Runbooks from configuration: `runbooks.definitions` in firebreak.yml and one runbook per file in
 * `runbooks.folder`. Each problem is one line naming the runbook (or file) and the field, so a bad
 * runbook stops start-up with a sentence a person can act on, never in the middle of an incident.
 */
export interface RunbooksSection {
  allow_commands: boolean;
  folder?: string | undefined;
  max_output_chars: number;
  definitions: unknown[];
}

export interface LoadedRunbooks {
  runbooks: Runbook[];
  env: Record<string, string>;
  warnings: string[];
  problems: string[];
}

export function loadRunbooks(
  section: RunbooksSection,
  opts: { baseDir: string; env: NodeJS.ProcessEnv; actions: readonly ActionDefinition[]; rewrite?: (text: string) => string },
): LoadedRunbooks {
  const problems: string[] = [];
  const warnings: string[] = [];
  const found: Runbook[] = [];

  const take = (raw: unknown, where: string) => {
    const parsed = RunbookSchema.safeParse(raw);
    if (!parsed.success) {
      const id = raw && typeof raw === 'object' && typeof (raw as { id?: unknown }).id === 'string' ? ` (${(raw as { id: string }).id})` : '';
      problems.push(...describe(parsed.error.issues, `${where}${id}`));
      return;
    }
    found.push(toRunbook(parsed.data, where));
  };

  section.definitions.forEach((raw, i) => take(raw, `firebreak.yml runbooks.definitions[${i}]`));

  if (section.folder) {
    const dir = resolve(opts.baseDir, section.folder);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      problems.push(`firebreak.yml runbooks.folder: not a folder: ${dir}`);
    } else {
      for (const name of readdirSync(dir)
        .filter((f) => /\.ya?ml$/i.test(f))
        .sort()) {
        const file = join(dir, name);
        let raw: unknown;
        try {
          const text = readFileSync(file, 'utf8');
          raw = parseYaml(opts.rewrite ? opts.rewrite(text) : text);
        } catch (err) {
          problems.push(`${file}: not valid YAML (${(err as Error).message.split('\n')[0]})`);
          continue;
        }
        take(raw, file);
      }
    }
  }

  const seen = new Map<string, string>();
  const env: Record<string, string> = {};
  if (opts.env.PATH) env.PATH = opts.env.PATH;
  for (const rb of found) {
    const other = seen.get(rb.id);
    if (other) problems.push(`${rb.source}: runbook id "${rb.id}" is already used by ${other}`);
    seen.set(rb.id, rb.source);
    problems.push(...checkTemplates(rb));
    rb.steps.forEach((s, i) => {
      const at = `runbook ${rb.id} steps[${i}] (${s.id})`;
      if (s.kind === 'action') {
        const action = opts.actions.find((a) => a.id === s.action.id);
        if (!action) {
          problems.push(`${at}: unknown action "${s.action.id}" (known: ${opts.actions.map((a) => a.id).join(', ')})`);
          return;
        }
        for (const k of Object.keys(s.action.params)) if (!Object.hasOwn(action.params, k)) problems.push(`${at}: action ${action.id} has no parameter "${k}"`);
        for (const [k, p] of Object.entries(action.params))
          if (p.required && s.action.params[k] === undefined) problems.push(`${at}: action ${action.id} needs parameter "${k}"`);
      }
      if (s.kind === 'http') {
        for (const [h, v] of Object.entries(s.http.headers)) {
          if (typeof v === 'string') continue;
          const value = opts.env[v.env];
          if (!value) problems.push(`${v.env}: required by runbook ${rb.id} (header ${h} of step ${s.id})`);
          else env[v.env] = value;
        }
      }
      if (s.kind === 'command') {
        if (rb.auto && !s.command.read_only)
          problems.push(
            `runbook ${rb.id} step ${s.id}: auto: true, but this command is not declared read_only; an automatic start has no person to vouch for a command that may change something. Declare read_only: true if it only reads, or set auto: false`,
          );
        if (!section.allow_commands)
          warnings.push(
            `runbook ${rb.id} step ${s.id} is a command step, but runbooks.allow_commands is false: that step will be refused when the runbook reaches it`,
          );
        for (const name of s.command.env) if (opts.env[name] !== undefined) env[name] = opts.env[name]!;
      }
      if (s.kind === 'diagnose') {
        for (const id of s.diagnose.actions ?? []) if (!opts.actions.some((a) => a.id === id)) problems.push(`${at}: diagnose offers unknown action "${id}"`);
      }
    });
  }
  return { runbooks: problems.length ? [] : found, env, warnings, problems };
}

function describe(issues: readonly z.core.$ZodIssue[], prefix: string): string[] {
  return issues.map((i) => {
    const where = i.path.length ? i.path.join('.') : '(root)';
    let msg = i.message;
    if (i.code === 'invalid_value' && 'values' in i) msg = `expected one of ${(i.values as unknown[]).join(', ')}`;
    if (i.code === 'unrecognized_keys') msg = `unknown key(s) ${i.keys.join(', ')}`;
    return `${prefix} ${where}: ${msg}`;
  });
}
