/**
 * The side-effecting part of runbook steps, behind a port: an HTTP call and a local command.
 * The service decides what to run (templated, checked) and records the outcome; these only run it.
 * Both capture at most `maxChars` of output and never throw for an answer they received (a 500,
 * a non-zero exit): only for a call that could not be made at all (`StepRunError`).
 */
export interface HttpStepRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  maxChars: number;
}

export interface HttpStepResult {
  status: number;
  body: string;
  truncated: boolean;
}

export interface CommandStepRequest {
  /** argv[0] is the program; no shell is involved. */
  argv: string[];
  cwd?: string;
  /** The whole environment of the child (an allowlist, not added to ours). */
  env: Record<string, string>;
  timeoutMs: number;
  maxChars: number;
}

export interface CommandStepResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** stdout and stderr, interleaved as they arrived. */
  output: string;
  truncated: boolean;
}

export class StepRunError extends Error {}

export interface StepRunners {
  http(req: HttpStepRequest): Promise<HttpStepResult>;
  command(req: CommandStepRequest): Promise<CommandStepResult>;
}
