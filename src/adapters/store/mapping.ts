/** Row ⇄ record conversions shared by the store's area files: times are epoch milliseconds, JSON is text. */

export function ms(d: Date): number {
  const t = d.getTime();
  if (Number.isNaN(t)) throw new TypeError('Store: invalid Date');
  return t;
}

export function msOrNull(d: Date | null): number | null {
  return d === null ? null : ms(d);
}

/** int8 may arrive as a string if a caller built the pool without our type parser. */
export function toDate(v: number | string): Date {
  return new Date(Number(v));
}

export function toDateOrNull(v: number | string | null): Date | null {
  return v === null ? null : toDate(v);
}

/** `undefined` is not JSON; it is stored (and read back) as null. */
export function toJson(v: unknown): string {
  return JSON.stringify(v) ?? 'null';
}

export function parseJson(s: string): unknown {
  return JSON.parse(s) as unknown;
}

/** A LIKE pattern literal: `%`, `_` and the escape character itself match only themselves. */
export function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * The values a driver is given, as both dialects can store them: U+0000 (NUL) in text becomes
 * U+FFFD. PostgreSQL refuses NUL in text (the whole statement fails: an alert sender would get a
 * 500 and retry forever) while SQLite keeps it; untrusted text (alert titles, incident titles,
 * timeline, audit) may carry one. Applied where the driver receives a statement's values (see
 * sqlite.ts and postgres.ts), not as a Kysely plugin: compiled statements (prepared.ts) are built
 * with NUL-marked placeholders. Strings and arrays of them (unnest parameters); the same array when
 * nothing changes, so the common case allocates nothing. JSON text a statement parses itself has
 * the NUL as an escape: see alert-store's `jsonParam`.
 */
export function storableParameters<T extends readonly unknown[]>(values: T): T {
  return values.some(hasNul) ? (values.map(storable) as unknown as T) : values;
}

function hasNul(v: unknown): boolean {
  return typeof v === 'string' ? v.includes('\u0000') : Array.isArray(v) && v.some(hasNul);
}

function storable(v: unknown): unknown {
  if (typeof v === 'string') return v.replaceAll('\u0000', '\ufffd');
  return Array.isArray(v) ? v.map(storable) : v;
}
