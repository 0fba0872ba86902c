import type { Incident } from '../domain/incident.js';
import type { TimelineEntry } from './store.js';

/** One line of a channel transcript as given to the summariser: attributed, bots marked. */
export interface TranscriptLine {
  ts: string;
  author: string;
  isBot: boolean;
  text: string;
}

export interface ActionSpecForModel {
  id: string;
  title: string;
  description: string;
  /** JSON Schema of the parameters (object). */
  inputSchema: Record<string, unknown>;
  /**
   * Validator for the parameters Claude proposes (e.g. the action's zod schema). When absent, the
   * adapter applies a minimal structural check of `inputSchema` (object, required keys, primitive
   * types, enums, additionalProperties: false) — give a validator for anything stricter.
   */
  validate?: (input: unknown) => { ok: true; value: Record<string, unknown> } | { ok: false; error: string };
}

export interface ProposedActionFromModel {
  actionId: string;
  params: Record<string, unknown>;
  rationale: string;
}

export interface SummaryResult {
  text: string;
  /** True when a plain structured summary was produced because Claude was unavailable. */
  fallback: boolean;
  usage?: { inputTokens: number; outputTokens: number; cacheReadTokens: number; cacheCreationTokens: number };
  requestId?: string | null;
  /**
   * Timestamp of the newest transcript message this result covers (incremental summaries):
   * store it and pass it back as `SummaryContext.summarizedThroughTs` with the summary.
   */
  coveredThroughTs?: string | null;
}

export interface SummaryContext {
  incident: Incident;
  roles: Record<string, string>;
  timeline: TimelineEntry[];
  transcript: TranscriptLine[];
  previousSummary?: string | null;
  /**
   * With `previousSummary`: messages at or before this timestamp are already covered by it and
   * are not sent again (only newer lines go to the model). Null/absent = send every line given.
   */
  summarizedThroughTs?: string | null;
}

export interface ProposalsResult {
  proposals: ProposedActionFromModel[];
  /** Tool calls that were refused (unknown action, invalid params); the caller logs them. */
  rejected: { reason: string; raw: unknown }[];
  /** True when Claude was not asked or failed (no proposals then). */
  fallback?: boolean;
  requestId?: string | null;
}

/** What a runbook step gathered, given to a diagnosis as data. */
export interface StepEvidence {
  step: string;
  title: string;
  status: string;
  output: string;
}

export interface DiagnoseContext extends SummaryContext {
  evidence: StepEvidence[];
  /** The runbook's extra instruction for this diagnosis ('' for none). */
  instruction: string;
}

export interface DiagnosisResult {
  text: string;
  confidence: 'low' | 'medium' | 'high' | null;
  /** The step ids (or other facts) the diagnosis says it used. */
  evidence: string[];
  /** Proposals for the approval gate (never executed here). */
  proposals: ProposedActionFromModel[];
  rejected: { reason: string; raw: unknown }[];
  fallback: boolean;
  requestId?: string | null;
}

/**
 * Claude, behind a port. Implementations never execute anything: proposals come back as data
 * for the approval gate. Every method falls back to a plain summary instead of throwing.
 */
export interface Summarizer {
  brief(ctx: SummaryContext): Promise<SummaryResult>;
  /** Streams text deltas to `onDelta` (throttling is the caller's job). */
  summarize(ctx: SummaryContext, onDelta?: (textSoFar: string) => void): Promise<SummaryResult>;
  postmortem(ctx: SummaryContext): Promise<SummaryResult>;
  proposeActions(ctx: SummaryContext, actions: ActionSpecForModel[]): Promise<ProposalsResult>;
  /** A runbook's diagnose step: a diagnosis from the incident and the steps' outputs, maybe with proposals. */
  diagnose(ctx: DiagnoseContext, actions: ActionSpecForModel[]): Promise<DiagnosisResult>;
  /** A configuration problem an operator must fix (for /readyz), e.g. a retired or unknown model; null when none is known. */
  problem?(): string | null;
}
