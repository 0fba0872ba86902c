import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Runbook } from '../../src/domain/runbook.js';
import { agentStarter } from '../../src/domain/runbook-run.js';
import { RunbookSchema, toRunbook } from '../../src/domain/runbook.js';
import type { RunbookRun, RunbookStepRecord } from '../../src/ports/runbook-store.js';
import { outputNeedsFile, runbookMessage, stepOutputMessage } from '../../src/slack/blocks/runbook.js';
import { validateBlocks } from '../../src/emulator/slack/index.js';

type B = { type: string; text?: { text: string }; elements?: { text: string }[] };
const rb = { id: 'r', title: 'R', steps: [{ id: 'log', title: 'Log', kind: 'http' }] } as unknown as Runbook;
const step = (output: string): RunbookStepRecord => ({
  runId: 'run',
  index: 0,
  stepId: 'log',
  status: 'done',
  attempt: 0,
  startedAt: null,
  finishedAt: null,
  output,
  detail: {},
  error: null,
  approvalId: null,
  actor: null,
  actedAt: null,
  updatedAt: new Date(0),
});
const text = (blocks: unknown[]) => (blocks as B[]).map((b) => b.text?.text ?? b.elements?.map((e) => e.text).join(' ') ?? '').join('\n');

test("an output that grows past a message when escaped is not shown whole: its start, within Slack's limits, and where the rest is", () => {
  const out = '<'.repeat(1000); // 1,000 characters, 4,000 once escaped
  assert.equal(outputNeedsFile(out), true);
  assert.equal(outputNeedsFile('<'.repeat(700)), false);
  const msg = stepOutputMessage('m', rb, step(out), { name: 'r-step-1-log-output.txt', error: null });
  assert.deepEqual(validateBlocks(msg.blocks, { max: 50 }), []);
  assert.match(text(msg.blocks), /Showing the first [0-9,]+ of 1,000 characters\. The full output is attached in this thread as `r-step-1-log-output\.txt`/);
});

test('a refused upload is said on the message, with the reason, not left silent', () => {
  const msg = stepOutputMessage('m', rb, step('x'.repeat(5000)), {
    name: 'f.txt',
    error: 'the Slack app lacks files:write; update it from manifest.yml and reinstall',
  });
  assert.match(
    text(msg.blocks),
    /Showing the first 1,200 of 5,000 characters\. The full output could not be attached as a file \(the Slack app lacks files:write/,
  );
});

test('a short output is shown whole, with no note', () => {
  const msg = stepOutputMessage('m', rb, step('all <fine>'), null);
  assert.match(text(msg.blocks), /```all &lt;fine&gt;```/);
  assert.doesNotMatch(text(msg.blocks), /Showing/);
});

const at = new Date('2026-03-01T10:00:00Z');
const runbook = toRunbook(RunbookSchema.parse({ id: 'triage', title: 'Triage', steps: [{ id: 'ask', check: 'Look' }] }), 'test');

function run(startedBy: string): RunbookRun {
  return {
    id: 'r1',
    incidentId: 'i1',
    runbookId: 'triage',
    runbook,
    startedBy,
    channelId: 'C1',
    dedupeKey: null,
    createdAt: at,
    status: 'running',
    messageTs: null,
    finishedAt: null,
    cancelledBy: null,
    feedbackAskedAt: null,
    updatedAt: at,
  };
}
const head = (startedBy: string) =>
  JSON.stringify(
    runbookMessage({ run: run(startedBy), steps: [], now: at, incidentLabel: 'INC-1', remediations: [], feedback: [], commanderId: null }).blocks[0],
  );

test("the checklist names who started the run; an agent's name is escaped text, never a mention", () => {
  assert.match(head('U0ALICE01'), /started by <@U0ALICE01>/);
  assert.match(head('auto'), /started automatically/);
  assert.match(head(agentStarter('sre-copilot')), /started by :gear: agent `sre-copilot`/);
  const hostile = head(agentStarter('<!channel> <@U0BOSS>'));
  assert.match(hostile, /agent `&lt;!channel&gt; &lt;@U0BOSS&gt;`/);
  assert.doesNotMatch(hostile, /<!channel>|<@U0BOSS>/);
});
