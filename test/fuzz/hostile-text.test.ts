/**
 * Hostile text, fuzzed: thousands of seeded strings built from Slack's special syntax (mass
 * mentions, user/channel/group mentions, disguised links, pre-escaped entities, stray brackets and
 * pipes) through every builder a title, description, alert field, reason, parameter or Claude answer
 * reaches. No output may hold an active mention of anyone the bot did not put there, or a link the
 * bot did not make. Seeded: FUZZ_SEED=<n> replays a run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../fault/fault-kit.js';
import { HOSTILE, activeFormatting } from '../e2e/helpers.js';
import { escapeText } from '../../src/slack/mrkdwn.js';
import { announcement, duplicatePrompt, incidentCard, incidentList, resolveModal, topicFor } from '../../src/slack/blocks/incident.js';
import { approvalMessage, denyModal } from '../../src/slack/blocks/approval.js';
import type { Incident } from '../../src/domain/incident.js';
import type { Approval } from '../../src/ports/store.js';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`# hostile-text fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED})`);

const PIECES = [
  '<!channel>',
  '<!here>',
  '<!everyone>',
  '<!here|here>',
  '<@U0ALICE01>',
  '<@W0ALICE01|alice>',
  '<#C0SECRET1>',
  '<#C0SECRET1|general>',
  '<!subteam^S1>',
  '<!subteam^S1|@oncall>',
  '<https://evil.example|https://status.example.com>',
  '<https://evil.example>',
  '<mailto:x@evil.example|support>',
  '&lt;!here&gt;',
  '&amp;lt;!channel&amp;gt;',
  '&',
  '<',
  '>',
  '|',
  '<<!channel>>',
  '<!channel',
  '!channel>',
  '`',
  '*',
  '_',
  '~',
  '\n',
  ' ',
  'edge',
  'é',
  '💥',
  '<!date^1|x>',
];
const TRUSTED = new Set(['U0BOB0001', 'C0INCIDNT', 'U0BOT0001']);

/** Any active formatting in `s` the bot did not put there: every link must be the bot's own rootly link. */
function problems(s: string): string[] {
  const out = activeFormatting(s, TRUSTED);
  for (const m of s.matchAll(/<([^<>!@#][^<>]*)>/g)) if (!m[1]!.startsWith('https://rootly.example/incidents/1|')) out.push(m[0]);
  return out;
}

function mrkdwnOf(v: unknown): string[] {
  const out: string[] = [];
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) x.forEach(walk);
    else if (x && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      if (o.type === 'mrkdwn' && typeof o.text === 'string') out.push(o.text);
      for (const [k, y] of Object.entries(o)) if (k !== 'text' || typeof y !== 'string') walk(y);
    }
  };
  if (typeof v === 'string') out.push(v);
  else {
    const o = v as { text?: unknown; blocks?: unknown };
    if (o && typeof o.text === 'string') out.push(o.text);
    walk(o?.blocks ?? v);
  }
  return out;
}

function incident(s: (n?: number) => string): Incident {
  const now = new Date('2026-11-30T12:00:00Z');
  return {
    id: 'inc-1',
    seq: 7,
    title: s(),
    description: s(400),
    severity: 'high',
    status: 'investigating',
    services: [s(), s()],
    private: false,
    origin: 'alert',
    source: s(),
    declaredBy: 'U0BOB0001',
    commanderId: 'U0BOB0001',
    backend: 'rootly',
    backendId: 'r1',
    backendUrl: 'https://rootly.example/incidents/1',
    channelId: 'C0INCIDNT',
    channelName: 'inc-7-edge',
    cardTs: null,
    announceTs: null,
    alertCount: 2,
    createdAt: now,
    updatedAt: now,
    resolvedAt: null,
    version: 1,
  };
}

test('escapeText and every builder keep fuzzed Slack syntax inert', () => {
  const rnd = seededRandom(SEED);
  const s = (n = 60) => {
    let out = '';
    while (out.length < n) out += PIECES[Math.floor(rnd() * PIECES.length)];
    return out;
  };
  let checked = 0;
  const failures: string[] = [];
  const check = (where: string, v: unknown) => {
    for (const text of mrkdwnOf(v)) {
      checked++;
      const p = problems(text);
      if (p.length) failures.push(`${where}: ${p.join(' ')} in ${JSON.stringify(text).slice(0, 200)}`);
    }
  };
  check('hostile', escapeText(HOSTILE));
  for (let k = 0; k < 400; k++) {
    const i = incident(s);
    const roles = { commander: 'U0BOB0001', scribe: 'U0BOB0001' };
    check('escapeText', escapeText(s(200)));
    check('card', incidentCard(i, roles));
    check('announcement', announcement(i, roles));
    check('topic', topicFor(i, roles));
    check('duplicate', duplicatePrompt(i, 'draft-1'));
    check('list', incidentList([i, { ...i, id: 'inc-2', title: s() }]));
    check('resolve modal', resolveModal(i));
    check('deny modal', denyModal('a1', 'clear_cache', { cache: s(300), [s(8)]: s() }));
    const a: Approval = {
      id: 'a1',
      incidentId: 'inc-1',
      actionId: 'clear_cache',
      params: { cache: s(), [s(10)]: s() },
      reason: s(300),
      proposedBy: k % 2 ? s(20) : 'U0BOB0001',
      proposerKind: k % 3 === 0 ? 'agent' : k % 3 === 1 ? 'claude' : 'user',
      policy: {},
      requiresApproval: true,
      createdAt: new Date(),
      expiresAt: new Date(),
      channelId: 'C0INCIDNT',
      status: k % 2 ? 'denied' : 'failed',
      messageTs: null,
      decidedBy: 'U0BOB0001',
      decidedAt: new Date(),
      denyReason: s(),
      result: { summary: s() },
      error: s(),
      updatedAt: new Date(),
      approvers: null,
    };
    check(
      'approval',
      approvalMessage({ approval: a, actionTitle: s(40), policyText: 'needs 1 approval from the commander', approvers: [], needed: 1, incidentLabel: 'INC-7' }),
    );
  }
  assert.ok(checked > 4000, `checked ${checked} texts`);
  assert.deepEqual(failures.slice(0, 5), []);
});

test('a disguised link is shown as its real URL; pre-escaped text stays text', () => {
  assert.equal(
    escapeText(HOSTILE),
    'Edge down &lt;!channel&gt; see https://evil.example (https://status.example.com) &lt;@U0ALICE01&gt; &lt;!subteam^S1&gt; &amp;lt;!here&amp;gt;',
  );
});
