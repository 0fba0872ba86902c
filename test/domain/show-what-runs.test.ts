/**
 * What runs is what is shown: string parameters have a maximum length (default 200, configurable,
 * checked before any pattern), team patterns run on RE2 (linear time; backreferences refused at
 * config load), and the approval message shows policy and expiry before every parameter in full.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ActionSchema, DEFAULT_ACTIONS, MAX_PARAMS, MAX_STRING_PARAM } from '../../src/domain/actions.js';
import { validateParams } from '../../src/domain/approval-policy.js';
import { approvalMessage, denyModal } from '../../src/slack/blocks/approval.js';
import { validateBlocks, validateView } from '../../src/emulator/slack/blockkit.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { Approval } from '../../src/ports/store.js';

const clearCache = DEFAULT_ACTIONS.find((a) => a.id === 'clear_cache')!;
const action = (params: Record<string, Record<string, unknown>>) => ActionSchema.parse({ id: 'test_action', title: 'Test', requires_approval: true, params });

describe('parameter length', () => {
  it('a 3,000-character value is refused with its length and the limit', () => {
    const r = validateParams(clearCache, { cache: `edge ${'x'.repeat(2990)} --all-regions --force` });
    assert.equal(r.ok, false);
    assert.deepEqual(!r.ok && r.problems, ['`cache` is 3017 characters; at most 200 are allowed, so that the approval shows it in full']);
    assert.equal(validateParams(clearCache, { cache: 'x'.repeat(200) }).ok, true);
  });

  it('the limit is per parameter (max) and is checked before the pattern', () => {
    const a = action({ msg: { type: 'string', required: true, max: 500, pattern: '^[a-z]+$' } });
    assert.equal(validateParams(a, { msg: 'a'.repeat(500) }).ok, true);
    const long = validateParams(a, { msg: '!'.repeat(501) });
    assert.match(!long.ok ? long.problems[0]! : '', /501 characters; at most 500/);
    assert.throws(() => action({ msg: { type: 'string', max: MAX_STRING_PARAM + 1 } }), /at most 1000 characters/);
    assert.throws(() => action(Object.fromEntries(Array.from({ length: MAX_PARAMS + 1 }, (_, k) => [`p${k}`, { type: 'string' }]))), /at most 10 parameters/);
  });
});

describe('team patterns run on a linear-time engine', () => {
  it('a catastrophic pattern answers at once on a hostile value', () => {
    const a = action({ name: { type: 'string', required: true, max: 1000, pattern: '^(a+)+$' } });
    const started = performance.now();
    const r = validateParams(a, { name: `${'a'.repeat(999)}!` });
    const ms = performance.now() - started;
    assert.equal(r.ok, false);
    assert.ok(ms < 500, `took ${ms.toFixed(0)} ms (a backtracking engine takes years)`);
    assert.equal(validateParams(a, { name: 'aaaa' }).ok, true);
  });

  it('a backreference or look-around is refused at config load with a line naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fb-pattern-'));
    writeFileSync(
      join(dir, 'firebreak.yml'),
      'actions:\n  - id: purge\n    title: Purge\n    requires_approval: true\n    params: { name: { type: string, pattern: "^(a)\\\\1$" } }\n',
    );
    assert.throws(
      () => loadConfig({}, dir),
      (e: unknown) => e instanceof ConfigError && /params\.name\.pattern/.test(e.message) && /RE2/.test(e.message),
    );
    writeFileSync(
      join(dir, 'firebreak.yml'),
      'actions:\n  - id: purge\n    title: Purge\n    requires_approval: true\n    params: { name: { type: string, pattern: "^(?!prod)" } }\n',
    );
    assert.throws(() => loadConfig({}, dir), ConfigError);
  });
});

describe('the approval message shows what runs', () => {
  const longest = action(
    Object.fromEntries(Array.from({ length: MAX_PARAMS }, (_, k) => [`p${k}`, { type: 'string', required: true, max: MAX_STRING_PARAM }])),
  );
  // The worst case: every parameter at its longest, made of characters that grow when escaped.
  const params = Object.fromEntries(
    Object.keys(longest.params).map((k, n) => [k, `${'<&>'.repeat(Math.floor((MAX_STRING_PARAM - 20) / 3))}${`tail-${n}`.padEnd(20, '!')}`]),
  );
  const a: Approval = {
    id: 'a1',
    incidentId: 'i1',
    actionId: 'test_action',
    params,
    reason: 'r',
    proposedBy: 'U0BOB0001',
    proposerKind: 'user',
    policy: {},
    requiresApproval: true,
    createdAt: new Date(),
    expiresAt: new Date('2026-12-01T00:00:00Z'),
    channelId: 'C1',
    status: 'pending',
    messageTs: null,
    decidedBy: null,
    decidedAt: null,
    denyReason: null,
    result: null,
    error: null,
    updatedAt: new Date(),
    approvers: null,
  };

  it('the longest allowed parameters fit Block Kit, every value whole, policy and expiry first', () => {
    assert.equal(validateParams(longest, params).ok, true);
    const msg = approvalMessage({
      approval: a,
      actionTitle: 'Test',
      policyText: 'needs 1 approval from the commander',
      approvers: [],
      needed: 1,
      incidentLabel: 'INC-1',
    });
    assert.deepEqual(validateBlocks(msg.blocks, { max: 50 }), []);
    const first = JSON.stringify(msg.blocks[0]);
    assert.match(first, /\*Policy\* needs 1 approval/);
    assert.match(first, /\*Expires\*/);
    const all = JSON.parse(JSON.stringify(msg.blocks)) as { text?: { text: string } }[];
    const shown = all.map((b) => b.text?.text ?? '').join('\n');
    for (const [k, v] of Object.entries(params)) {
      const escaped = v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
      const pieces = [...shown.matchAll(new RegExp(`\`${k}\` (?:= |continued\\)_ )\`([^\`]*)\``, 'g'))].map((m) => m[1]).join('');
      assert.ok(pieces === escaped, `${k} shown in full (${pieces.length} of ${escaped.length} characters)`);
    }
    assert.ok(shown.indexOf('*Expires*') < shown.indexOf('`p0`'), 'expiry before the parameters');
    assert.ok(
      msg.blocks.some((b) => (b as { block_id?: string }).block_id === 'approval_buttons'),
      'the buttons are there',
    );
  });

  it('the deny modal shows the same parameters in full and is a valid view', () => {
    assert.deepEqual(validateView(denyModal('a1', 'test_action', params)), []);
  });
});
