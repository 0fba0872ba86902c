/**
 * A runbook run's state, pure. Every step moves through these states by compare-and-set in the
 * store (so of several workers exactly one moves it), and the run's next move is decided from
 * the steps alone:
 *
 *   pending ─▶ running ─▶ done | failed
 *      │          └─(the process died while it ran)─▶ unknown ─(a person)─▶ retry (pending) | skip
 *      ├─▶ waiting_approval ─▶ done | failed | unknown | denied (denied or expired: the run stops)
 *      ├─▶ waiting_check ─(a person confirms)─▶ done
 *      └─(a person)─▶ skipped
 *
 * A step's outcome is recorded before the next step starts; a step found `running` by the job
 * that started it (the job was resumed after a crash) is never run again: it becomes `unknown`.
 */
export const STEP_STATUSES = ['pending', 'running', 'waiting_approval', 'waiting_check', 'done', 'failed', 'denied', 'skipped', 'unknown'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export const RUN_STATUSES = ['running', 'waiting', 'blocked', 'succeeded', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const FINISHED_RUN: readonly RunStatus[] = ['succeeded', 'failed', 'cancelled'];

export interface StepState {
  index: number;
  status: StepStatus;
  continueOnFailure: boolean;
}

export type NextMove =
  | { kind: 'start'; index: number }
  /** A step is running or waits for an approval or a person. */
  | { kind: 'wait'; index: number; status: 'running' | 'waiting' }
  /** A step's outcome is unknown: a person retries or skips it. */
  | { kind: 'blocked'; index: number }
  | { kind: 'stopped'; index: number }
  | { kind: 'finished'; failures: number };

/** What the run does next, from its steps in order. */
export function nextMove(steps: readonly StepState[]): NextMove {
  let failures = 0;
  for (const s of [...steps].sort((a, b) => a.index - b.index)) {
    switch (s.status) {
      case 'done':
      case 'skipped':
        continue;
      case 'failed':
        if (s.continueOnFailure) {
          failures++;
          continue;
        }
        return { kind: 'stopped', index: s.index };
      case 'denied':
        return { kind: 'stopped', index: s.index };
      case 'unknown':
        return { kind: 'blocked', index: s.index };
      case 'running':
        return { kind: 'wait', index: s.index, status: 'running' };
      case 'waiting_approval':
      case 'waiting_check':
        return { kind: 'wait', index: s.index, status: 'waiting' };
      case 'pending':
        return { kind: 'start', index: s.index };
    }
  }
  return { kind: 'finished', failures };
}

/** The run's status for a move. */
export function runStatusFor(move: NextMove): RunStatus {
  switch (move.kind) {
    case 'start':
      return 'running';
    case 'wait':
      return move.status === 'running' ? 'running' : 'waiting';
    case 'blocked':
      return 'blocked';
    case 'stopped':
      return 'failed';
    case 'finished':
      return 'succeeded';
  }
}

/** Retry is offered for steps that did not succeed; skip also for a step waiting on a person. */
export function canRetry(status: StepStatus): boolean {
  return status === 'failed' || status === 'unknown' || status === 'denied';
}

export function canSkip(status: StepStatus): boolean {
  return status === 'failed' || status === 'unknown' || status === 'denied' || status === 'waiting_check';
}

/** "850 ms", "12.4 s", "3 min 5 s" */
export function formatElapsed(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m} min${s ? ` ${s} s` : ''}`;
}

/**
 * Keep at most `maxChars` of a step's output, saying so when it was cut, and replace any secret
 * value that appears in it (a server that echoes its Authorization header) with `[redacted]`.
 */
export function capOutput(text: string, maxChars: number, secrets: readonly string[] = []): { text: string; truncated: boolean } {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  if (out.length <= maxChars) return { text: out, truncated: false };
  return { text: `${out.slice(0, maxChars)}\n… (cut: ${out.length - maxChars} more characters not kept)`, truncated: true };
}

/** Remediation feedback answers, after resolve. */
export const FEEDBACK_ANSWERS = ['yes', 'no', 'unsure'] as const;
export type FeedbackAnswer = (typeof FEEDBACK_ANSWERS)[number];

/**
 * Who started a run, as the store keeps it (`RunbookRun.startedBy`): a Slack user id, `auto` for an
 * automatic start, or `agent:<name>` for an AI agent over MCP. The prefix keeps an agent's name
 * from ever being taken for a Slack user id (an agent may be called `U123`): the starter of a run
 * may operate it (mayOperate), and an agent must never be mistaken for a person.
 */
export type RunStarter = { kind: 'auto' } | { kind: 'agent'; name: string } | { kind: 'user'; userId: string };

const AGENT_PREFIX = 'agent:';

export function agentStarter(name: string): string {
  return `${AGENT_PREFIX}${name}`;
}

export function runStarter(startedBy: string): RunStarter {
  if (startedBy === 'auto') return { kind: 'auto' };
  if (startedBy.startsWith(AGENT_PREFIX)) return { kind: 'agent', name: startedBy.slice(AGENT_PREFIX.length) };
  return { kind: 'user', userId: startedBy };
}

/**
 * May this person confirm, retry, skip or cancel in a run? The runbook's policy (incident roles,
 * users, user groups) and the person who started it. The caller resolves group members.
 */
export function mayOperate(
  policy: { roles: readonly string[]; users: readonly string[]; usergroups: readonly string[] },
  who: { userId: string; roles: Record<string, string>; groupMembers: ReadonlySet<string>; startedBy: string },
): boolean {
  // The starter, when a person: an automatic or an agent's start gives no one the starter's rights.
  const starter = runStarter(who.startedBy);
  if (starter.kind === 'user' && who.userId === starter.userId) return true;
  if (policy.roles.some((r) => who.roles[r] === who.userId)) return true;
  if (policy.users.includes(who.userId)) return true;
  return policy.usergroups.length > 0 && who.groupMembers.has(who.userId);
}

/** "the commander, <@U1> or <!subteam^S1>" for a refusal. */
export function describeOperators(policy: { roles: readonly string[]; users: readonly string[]; usergroups: readonly string[] }): string {
  const parts = [
    ...policy.roles.map((r) => `the ${r.replace(/_/g, ' ')}`),
    ...policy.users.map((u) => `<@${u}>`),
    ...policy.usergroups.map((g) => `<!subteam^${g}>`),
  ];
  parts.push('the person who started it');
  return parts.length === 1 ? parts[0]! : `${parts.slice(0, -1).join(', ')} or ${parts[parts.length - 1]}`;
}
