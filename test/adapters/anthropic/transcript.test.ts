import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  estimateTokens,
  fitTranscript,
  formatTranscriptLine,
  linesSince,
  neutralizeDelimiters,
  renderTranscriptBlock,
} from '../../../src/adapters/anthropic/transcript.js';
import { aLine, ts } from '../../fakes/anthropic/context.js';

describe('transcript formatting', () => {
  test('each line is attributed with time and author; bots are marked', () => {
    assert.equal(formatTranscriptLine(aLine(3, 'alice', 'hello')), '[2024-04-05 14:03:00 UTC] @alice: hello');
    assert.equal(formatTranscriptLine(aLine(4, 'deploybot', 'deployed', true)), '[2024-04-05 14:04:00 UTC] @deploybot (bot): deployed');
  });

  test('continuation lines are indented under their message', () => {
    assert.equal(formatTranscriptLine(aLine(0, 'bob', 'line one\nline two')), '[2024-04-05 14:00:00 UTC] @bob: line one\n    line two');
  });

  test('a message cannot open or close a delimiter tag', () => {
    assert.equal(neutralizeDelimiters('x </transcript> y <TRANSCRIPT> <previous_summary>'), 'x ‹/transcript> y ‹TRANSCRIPT> ‹previous_summary>');
    assert.equal(neutralizeDelimiters('a <b> tag stays'), 'a <b> tag stays');
  });

  test('linesSince keeps only messages after the given ts (numeric order, not string order)', () => {
    const lines = [aLine(1, 'a', 'one'), aLine(2, 'a', 'two'), { ts: '999999999.1', author: 'a', isBot: false, text: 'old' }];
    assert.deepEqual(
      linesSince(lines, ts(1)).map((l) => l.text),
      ['two'],
    );
    assert.equal(linesSince(lines, null).length, 3);
  });
});

describe('fitTranscript budget rule', () => {
  const lines = Array.from({ length: 10 }, (_, i) => aLine(i, 'alice', `message ${i} ${'y'.repeat(60)}`));
  const perLine = estimateTokens(`${formatTranscriptLine(lines[0]!)}\n`);

  test('everything fits: nothing omitted, chronological order', () => {
    const f = fitTranscript(lines, 10_000);
    assert.equal(f.kept, 10);
    assert.equal(f.omitted, 0);
    assert.ok(f.lines[0]!.includes('message 0'));
    assert.ok(f.lines[9]!.includes('message 9'));
    assert.equal(f.newestTs, ts(9));
  });

  test('keeps the newest whole messages and counts the older ones left out', () => {
    const f = fitTranscript([...lines].reverse(), perLine * 3 + 1);
    assert.equal(f.kept, 3);
    assert.equal(f.omitted, 7);
    assert.deepEqual(
      f.lines.map((l) => /message (\d)/.exec(l)?.[1]),
      ['7', '8', '9'],
    );
    assert.ok(f.tokens <= perLine * 3 + 1);
    for (const l of f.lines) assert.ok(!l.includes('[truncated'), 'whole messages only');
    assert.match(renderTranscriptBlock(f), /^\(7 earlier messages omitted[^\n]*\n<transcript>\n/);
  });

  test('an older oversize message ends the selection instead of leaving a silent gap', () => {
    const withBig = [aLine(0, 'a', 'first'), aLine(1, 'a', 'z'.repeat(4000)), aLine(2, 'a', 'last')];
    const f = fitTranscript(withBig, 100);
    assert.deepEqual(
      f.lines.map((l) => l.endsWith('last')),
      [true],
    );
    assert.equal(f.omitted, 2);
  });

  test('a newest message larger than the budget is cut with an explicit marker', () => {
    const big = aLine(5, 'alice', 'q'.repeat(5000));
    const f = fitTranscript([aLine(1, 'bob', 'older'), big], 200);
    assert.equal(f.kept, 1);
    assert.equal(f.omitted, 1);
    const [line] = f.lines;
    const m = / \[truncated (\d+) chars\]$/.exec(line!);
    assert.ok(m, 'marker present');
    assert.equal(f.truncatedChars, Number(m[1]));
    assert.equal(line!.length - m[0].length + Number(m[1]), formatTranscriptLine(big).length, 'marker counts exactly the cut characters');
    assert.ok(estimateTokens(line!) <= 200);
    assert.match(renderTranscriptBlock(f), /newest message was cut/);
  });

  test('no messages: an empty transcript block that says so', () => {
    const f = fitTranscript([], 100);
    assert.equal(renderTranscriptBlock(f), '(No channel messages.)\n<transcript>\n</transcript>');
  });
});
