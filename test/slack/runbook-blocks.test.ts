import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Runbook } from '../../src/domain/runbook.js';
import type { RunbookStepRecord } from '../../src/ports/runbook-store.js';
import { outputNeedsFile, stepOutputMessage } from '../../src/slack/blocks/runbook.js';
import { validateBlocks } from '../../src/emulator/slack/index.js';

type B = { type: string; text?: { text: string }; elements?: { text: string }[] };
const rb = { id: 'r', title: 'R', steps: [{ id: 'log', title: 'Log', kind: 'http' }] } as unknown as Runbook;
const step = (output: string): RunbookStepRecord => ({
  runId: 'run', index: 0, stepId: 'log', status: 'done', attempt: 0, startedAt: null, finishedAt: null, output, detail: {}, error: null, approvalId: null, actor: null, actedAt: null, updatedAt: new Date(0),
});
const text = (blocks: unknown[]) => (blocks as B[]).map((b) => b.text?.text ?? b.elements?.map((e) => e.text).join(' ') ?? '').join('\n');

test('an output that grows past a message when escaped is not shown whole: its start, within Slack\'s limits, and where the rest is', () => {
  const out = '<'.repeat(1000); // 1,000 characters, 4,000 once escaped
  assert.equal(outputNeedsFile(out), true);
  assert.equal(outputNeedsFile('<'.repeat(700)), false);
  const msg = stepOutputMessage('m', rb, step(out), { name: 'r-step-1-log-output.txt', error: null });
  assert.deepEqual(validateBlocks(msg.blocks, { max: 50 }), []);
  assert.match(text(msg.blocks), /Showing the first [0-9,]+ of 1,000 characters\. The full output is attached in this thread as `r-step-1-log-output\.txt`/);
});

test('a refused upload is said on the message, with the reason, not left silent', () => {
  const msg = stepOutputMessage('m', rb, step('x'.repeat(5000)), { name: 'f.txt', error: 'the Slack app lacks files:write; update it from manifest.yml and reinstall' });
  assert.match(text(msg.blocks), /Showing the first 1,200 of 5,000 characters\. The full output could not be attached as a file \(the Slack app lacks files:write/);
});

test('a short output is shown whole, with no note', () => {
  const msg = stepOutputMessage('m', rb, step('all <fine>'), null);
  assert.match(text(msg.blocks), /```all &lt;fine&gt;```/);
  assert.doesNotMatch(text(msg.blocks), /Showing/);
});
