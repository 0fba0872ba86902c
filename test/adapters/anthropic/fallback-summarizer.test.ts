import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createFallbackSummarizer } from '../../../src/adapters/fallback-summarizer.js';
import { aContext, anEntry, anIncident, aLine } from '../../fakes/anthropic/context.js';
import { postmortemMessage } from '../../../src/slack/blocks/summary.js';

const clock = { now: () => new Date('2024-04-05T15:30:00Z') };

describe('fallback summarizer', () => {
  const fb = createFallbackSummarizer({ clock, lastEntries: 2 });

  test('summary: labelled, with record, roles, duration, services, counts and the last N timeline entries', async () => {
    const ctx = aContext({
      timeline: [anEntry(0, 'declared', 'Incident declared'), anEntry(10, 'update', 'Found bad deploy'), anEntry(20, 'status', 'Mitigated by rollback')],
    });
    const r = await fb.summarize(ctx);
    assert.equal(r.fallback, true);
    const t = r.text;
    assert.doesNotMatch(t, /Claude unavailable/, 'the message that shows it says so once, in its footer');
    assert.match(t, /\*INC-42: Checkout returns 502 for EU customers\*/);
    assert.match(t, /Severity: \*high\* · Status: \*investigating\*/);
    assert.match(t, /Commander: <@U0ALICE>/);
    assert.match(t, /Roles: scribe @bob/);
    assert.match(t, /`checkout-api`/);
    assert.match(t, /Open for 1h 30m/);
    assert.match(t, /3 messages \(2 from 2 people, 1 from bots\)/);
    assert.match(t, /Latest timeline\* \(2 of 3\)/);
    assert.doesNotMatch(t, /Incident declared/);
    assert.match(t, /Mitigated by rollback/);
    // Times are date tokens each reader sees in their own zone, with a UTC fallback.
    assert.match(t, /• <!date\^\d+\^\{date_short_pretty\} \{time\}\|2024-04-05 14:20 UTC> — status/);
  });

  test('post-mortem skeleton: the seven sections, filled from the record where possible', async () => {
    const ctx = aContext({
      incident: anIncident({ status: 'resolved', resolvedAt: new Date('2024-04-05T14:45:00Z') }),
      timeline: [anEntry(0, 'alert', '[PAGERDUTY] checkout 5xx'), anEntry(30, 'status', 'Resolved after rollback')],
      transcript: [aLine(1, 'alice', 'hi')],
    });
    const r = await fb.postmortem(ctx);
    const headings = [...r.text.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    assert.deepEqual(headings, ['Summary', 'Root Cause', 'Trigger', 'Impact', 'Timeline', 'Resolution', 'Prevention']);
    assert.match(r.text, /lasted 45m/);
    assert.match(r.text, /## Trigger\n2024-04-05 14:00 UTC — alert by @alice: \[PAGERDUTY\] checkout 5xx/);
    assert.match(r.text, /## Resolution\n- 2024-04-05 14:30 UTC: Resolved after rollback/);
    assert.match(r.text, /Automatic draft \(Claude unavailable\)/);
  });

  test('post-mortem timeline: event kinds in words, no raw id beside a mention', async () => {
    const ctx = aContext({
      timeline: [
        { ...anEntry(0, 'declared', 'Declared by <@U0ALICE01>'), author: 'U0ALICE01' },
        { ...anEntry(5, 'severity_changed', 'Severity high → *critical* by <@U0ALICE01>'), author: 'U0ALICE01' },
        { ...anEntry(9, 'update', 'Rolled back'), author: 'U0BOB0001' },
      ],
    });
    const r = await fb.postmortem(ctx);
    assert.doesNotMatch(r.text, /\(U0ALICE01\)|severity_changed/);
    assert.match(r.text, /severity changed: Severity high/);
    assert.match(r.text, /update by <@U0BOB0001>: Rolled back/);
  });

  test('summary timeline: the people the record names stay mentions; nothing in an entry can ping anyone else', async () => {
    const ctx = aContext({
      timeline: [
        { ...anEntry(0, 'declared', 'Declared (high) by <@U0ALICE01>'), author: 'U0ALICE01' },
        // Stored escaped when written (a note: "p99 > 2s, paging <@U0DAVE001>").
        { ...anEntry(5, 'note', 'p99 &gt; 2s, paging &lt;@U0DAVE001&gt;'), author: 'U0ALICE01' },
        // A pinned message is someone else's Slack text: its mentions are not the record's.
        { ...anEntry(9, 'pin', 'Rollback done, thanks <@U0BOB0001> <!channel> &amp; co'), author: 'U0CAROL01' },
      ],
    });
    const t = (await createFallbackSummarizer({ clock }).summarize(ctx)).text;
    assert.match(t, /declared: Declared \(high\) by <@U0ALICE01>/);
    assert.match(t, /note by <@U0ALICE01>: p99 &gt; 2s, paging &lt;@U0DAVE001&gt;/, 'shown once escaped: "p99 > 2s", the mention as text');
    assert.match(t, /pin by <@U0CAROL01>: Rollback done, thanks &lt;@U0BOB0001&gt; &lt;!channel&gt; &amp; co/);
    assert.doesNotMatch(t, /<@U0BOB|<@U0DAVE|<!channel>|&amp;gt;|&amp;lt;|&amp;amp;/);
  });

  test('post-mortem skeleton: an alert title or description naming people pings nobody when the draft is posted', async () => {
    const ctx = aContext({
      incident: anIncident({ title: 'Disk full <@U0EVIL001> <!here>', description: 'cc <@U0EVIL002>, latency > 2s', services: ['api<@U0EVIL003>'] }),
      timeline: [{ ...anEntry(0, 'declared', 'Declared (high) by <@U0ALICE01>'), author: 'U0ALICE01' }],
    });
    const md = (await createFallbackSummarizer({ clock }).postmortem(ctx)).text;
    const posted = JSON.stringify(postmortemMessage(ctx.incident, { markdown: md, fallback: true }).blocks);
    assert.match(posted, /declared: Declared \(high\) by <@U0ALICE01>/, 'the record keeps its people');
    assert.match(posted, /latency &gt; 2s/);
    assert.doesNotMatch(posted, /<@U0EVIL|<!here>/);
  });

  test('brief: no repeated label, no stray quote marker; proposeActions proposes nothing', async () => {
    const b = await fb.brief(aContext());
    assert.equal(b.fallback, true);
    assert.doesNotMatch(b.text, /Claude unavailable/);
    assert.doesNotMatch(b.text, /^>/m);
    assert.match(b.text, /Description: Error rate on checkout-api/);
    assert.deepEqual((await fb.proposeActions(aContext(), [])).proposals, []);
  });
});
