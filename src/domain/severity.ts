/**
 * Severity is our own vocabulary: four lowercase levels. Every backend maps to and from it
 * (Rootly by `severity` slug on its severities, incident.io by rank).
 */
export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Severity = (typeof SEVERITIES)[number];

const ALIASES: Record<string, Severity> = {
  critical: 'critical',
  high: 'high',
  medium: 'medium',
  low: 'low',
  sev1: 'critical',
  sev2: 'high',
  sev3: 'medium',
  sev4: 'low',
};

/** The accepted spellings, for error messages. */
export const SEVERITY_INPUTS = 'critical, high, medium, low (or sev1, sev2, sev3, sev4)';

/** Case-insensitive parse; `sev1..sev4` map to critical..low. Returns null for anything else. */
export function parseSeverity(input: string | undefined | null): Severity | null {
  if (!input) return null;
  return ALIASES[input.trim().toLowerCase()] ?? null;
}

/** 0 = most severe. */
export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** True when `s` is at least as severe as `threshold`. */
export function atLeast(s: Severity, threshold: Severity): boolean {
  return severityRank(s) <= severityRank(threshold);
}

export const SEVERITY_EMOJI: Record<Severity, string> = {
  critical: ':red_circle:',
  high: ':large_orange_circle:',
  medium: ':large_yellow_circle:',
  low: ':white_circle:',
};
