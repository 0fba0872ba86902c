import { createHash } from 'node:crypto';

/**
 * A UUID-shaped id named by `name` (SHA-256 of it, laid out as a version-5 UUID): the same name,
 * the same id, so a record whose writer died before noting its id is found again by deriving it.
 * The approval of a runbook step's attempt and an agent's proposal under an idempotency key use
 * it; each names its own prefix so they never meet.
 */
export function namedId(name: string): string {
  const h = createHash('sha256').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
