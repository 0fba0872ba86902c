import type { Incident } from '../../../src/domain/incident.js';
import type { TimelineEntry } from '../../../src/ports/store.js';
import type { SummaryContext, TranscriptLine } from '../../../src/ports/summarizer.js';
import type { SummarizerLogger } from '../../../src/adapters/anthropic/claude-summarizer.js';

/** Override builders for summarizer tests. */
export function anIncident(over: Partial<Incident> = {}): Incident {
  const created = new Date('2024-04-05T14:00:00Z');
  return {
    id: 'inc_1',
    seq: 42,
    title: 'Checkout returns 502 for EU customers',
    description: 'Error rate on checkout-api above 20% since 13:55 UTC.',
    severity: 'high',
    status: 'investigating',
    services: ['checkout-api'],
    private: false,
    origin: 'slack',
    source: null,
    declaredBy: 'U0ALICE',
    commanderId: 'U0ALICE',
    backend: 'local',
    backendId: 'inc_1',
    backendUrl: null,
    channelId: 'C0INC',
    channelName: 'inc-20240405-checkout',
    cardTs: null,
    announceTs: null,
    alertCount: 0,
    createdAt: created,
    updatedAt: created,
    resolvedAt: null,
    version: 1,
    ...over,
  };
}

/** Slack-style ts: 2024-04-05 14:00:00 UTC plus `minute` minutes. */
export function ts(minute: number): string {
  return `${1712325600 + minute * 60}.000100`;
}

export function aLine(minute: number, author: string, text: string, isBot = false): TranscriptLine {
  return { ts: ts(minute), author, isBot, text };
}

export function anEntry(minute: number, kind: string, text: string, author: string | null = 'alice'): TimelineEntry {
  return { id: minute, incidentId: 'inc_1', at: new Date(Date.UTC(2024, 3, 5, 14, minute)), kind, text, author, sourceRef: null };
}

export function aContext(over: Partial<SummaryContext> = {}): SummaryContext {
  return {
    incident: anIncident(),
    roles: { commander: 'alice', scribe: 'bob' },
    timeline: [anEntry(0, 'declared', 'Incident declared'), anEntry(5, 'update', 'Rolled back nothing yet; investigating')],
    transcript: [
      aLine(1, 'alice', 'EU checkout is failing with 502s'),
      aLine(2, 'deploybot', 'Deployed checkout-api v2.3.1 to eu-west-1', true),
      aLine(4, 'bob', 'Errors started right after the v2.3.1 deploy'),
    ],
    ...over,
  };
}

export interface LogRecord {
  level: 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string;
}

/** A logger that keeps what it is given, pino-shaped (object first, message second). */
export function recordingLogger(): SummarizerLogger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at = (level: LogRecord['level']) => (obj: object, msg: string) => records.push({ level, obj: obj as Record<string, unknown>, msg });
  return { records, info: at('info'), warn: at('warn'), error: at('error') };
}
