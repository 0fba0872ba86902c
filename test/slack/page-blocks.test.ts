import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pageAcknowledged, pageFailed, pagePosted } from '../../src/slack/blocks/followthrough.js';
import type { Page } from '../../src/ports/followthrough-store.js';
import { anIncident } from '../fakes/anthropic/context.js';

const page = (over: Partial<Page>): Page => ({
  incidentId: 'inc-1',
  targetKey: 'inc-1:user:U0DAVE001',
  targetName: '<@U0DAVE001>',
  message: '',
  pagedBy: 'U0ALICE01',
  createdAt: new Date('2026-12-01T09:00:00Z'),
  state: 'sent',
  externalId: null,
  sentAt: new Date('2026-12-01T09:00:05Z'),
  ackedAt: new Date('2026-12-01T09:02:00Z'),
  ackedByUser: null,
  ackedByName: 'Dave (PagerDuty)',
  error: null,
  ...over,
});

test('a paged person is named as a mention in the page, its acknowledgement and its failure; a target name with markup is text', () => {
  const person = page({});
  assert.match(pagePosted(person, anIncident()).text, /Paged \*<@U0DAVE001>\*/);
  assert.match(pageAcknowledged(person).text, /acknowledged the page to \*<@U0DAVE001>\*/);
  assert.match(pageFailed(person, 'no such user'), /Paging \*<@U0DAVE001>\* failed/);
  // A configured target whose name carries markup (from firebreak.yml) pings nobody.
  const odd = page({ targetKey: 'inc-1:target:x', targetName: 'db <!channel>' });
  assert.match(pagePosted(odd, anIncident()).text, /Paged \*db &lt;!channel&gt;\*/);
});
