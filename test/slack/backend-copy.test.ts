import assert from 'node:assert/strict';
import { test } from 'node:test';
import { announcement, noChannelReason } from '../../src/slack/blocks/incident.js';
import { mentionedUserIds, postmortemForBackend } from '../../src/slack/blocks/summary.js';
import { anIncident } from '../fakes/anthropic/context.js';

test("a post-mortem's backend copy: Slack references become names and plain Markdown; nothing of Slack's syntax is left", () => {
  const draft = [
    '# INC-7: Checkout errors',
    'Declared by <@U0ALICE01>; commander <@W0BOB0001|bob>; <@U0GONE01> left.',
    'Paged <!subteam^S0SRE|@sre-oncall> and said <!here> in <#C0INC1|inc-7>; <!channel> too.',
    'Resolved <!date^1796112430^{date_short_pretty}|1 Dec 2026 08:07 UTC>. See <https://grafana.example/d/1|the dashboard> and <https://status.example.com>.',
    'p99 &gt; 2s (kept as the entity).',
  ].join('\n');
  assert.deepEqual(mentionedUserIds(draft), ['U0ALICE01', 'W0BOB0001', 'U0GONE01']);
  const out = postmortemForBackend(draft, new Map([['U0ALICE01', 'Alice Nakamura']]));
  assert.equal(
    out,
    [
      '# INC-7: Checkout errors',
      'Declared by @Alice Nakamura; commander @bob; @U0GONE01 left.',
      'Paged @sre-oncall and said @here in #inc-7; @channel too.',
      'Resolved 1 Dec 2026 08:07 UTC. See [the dashboard](https://grafana.example/d/1) and https://status.example.com.',
      'p99 &gt; 2s (kept as the entity).',
    ].join('\n'),
  );
});

test('an incident adopted from incident.io is announced as from "incident.io", not "incidentio (incidentio)"', () => {
  const i = anIncident({ origin: 'incidentio', source: 'incidentio', backend: 'incidentio', channelId: null, channelName: null, severity: 'medium' });
  const shown = announcement(i, {}, { noChannelReason: noChannelReason(i, 'high', true) });
  const text = JSON.stringify(shown.blocks);
  assert.match(text, /origin: incident\.io ·/);
  assert.match(text, /created in incident\.io get one automatically/);
  assert.doesNotMatch(text, /incidentio/);
  const alert = announcement(anIncident({ origin: 'alert', source: 'datadog' }), {});
  assert.match(JSON.stringify(alert.blocks), /origin: alert \(datadog\)/);
});
