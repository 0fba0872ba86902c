import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';

/**
 * Validates request bodies against a vendor's OpenAPI document with ajv, when the document is
 * available. The specs live in `../shared/specs` relative to the project root, which exists in the
 * team's workspace and CI but not in a user's clone: then `loadSpecValidator` returns null and the
 * fakes rely on their own zod schemas alone.
 *
 * OpenAPI 3.0 notes: `nullable` is understood by ajv natively; `example`, `discriminator` and formats
 * are ignored (strict: false, validateFormats: false).
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const SPECS_DIR = resolve(ROOT, '../shared/specs');

export interface SpecValidator {
  /** Errors as `path message` lines; [] when valid; null when the spec has no body schema for the operation. */
  validateRequest(method: string, template: string, body: unknown): string[] | null;
}

const cache = new Map<string, SpecValidator | null>();

export function specPath(file: string): string {
  return resolve(SPECS_DIR, file);
}

export function loadSpecValidator(file: string): SpecValidator | null {
  if (cache.has(file)) return cache.get(file)!;
  const p = specPath(file);
  if (!existsSync(p)) {
    cache.set(file, null);
    return null;
  }
  const doc = JSON.parse(readFileSync(p, 'utf8')) as { paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: unknown }> } }>> };
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema(doc as object, 'spec');
  const compiled = new Map<string, ValidateFunction | null>();
  const v: SpecValidator = {
    validateRequest(method, template, body) {
      const key = `${method} ${template}`;
      if (!compiled.has(key)) {
        const op = doc.paths[template]?.[method.toLowerCase()];
        const content = op?.requestBody?.content;
        const schema = content ? Object.values(content)[0]?.schema : undefined;
        compiled.set(key, schema ? ajv.compile(rewriteRefs(schema) as object) : null);
      }
      const fn = compiled.get(key);
      if (!fn) return null;
      if (fn(body)) return [];
      return (fn.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
    },
  };
  cache.set(file, v);
  return v;
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
