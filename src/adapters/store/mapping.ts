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
