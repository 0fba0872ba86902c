import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';

/**
 * Validates request bodies against a vendor's OpenAPI document with ajv, when the document is
 * available. The specs live outside the project (the development workspace and CI have them, a
 * user's clone does not): then `loadSpecValidator` returns null, says so once on stderr, and the
 * fakes rely on their own zod schemas alone (each fake reports `specValidationActive`). Under
 * CI=true a missing spec is an error: CI must not pass with validation silently off.
 *
 * OpenAPI 3.0 notes: `nullable` is understood by ajv natively; `example`, `discriminator` and formats
 * are ignored (strict: false, validateFormats: false).
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const SPECS_DIR = resolve(ROOT, '../shared/specs');

export interface SpecValidator {
  /** Errors as `path message` lines; [] when valid; null when the spec has no body schema for the operation. */
  validateRequest(method: string, template: string, body: unknown): string[] | null;
  /** The same for an answer: null when the spec describes no body for that operation and status. */
  validateResponse(method: string, template: string, status: number, body: unknown): string[] | null;
  /** A webhook payload (incident.io's `x-webhooks`) by event type; null when the spec has no such event. */
  validateWebhook(eventType: string, body: unknown): string[] | null;
  /** Query parameter names the operation does not declare (`a[b]` counts as `a` when `a` is an object parameter); null for an unknown operation. */
  unknownQueryParams(method: string, template: string, names: string[]): string[] | null;
}

const cache = new Map<string, SpecValidator | null>();

export function specPath(file: string): string {
  return resolve(SPECS_DIR, file);
}

/** True under CI=true, where a missing spec fails instead of switching validation off. */
export function specsRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI === 'true';
}

export class SpecMissingError extends Error {
  constructor(readonly path: string) {
    super(`OpenAPI spec ${path} is missing and CI=true: the fakes would run without spec validation`);
    this.name = 'SpecMissingError';
  }
}

export function loadSpecValidator(file: string, opts: { dir?: string; required?: boolean } = {}): SpecValidator | null {
  const p = resolve(opts.dir ?? SPECS_DIR, file);
  if (cache.has(p)) return cache.get(p)!;
  if (!existsSync(p)) {
    if (opts.required ?? specsRequired()) throw new SpecMissingError(p);
    process.stderr.write(`# fake: ${p} not found; spec validation OFF (the fake's own schemas still apply)\n`);
    cache.set(p, null);
    return null;
  }
  type Content = { content?: Record<string, { schema?: unknown }> };
  type Param = { $ref?: string; name?: string; in?: string; style?: string; schema?: { type?: string } };
  const doc = JSON.parse(readFileSync(p, 'utf8')) as {
    paths: Record<string, Record<string, { requestBody?: Content; responses?: Record<string, Content>; parameters?: Param[] } & Param[]>>;
    components?: { parameters?: Record<string, Param> };
    'x-webhooks'?: Record<string, { get?: { responses?: Record<string, Content> } }>;
  };
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema(nullableAsAnyOf(doc) as object, 'spec');
  const compiled = new Map<string, ValidateFunction | null>();
  const check = (key: string, content: Content['content'], body: unknown): string[] | null => {
    if (!compiled.has(key)) {
      const schema = content ? Object.values(content)[0]?.schema : undefined;
      compiled.set(key, schema ? ajv.compile(rewriteRefs(nullableAsAnyOf(schema)) as object) : null);
    }
    const fn = compiled.get(key);
    if (!fn) return null;
    if (fn(body)) return [];
    return (fn.errors ?? []).map(
      (e) =>
        `${e.instancePath || '/'} ${e.message ?? 'invalid'}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`,
    );
  };
  const v: SpecValidator = {
    validateRequest: (method, template, body) => check(`${method} ${template}`, doc.paths[template]?.[method.toLowerCase()]?.requestBody?.content, body),
    validateResponse: (method, template, status, body) =>
      check(`${method} ${template} -> ${status}`, doc.paths[template]?.[method.toLowerCase()]?.responses?.[String(status)]?.content, body),
    unknownQueryParams(method, template, names) {
      const item = doc.paths[template] as Record<string, unknown> | undefined;
      const op = item?.[method.toLowerCase()] as { parameters?: Param[] } | undefined;
      if (!item || !op) return null;
      const params = [...((item.parameters as Param[] | undefined) ?? []), ...(op.parameters ?? [])]
        .map((x) => (x.$ref ? doc.components?.parameters?.[x.$ref.split('/').pop()!] : x))
        .filter((x): x is Param => x?.in === 'query');
      const exact = new Set(params.map((x) => x.name));
      // An object parameter is sent as `name[operator]` (incident.io's `updated_at[gte]`), declared deepObject or not.
      const deep = new Set(params.filter((x) => x.style === 'deepObject' || x.schema?.type === 'object').map((x) => x.name));
      return names.filter((n) => !exact.has(n) && !deep.has(n.split('[')[0]));
    },
    validateWebhook: (eventType, body) =>
      check(`webhook ${eventType}`, doc['x-webhooks']?.[`/x-webhooks/${eventType}`]?.get?.responses?.['200']?.content, body),
  };
  cache.set(p, v);
  return v;
}

/**
 * OpenAPI 3.0's `nullable: true` allows null whatever else the schema says (an `enum`, an `allOf`),
 * which ajv's own `nullable` does not read that way: such a schema becomes `anyOf [null, schema]`.
 */
function nullableAsAnyOf(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(nullableAsAnyOf);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) if (k !== 'nullable' || v !== true) out[k] = nullableAsAnyOf(v);
  return (node as { nullable?: unknown }).nullable === true ? { anyOf: [{ type: 'null' }, out] } : out;
}

/** `#/components/...` inside an extracted fragment must point into the registered document. */
function rewriteRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#') ? `spec${v}` : rewriteRefs(v);
    return out;
  }
  return node;
}
