import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentStarter } from '../../src/domain/runbook-run.js';
import { RunbookSchema, toRunbook } from '../../src/domain/runbook.js';
import type { RunbookRun } from '../../src/ports/runbook-store.js';
import { runbookMessage } from '../../src/slack/blocks/runbook.js';

const at = new Date('2026-03-01T10:00:00Z');
const runbook = toRunbook(RunbookSchema.parse({ id: 'triage', title: 'Triage', steps: [{ id: 'ask', check: 'Look' }] }), 'test');

function run(startedBy: string): RunbookRun {
  return { id: 'r1', incidentId: 'i1', runbookId: 'triage', runbook, startedBy, channelId: 'C1', dedupeKey: null, createdAt: at, status: 'running', messageTs: null, finishedAt: null, cancelledBy: null, feedbackAskedAt: null, updatedAt: at };
}
const head = (startedBy: string) =>
  JSON.stringify(runbookMessage({ run: run(startedBy), steps: [], now: at, incidentLabel: 'INC-1', remediations: [], feedback: [], commanderId: null }).blocks[0]);

test('the checklist names who started the run; an agent\'s name is escaped text, never a mention', () => {
  assert.match(head('U0ALICE01'), /started by <@U0ALICE01>/);
  assert.match(head('auto'), /started automatically/);
  assert.match(head(agentStarter('sre-copilot')), /started by :gear: agent `sre-copilot`/);
  const hostile = head(agentStarter('<!channel> <@U0BOSS>'));
  assert.match(hostile, /agent `&lt;!channel&gt; &lt;@U0BOSS&gt;`/);
  assert.doesNotMatch(hostile, /<!channel>|<@U0BOSS>/);
});
