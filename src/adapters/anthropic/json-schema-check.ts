/**
 * A deliberately small JSON Schema check for tool inputs, used only when an action gives no
 * `validate` function. It covers what action parameter schemas use: an object with
 * `properties` of type string / number / integer / boolean, `enum`, `minimum` / `maximum`,
 * `pattern`, `minLength` / `maxLength`, `required`, and `additionalProperties: false`.
 * Anything else in the schema (nested objects, arrays, $ref, oneOf...) is not checked, so
 * pass a real validator (the action's zod schema) for stricter needs.
 */
export type CheckResult = { ok: true; value: Record<string, unknown> } | { ok: false; error: string };

export function checkInputAgainstSchema(schema: Record<string, unknown>, input: unknown): CheckResult {
  if (!input || typeof input !== 'object' || Array.isArray(input)) return { ok: false, error: 'input must be an object' };
  const value = input as Record<string, unknown>;
  const props = (schema.properties && typeof schema.properties === 'object' ? schema.properties : {}) as Record<string, Record<string, unknown>>;
  const required = Array.isArray(schema.required) ? (schema.required as unknown[]).filter((k): k is string => typeof k === 'string') : [];

  for (const key of required) {
    if (value[key] === undefined || value[key] === null) return { ok: false, error: `missing required "${key}"` };
  }
  for (const [key, v] of Object.entries(value)) {
    const p = props[key];
    if (!p) {
      if (schema.additionalProperties === false) return { ok: false, error: `unknown parameter "${key}"` };
      continue;
    }
    const err = checkValue(key, p, v);
    if (err) return { ok: false, error: err };
  }
  return { ok: true, value: { ...value } };
}

function checkValue(key: string, p: Record<string, unknown>, v: unknown): string | null {
  switch (p.type) {
    case 'string':
      if (typeof v !== 'string') return `"${key}" must be a string`;
      if (typeof p.minLength === 'number' && v.length < p.minLength) return `"${key}" is shorter than ${p.minLength}`;
      if (typeof p.maxLength === 'number' && v.length > p.maxLength) return `"${key}" is longer than ${p.maxLength}`;
      if (typeof p.pattern === 'string') {
        let re: RegExp | null = null;
        try {
          re = new RegExp(p.pattern);
        } catch {
          re = null; // an unusable pattern in config is not the model's fault; skip it
        }
        if (re && !re.test(v)) return `"${key}" does not match ${p.pattern}`;
      }
      break;
    case 'integer':
      if (typeof v !== 'number' || !Number.isInteger(v)) return `"${key}" must be an integer`;
      break;
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) return `"${key}" must be a number`;
      break;
    case 'boolean':
      if (typeof v !== 'boolean') return `"${key}" must be a boolean`;
      break;
    default:
      break;
  }
  if (typeof v === 'number') {
    if (typeof p.minimum === 'number' && v < p.minimum) return `"${key}" must be ≥ ${p.minimum}`;
    if (typeof p.maximum === 'number' && v > p.maximum) return `"${key}" must be ≤ ${p.maximum}`;
  }
  if (Array.isArray(p.enum) && !p.enum.some((e) => e === v)) return `"${key}" must be one of ${p.enum.map((e) => JSON.stringify(e)).join(', ')}`;
  return null;
}
